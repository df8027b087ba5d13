"""examples/cpu-sklearn built, run and verified through Podman's Docker-compatible socket:
the same SDK code, `auto` keeping Podman (buildah) on the classic Dockerfile and saying why.

The module starts its own `podman system service` with everything of Podman's under a tmp
folder (storage, run state, networks, buildah's temporary files), so the host's Podman, if
it has one, is never touched; netavark keeps its address state in /run/containers/networks
whatever it is told, so that folder is removed after when the module made it; the lab images are copied in with `docker save | podman load`.
Outside CI a missing podman skips; with CI=true it fails (.ci/run installs it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import LAB_PYTHON, LAB_UV, Lab, envforge
from tests.integration.test_cpu_example import KNOWN_LINE

# This sandbox forbids the rlimits Podman sets on every container by default
# (`error setting rlimit type 7: operation not permitted`): none are set.
CONTAINERS_CONF = "[containers]\ndefault_ulimits = []\n"
NETAVARK_STATE = Path("/run/containers/networks")
START_S = 30


@dataclass(frozen=True)
class Podman:
    env: dict[str, str]  # the lab's, with DOCKER_HOST at Podman's socket


def _podman_binary() -> str:
    found = shutil.which("podman")
    if found is None:
        message = "podman is not installed (apt-get install podman)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def podman(lab: Lab, docker_client, tmp_path_factory) -> Iterator[Podman]:
    import docker

    binary = _podman_binary()
    home = tmp_path_factory.mktemp("podman")
    conf = home / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    tmp = home / "tmp"
    tmp.mkdir()
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "TMPDIR": str(tmp)}
    cli = [
        binary, "--root", str(home / "root"), "--runroot", str(home / "run"),
        "--tmpdir", str(home / "libpod"), "--network-config-dir", str(home / "networks"),
    ]  # fmt: skip
    netavark_state_was_there = NETAVARK_STATE.exists()
    socket = home / "podman.sock"
    log = (home / "service.log").open("wb")
    service = subprocess.Popen(
        [*cli, "system", "service", "--time", "0", f"unix://{socket}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # The API version named: the client asks for none before the socket is there.
    client = docker.DockerClient(base_url=f"unix://{socket}", version="1.41", timeout=60)
    try:
        _wait_for(client, service, home / "service.log")
        save = subprocess.Popen(["docker", "save", LAB_PYTHON, LAB_UV], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            [*cli, "load"], stdin=save.stdout, env=env, capture_output=True, text=True
        )
        assert save.wait() == 0 and loaded.returncode == 0, loaded.stderr[-2000:]
        yield Podman(env={**lab.cli_env(), "DOCKER_HOST": f"unix://{socket}"})
    finally:
        client.close()
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()
        # Images first, then what the overlay driver left mounted (its own folder), then all.
        subprocess.run([*cli, "rmi", "--all", "--force"], env=env, capture_output=True)
        for mount in reversed(_mounts_under(home)):
            subprocess.run(["umount", mount], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
        if not netavark_state_was_there:
            shutil.rmtree(NETAVARK_STATE, ignore_errors=True)
            with contextlib.suppress(OSError):
                NETAVARK_STATE.parent.rmdir()  # only when nothing else is in it


def _mounts_under(folder: Path) -> list[str]:
    done = subprocess.run(["findmnt", "-rno", "TARGET"], capture_output=True, text=True)
    return sorted(m for m in done.stdout.splitlines() if m.startswith(f"{folder}/"))


def _wait_for(client, service: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while True:
        try:
            client.ping()
            return
        except Exception:  # not listening yet
            if service.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"podman system service did not answer:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)


@dataclass(frozen=True)
class Built:
    root: Path
    tag: str
    output: str
    seconds: float


def _build(podman: Podman, root: Path, tag: str) -> Built:
    start = time.monotonic()
    done = envforge("build", str(root), "--tag", tag, "--builder", "auto", env=podman.env)
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    return Built(root, tag, done.stdout, seconds)


@pytest.fixture(scope="module")
def built(podman: Podman, tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("podman-cpu") / "cpu-sklearn"
    shutil.copytree(
        EXAMPLES / "cpu-sklearn", root, ignore=shutil.ignore_patterns(".venv", "__pycache__")
    )
    return _build(podman, root, "podman-test/cpu-sklearn:0.1.0")


def test_auto_builds_the_classic_dockerfile_on_podman(built: Built) -> None:
    lines = built.output.splitlines()
    builder = next(line for line in lines if line.startswith("builder   "))
    assert builder.startswith("builder   classic (Podman Engine 4."), builder
    assert "RUN --mount" not in (built.root / "Dockerfile").read_text()
    # buildah's own log, streamed as it came.
    assert any(line.startswith("[4/4] STEP ") for line in lines), built.output[-2000:]
    assert f"built     {built.tag}" in lines
    assert "check     command /app/.venv/bin/cpu-sklearn ok" in lines
    print(f"\npodman: cold build {built.seconds:.1f} s")


def test_run_through_podman_prints_the_known_line(built: Built, podman: Podman) -> None:
    done = envforge("run", built.tag, "--no-tty", env=podman.env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == KNOWN_LINE


def test_run_gpus_through_podman_4_is_refused(built: Built, podman: Podman) -> None:
    done = envforge("run", built.tag, "--no-tty", "--gpus", "all", "--skip-checks", env=podman.env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refusing --gpus on Podman Engine 4." in done.stderr


def test_verify_through_podman(built: Built, podman: Podman) -> None:
    done = envforge("verify", built.tag, str(built.root), env=podman.env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"verified: {built.tag} holds the 11 packages"), done.stdout
