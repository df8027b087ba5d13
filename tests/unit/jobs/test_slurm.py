"""The sbatch scripts: valid bash, and run as a node would (fake nvidia-smi, apptainer and
srun on PATH), their driver check passes and fails as doctor and `run --gpus` do."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from envforge.cuda.catalog import load_cuda_catalog
from envforge.host import gate
from envforge.host.compat import Finding
from envforge.host.facts import EngineFacts, HostFacts
from envforge.jobs import render_job
from envforge.jobs.slurm import pyxis_image, sif_path
from tests.conftest import h100_driver
from tests.unit.jobs.common import DIGEST, REF, gpu_torch, spec
from tests.unit.jobs.fakes import OLD_DRIVER, recorded_driver, run_on_node

SLURM = ("slurm-apptainer", "slurm-pyxis")
SIF = "gpu-torch-5e5e5e5e5e5e.sif"


def bash_n(script: str, tmp_path: Path) -> None:
    path = tmp_path / "syntax.sh"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("target", SLURM)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"gpus": 0},
        {"gpus": 4, "time": "1-12:00:00", "partition": "gpu,debug", "cpus": 16, "mem": "64G"},
        {"name": "train-1"},
    ],
)
def test_every_script_is_valid_bash(target: str, options: dict, tmp_path: Path) -> None:
    bash_n(render_job(spec(target, "--seed", "1", **options)), tmp_path)


def test_apptainer_options(tmp_path: Path) -> None:
    for extra in ({"sif": "/scratch/me/gpu torch.sif"}, {"archive": "images/gpu-torch.tar"}):
        bash_n(render_job(spec("slurm-apptainer", **extra)), tmp_path)


def gate_finding(driver_version: str | None) -> Finding:
    """What the `run --gpus` gate says of gpu-torch's CUDA on the recorded H100 with this
    driver, read as nvidia-smi's query reads it (a version, no CUDA driver API): the cuda
    finding, or the driver's when there is none."""
    driver = replace(h100_driver(), driver_version=driver_version, cuda_driver_version=None)
    if driver_version is None:
        driver = replace(driver, status="no-driver", gpus=())
    host = HostFacts(driver=driver, engine=EngineFacts(reachable=False, where="unix:///none"))
    pre = gate.preflight(
        "gpu-torch", gpu_torch().needs, host, gate.parse_gpus("1"), load_cuda_catalog()
    )
    (finding,) = [f for f in pre.findings if f.check == ("cuda" if driver_version else "driver")]
    return finding


def test_the_gate_warns_on_the_recorded_h100_and_refuses_an_older_driver() -> None:
    assert recorded_driver() == "580.159.04"
    assert gate_finding(recorded_driver()).level == "warn"  # minor-version compatibility
    assert gate_finding(OLD_DRIVER).level == "fail"
    assert gate_finding("595.45.04").level == "ok"


@pytest.mark.parametrize("target", SLURM)
@pytest.mark.parametrize("driver", [recorded_driver(), OLD_DRIVER, "595.45.04", "610.1"])
def test_the_driver_check_says_what_the_gate_says(target: str, driver: str, tmp_path: Path) -> None:
    finding = gate_finding(driver)
    ran = run_on_node(render_job(spec(target, "--seed", "1")), tmp_path, driver=driver, gpus=2)
    if finding.level == "fail":
        assert ran.returncode == 1
        assert ran.calls == []  # the program never started: no pull, no srun
    else:
        assert ran.returncode == 0, ran.stderr
        assert ran.calls
    shown = gate.render_findings([finding]) if finding.level != "ok" else ""
    assert ran.stderr == shown


def test_the_too_old_wording_is_the_gates(tmp_path: Path) -> None:
    ran = run_on_node(render_job(spec("slurm-pyxis")), tmp_path, driver=OLD_DRIVER)
    assert (
        ran.stderr.splitlines()[0] == f"fail  cuda     driver {OLD_DRIVER} is too old for CUDA 13.2"
    )
    assert "Install an NVIDIA driver >= 595.45.04 (at least 580 under" in ran.stderr


@pytest.mark.parametrize("target", SLURM)
def test_a_node_without_a_driver_fails_before_the_program(target: str, tmp_path: Path) -> None:
    ran = run_on_node(render_job(spec(target)), tmp_path, driver=None)
    assert ran.returncode == 1
    assert ran.calls == []
    finding = gate_finding(None)
    lines = ran.stderr.splitlines()
    assert lines[0] == (
        "fail  driver   no NVIDIA driver answered on this node "
        "(nvidia-smi --query-gpu=driver_version --format=csv,noheader)"
    )
    assert f"why: {finding.why}" in " ".join(line.strip() for line in lines)


def test_a_garbled_driver_version_is_no_driver(tmp_path: Path) -> None:
    ran = run_on_node(render_job(spec("slurm-pyxis")), tmp_path, driver="$(touch x) 580")
    assert ran.returncode == 1
    assert not (tmp_path / "x").exists()


def test_a_job_without_gpus_checks_no_driver(tmp_path: Path) -> None:
    script = render_job(spec("slurm-pyxis", gpus=0))
    assert "nvidia-smi" not in script and "--gres" not in script
    assert "NVIDIA_VISIBLE_DEVICES" not in script
    ran = run_on_node(script, tmp_path, driver=None)
    assert ran.returncode == 0, ran.stderr


def test_apptainer_pulls_once_by_digest_then_runs_the_command(tmp_path: Path) -> None:
    script = render_job(spec("slurm-apptainer", "--seed", "1"))
    first = run_on_node(script, tmp_path, driver=recorded_driver())
    sif = str(tmp_path / "home/.cache/envforge/sif" / SIF)
    assert first.calls == [
        ["apptainer", "pull", f"{sif}.4242.tmp", f"docker://{REF}"],
        [
            "apptainer",
            "exec",
            "--nv",  # no --pwd: the program runs in the submit directory
            sif,
            "/app/.venv/bin/gpu-torch",
            "--seed",
            "1",
        ],
    ]
    again = run_on_node(script, tmp_path, driver=recorded_driver())
    assert [c[1] for c in again.calls] == ["exec"]  # the SIF is there: no second pull


def test_apptainer_builds_from_an_archive_at_the_sif_given(tmp_path: Path) -> None:
    script = render_job(
        spec("slurm-apptainer", sif="sifs/my job.sif", archive="saved/gpu-torch.tar")
    )
    (tmp_path / "sifs").mkdir(parents=True)
    ran = run_on_node(script, tmp_path, driver=recorded_driver())
    assert ran.calls[0] == [
        "apptainer",
        "build",
        "sifs/my job.sif.4242.tmp",
        "docker-archive:saved/gpu-torch.tar",
    ]
    assert ran.calls[1][-2:] == ["sifs/my job.sif", "/app/.venv/bin/gpu-torch"]
    assert (tmp_path / "sifs/my job.sif").exists()


def test_pyxis_names_the_registry_with_a_hash_and_writes_the_command(tmp_path: Path) -> None:
    ran = run_on_node(render_job(spec("slurm-pyxis", "--seed", "1")), tmp_path, driver="595.45.04")
    assert ran.calls == [
        [
            "srun",
            f"--container-image=registry.example:5000#team/gpu-torch@{DIGEST}",
            # Home and the submit directory mounted, the latter the working one.
            "--container-mount-home",
            f"--container-mounts={tmp_path}:{tmp_path}",
            f"--container-workdir={tmp_path}",
            "/app/.venv/bin/gpu-torch",
            "--seed",
            "1",
        ]
    ]


@pytest.mark.parametrize(
    ("ref", "pyxis"),
    [
        ("registry.example:5000/team/app@" + DIGEST, "registry.example:5000#team/app@" + DIGEST),
        ("ghcr.io/o/app:1", "ghcr.io#o/app:1"),
        ("localhost/app:1", "localhost#app:1"),
        ("team/app:1", "team/app:1"),
        ("app@" + DIGEST, "app@" + DIGEST),
    ],
)
def test_pyxis_image(ref: str, pyxis: str) -> None:
    assert pyxis_image(ref) == pyxis


def test_sif_names() -> None:
    assert sif_path(spec("slurm-apptainer")) == SIF
    assert sif_path(spec("slurm-apptainer", archive="/x/My_Image.v1.tar")) == "my-image.v1.sif"
