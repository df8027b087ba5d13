"""Shared by every test folder: the example copies, and the isolated host that the unit
and hostile tests run on (their conftest.py turns ``isolated_host`` on for every test;
the integration tests do not, since they need this machine's real engine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from envforge.host.facts import DriverFacts, EngineFacts
from envforge.host.nvidia import driver_from_nvml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
H100_RECORDING = REPO / "tests" / "fixtures" / "gpu" / "h100-driver580"
# A folder with an `nvidia-smi` that replays H100_RECORDING: .ci/run puts it first on PATH
# to prove that no unit test reads this machine's GPU.
FAKE_NVIDIA_SMI = REPO / "tests" / "fixtures" / "fake-nvidia-smi"

# The environment of a host the tests must not see: envforge's own settings, and what
# docker-py reads besides DOCKER_HOST (a TLS engine, a context).
_HOST_PREFIXES = ("ENVFORGE_",)
# ...but for the test suite's own switches (the golden tests' rewrite).
_TEST_SWITCHES = frozenset({"ENVFORGE_UPDATE_GOLDEN"})
_HOST_VARIABLES = ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "DOCKER_CONFIG")
# What NVML reports on a host without the NVIDIA driver (this machine, recorded).
NO_DRIVER_DETAIL = "NVML Shared Library Not Found"


def as_chosen(command: list[str]) -> list[str]:
    """An image's command as the plan chose it, before envforge wrote it by absolute paths
    (image/command.py in_image): /app/.venv/bin/NAME is NAME, /app/main.py is main.py."""
    out = [c.removeprefix("/app/.venv/bin/") for c in command[:1]]
    return out + [c.removeprefix("/app/") for c in command[1:]]


@pytest.fixture
def example_copy(tmp_path: Path):
    """A fresh copy of an example project, so tests may write into it."""
    import shutil

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(
            EXAMPLES / name,
            dest,
            ignore=shutil.ignore_patterns(".venv", "__pycache__", "Dockerfile", ".dockerignore"),
        )
        return dest

    return copy


def no_gpu_driver() -> DriverFacts:
    """The driver facts of a host without an NVIDIA driver, as the live probe reports it."""
    return DriverFacts(
        status="no-driver",
        source="none",
        driver_version=None,
        cuda_driver_version=None,
        detail=NO_DRIVER_DETAIL,
    )


def h100_driver() -> DriverFacts:
    """The driver facts of the recorded H100 host, read from its NVML recording."""
    return driver_from_nvml(json.loads((H100_RECORDING / "nvml.json").read_text("utf-8")))


@pytest.fixture
def isolated_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """This machine hidden from the test (in pypa/hatch's manner); returns the test's home.

    * DOCKER_HOST names a socket that does not exist: a test that would reach a real
      engine fails at once, on any machine (an engine is the integration tests' business).
    * HOME and XDG_CACHE_HOME are fresh folders (envforge caches image facts there); git
      reads no global or system config, and commits as a fixed identity. uv keeps this
      machine's package cache (UV_CACHE_DIR), so uv-backed tests stay offline and fast.
    * No ENVFORGE_* (but ENVFORGE_UPDATE_GOLDEN) or docker-py variable of the host leaks in.
    * The NVIDIA probe answers for a recorded host without a driver (``h100_host`` swaps
      in the recorded H100), and NVML itself refuses to load: on a GPU machine no test
      reads the real GPU, even one that calls ``read_nvml``.
    * The engine probe finds no container toolkit (no CDI specs, no nvidia-ctk, no hook).
    """
    import pynvml

    from envforge.engine import probe as engine_probe
    from envforge.host import nvidia

    for name in list(os.environ):
        if (name.startswith(_HOST_PREFIXES) and name not in _TEST_SWITCHES) or (
            name in _HOST_VARIABLES
        ):
            monkeypatch.delenv(name)
    uv_cache = os.environ.get("UV_CACHE_DIR") or _uv_cache_dir()
    if uv_cache is not None:
        monkeypatch.setenv("UV_CACHE_DIR", uv_cache)
    folder = tmp_path_factory.mktemp("host")
    home = folder / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{folder / 'no-engine.sock'}")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "envforge tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@envforge.invalid")

    def no_nvml() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_nvml)
    monkeypatch.setattr(nvidia, "probe_driver", lambda **_: no_gpu_driver())
    real_probe_engine = engine_probe.probe_engine
    toolless = folder / "no-tools"
    toolless.mkdir()

    def probe_engine_without_toolkit(**kwargs: Any) -> EngineFacts:
        with monkeypatch.context() as patch:
            patch.setenv("PATH", str(toolless))  # no nvidia-ctk, no hook
            return real_probe_engine(**{**kwargs, "cdi_dirs": ()})

    monkeypatch.setattr(engine_probe, "probe_engine", probe_engine_without_toolkit)
    return home


@pytest.fixture
def h100_host(isolated_host: Path, monkeypatch: pytest.MonkeyPatch) -> DriverFacts:
    """The NVIDIA probe answers for the recorded H100 host (tests/fixtures/gpu/h100-driver580)."""
    from envforge.host import nvidia

    facts = h100_driver()
    monkeypatch.setattr(nvidia, "probe_driver", lambda **_: facts)
    return facts


_UV_CACHE: list[str | None] = []


def _uv_cache_dir() -> str | None:
    """This machine's uv cache, asked of uv once per session (None without uv)."""
    if not _UV_CACHE:
        import shutil
        import subprocess

        uv = shutil.which("uv")
        found = None
        if uv is not None:
            done = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True)
            found = done.stdout.strip() or None if done.returncode == 0 else None
        _UV_CACHE.append(found)
    return _UV_CACHE[0]
