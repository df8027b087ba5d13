"""The injection corpus (injection_cases.py) through the real commands.

For each case, a copy of examples/cpu-sklearn gets the hostile value; `plan`, `dockerize
--compose`, `readme --create` and `readme --check` run in-process (typer's CliRunner, with a
time limit each). Each must end with exit 0 (the value was quoted) or 2 (refused with one
`error:` line and a `hint:`), never a traceback, and write nothing outside the project.
What dockerize writes is parsed back (dockerfile-parse) and compared with the render of the
same field given a benign value: the same instructions in the same order, no RUN where the
canary stands outside single quotes, the same .dockerignore lines but the value's own, the
same compose.yaml keys. A few cases run the real CLI in a subprocess.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import types
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from typer.testing import CliRunner

from envforge import cli
from envforge import pipeline as planning
from envforge.project import loader
from tests.conftest import EXAMPLES, REPO
from tests.hostile.injection_cases import CANARY, FIELDS, Case, Field, injection_cases

CASES = injection_cases()
TIME_LIMIT_S = 30
README_FLAGS = {"--python", "--base-image", "--registry-mirror", "--extra", "--group", "--cuda"}
# Unset: what the host's environment might set for envforge.
CLEAN_ENV: dict[str, str | None] = {
    name: None
    for name in (
        "ENVFORGE_BASE_IMAGE",
        "ENVFORGE_REGISTRY_MIRROR",
        "ENVFORGE_UV_IMAGE",
        "ENVFORGE_UV_SOURCE",
        "ENVFORGE_CA_BUNDLE",
    )
}
# What a terminal would act on: C0 controls but newline and tab, DEL, C1, bidi overrides.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
runner = CliRunner()


@dataclass
class Outcome:
    name: str
    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Written:
    instructions: list[str]
    runs: list[str]
    dockerignore: list[str]
    compose: dict[str, Any]


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang(f"no answer within {TIME_LIMIT_S} s")


@functools.lru_cache(maxsize=8)
def _parse_lock(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No uv, GPU probe or engine: the lock is taken as fresh, the host has no GPU.
    Parsed locks are kept (most cases share one lock; parsing it is most of a command)."""
    cached = types.SimpleNamespace(loads=_parse_lock, TOMLDecodeError=tomllib.TOMLDecodeError)
    monkeypatch.setattr(loader, "tomllib", cached)
    monkeypatch.setattr(loader, "check_lock_fresh", lambda *a: "not checked (hostile corpus)")
    monkeypatch.setattr(loader, "git_remote_url", lambda root: None)
    monkeypatch.setattr(planning, "host_has_gpu", lambda driver: False)
    monkeypatch.setattr(planning, "_probe_driver", lambda: None)
    monkeypatch.setattr(planning, "_base_python", lambda ref: None)


def _project(where: Path) -> Path:
    root = where / "project"
    shutil.copytree(
        EXAMPLES / "cpu-sklearn",
        root,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", "Dockerfile", ".dockerignore"),
    )
    (root / "README.md").unlink()  # readme --create writes it, with the description
    return root


def _prepare(f: Field, value: str, where: Path, monkeypatch: pytest.MonkeyPatch):
    root = _project(where)
    value = value.replace(CANARY, str(where / "PWN"))
    invocation = f.apply(root, value)
    if invocation.git_remote is not None:
        monkeypatch.setattr(loader, "git_remote_url", lambda r: invocation.git_remote)
    return root, invocation


def _invoke(name: str, args: list[str], env: dict[str, str]) -> Outcome:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        result = runner.invoke(cli.app, args, env={**CLEAN_ENV, **env})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"{name}: traceback\n{trace}")
    return Outcome(name, result.exit_code, result.stdout, result.stderr)


def _commands(root: Path, args: tuple[str, ...], env: dict[str, str]) -> Iterator[Outcome]:
    readme_args: list[str] = []
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in README_FLAGS:
            readme_args += [flag, value]
    yield _invoke("plan", ["plan", str(root), *args], env)
    yield _invoke("dockerize", ["dockerize", str(root), "--compose", *args], env)
    created = _invoke("readme", ["readme", str(root), "--create", *readme_args], env)
    yield created
    if created.exit_code == 0:
        # The markers survived the values: the section is found again and is current.
        yield _invoke("readme --check", ["readme", str(root), "--check", *readme_args], env)


def _check_outcome(outcome: Outcome) -> None:
    name = outcome.name
    assert outcome.exit_code in (0, 2), f"{name}: exit {outcome.exit_code}\n{outcome.stderr}"
    for stream in (outcome.stdout, outcome.stderr):
        assert not CONTROL.search(stream), f"{name}: raw control characters printed: {stream!r}"
    if outcome.exit_code == 2:
        lines = outcome.stderr.splitlines()
        assert lines and lines[0].startswith("error: "), f"{name}: {outcome.stderr}"
        assert sum(line.startswith("error: ") for line in lines) == 1, outcome.stderr
        assert any(line.startswith("hint: ") for line in lines), f"{name}: no hint\n{lines}"
        assert all(line.startswith(("error: ", "hint: ")) for line in lines), outcome.stderr


def _written(root: Path) -> Written:
    parser = DockerfileParser(path=str(root / "Dockerfile"))
    structure = parser.structure
    compose = yaml.safe_load((root / "compose.yaml").read_text("utf-8"))
    return Written(
        instructions=[i["instruction"] for i in structure],
        runs=[i["value"] for i in structure if i["instruction"] == "RUN"],
        dockerignore=(root / ".dockerignore").read_text("utf-8").splitlines()[1:],
        compose=compose,
    )


def _outside_single_quotes(text: str, needle: str) -> bool:
    """Whether needle occurs where the shell would interpret it: outside single quotes
    (a POSIX sh scan: backslash escapes, '...' and "..." spans)."""
    plain: list[str] = []
    state, escaped = "plain", False
    for char in text:
        if state == "single":
            state = "plain" if char == "'" else state
            plain.append("'")  # nothing inside single quotes is read
            continue
        plain.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif state == "plain" and char == "'":
            state = "single"
        elif char == '"':
            state = "double" if state == "plain" else "plain"
    return needle in "".join(plain)


_REFERENCE: dict[str, Written] = {}


def _reference(f: Field, tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Written:
    if f.name not in _REFERENCE:
        where = tmp_path_factory.mktemp("benign")
        root, invocation = _prepare(f, f.benign, where, monkeypatch)
        done = _invoke(
            "dockerize", ["dockerize", str(root), "--compose", *invocation.args], invocation.env
        )
        assert done.exit_code == 0, f"benign {f.name}: {done.stderr}"
        _REFERENCE[f.name] = _written(root)
        monkeypatch.setattr(loader, "git_remote_url", lambda r: None)
    return _REFERENCE[f.name]


def _shape(compose: dict[str, Any]) -> dict[str, Any]:
    (_name, service), *_ = compose["services"].items()
    return {"services": len(compose["services"]), "keys": list(service),
            "env": list(service.get("environment", {}))}  # fmt: skip


@pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])
def test_benign_value_is_written(field: Field, tmp_path_factory, monkeypatch) -> None:
    assert "FROM" in _reference(field, tmp_path_factory, monkeypatch).instructions


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_injection(case: Case, tmp_path: Path, tmp_path_factory, monkeypatch) -> None:
    reference = _reference(case.field, tmp_path_factory, monkeypatch)
    root, invocation = _prepare(case.field, case.value, tmp_path, monkeypatch)
    before = sorted(p.name for p in root.iterdir())
    outcomes = list(_commands(root, invocation.args, invocation.env))
    for outcome in outcomes:
        _check_outcome(outcome)

    # Nothing outside the project, nothing in it but envforge's own files.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]
    generated = {"Dockerfile", ".dockerignore", "compose.yaml", "README.md"}
    assert set(p.name for p in root.iterdir()) - set(before) <= generated

    dockerize = outcomes[1]
    if dockerize.exit_code != 0:
        assert not (root / "Dockerfile").exists()
        return
    written = _written(root)
    assert written.instructions == reference.instructions, "an instruction was added or changed"
    canary = str(tmp_path / "PWN")
    for run in written.runs:
        assert not _outside_single_quotes(run, canary), f"the canary runs: RUN {run}"
    assert len(written.dockerignore) == len(reference.dockerignore)
    changed = [
        a for a, b in zip(written.dockerignore, reference.dockerignore, strict=True) if a != b
    ]
    assert len(changed) <= 1, f".dockerignore lines changed: {changed}"
    assert _shape(written.compose) == _shape(reference.compose)


# --- the real CLI, in a subprocess ----------------------------------------------------------

SUBPROCESS_CASES = [
    ("group --group", "cmd-subst"),
    ("ENVFORGE_BASE_IMAGE", "newline-run"),
    ("tool.envforge.apt-packages", "newline-run"),
    ("project.description", "esc-codes"),
    ("project.description", "newline-run"),
    ("tool.envforge.include", "newline-reinclude"),
]


@pytest.mark.parametrize("field_name,payload", SUBPROCESS_CASES)
def test_real_cli(field_name: str, payload: str, tmp_path: Path, monkeypatch) -> None:
    case = next(c for c in CASES if c.field.name == field_name and c.payload == payload)
    root, invocation = _prepare(case.field, case.value, tmp_path, monkeypatch)
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env.update(invocation.env)
    for command in (["plan"], ["dockerize", "--compose"]):
        done = subprocess.run(
            [sys.executable, "-m", "envforge", *command, str(root), *invocation.args],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
        )  # fmt: skip
        outcome = Outcome(command[0], done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        _check_outcome(outcome)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


# --- the BuildKit Dockerfile (builder "buildkit"), through dockerize ------------------------


def _buildkit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every plan the commands make renders the BuildKit Dockerfile (no CLI option yet)."""
    from envforge.image import plan as image_plan

    real = image_plan.make_plan

    def make_plan(*args: Any, **kwargs: Any) -> Any:
        args = list(args)
        if len(args) > 4:
            args[4] = replace(args[4], builder="buildkit")
        return real(*args, **kwargs)

    monkeypatch.setattr(image_plan, "make_plan", make_plan)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_injection_buildkit(case: Case, tmp_path: Path, monkeypatch) -> None:
    _buildkit(monkeypatch)
    benign, invocation = _prepare(case.field, case.field.benign, tmp_path / "benign", monkeypatch)
    done = _invoke("dockerize", ["dockerize", str(benign), *invocation.args], invocation.env)
    assert done.exit_code == 0, f"benign {case.field.name}: {done.stderr}"
    assert "--mount=type=cache" in (benign / "Dockerfile").read_text()
    reference = DockerfileParser(path=str(benign / "Dockerfile")).structure
    monkeypatch.setattr(loader, "git_remote_url", lambda r: None)
    root, invocation = _prepare(case.field, case.value, tmp_path / "hostile", monkeypatch)
    outcome = _invoke("dockerize", ["dockerize", str(root), *invocation.args], invocation.env)
    _check_outcome(outcome)
    if outcome.exit_code != 0:
        assert not (root / "Dockerfile").exists()
        return
    structure = DockerfileParser(path=str(root / "Dockerfile")).structure
    assert [i["instruction"] for i in structure] == [i["instruction"] for i in reference]
    canary = str(tmp_path / "hostile" / "PWN")
    for run in (i["value"] for i in structure if i["instruction"] == "RUN"):
        assert not _outside_single_quotes(run, canary), f"the canary runs: RUN {run}"
