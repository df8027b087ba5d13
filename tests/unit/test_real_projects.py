"""The real-project corpus and the modelled one: plan, dockerize, doctor and readme on
public uv projects and on our own projects shaped like them.

The modelled corpus (tests/fixtures/modelled/<name>/, EXPECTED.toml there) is committed and
always runs: for each real project, a project of our own with the same shape (backend,
requires-python, scripts, extras, sources, workspace) and the dependency pins that decide the
behaviour, locked here by uv (MODELLED_ON.toml says what each keeps and leaves out). Two of
them take torch from explicit indexes: their indexes are folders of stub wheels that
tests/fixtures/modelled/stubs.py makes in each copy, with the lock.

Each project of tests/fixtures/real/EXPECTED.toml is a public repository's pyproject.toml,
uv.lock and sources at a recorded commit (tests/fixtures/real/<name>/SOURCE.toml). Upstream
code stays out of this repository's commits: the copies live in shared/real/<name>/
(`tests/fixtures/real/materialise.py` makes them from git mirrors), or where
ENVFORGE_REAL_CORPUS points; a project whose copy is missing is skipped.

EXPECTED.toml says what a demanding user expects by default on a CPU host (worked out from
each lock's wheels and each project's sources, not from envforge), and these tests hold
envforge to it. The host is isolated: no GPU (the driver probe answers "no driver") and
doctor reads recorded no-GPU host facts. Each test works on a fresh copy in tmp_path, made a
git checkout (as a user's clone is: uv-dynamic-versioning reads the version from git).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from tests.conftest import REPO, as_chosen

REAL = REPO / "tests" / "fixtures" / "real"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((REAL / "EXPECTED.toml").read_text("utf-8"))
CORPUS = Path(os.environ.get("ENVFORGE_REAL_CORPUS") or REPO / "shared" / "real")
NO_GPU = REAL / "host-no-gpu.json"
MODELLED = REPO / "tests" / "fixtures" / "modelled"
MODELLED_EXPECTED: dict[str, dict[str, Any]] = tomllib.loads(
    (MODELLED / "EXPECTED.toml").read_text("utf-8")
)
TABLES = {"modelled": MODELLED_EXPECTED, "real": EXPECTED}

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"UV_PYTHON_DOWNLOADS": "never"})


@pytest.fixture(autouse=True)
def _no_gpu_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver probe answers as a host without an NVIDIA driver, whatever this host has."""
    from envforge.doctor import load_host_facts
    from envforge.host import nvidia as gpu_probe

    driver = load_host_facts(NO_GPU).driver
    monkeypatch.setattr(gpu_probe, "probe_driver", lambda *a, **k: driver)


def _stubs() -> Any:
    spec = importlib.util.spec_from_file_location("modelled_stubs", MODELLED / "stubs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy(case: str, tmp_path: Path) -> Path:
    corpus, name = case.split("/")
    dest = tmp_path / name
    if corpus == "modelled":
        source = MODELLED / name
        if (source / "STUBS.toml").is_file():
            _stubs().make(source, dest)
        else:
            shutil.copytree(source, dest)
        (dest / "MODELLED_ON.toml").unlink()
    else:
        source = CORPUS / name
        if not (source / "uv.lock").is_file():
            pytest.skip(f"{name}: no copy at {source} (run tests/fixtures/real/materialise.py)")
        shutil.copytree(source, dest)
    git = shutil.which("git")
    if git:
        for args in (
            ["init", "-q"],
            ["add", "-A"],
            ["-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", "corpus"],
        ):
            subprocess.run([git, *args], cwd=dest, check=True, capture_output=True)
    return dest


def _refusal(expected: dict[str, Any], result: Any) -> None:
    """A project envforge must refuse: exit 2, one `error:` line matching refusal_match."""
    assert result.exit_code == 2, (
        f"expected a refusal ({expected['refusal']}), got:\n{result.output}"
    )
    assert re.search(expected["refusal_match"], result.stderr, re.IGNORECASE), result.stderr
    assert "Traceback" not in result.output


def _commands_ok(expected: dict[str, Any]) -> list[list[str]]:
    return [expected["command"], *expected.get("command_also", [])]


def _cuda_ok(expected: dict[str, Any], found: str | None) -> bool:
    if expected["cuda"] == "none":
        return found in (None, "", "none")
    return found is not None and (
        found == expected["cuda"] or found.startswith(expected["cuda"] + ".")
    )


# "modelled/<name>" always runs; "real/<name>" runs where the copy is present.
CASES = [f"{corpus}/{name}" for corpus, table in TABLES.items() for name in sorted(table)]


def _expected(case: str) -> dict[str, Any]:
    corpus, name = case.split("/")
    return TABLES[corpus][name]


@pytest.mark.parametrize("case", CASES)
def test_plan(case: str, tmp_path: Path) -> None:
    expected = _expected(case)
    result = invoke("plan", str(_copy(case, tmp_path)), "--json")
    if "refusal" in expected:
        _refusal(expected, result)
        return
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["python"] == expected["python"], (
        f"python {plan['python']}, expected {expected['python']}: {expected['python_reasons']}"
    )
    assert plan["entrypoint"] in _commands_ok(expected), (
        f"command {plan['entrypoint']}, expected {expected['command']} (scripts: {expected['scripts']})"
    )
    python_why = " ".join(d["reason"] for d in plan["decisions"] if d["topic"] == "python")
    for passed_over in expected.get("passed_over", []):
        assert passed_over in python_why, f"the plan does not say {passed_over!r}: {python_why}"
    found = plan["labels"].get("dev.envforge.cuda")
    assert _cuda_ok(expected, found), f"CUDA {found!r}, expected {expected['cuda']}"
    if "extras" in expected:
        assert plan["extras"] == expected["extras"]


def _instructions(dockerfile: str, keyword: str) -> list[str]:
    return [
        line[len(keyword) + 1 :].strip()
        for line in dockerfile.splitlines()
        if line.startswith(keyword + " ")
    ]


@pytest.mark.parametrize("case", CASES)
def test_dockerize(case: str, tmp_path: Path) -> None:
    expected = _expected(case)
    result = invoke("dockerize", str(_copy(case, tmp_path)), "--stdout")
    if "refusal" in expected:
        _refusal(expected, result)
        return
    assert result.exit_code == 0, result.output
    dockerfile = result.stdout
    final_from = _instructions(dockerfile, "FROM")[-1]
    assert f"python:{expected['python']}-" in final_from, final_from
    command: list[str] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        for value in _instructions(dockerfile, keyword)[-1:]:
            command += json.loads(value)
    assert as_chosen(command) in _commands_ok(expected), (
        f"image starts {command}, expected {expected['command']}"
    )


@pytest.mark.parametrize("case", CASES)
def test_doctor(case: str, tmp_path: Path) -> None:
    expected = _expected(case)
    result = invoke("doctor", str(_copy(case, tmp_path)), "--json", "--host-facts", str(NO_GPU))
    if "refusal" in expected:
        _refusal(expected, result)
        return
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    needs = report["needs"] or {}
    assert needs.get("target", "").startswith(f"Python {expected['python']}."), needs.get("target")
    assert _cuda_ok(expected, needs.get("cuda")), (
        f"CUDA {needs.get('cuda')!r}, expected {expected['cuda']}"
    )
    assert all(f["level"] != "fail" for f in report["findings"]), report["findings"]


@pytest.mark.parametrize("case", CASES)
def test_readme(case: str, tmp_path: Path) -> None:
    expected = _expected(case)
    root = _copy(case, tmp_path)
    args = ["readme", str(root)] + ([] if (root / "README.md").exists() else ["--create"])
    result = invoke(*args)
    if "refusal" in expected:
        _refusal(expected, result)
        return
    assert result.exit_code == 0, result.output
    text = (root / "README.md").read_text("utf-8")
    section = text[text.index("envforge:requirements:start") :]
    requirements = section.split("### ")[0]
    python_line = next((x for x in requirements.splitlines() if "**Python**" in x), "")
    assert f"**Python**: {expected['python']}," in python_line, python_line
    cuda_line = next((x for x in requirements.splitlines() if "**CUDA**" in x), None)
    if expected["cuda"] == "none":
        assert cuda_line is None, cuda_line
    else:
        assert cuda_line is not None and re.search(
            rf"\*\*CUDA\*\*: {re.escape(expected['cuda'])}[.,]", cuda_line
        ), requirements
    # Never publish a command that does not start: the section's run commands start the
    # image's own command, so it says that command is `python` exactly when that is the one
    # that starts, and then shows how to name a module instead.
    says_python = "The image's command is `python`" in section
    assert says_python == (["python"] in _commands_ok(expected)), section
    assert ("-- -m <module>" in section) == says_python, section


# -- the modelled corpus itself ----------------------------------------------------------------


def test_the_modelled_corpus_mirrors_the_real_one() -> None:
    """Each modelled project names the real project and commit it is modelled on, says what
    it keeps and leaves out, and the corpus stays small."""
    assert len(MODELLED_EXPECTED) >= 10
    total = 0
    for name in MODELLED_EXPECTED:
        folder = MODELLED / name
        modelled_on = tomllib.loads((folder / "MODELLED_ON.toml").read_text("utf-8"))
        source = tomllib.loads((REAL / name / "SOURCE.toml").read_text("utf-8"))
        assert (modelled_on["repo"], modelled_on["commit"]) == (source["repo"], source["commit"])
        assert modelled_on["keeps"] and modelled_on["leaves_out"], name
        lock = folder / ("uv.lock.template" if (folder / "STUBS.toml").is_file() else "uv.lock")
        assert lock.is_file(), name
        total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert total < 4_000_000, f"the modelled corpus is {total} bytes"
