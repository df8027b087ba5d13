"""`envforge run --gpus` against the real engine of this machine, which has no GPU: the gate
refuses before any container exists; --skip-checks reaches the engine, whose refusal is a
clean error; --shm-size reaches the container.

The GPU images here are stand-ins made FROM the lab's Python image: only their config
(envforge's labels, or NVIDIA's variables) matters to the gate.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.conftest import LAB_PYTHON, Lab, envforge

H100 = REPO / "tests/fixtures/gpu/h100-device-run/doctor-host.json"
ARCH_50_90 = "5.0,6.0,7.0,7.5,8.0,8.6,9.0"
REFUSED = "error: refusing to start {} with --gpus: 1 check(s) failed"


@pytest.fixture(scope="module", autouse=True)
def no_gpu_here(docker_client) -> None:
    from envforge.engine.probe import probe_engine
    from envforge.host.nvidia import probe_driver

    if probe_driver().ok:
        pytest.skip("this machine has a usable NVIDIA driver: these tests are for one without")
    if probe_engine().gpu_capable:
        pytest.skip("this engine has the NVIDIA container toolkit wired up")


def _build(docker_client, tag: str, lines: str) -> None:
    dockerfile = f"FROM {LAB_PYTHON}\n{lines}"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)


@pytest.fixture(scope="module")
def envforge_gpu_image(lab: Lab, docker_client, unique_tag):
    """As envforge labels a CUDA 12.8 image built for sm 5.0 to 9.0 (NVIDIA's variables too)."""
    tag = f"{unique_tag}/gate-labelled:12.8"
    _build(
        docker_client,
        tag,
        "ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility\n"
        'ENV NVIDIA_REQUIRE_CUDA="cuda>=12.8"\n'
        f"LABEL dev.envforge.cuda=12.8 dev.envforge.arch-list={ARCH_50_90}\n",
    )
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def foreign_gpu_image(lab: Lab, docker_client, unique_tag):
    """A stand-in for nvidia/cuda:12.8.1-runtime: NVIDIA's variables, no envforge labels."""
    tag = f"{unique_tag}/gate-foreign:12.8.1"
    _build(
        docker_client,
        tag,
        "ENV CUDA_VERSION=12.8.1\n"
        'ENV NVIDIA_REQUIRE_CUDA="cuda>=12.8 brand=tesla,driver>=535,driver<536"\n',
    )
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def cpu_image(lab: Lab, docker_client, unique_tag):
    """The lab's Python image under a name (and id) of its own: no CUDA in its config."""
    tag = f"{unique_tag}/gate-cpu:1"
    _build(docker_client, tag, "LABEL dev.envforge.test=gate-cpu\n")
    yield tag
    docker_client.images.remove(tag, force=True)


def containers_of(docker_client, image: str) -> list[str]:
    return [c.id for c in docker_client.containers.list(all=True, filters={"ancestor": image})]


def created_since(docker_client, image: str, since: float) -> list[str]:
    """Containers created from `image` since then, removed or not: the engine's own events."""
    events = docker_client.events(
        since=int(since) - 1,
        until=int(time.time()) + 1,
        filters={"type": "container", "event": "create", "image": image},
        decode=True,
    )
    return [e["id"] for e in events]


def run(lab: Lab, *args: str):
    return envforge("run", "--no-tty", *args, env=lab.cli_env(), timeout=300)


@pytest.mark.parametrize("which", ["envforge_gpu_image", "foreign_gpu_image"])
def test_gpus_all_is_refused_before_any_container_exists(
    request: pytest.FixtureRequest, lab: Lab, docker_client, which: str
) -> None:
    image = request.getfixturevalue(which)
    before, start = containers_of(docker_client, image), time.time()
    done = run(lab, "--gpus", "all", image, "--", "python", "-c", "print('started')")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("fail  driver   ")
    assert "               why: CUDA 12.8" in lines[1]
    assert lines[-2] == REFUSED.format(image)
    assert lines[-1].startswith("hint: Fix what failed above")
    assert "--skip-checks" in lines[-1]
    # Compared by image: other containers may come and go on this engine meanwhile.
    assert containers_of(docker_client, image) == before == []
    assert created_since(docker_client, image, start) == []  # not even created and removed


def test_an_image_without_cuda_warns_and_is_still_refused_without_a_driver(
    lab: Lab, docker_client, cpu_image: str
) -> None:
    before, start = containers_of(docker_client, cpu_image), time.time()
    done = run(lab, "--gpus", "1", cpu_image, "--", "true")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == f"warn  project  {cpu_image} needs no CUDA"
    assert any(line.startswith("fail  driver   ") for line in lines)
    assert lines[-2] == REFUSED.format(cpu_image)
    assert containers_of(docker_client, cpu_image) == before == []
    assert created_since(docker_client, cpu_image, start) == []


def test_skip_checks_reaches_the_engine_whose_refusal_is_a_clean_error(
    lab: Lab, docker_client, envforge_gpu_image: str
) -> None:
    start = time.time()
    done = run(lab, "--gpus", "all", "--skip-checks", envforge_gpu_image, "--", "true")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert "warning: --skip-checks: starting despite 1 failed check(s)" in lines
    assert (
        f"error: Cannot run '{envforge_gpu_image}': could not select device driver \"\" "
        "with capabilities: [[gpu]]"
    ) in lines
    assert lines[-1].startswith("hint: This Docker engine cannot hand out GPUs")
    # Created (the engine refuses the device request at start), then removed again.
    assert len(created_since(docker_client, envforge_gpu_image, start)) == 1
    assert containers_of(docker_client, envforge_gpu_image) == []


def test_a_replayed_gpu_host_passes_the_gate_and_this_engine_still_refuses(
    lab: Lab, foreign_gpu_image: str, tmp_path: Path
) -> None:
    host = json.loads(H100.read_text("utf-8"))["host"]
    host["engine"].update(reachable=True, runtimes=["nvidia", "runc"])
    recorded = tmp_path / "h100-toolkit.json"
    recorded.write_text(json.dumps({"host": host}))
    done = run(lab, "--gpus", "device=0", "--host-facts", str(recorded), foreign_gpu_image)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("warn  arch     GPU 0 (NVIDIA H100 80GB HBM3, sm_90): ")
    assert not [line for line in lines if line.startswith("fail")]
    assert f"error: Cannot run '{foreign_gpu_image}': could not select device driver" in (
        done.stderr
    )


def test_shm_size_reaches_the_container_and_the_exit_code_comes_back(
    lab: Lab, cpu_image: str
) -> None:
    script = "grep ' /dev/shm ' /proc/mounts; exit 7"
    done = run(lab, "--shm-size", "256m", "--entrypoint", "sh -c", cpu_image, "--", script)
    assert done.returncode == 7, done.stderr
    assert "size=262144k" in done.stdout  # 256 MiB; the engine's default is 64 MiB
    default = run(lab, "--entrypoint", "sh -c", cpu_image, "--", script)
    assert "size=65536k" in default.stdout


def test_a_bad_shm_size_is_a_usage_error(lab: Lab, cpu_image: str) -> None:
    done = run(lab, "--shm-size", "lots", cpu_image)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == "error: Invalid --shm-size 'lots'"
