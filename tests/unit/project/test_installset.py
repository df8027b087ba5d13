"""The install set of a universal lock for one target, as uv sync would install it."""

from __future__ import annotations

import tomllib

import pytest

from envforge.errors import LockError
from envforge.project.installset import Target, installed_packages
from envforge.project.lockfile import Lock
from tests.conftest import EXAMPLES


def lock_of(example: str) -> Lock:
    data = tomllib.loads((EXAMPLES / example / "uv.lock").read_text())
    return Lock.from_dict(data, project_name=example)


def versions(lock: Lock, target: Target, **kw) -> dict[str, str | None]:
    return {name: pkg.version for name, pkg in installed_packages(lock, target, **kw).items()}


def test_a_fork_per_python_version_is_followed() -> None:
    lock = lock_of("gpu-torch")
    py310 = versions(lock, Target("3.10.21"))
    py311 = versions(lock, Target("3.11.16"))
    assert (py310["torch"], py311["torch"]) == ("2.14.1", "2.15.0")
    assert (py310["nvidia-cuda-runtime"], py311["nvidia-cuda-runtime"]) == ("13.0.96", "13.2.86")
    assert (py310["nvidia-cudnn-cu13"], py311["nvidia-cudnn-cu13"]) == ("9.24.0.43", "9.26.0.51")


def test_extras_of_a_dependency_are_followed() -> None:
    # torch depends on cuda-toolkit[cudart, ...]: the runtime comes only through that extra.
    installed = versions(lock_of("gpu-torch"), Target("3.11.16"))
    assert installed["cuda-toolkit"] == "13.2.2"
    assert "nvidia-cuda-runtime" in installed


def test_platform_markers_leave_out_linux_only_wheels() -> None:
    mac = versions(lock_of("gpu-torch"), Target("3.11.16", "darwin", "arm64"))
    assert "torch" in mac
    assert not [name for name in mac if name.startswith(("nvidia-", "cuda-", "triton"))]


def test_dev_group_only_when_asked() -> None:
    lock = lock_of("cpu-sklearn")
    assert "pytest" not in versions(lock, Target("3.11.16"))
    assert versions(lock, Target("3.11.16"), groups=("dev",))["pytest"] is not None


def test_the_project_itself_is_not_in_the_set() -> None:
    installed = versions(lock_of("cpu-sklearn"), Target("3.11.16"))
    assert "cpu-sklearn" not in installed
    assert {"numpy", "pandas", "scikit-learn", "scipy"} <= set(installed)


def test_a_dangling_edge_is_a_lock_error() -> None:
    lock = Lock.from_dict(
        {
            "version": 1,
            "package": [
                {
                    "name": "app",
                    "version": "1",
                    "source": {"virtual": "."},
                    "dependencies": [{"name": "ghost"}],
                }
            ],
        },
        project_name="app",
    )
    with pytest.raises(LockError, match="names ghost"):
        installed_packages(lock, Target("3.11.16"))
