"""A build asked for on the host's network, on a dockerd that refuses it (daemon.json
`builder.entitlements.network-host: false`): sent again on the bridge, and said.

The module starts a second dockerd of its own (the lab's dockerd 20.10), with its state under
a tmp folder and its own bridge (a --bridge of none would make it delete docker0, the lab
engine's), no iptables rules, and the lab's Python image loaded. The context is 8 MB: dockerd
answers the refusal before it reads the context, then closes on the rest of the body.
Outside CI a missing dockerd or `ip` skips; with CI=true it fails (.ci/run installs both).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from envforge.engine import client as engine
from envforge.engine import socket_engine
from envforge.engine.network import REFUSED
from tests.integration.conftest import LAB_PYTHON, Lab

BRIDGE = "efrefuse0"
# Outside Docker's default address pools (172.17-31.0.0/16, 192.168.0.0/16).
ADDRESS = "10.255.251.1/24"
START_S = 30


def _tools() -> tuple[str, str]:
    dockerd, ip = shutil.which("dockerd"), shutil.which("ip")
    if dockerd is None or ip is None or os.geteuid() != 0:
        # CI runs as root (.ci/run); elsewhere this module needs it too.
        message = "a second dockerd needs dockerd, iproute2's ip and root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return dockerd, ip


def _die_with_this_process() -> None:
    """The dockerd's parent-death signal: a test run that is killed leaves no dockerd behind."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture(scope="module")
def refusing_engine(lab: Lab) -> Iterator[str]:
    """DOCKER_HOST of a dockerd that refuses builds on its host's network."""
    dockerd, ip = _tools()
    # A short path: the daemon's sockets under it must fit a unix socket's 108 bytes.
    home = Path(tempfile.mkdtemp(prefix="/tmp/ef-refuse-"))
    (home / "daemon.json").write_text(
        json.dumps({"builder": {"entitlements": {"network-host": False}}})
    )
    host = f"unix://{home / 'docker.sock'}"
    env = {**os.environ, "DOCKER_HOST": host}
    daemon: subprocess.Popen[bytes] | None = None
    log = (home / "dockerd.log").open("wb")
    try:
        subprocess.run([ip, "link", "delete", BRIDGE], capture_output=True)  # an earlier run's
        for step in (["link", "add", BRIDGE, "type", "bridge"], ["link", "set", BRIDGE, "up"]):
            subprocess.run([ip, *step], check=True)
        subprocess.run([ip, "addr", "add", ADDRESS, "dev", BRIDGE], check=True)
        daemon = subprocess.Popen(
            [
                dockerd, "--config-file", str(home / "daemon.json"), "--data-root",
                str(home / "root"), "--exec-root", str(home / "exec"), "--pidfile",
                str(home / "dockerd.pid"), "-H", host, "-b", BRIDGE, "--iptables=false",
                "--ip-masq=false", "--containerd-namespace", "ef-refuse",
                "--containerd-plugins-namespace", "ef-refuse-plugins",
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_this_process,
        )  # fmt: skip
        deadline = time.monotonic() + START_S
        while subprocess.run(["docker", "version"], env=env, capture_output=True).returncode:
            assert daemon.poll() is None, (home / "dockerd.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the second dockerd did not answer"
            time.sleep(0.5)
        save = subprocess.Popen(["docker", "save", LAB_PYTHON], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            ["docker", "load"], stdin=save.stdout, env=env, capture_output=True, text=True
        )
        assert save.wait() == 0 and loaded.returncode == 0, loaded.stderr[-2000:]
        yield host
    finally:
        if daemon is not None:
            daemon.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                daemon.wait(timeout=30)
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        log.close()
        subprocess.run([ip, "link", "delete", BRIDGE], capture_output=True)
        mounted = [
            line for line in Path("/proc/mounts").read_text().splitlines() if str(home) in line
        ]
        shutil.rmtree(home, ignore_errors=True)
        assert not mounted, f"the second dockerd left mounts behind: {mounted}"


def test_a_refused_host_network_builds_on_the_bridge_and_says_so(
    refusing_engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", refusing_engine)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {LAB_PYTHON}\nRUN echo on-the-bridge > /ran\nCOPY data.bin /data.bin\n"
    )
    (tmp_path / "data.bin").write_bytes(os.urandom(8 << 20))
    client = engine.connect_socket()
    assert isinstance(client, socket_engine.SocketEngine)
    lines: list[str] = []
    built = engine.build_image(
        client, tmp_path, "refused:1", out=lines.append, buildargs={}, builder="buildkit",
        network="host", nocache=True,
    )  # fmt: skip
    assert lines[0] == f"network   {REFUSED}"
    assert lines.count(f"network   {REFUSED}") == 1
    assert any(line.startswith("[2/3] RUN echo on-the-bridge") for line in lines), lines
    assert built.tag == "refused:1" and built.size > 8 << 20
