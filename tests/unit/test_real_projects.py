"""The real-project corpus: plan, dockerize, doctor and readme on public uv projects.

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
from tests.conftest import REPO

REAL = REPO / "tests" / "fixtures" / "real"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((REAL / "EXPECTED.toml").read_text("utf-8"))
CORPUS = Path(os.environ.get("ENVFORGE_REAL_CORPUS") or REPO / "shared" / "real")
NO_GPU = REAL / "host-no-gpu.json"

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"UV_PYTHON_DOWNLOADS": "never"})


@pytest.fixture(autouse=True)
def _no_gpu_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver probe answers as a host without an NVIDIA driver, whatever this host has."""
    from envforge import gpu_probe
    from envforge.doctor import load_host_facts

    driver = load_host_facts(NO_GPU).driver
    monkeypatch.setattr(gpu_probe, "probe_driver", lambda *a, **k: driver)


def _copy(name: str, tmp_path: Path) -> Path:
    source = CORPUS / name
    if not (source / "uv.lock").is_file():
        pytest.skip(f"{name}: no copy at {source} (run tests/fixtures/real/materialise.py)")
    dest = tmp_path / name
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


NAMES = sorted(EXPECTED)


@pytest.mark.parametrize("name", NAMES)
def test_plan(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    result = invoke("plan", str(_copy(name, tmp_path)), "--json")
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


@pytest.mark.parametrize("name", NAMES)
def test_dockerize(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    result = invoke("dockerize", str(_copy(name, tmp_path)), "--stdout")
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
    assert command in _commands_ok(expected), (
        f"image starts {command}, expected {expected['command']}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_doctor(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    result = invoke("doctor", str(_copy(name, tmp_path)), "--json", "--host-facts", str(NO_GPU))
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


@pytest.mark.parametrize("name", NAMES)
def test_readme(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    root = _copy(name, tmp_path)
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
    # Never publish a command that does not start: any `python -m X` shown is the expected one.
    for shown in re.findall(r"python -m [\w.]+", section):
        assert shown.split() in _commands_ok(expected), f"README publishes {shown!r}"
