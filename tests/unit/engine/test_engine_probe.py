"""The engine probe: `docker info` as a real engine returns it, the container toolkit's
traces (nvidia runtime, CDI specs, nvidia-ctk, the hook), an unreachable engine, and
HostFacts stored as JSON and read back.

tests/fixtures/engine/docker-info-debian.json is `docker.from_env().info()` from Debian 12's
docker.io 20.10.24 (no GPU, no toolkit), trimmed to the keys that say what the engine is
(IDs, counts, proxies and registry settings left out; values unedited).
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from envforge.engine.probe import (
    cdi_kind,
    ctk_version_from_output,
    engine_from_info,
    find_cdi_specs,
    probe_engine,
)
from envforge.errors import HostFactsError
from envforge.host.facts import EngineFacts, HostFacts
from envforge.host.nvidia import driver_from_nvml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SOCKET = "unix:///var/run/docker.sock"

NVIDIA_CDI = """\
---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: all
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args: [nvidia-cdi-hook, update-ldcache]
"""


def docker_info() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "engine" / "docker-info-debian.json").read_text())
    return data


def executable(folder: Path, name: str, body: str = "exit 0\n") -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_info_fixture() -> None:
    facts = engine_from_info(docker_info(), SOCKET)
    assert facts.reachable
    assert facts.version == "20.10.24+dfsg1"
    assert "runc" in facts.runtimes
    assert facts.runtimes == ("io.containerd.runc.v2", "io.containerd.runtime.v1.linux", "runc")
    assert facts.default_runtime == "runc"
    assert not facts.gpu_capable
    assert facts.detail is None


def test_info_with_nvidia_runtime() -> None:
    info = docker_info() | {
        "ServerVersion": "28.3.3",
        "Runtimes": {
            "io.containerd.runc.v2": {"path": "runc"},
            "nvidia": {"path": "nvidia-container-runtime"},
            "runc": {"path": "runc"},
        },
        "DefaultRuntime": "nvidia",
        "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"],
    }
    facts = engine_from_info(info, SOCKET, ctk_version="1.17.8")
    assert facts.runtimes == ("io.containerd.runc.v2", "nvidia", "runc")
    assert facts.default_runtime == "nvidia"
    assert facts.nvidia_ctk_version == "1.17.8"
    assert facts.gpu_capable


def test_info_missing_keys() -> None:
    facts = engine_from_info({}, SOCKET)
    assert (facts.version, facts.runtimes, facts.default_runtime) == (None, (), None)


@pytest.mark.parametrize(
    ("facts", "capable"),
    [
        (EngineFacts(reachable=True, where=SOCKET), False),
        (EngineFacts(reachable=True, where=SOCKET, nvidia_hook_on_path=True), True),
        (
            EngineFacts(
                reachable=True,
                where=SOCKET,
                cdi_specs=("/etc/cdi/x.yaml",),
                cdi_kinds=("x.com/y",),
            ),
            False,
        ),
        (EngineFacts(reachable=True, where=SOCKET, cdi_kinds=("nvidia.com/gpu",)), True),
        (EngineFacts(reachable=False, where=SOCKET, runtimes=("nvidia",)), True),
    ],
)
def test_gpu_capable(facts: EngineFacts, capable: bool) -> None:
    assert facts.gpu_capable is capable


def test_cdi_specs_in_a_folder(tmp_path: Path) -> None:
    etc, run = tmp_path / "etc-cdi", tmp_path / "run-cdi"
    etc.mkdir()
    run.mkdir()
    (etc / "nvidia.yaml").write_text(NVIDIA_CDI)
    (etc / "README.txt").write_text("not a spec")
    (run / "vendor.json").write_text(json.dumps({"cdiVersion": "0.6.0", "kind": "vendor.com/dev"}))
    (run / "broken.yaml").write_text("kind: [unclosed\n")
    specs, kinds = find_cdi_specs([etc, run, tmp_path / "missing"])
    assert specs == (
        str(etc / "nvidia.yaml"),
        str(run / "broken.yaml"),
        str(run / "vendor.json"),
    )
    assert kinds == ("nvidia.com/gpu", "vendor.com/dev")


def test_cdi_kind() -> None:
    assert cdi_kind(NVIDIA_CDI) == "nvidia.com/gpu"
    assert cdi_kind('{"kind": "nvidia.com/gpu"}', is_json=True) == "nvidia.com/gpu"
    assert cdi_kind("kind: [unclosed") is None
    assert cdi_kind("- a list") is None
    assert cdi_kind("{not json", is_json=True) is None


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("NVIDIA Container Toolkit CLI version 1.17.8\ncommit: f202b80a9b9d0db0\n", "1.17.8"),
        ("NVIDIA Container Toolkit CLI version 1.14.3\n", "1.14.3"),
        ("something else", None),
    ],
)
def test_ctk_version_from_output(output: str, version: str | None) -> None:
    assert ctk_version_from_output(output) == version


def test_unreachable_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.setenv("PATH", str(tmp_path))
    facts = probe_engine(cdi_dirs=[tmp_path / "none"])
    assert facts == EngineFacts(reachable=False, where="unix:///nonexistent", detail=facts.detail)
    assert facts.detail is not None
    assert "unix:///nonexistent" in facts.detail
    assert "socket does not exist" in facts.detail
    assert not facts.gpu_capable


def test_toolkit_probes_without_an_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The toolkit is a fact of this machine: reported even when the engine is not reachable."""
    cdi, bin_ = tmp_path / "cdi", tmp_path / "bin"
    cdi.mkdir()
    (cdi / "nvidia.yaml").write_text(NVIDIA_CDI)
    executable(bin_, "nvidia-container-runtime-hook")
    executable(
        bin_,
        "nvidia-ctk",
        'if [ "$1" = "--version" ]; then\n'
        "  echo 'NVIDIA Container Toolkit CLI version 1.17.8'\n  echo 'commit: f202b80'\n"
        "fi\n",
    )
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.setenv("PATH", str(bin_))
    facts = probe_engine(cdi_dirs=[cdi])
    assert not facts.reachable
    assert facts.cdi_specs == (str(cdi / "nvidia.yaml"),)
    assert facts.cdi_kinds == ("nvidia.com/gpu",)
    assert facts.nvidia_ctk_version == "1.17.8"
    assert facts.nvidia_hook_on_path
    assert facts.gpu_capable


def test_failing_nvidia_ctk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    executable(tmp_path, "nvidia-ctk", "echo boom >&2\nexit 1\n")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert probe_engine(cdi_dirs=[]).nvidia_ctk_version is None


def test_live_probe_never_raises() -> None:
    facts = probe_engine()
    assert facts.reachable or facts.detail


# ---------------------------------------------------------------- HostFacts as JSON


def h100_host() -> HostFacts:
    nvml = json.loads((FIXTURES / "gpu" / "h100-driver580" / "nvml.json").read_text())
    engine = engine_from_info(
        docker_info(),
        SOCKET,
        cdi_specs=("/etc/cdi/nvidia.yaml",),
        ctk_version="1.17.8",
        hook_on_path=True,
        cdi_kinds=("nvidia.com/gpu",),
    )
    return HostFacts(driver=driver_from_nvml(nvml), engine=engine)


def test_host_facts_round_trip() -> None:
    host = h100_host()
    data = json.loads(json.dumps(host.to_dict()))
    assert HostFacts.from_dict(data) == host
    assert data["driver"]["gpus"][0]["compute_capability"] == [9, 0]
    assert list(data) == ["driver", "engine"]
    assert list(data["driver"]) == [
        "status",
        "source",
        "driver_version",
        "cuda_driver_version",
        "gpus",
        "detail",
    ]


def test_live_host_round_trip() -> None:
    from envforge.host.nvidia import probe_driver

    host = HostFacts(driver=probe_driver(), engine=probe_engine())
    assert HostFacts.from_dict(json.loads(json.dumps(host.to_dict()))) == host


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["driver"].update(status="fine"), "'driver.status'"),
        (lambda d: d["driver"].update(source="lspci"), "'driver.source'"),
        (lambda d: d["driver"]["gpus"][0].update(index="0"), "'driver.gpus[0].index'"),
        (
            lambda d: d["driver"]["gpus"][0].update(compute_capability=[9]),
            "'driver.gpus[0].compute_capability'",
        ),
        (lambda d: d["engine"].update(reachable="yes"), "'engine.reachable'"),
        (lambda d: d["engine"].update(runtimes="runc"), "'engine.runtimes'"),
        (lambda d: d.pop("engine"), "'engine'"),
    ],
)
def test_host_facts_from_bad_dict(edit: Any, message: str) -> None:
    data = h100_host().to_dict()
    edit(data)
    with pytest.raises(HostFactsError, match=re.escape(message)) as info:
        HostFacts.from_dict(data)
    assert info.value.exit_code == 2
