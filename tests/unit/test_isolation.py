"""The isolated host every unit test runs on (tests/conftest.py's ``isolated_host``): what
the tests see instead of this machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envforge.engine import client as engine
from envforge.engine import probe as engine_probe
from envforge.errors import DockerUnavailableError
from envforge.host import nvidia
from envforge.host.facts import DriverFacts
from tests.conftest import h100_driver, no_gpu_driver


def test_no_engine_is_reachable() -> None:
    where = os.environ["DOCKER_HOST"]
    assert where.startswith("unix://") and not Path(where.removeprefix("unix://")).exists()
    with pytest.raises(DockerUnavailableError):
        engine.connect()


def test_home_and_caches_are_the_tests_own(isolated_host: Path, tmp_path: Path) -> None:
    assert os.environ["HOME"] == str(isolated_host)
    assert Path(os.environ["XDG_CACHE_HOME"]).parent == isolated_host.parent
    assert isolated_host.parent != tmp_path  # tmp_path holds only what the test writes
    assert os.environ["GIT_CONFIG_GLOBAL"] == os.devnull


def test_no_envforge_setting_of_the_host() -> None:
    leaked = {n for n in os.environ if n.startswith("ENVFORGE_")} - {"ENVFORGE_UPDATE_GOLDEN"}
    assert not leaked


def test_the_default_host_has_no_gpu() -> None:
    assert nvidia.probe_driver() == no_gpu_driver()
    assert not nvidia.probe_driver().gpus


def test_nvml_refuses_to_load() -> None:
    import pynvml

    with pytest.raises(pynvml.NVMLError_LibraryNotFound):
        nvidia.read_nvml()


def test_the_h100_host(h100_host: DriverFacts) -> None:
    assert nvidia.probe_driver() == h100_host == h100_driver()
    assert [gpu.compute_capability for gpu in h100_host.gpus] == [(9, 0)]


def test_the_engine_probe_finds_no_toolkit() -> None:
    facts = engine_probe.probe_engine()
    assert not facts.reachable
    assert (facts.cdi_specs, facts.nvidia_ctk_version, facts.nvidia_hook_on_path) == (
        (),
        None,
        False,
    )
    assert not facts.gpu_capable
