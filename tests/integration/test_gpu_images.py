"""GPU images in the offline lab: CUDA from wheels (gpu-torch) and a system CUDA (stand-in).

No registry is reachable here, so nvidia/cuda cannot be pulled: the system-CUDA test builds
against a locally made STAND-IN that carries nvidia/cuda's variables over the lab's Debian
Python image. It proves the Dockerfile's system-CUDA path builds and runs, not NVIDIA's bits.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO
from tests.integration.conftest import LAB_PYTHON, Lab, build_copy, envforge

GPU_TORCH_TAG = "envforge-lab-cache/gpu-torch:lab"  # kept between runs: torch is large


def _run(lab: Lab, image: str, script: str) -> tuple[int, str]:
    done = envforge(
        "run", image, "--no-tty", "--entrypoint", "sh -c", "--", script, env=lab.cli_env()
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def gpu_torch_image(lab: Lab, docker_client, tmp_path_factory) -> str:
    """examples/gpu-torch through envforge build: the engine's layer cache makes a rebuild
    with the same lock and Dockerfile take seconds, so the large layers are built once."""
    root = tmp_path_factory.mktemp("gpu") / "gpu-torch"
    build_copy(lab, EXAMPLES / "gpu-torch", root, GPU_TORCH_TAG, timeout=3000)
    return GPU_TORCH_TAG


def test_torch_imports_with_the_locked_cuda(gpu_torch_image: str, lab: Lab) -> None:
    code, out = _run(
        lab, gpu_torch_image,
        "python -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())'",
    )  # fmt: skip
    assert code == 0, out
    # The lock: torch 2.15.0 for Python 3.11 with nvidia-cuda-runtime 13.2.86 (CUDA 13.2);
    # PyPI's default build names its CUDA in its version.
    assert out.split() == ["2.15.0+cu132", "13.2", "False"]


def test_no_nvidia_cuda_underneath(gpu_torch_image: str, lab: Lab, docker_client) -> None:
    image = docker_client.images.get(gpu_torch_image)
    assert image.labels["org.opencontainers.image.base.name"] == LAB_PYTHON
    assert image.labels["dev.envforge.cuda"] == "13.2"
    env = dict(e.split("=", 1) for e in image.attrs["Config"]["Env"])
    assert env["NVIDIA_REQUIRE_CUDA"] == "cuda>=13.0"  # the major's floor: MVC drivers pass
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert "CUDA_VERSION" not in env  # what every nvidia/cuda image sets
    code, out = _run(
        lab,
        gpu_torch_image,
        "ls -d /usr/local/cuda* 2>&1; ls /app/.venv/lib/python3.11/site-packages/nvidia | head -3",
    )
    assert code == 0
    assert "No such file or directory" in out.splitlines()[0]  # the CUDA libraries come as wheels


def test_the_example_trains_on_the_cpu_here(gpu_torch_image: str, lab: Lab) -> None:
    done = envforge("run", gpu_torch_image, "--no-tty", env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    # The same seeded loss the H100 printed (tests/fixtures/gpu/h100-device-run/gpu-torch-run.txt).
    assert (
        done.stdout.strip() == "gpu-torch device=cpu (cpu) torch=2.15.0+cu132 cuda=13.2 loss=0.4020"
    )


@pytest.fixture(scope="module")
def cuda_standin(lab: Lab, docker_client, unique_tag):
    """A STAND-IN for nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04: its variables, Debian inside."""
    tag = f"{unique_tag}/cuda-standin:12.4.1-cudnn-runtime"
    dockerfile = (
        f"FROM {LAB_PYTHON}\n"
        "ENV CUDA_VERSION=12.4.1 NV_CUDNN_VERSION=9.1.0.70\n"
        'ENV NVIDIA_REQUIRE_CUDA="cuda>=12.4 brand=tesla,driver>=470,driver<471"\n'
        "LABEL dev.envforge.lab-standin=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04\n"
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_system_cuda_path_builds_on_a_standin(
    cuda_standin: str, lab: Lab, docker_client, tmp_path: Path
) -> None:
    root = tmp_path / "script-app"
    shutil.copytree(REPO / "tests/fixtures/projects/script-app", root)
    tag = "envforge-test/script-app-cuda:1"
    # The stand-in has Python, where nvidia/cuda has none: so --python-source base.
    done = envforge(
        "build", str(root), "--tag", tag, "--cuda", "12.4", "--base-image", cuda_standin,
        "--python-source", "base", env=lab.cli_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    try:
        image = docker_client.images.get(tag)
        assert image.labels["dev.envforge.cuda"] == "12.4.1"
        env = dict(e.split("=", 1) for e in image.attrs["Config"]["Env"])
        assert env["CUDA_VERSION"] == "12.4.1"  # inherited from the base, as from nvidia/cuda
        assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
        ran = envforge("run", tag, "--no-tty", env=lab.cli_env())
        assert ran.returncode == 0 and ran.stdout.startswith("script-app six=1.17.0"), ran.stderr
        report = json.loads(
            envforge("doctor", "--image", tag, "--json", "--host-facts",
                     str(REPO / "tests/fixtures/gpu/h100-device-run/doctor-host.json"), env=lab.cli_env()).stdout
        )  # fmt: skip
        assert report["needs"]["cuda"] == "12.4.1"
    finally:
        docker_client.images.remove(tag, force=True)


def test_run_gpus_refuses_the_built_image_on_a_host_without_gpu(
    gpu_torch_image: str, lab: Lab, docker_client
) -> None:
    from envforge.host.nvidia import probe_driver

    if probe_driver().status == "ok":
        pytest.skip("this host has a working NVIDIA driver")
    before = {c.id for c in docker_client.containers.list(all=True)}
    done = envforge("run", gpu_torch_image, "--gpus", "all", "--no-tty", env=lab.cli_env())
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("fail  driver   no NVIDIA driver on this host")
    assert "CUDA 13.2 needs an NVIDIA driver >= 580 (>= 595.45.04 for full support)" in done.stderr
    assert f"error: refusing to start {gpu_torch_image} with --gpus: 1 check(s) failed" in lines
    assert {c.id for c in docker_client.containers.list(all=True)} == before


def test_the_gpu_image_is_exactly_the_lock(gpu_torch_image: str, lab: Lab) -> None:
    done = envforge("verify", gpu_torch_image, str(EXAMPLES / "gpu-torch"), env=lab.cli_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"verified: {gpu_torch_image} holds the ")
    assert "packages uv.lock gives Python 3.11" in done.stdout
