"""Crafted values through `envforge job`: every option, every argument after `--`, and every
value of a local image's config that reaches a job file.

Each run must end with exit 0 (the value was quoted) or 2 (refused with an `error:` line),
never a traceback. A job that is written is checked as its target reads it: the Slurm
script parses (bash -n), keeps the benign value's #SBATCH lines, and, run as a node would
(tests/unit/jobs/fakes.py), never runs the canary and hands the value to apptainer or
srun as one word; the Kubernetes Job validates (strict) and has the benign one's shape,
the value a string with each `$` doubled (Kubernetes expands `$(VAR)`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from envforge import labels as keys
from envforge.cli import app
from envforge.engine import client as engine
from tests.conftest import EXAMPLES
from tests.hostile.injection_cases import CANARY, COMMON
from tests.unit.jobs.fakes import recorded_driver, run_on_node

runner = CliRunner()
DIGEST = "sha256:" + "5e" * 32
IMAGE = "gpu-torch:0.1.0"
TARGETS = ("kubernetes", "slurm-apptainer", "slurm-pyxis")
PAYLOADS: dict[str, str] = {
    **COMMON,
    "sbatch-line": "x\n#SBATCH --uid=0",
    "sbatch-word": "#SBATCH --uid=0",
    "k8s-expansion": "$(HOME)",
    "yaml-map": "a: b",
    "yaml-flow": "{a: [1]}",
    "yaml-doc": "---\nkind: Pod",
    "nul": "a\x00b",
    "option": "--partition=evil",
    "space": "a b",
}
BASE_ATTRS: dict[str, Any] = {
    "Id": "sha256:" + "ab" * 32,
    "RepoTags": [IMAGE],
    "RepoDigests": [f"registry.example:5000/team/gpu-torch@{DIGEST}"],
    "Config": {
        "Entrypoint": ["gpu-torch"],
        "Cmd": None,
        "WorkingDir": "/app",
        "User": "app",
        "Env": ["NVIDIA_REQUIRE_CUDA=cuda>=13.0"],
        "Labels": {keys.ENVFORGE_VERSION: "0.1.0", keys.CUDA: "13.2"},
    },
}


@dataclass(frozen=True)
class Field:
    name: str
    benign: str
    targets: tuple[str, ...]
    # (value, attrs to edit) -> the CLI's words after `job IMAGE --target T`
    apply: Callable[[str, dict[str, Any]], list[str]]
    word: bool = False  # the value reaches apptainer/srun's argv as one word


def _flag(flag: str) -> Callable[[str, dict[str, Any]], list[str]]:
    return lambda value, attrs: [flag, value]


def _config(key: str, as_list: bool = False) -> Callable[[str, dict[str, Any]], list[str]]:
    def apply(value: str, attrs: dict[str, Any]) -> list[str]:
        attrs["Config"][key] = [value] if as_list else value
        return []

    return apply


def _env(value: str, attrs: dict[str, Any]) -> list[str]:
    attrs["Config"]["Env"] = [f"NVIDIA_REQUIRE_CUDA={value}"]
    return []


def _label(value: str, attrs: dict[str, Any]) -> list[str]:
    attrs["Config"]["Labels"][keys.CUDA] = value
    return []


def _digest(value: str, attrs: dict[str, Any]) -> list[str]:
    attrs["RepoDigests"] = [value]
    return []


SLURM = ("slurm-apptainer", "slurm-pyxis")
FIELDS = [
    Field("name", "train-1", TARGETS, _flag("--name")),
    Field("namespace", "ml", ("kubernetes",), _flag("--namespace")),
    Field("node-selector", "pool=a", ("kubernetes",), _flag("--node-selector")),
    Field("shm-size", "8g", ("kubernetes",), _flag("--shm-size")),
    Field("mem", "64G", TARGETS, _flag("--mem")),
    Field("time", "01:00:00", SLURM, _flag("--time")),
    Field("partition", "gpu", SLURM, _flag("--partition")),
    Field("sif", "sifs/job.sif", ("slurm-apptainer",), _flag("--sif")),
    Field("archive", "saved/image.tar", ("slurm-apptainer",), _flag("--archive")),
    Field("argument", "--seed", TARGETS, lambda v, a: ["--", v], word=True),
    Field("entrypoint", "gpu-torch", TARGETS, _config("Entrypoint", as_list=True), word=True),
    Field("cmd", "--seed", TARGETS, _config("Cmd", as_list=True), word=True),
    Field("workdir", "/app", TARGETS, _config("WorkingDir")),
    Field("user", "app", ("kubernetes",), _config("User")),
    Field("require-cuda", "cuda>=13.0", ("kubernetes",), _env),
    Field("cuda-label", "13.2", TARGETS, _label),
    Field("repo-digest", f"registry.example/gpu-torch@{DIGEST}", TARGETS, _digest),
]
CASES = [
    pytest.param(f, t, v, id=f"{f.name}:{t}:{p}")
    for f in FIELDS
    for t in f.targets
    for p, v in {"benign": f.benign, **PAYLOADS}.items()
]


@dataclass
class Written:
    exit_code: int
    stdout: str
    stderr: str


def write_job(monkeypatch: pytest.MonkeyPatch, field: Field, target: str, value: str) -> Written:
    attrs = copy.deepcopy(BASE_ATTRS)
    words = field.apply(value.replace("{benign}", field.benign), attrs)

    class Image:
        pass

    image = Image()
    image.attrs = attrs  # type: ignore[attr-defined]
    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(engine, "get_image", lambda client, ref: image)
    if "--" in words:
        words = ["--", *words[words.index("--") + 1 :]]
    result = runner.invoke(app, ["job", IMAGE, "--target", target, *words])
    assert result.exit_code in (0, 2), result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 2:
        assert result.stderr.startswith("error: "), result.stderr
        assert result.stdout == ""
    return Written(result.exit_code, result.stdout, result.stderr)


def _sbatch(script: str) -> list[str]:
    return [line.split("=", 1)[0] for line in script.splitlines() if line.startswith("#SBATCH")]


def _shape(doc: Any) -> Any:
    """The document's keys, without the values."""
    if isinstance(doc, dict):
        return {k: _shape(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_shape(v) for v in doc]
    return type(doc).__name__


@pytest.mark.parametrize(("field", "target", "value"), CASES)
def test_a_crafted_value_never_becomes_an_instruction(
    field: Field, target: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_job(monkeypatch, field, target, value)
    if written.exit_code != 0:
        return
    value = value.replace("{benign}", field.benign)
    benign = write_job(monkeypatch, field, target, field.benign)
    assert benign.exit_code == 0, benign.stderr
    if target == "kubernetes":
        doc = yaml.safe_load(written.stdout)
        kubernetes_validate.validate(doc, "1.33.0", strict=True)
        expected = yaml.safe_load(benign.stdout)
        if (
            field.name == "user" and value != field.benign
        ):  # no uid: no runAsNonRoot (and a warning)
            expected["spec"]["template"]["spec"].pop("securityContext")
            doc["spec"]["template"]["spec"].pop("securityContext", None)
            assert "runAsNonRoot" in written.stderr
        assert _shape(doc) == _shape(expected)
        header = [line for line in written.stdout.splitlines() if line.startswith("#")]
        assert len(header) == len([x for x in benign.stdout.splitlines() if x.startswith("#")])
        if field.word:
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            assert value.replace("$", "$$") in [*container["command"], *container.get("args", [])]
        return
    assert _sbatch(written.stdout) == _sbatch(benign.stdout)
    (tmp_path / "sifs").mkdir()
    (tmp_path / "saved").mkdir()
    ran = run_on_node(written.stdout, tmp_path, driver=recorded_driver())
    assert not list(tmp_path.rglob(CANARY)), "the canary ran"  # a file of that name alone
    assert "syntax error" not in ran.stderr
    if field.word:
        runs = [c for c in ran.calls if c[0] == "srun" or c[1] == "exec"]
        assert runs and value in runs[-1]


@pytest.mark.parametrize(
    "payload", ["x\n#SBATCH --uid=0", f"r.example/a@{DIGEST}$(touch {CANARY})"]
)
def test_a_crafted_ref_is_refused(payload: str) -> None:
    result = runner.invoke(
        app, ["job", str(EXAMPLES / "gpu-torch"), "--target", "slurm-pyxis", "--ref", payload]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid image reference")


def test_no_sbatch_line_after_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    written = write_job(monkeypatch, FIELDS[9], "slurm-pyxis", "#SBATCH --uid=0")
    lines = written.stdout.splitlines()
    assert all(not line.startswith("#SBATCH") for line in lines[3:])
    assert re.search(r" '#SBATCH --uid=0'$", lines[-1])
