"""`envforge job` end to end, no engine: golden job files for examples/gpu-torch (by a fixed
digest), exact messages, -o and --force, and a local image read from a fake engine.
Regenerate the golden files with ENVFORGE_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from envforge import labels as keys
from envforge.cli import app
from envforge.engine import client as engine
from tests.conftest import EXAMPLES, REPO
from tests.unit.jobs.common import DIGEST, REF

runner = CliRunner()
GOLDEN = REPO / "tests/golden"
GPU_TORCH = str(EXAMPLES / "gpu-torch")
GOLDEN_ARGS = {
    "kubernetes": ("--namespace", "ml"),
    "slurm-apptainer": ("--time", "01:00:00", "--partition", "gpu"),
    "slurm-pyxis": ("--time", "01:00:00", "--partition", "gpu"),
}
SUFFIX = {"kubernetes": "yaml", "slurm-apptainer": "sh", "slurm-pyxis": "sh"}


def job(*args: str):
    return runner.invoke(app, ["job", *args])


@pytest.mark.parametrize("target", sorted(GOLDEN_ARGS))
def test_golden(target: str) -> None:
    result = job(
        GPU_TORCH, "--target", target, "--ref", REF, *GOLDEN_ARGS[target], "--", "--seed", "1"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    path = GOLDEN / f"job-gpu-torch.{target}.{SUFFIX[target]}"
    if os.environ.get("ENVFORGE_UPDATE_GOLDEN"):
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text("utf-8"), (
        f"{path.name} changed; ENVFORGE_UPDATE_GOLDEN=1 rewrites it"
    )


def test_an_unbuilt_project_names_its_tag_and_warns() -> None:
    result = job(GPU_TORCH, "--target", "slurm-pyxis")
    assert result.exit_code == 0, result.output
    assert "srun --container-image=gpu-torch:0.1.0 " in result.stdout
    assert result.stderr == (
        "warning: the job names gpu-torch:0.1.0, a tag that is not pinned: a node pulls "
        "whatever it names when the job starts. Push the image to a registry the cluster "
        "reaches and name it by its digest (REGISTRY/NAME@sha256:...; --ref for a project)\n"
    )


def test_the_target_is_required() -> None:
    result = job(GPU_TORCH)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --target is required\n"
        "hint: Give one of: kubernetes, slurm-apptainer, slurm-pyxis.\n"
    )


def test_an_unknown_option_is_an_error_not_an_argument() -> None:
    result = job(GPU_TORCH, "--target", "kubernetes", "--sede", "1")
    assert result.exit_code == 2
    assert "No such option: --sede" in result.stderr


def test_a_bad_value_is_one_message() -> None:
    result = job(GPU_TORCH, "--target", "slurm-pyxis", "--ref", REF, "--time", "2h")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: Invalid time limit '2h' in --time\n"
        "hint: Give it as sbatch --time takes it: MINUTES, HH:MM:SS or DAYS-HH:MM:SS "
        "(90, 02:00:00, 1-12:00:00).\n"
    )


def test_output_file_is_never_overwritten_without_force(tmp_path: Path) -> None:
    out = tmp_path / "job.sh"
    args = (GPU_TORCH, "--target", "slurm-pyxis", "--ref", REF, "-o", str(out))
    first = job(*args)
    assert first.exit_code == 0, first.output
    assert first.stdout == "" and first.stderr == f"wrote     {out}\n"
    assert out.read_text("utf-8").startswith("#!/bin/bash\n")
    out.write_text("mine\n", encoding="utf-8")
    refused = job(*args)
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"error: Refusing to overwrite '{out}': it exists\n"
        "hint: Write the job elsewhere (-o), or replace the file with --force.\n"
    )
    assert out.read_text("utf-8") == "mine\n"
    assert job(*args, "--force").exit_code == 0
    assert out.read_text("utf-8").startswith("#!/bin/bash\n")


def test_output_never_goes_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep\n", encoding="utf-8")
    link = tmp_path / "job.yaml"
    link.symlink_to(target)
    result = job(GPU_TORCH, "--target", "kubernetes", "--ref", REF, "-o", str(link), "--force")
    assert result.exit_code == 2
    assert "it is a symbolic link" in result.stderr
    assert target.read_text("utf-8") == "keep\n"
    missing = job(GPU_TORCH, "--target", "kubernetes", "-o", str(tmp_path / "no/such/job.yaml"))
    assert missing.exit_code == 2
    assert "no folder" in missing.stderr


class FakeImage:
    attrs: ClassVar[dict[str, Any]] = {
        "Id": "sha256:" + "ab" * 32,
        "RepoTags": ["gpu-torch:0.1.0"],
        "RepoDigests": [f"registry.example:5000/team/gpu-torch@{DIGEST}"],
        "Config": {
            "Entrypoint": ["gpu-torch"],
            "Cmd": None,
            "WorkingDir": "/app",
            "User": "app",
            "Env": ["PATH=/app/.venv/bin:/usr/bin", "NVIDIA_REQUIRE_CUDA=cuda>=13.0"],
            "Labels": {
                keys.ENVFORGE_VERSION: "0.1.0",
                keys.CUDA: "13.2",
                keys.ARCH_LIST: "7.5,8.0,8.6,9.0,10.0,12.0",
            },
        },
    }


@pytest.fixture
def local_image(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An engine that has gpu-torch:0.1.0, pushed (RepoDigests); the refs asked for."""
    asked: list[str] = []

    def get_image(client: object, ref: str) -> FakeImage:
        asked.append(ref)
        return FakeImage()

    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(engine, "get_image", get_image)
    return asked


def test_a_local_image_is_pinned_by_its_registry_digest(local_image: list[str]) -> None:
    result = job("gpu-torch:0.1.0", "--target", "slurm-pyxis", "--", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert local_image == ["gpu-torch:0.1.0"]
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == (
        "exec srun '--container-image=registry.example:5000#team/gpu-torch@"
        f"{DIGEST}' --container-workdir=/app gpu-torch --seed 1"
    )
    assert 'envforge_version_ge "$have" 580; then' in result.stdout


def test_a_built_project_is_pinned_through_the_engine(local_image: list[str]) -> None:
    result = job(GPU_TORCH, "--target", "kubernetes")
    assert result.exit_code == 0, result.output
    assert local_image == ["gpu-torch:0.1.0"]
    assert f"image: registry.example:5000/team/gpu-torch@{DIGEST}\n" in result.stdout


def test_build_options_go_with_a_project(local_image: list[str]) -> None:
    result = job("gpu-torch:0.1.0", "--target", "kubernetes", "--python", "3.11")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --python goes with a project folder, not an image\n")


def test_a_base_image_from_the_environment_is_no_option_given(
    local_image: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVFORGE_BASE_IMAGE", "envforge-lab/python:3.11-slim-bookworm")
    assert job("gpu-torch:0.1.0", "--target", "kubernetes").exit_code == 0


def test_a_missing_image_says_so() -> None:
    result = job("nope:1", "--target", "kubernetes")
    assert result.exit_code != 0
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output


def test_a_bad_ref_never_reaches_the_engine(local_image: list[str]) -> None:
    result = job(GPU_TORCH, "--target", "kubernetes", "--ref", "x y")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid image reference 'x y' in --ref\n")
    assert local_image == []


@pytest.mark.parametrize(("gpus", "host_gpu"), [(None, None), ("0", False), ("4", True)])
def test_the_job_s_gpus_decide_the_variant_not_the_login_node(
    monkeypatch: pytest.MonkeyPatch, gpus: str | None, host_gpu: bool | None
) -> None:
    """Written on a login node without a GPU, a job with --gpus N is planned for a GPU
    host (a project with CPU and CUDA variants takes its CUDA one), --gpus 0 for none."""
    from envforge.jobs import model

    seen: list[Any] = []
    real = model.project_facts

    def project_facts(path: Path, options: Any, ref: str | None) -> model.ImageFacts:
        seen.append(options.host_gpu)
        return real(path, options, ref)

    monkeypatch.setattr(model, "project_facts", project_facts)
    flags = ("--gpus", gpus) if gpus is not None else ()
    result = job(GPU_TORCH, "--target", "kubernetes", "--ref", REF, *flags)
    assert result.exit_code == 0, result.output
    assert seen == [host_gpu]


def test_gpus_for_a_cpu_image_are_said_to_go_unused() -> None:
    result = job(
        str(EXAMPLES / "cpu-sklearn"), "--target", "kubernetes", "--ref", REF, "--gpus", "2"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "warning: --gpus 2: cpu-sklearn needs no CUDA (a CPU image), so the GPUs go unused\n"
    )
    assert "nvidia.com/gpu: 2" in result.stdout
