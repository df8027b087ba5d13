"""The package's house rules, checked by machine (issue 9): small modules, printing only in
envforge/cli/, a help that imports none of the heavy libraries, and the pipeline's import
direction ([tool.importlinter] in pyproject.toml).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "envforge"
CLI = PACKAGE / "cli"
MAX_LINES = 500

# What `envforge --help` must not load: the engine's SDK, NVML, the templates, YAML.
HEAVY = ("docker", "pynvml", "jinja2", "yaml")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def name(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def line_count(path: Path) -> int:
    return len(path.read_text("utf-8").splitlines())


def printing_calls(path: Path) -> list[str]:
    """Each `print(...)` and `typer.echo(...)` call in a module, as "line N: print"; code
    inside string literals (a probe program run in a container) is not a call."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in {"print", "echo"}:
            found.append((node.lineno, func.id))
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in {"echo", "secho"}
            and isinstance(func.value, ast.Name)
            and func.value.id in {"typer", "click"}
        ):
            found.append((node.lineno, f"{func.value.id}.{func.attr}"))
    return [f"line {line}: {call}" for line, call in sorted(found)]


def test_the_package_has_modules() -> None:
    assert len(modules()) > 20  # the rules below are not vacuous
    assert (CLI / "__init__.py").is_file()


@pytest.mark.parametrize("path", modules(), ids=name)
def test_no_module_over_500_lines(path: Path) -> None:
    lines = line_count(path)
    assert lines <= MAX_LINES, f"{name(path)} is {lines} lines (at most {MAX_LINES}): split it"


@pytest.mark.parametrize("path", modules(), ids=name)
def test_only_the_cli_prints(path: Path) -> None:
    calls = [] if CLI in path.parents else printing_calls(path)
    assert not calls, f"{name(path)} prints ({', '.join(calls)}): return data to envforge/cli/"


def test_the_print_finder_sees_calls_not_strings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import typer\n"
        "PROGRAM = 'print(1)'\n"
        "print('x')\n"
        "typer.echo('y', err=True)\n"
        "out = lambda line: print(line)\n"
    )
    assert printing_calls(sample) == ["line 3: print", "line 4: typer.echo", "line 5: print"]


# Every command's --help in one process: what it has loaded after all of them is a bound
# on what any one of them loads.
_HELP_PROBE = """
import json, sys
import typer.main
from envforge.cli import app

def show(args):
    try:
        app(args, prog_name="envforge")
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)

show(["--help"])
for command in sorted(typer.main.get_command(app).commands):
    show([command, "--help"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[1]))
sys.stderr.write("LOADED " + json.dumps(heavy) + "\\n")
"""


def test_help_imports_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _HELP_PROBE, json.dumps([*HEAVY, "typer"])],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: envforge" in done.stdout
    line = next(ln for ln in done.stderr.splitlines() if ln.startswith("LOADED "))
    loaded = {m.split(".")[0] for m in json.loads(line.removeprefix("LOADED "))}
    assert loaded == {"typer"}  # typer: proof that the probe sees what the help loads


def test_the_import_direction() -> None:
    """`lint-imports`: a module imports only the layers below its own ([tool.importlinter])."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports)], capture_output=True, text=True, cwd=REPO, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
