"""What the reader sees beside pyproject.toml: the default-ignored folders, bounded."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from envforge.cli import app
from envforge.project import loader, sources
from envforge.project.loader import load_project

runner = CliRunner()


def test_ignored_folders_one_level_deep(example_copy, tmp_path: Path) -> None:
    root: Path = example_copy("cpu-sklearn")
    for folder in ("models", "data", "build/lib/pkg", "runs", ".venv/lib"):
        (root / folder).mkdir(parents=True)
    (root / "models/__init__.py").write_text("")
    (root / "data/train.csv").write_text("x\n")
    (root / "build/lib/pkg/mod.py").write_text("")  # a build output: two levels down
    (root / ".venv/lib/site.py").write_text("")
    (root / "runs/notes.py").mkdir()  # a folder named .py is no Python file
    (root / "outputs").write_text("a file, not a folder\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.py").write_text("")
    os.symlink(outside, root / "datasets")  # never followed
    facts = load_project(root, check_lock=False).facts
    assert facts.ignored_folders == (
        (".venv", False), ("build", False), ("data", False), ("models", True), ("runs", False),
    )  # fmt: skip


def test_the_scan_is_bounded(example_copy, monkeypatch) -> None:
    root: Path = example_copy("cpu-sklearn")
    (root / "models").mkdir()
    (root / "models/net.py").write_text("")

    def holds(limit: int) -> bool:
        monkeypatch.setattr(sources, "_PY_SCAN_LIMIT", limit)
        return dict(load_project(root, check_lock=False).facts.ignored_folders)["models"]

    assert holds(1) is True
    assert holds(0) is False  # past the limit nothing more is read


def test_plan_and_dockerize_keep_a_code_folder(example_copy, monkeypatch) -> None:
    monkeypatch.setattr(loader, "check_lock_fresh", lambda *a: "checked")
    root: Path = example_copy("cpu-sklearn")
    (root / "models").mkdir()
    (root / "models/net.py").write_text("")
    (root / "data").mkdir()
    text = runner.invoke(app, ["plan", str(root)]).stdout
    lines = text.splitlines()
    start = lines.index("context       leaves out data; keeps models")
    assert "models holds .py files" in " ".join(lines[start : start + 6])
    result = runner.invoke(app, ["dockerize", str(root)])
    assert result.exit_code == 0, result.output
    ignore = (root / ".dockerignore").read_text().splitlines()
    assert "data" in ignore and "models" not in ignore
    # What the engine is sent (docker's own matcher): models in, data out; the patterns
    # match at the root only, so a src/data package would stay in regardless.
    (root / "data/train.csv").write_text("x\n")
    (root / "src/cpu_sklearn/data").mkdir()
    (root / "src/cpu_sklearn/data/__init__.py").write_text("")
    from docker.utils import build as dbuild

    patterns = [line for line in ignore if line and not line.startswith("#")]
    sent = set(dbuild.exclude_paths(str(root), patterns, dockerfile="Dockerfile"))
    assert {"models/net.py", "src/cpu_sklearn/data/__init__.py"} <= sent
    assert "data/train.csv" not in sent


def test_script_imports_fact(tmp_path: Path) -> None:
    """The loader reads what the console script's module imports (scriptscan), and `plan`
    says the script needs the extra that installs it."""
    import shutil

    from tests.conftest import REPO

    root = tmp_path / "proj"
    shutil.copytree(REPO / "tests/fixtures/projects/script-needs-extra", root)
    facts = load_project(root, check_lock=False).facts
    # __init__: typing and six (click under TYPE_CHECKING, colorama optional); cli/app.py: click.
    assert facts.script_imports == {
        "script-needs-extra": frozenset({"__future__", "typing", "six", "click"})
    }
    result = runner.invoke(app, ["plan", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entrypoint"] == ["python"]
    assert "needs the extra 'cli' (imports click): add --extra cli to use it" in result.stdout
    result = runner.invoke(app, ["plan", str(root), "--json", "--extra", "cli"])
    assert json.loads(result.stdout)["entrypoint"] == ["script-needs-extra"]


def test_a_non_package_has_no_script_imports(example_copy) -> None:
    root: Path = example_copy("cpu-sklearn")
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text + "\n[tool.uv]\npackage = false\n")
    assert load_project(root, check_lock=False).facts.script_imports == {}
