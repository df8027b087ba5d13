"""The image's Python (image/python.py): asked for, a named base's own, or the newest the
lock has wheels for; .python-version."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from envforge.errors import InvalidProjectError, PlanError
from envforge.image.bases import load_catalog
from envforge.image.options import BuildOptions
from envforge.image.plan import Plan, make_plan
from envforge.image.python import parse_python_version_file
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from tests.unit.conftest import LOCK_FIXTURES
from tests.unit.image.planning import (
    FACTS,
    NO_PIN,
    PY311_DIGEST,
    bare_lock,
    plan,
    plan_error,
    sklearn,
    with_tool,
)

# --- asked for, or the catalog's newest that requires-python allows ----------------


def test_example_plan_python_and_base() -> None:
    p = plan()
    assert p.python == "3.11"
    assert p.base_ref == f"python:3.11-slim-trixie@{PY311_DIGEST}"
    assert p.base_name == "docker.io/library/python:3.11-slim-trixie"
    assert p.base_digest == PY311_DIGEST
    assert p.copy_python_version is True
    assert p.install_project is True
    assert p.default_tag == "cpu-sklearn:0.1.0"


def test_python_decision_names_python_version_file() -> None:
    decision = next(d for d in plan().decisions if d.topic == "python")
    assert decision.choice == "3.11"
    assert decision.reason == ".python-version asks for 3.11; requires-python is '>=3.10'"


def test_without_pin_the_newest_allowed_python_wins() -> None:
    p = plan(facts=NO_PIN)
    assert p.python == "3.14"
    assert p.copy_python_version is False


def test_upper_bound_limits_the_newest_python() -> None:
    data = sklearn(project={"requires-python": ">=3.10,<3.13"})
    assert plan(data, NO_PIN, lock=bare_lock(">=3.10, <3.13")).python == "3.12"


def test_lock_requires_python_also_limits() -> None:
    # pyproject.toml says >=3.10, but the lock was made for <3.13: both must hold.
    assert plan(sklearn(), NO_PIN, lock=bare_lock(">=3.10, <3.13")).python == "3.12"


def test_no_requires_python_at_all_takes_the_newest() -> None:
    data = sklearn()
    del data["project"]["requires-python"]
    assert plan(data, NO_PIN, lock=bare_lock()).python == load_catalog().pythons()[-1]


@pytest.mark.parametrize(
    ("kwargs", "envforge", "expected"),
    [
        ({"python": "3.12"}, {}, "3.12"),  # --python beats .python-version
        ({}, {"python": "3.13"}, "3.13"),  # [tool.envforge] python beats .python-version
        ({"python": "3.12"}, {"python": "3.13"}, "3.12"),  # --python beats both
    ],
)
def test_python_precedence(kwargs: dict[str, Any], envforge: dict[str, Any], expected: str) -> None:
    assert plan(with_tool(sklearn(), envforge=envforge), **kwargs).python == expected


def test_python_version_file_below_requires_python() -> None:
    error = plan_error(facts=replace(FACTS, python_version_file="3.9\n"))
    assert (
        error.message == "Python 3.9 from .python-version does not satisfy requires-python '>=3.10'"
    )


def test_no_catalog_python_satisfies_requires_python() -> None:
    data = sklearn(project={"requires-python": ">=3.20"})
    error = plan_error(data, NO_PIN, lock=bare_lock(">=3.20"))
    assert error.message == (
        "No Python in envforge's catalog (3.10, 3.11, 3.12, 3.13, 3.14) "
        "satisfies requires-python '>=3.20'"
    )


def test_unknown_python_without_base_image() -> None:
    error = plan_error(python="3.15")
    assert error.message == (
        "No base image for Python 3.15 (from --python) in envforge's catalog "
        "(it knows 3.10, 3.11, 3.12, 3.13, 3.14)"
    )
    assert error.hint is not None and "--base-image" in error.hint


def test_unknown_python_with_base_image() -> None:
    p = plan(python="3.15", base_image="registry.example/python:3.15-rc")
    assert p.python == "3.15"
    assert p.base_ref == "registry.example/python:3.15-rc"
    assert p.base_digest is None


def test_unknown_python_with_base_image_from_settings() -> None:
    data = with_tool(sklearn(), envforge={"python": "3.15", "base-image": "corp/python:3.15"})
    assert plan(data).base_ref == "corp/python:3.15"


def test_catalog_image_must_satisfy_requires_python_patch() -> None:
    data = sklearn(project={"requires-python": "==3.11.7"})
    with pytest.raises(PlanError):
        plan(data, NO_PIN, lock=bare_lock("==3.11.7"))


# --- python: the newest the lock has wheels for ---------------------------------------

PYPI = "https://files.pythonhosted.org/packages/00/00"


def wheel_lock(*packages: tuple[str, str, tuple[str, ...], bool]) -> dict[str, Any]:
    """A lock of cpu-sklearn depending on each (name, version, wheel tags, has an sdist)."""
    root = {
        "name": "cpu-sklearn",
        "version": "0.1.0",
        "source": {"editable": "."},
        "dependencies": [{"name": name} for name, *_ in packages],
    }
    entries: list[dict[str, Any]] = [root]
    for name, version, tags, sdist in packages:
        entry: dict[str, Any] = {
            "name": name,
            "version": version,
            "source": {"registry": "https://pypi.org/simple"},
            "wheels": [{"url": f"{PYPI}/{name}-{version}-{tag}.whl"} for tag in tags],
        }
        if sdist:
            entry["sdist"] = {"url": f"{PYPI}/{name}-{version}.tar.gz"}
        entries.append(entry)
    return {"version": 1, "requires-python": ">=3.10", "package": entries}


LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"
RAY = ("ray", "2.49.2", tuple(f"cp3{m}-cp3{m}-{LINUX}" for m in (10, 11, 12, 13)), False)
SIX = ("six", "1.17.0", ("py2.py3-none-any",), True)


def python_decision(p: Plan) -> str:
    return next(d.reason for d in p.decisions if d.topic == "python")


def test_the_newest_python_without_a_wheel_is_passed_over() -> None:
    p = plan(facts=NO_PIN, lock=wheel_lock(RAY, SIX))
    assert p.python == "3.13"
    assert "passed over: 3.14: ray 2.49.2 has no cp314 wheel" in python_decision(p)


def test_each_passed_over_python_gives_one_reason() -> None:
    old = ("old", "1.0", ("cp310-cp310-" + LINUX, "cp311-cp311-" + LINUX), False)
    p = plan(facts=NO_PIN, lock=wheel_lock(RAY, old, SIX))
    assert p.python == "3.11"
    reason = python_decision(p)
    assert "3.14: old 1.0 has no cp314 wheel; ray 2.49.2 has no cp314 wheel; " in reason
    assert "3.12: old 1.0 has no cp312 wheel" in reason


def test_more_than_three_packages_are_counted() -> None:
    many = [(f"p{i}", "1.0", ("cp313-cp313-" + LINUX,), False) for i in range(5)]
    reason = python_decision(plan(facts=NO_PIN, lock=wheel_lock(*many)))
    assert "3.14: p0 1.0 has no cp314 wheel; p1 1.0 has no cp314 wheel; p2 1.0 has no cp314 " \
        "wheel; and 2 more" in reason  # fmt: skip


def test_abi3_and_pure_wheels_keep_the_newest() -> None:
    abi3 = ("protobuf", "7.36.2", ("cp310-abi3-manylinux2014_x86_64",), False)
    p = plan(facts=NO_PIN, lock=wheel_lock(abi3, SIX))
    assert p.python == "3.14"
    assert "passed over" not in python_decision(p)


def test_wrong_platform_wheels_do_not_count() -> None:
    mac = ("fast", "1.0", ("cp314-cp314-macosx_11_0_arm64", "cp314-cp314-musllinux_1_2_x86_64",
           "cp314-cp314t-" + LINUX, "cp313-cp313-" + LINUX), False)  # fmt: skip
    assert plan(facts=NO_PIN, lock=wheel_lock(mac)).python == "3.13"


def test_a_python_that_would_compile_is_passed_over_for_one_with_wheels() -> None:
    compiled = ("numpy", "1.26.4", ("cp312-cp312-" + LINUX,), True)
    p = plan(facts=NO_PIN, lock=wheel_lock(compiled))
    assert p.python == "3.12"
    assert "3.14: numpy 1.26.4 has no cp314 wheel (only an sdist to compile)" in python_decision(p)
    assert not [d for d in p.decisions if d.topic == "source builds"]


def test_when_every_python_compiles_the_newest_is_taken_with_the_risk() -> None:
    compiled = ("numpy", "1.26.4", ("cp39-cp39-" + LINUX,), True)
    p = plan(facts=NO_PIN, lock=wheel_lock(compiled))
    assert p.python == "3.14"
    risk = next(d for d in p.decisions if d.topic == "source builds")
    assert risk.choice == "numpy 1.26.4"
    assert risk.reason.startswith("builds numpy from source: needs a compiler")


def test_an_sdist_only_package_may_compile_on_any_python() -> None:
    p = plan(facts=NO_PIN, lock=wheel_lock(("antlr4-python3-runtime", "4.9.3", (), True)))
    assert p.python == "3.14"
    risk = next(d for d in p.decisions if d.topic == "source builds")
    assert risk.choice == "antlr4-python3-runtime 4.9.3"
    assert "may compile" in risk.reason


def test_no_python_installs_the_lock() -> None:
    only39 = ("ancient", "0.1", ("cp39-cp39-" + LINUX,), False)
    error = plan_error(facts=NO_PIN, lock=wheel_lock(only39))
    assert error.message.startswith(
        "No Python that requires-python '>=3.10' allows can install the lock: "
        "3.14: ancient 0.1 has no cp314 wheel; 3.13: ancient 0.1 has no cp313 wheel"
    )
    assert error.hint is not None


def test_an_asked_python_is_kept_with_a_warning() -> None:
    p = plan(lock=wheel_lock(RAY, SIX), python="3.14")
    assert p.python == "3.14"
    warning = next(d for d in p.decisions if d.topic == "python warning")
    assert warning.choice == "ray 2.49.2"
    assert warning.reason.startswith("--python asks for 3.14, but the lock has neither a cp314")


def test_a_python_version_file_with_wheels_gets_no_warning() -> None:
    p = plan(lock=wheel_lock(RAY, SIX))
    assert p.python == "3.11"
    assert not [d for d in p.decisions if d.topic in ("python warning", "source builds")]


def test_the_install_set_follows_markers_and_extras() -> None:
    lock = wheel_lock(RAY, SIX)
    # ray only below 3.14 (as a marker), so 3.14 installs six alone
    lock["package"][0]["dependencies"][0]["marker"] = "python_full_version < '3.14'"
    assert plan(facts=NO_PIN, lock=lock).python == "3.14"
    # ray only through an extra that the plan does not select
    lock = wheel_lock(SIX, RAY)
    root = lock["package"][0]
    root["optional-dependencies"] = {"cluster": [root["dependencies"].pop()]}
    data = sklearn(project={"optional-dependencies": {"cluster": ["ray"]}})
    assert plan(data, NO_PIN, lock=lock).python == "3.14"
    assert plan(data, NO_PIN, lock=lock, extras=("cluster",)).python == "3.13"


@pytest.mark.parametrize(
    ("spec", "minor", "allowed"),
    [
        (">=3.10", "3.15", True),
        ("<3.11", "3.11", False),
        (">=3.11.5", "3.11", True),
        ("==3.11.7", "3.11", True),
        (">=3.11.5,<3.11.6", "3.11", True),
        (">3.11.50,<3.11.52", "3.11", True),  # 3.11.51: no probing of 40 patches
        (">=3.11.5,<3.11.5", "3.11", False),
        ("==3.12.*", "3.12", True),
        ("~=3.11.2", "3.11", True),
        ("!=3.11.*", "3.11", False),
    ],
)
def test_a_named_base_may_hold_any_patch(spec: str, minor: str, allowed: bool) -> None:
    from packaging.specifiers import SpecifierSet

    from envforge.image.python import minor_allowed

    assert minor_allowed(SpecifierSet(spec), minor) is allowed


def test_a_real_lock_whose_newest_python_has_no_wheel() -> None:
    # Locked by uv from stub wheels: stubcore has cp310..cp313 wheels only, stubfast to cp312.
    from tests.unit.helpers import plan_for

    root = LOCK_FIXTURES / "no-newest-wheel"
    p = plan_for(root)
    assert p.python == "3.13"
    assert "passed over: 3.14: stubcore 1.0 has no cp314 wheel;" in python_decision(p)
    fast = plan_for(root, BuildOptions(extras=("fast",)))
    assert fast.python == "3.12"
    assert "3.13: stubfast 1.0 has no cp313 wheel" in python_decision(fast)
    asked = plan_for(root, BuildOptions(python="3.14"))
    assert asked.python == "3.14"
    warning = next(d for d in asked.decisions if d.topic == "python warning")
    assert warning.choice == "stubcore 1.0"


def torch_variant_lock() -> dict[str, Any]:
    """cpu and cu124 extras with torch from the PyTorch index: cu124 has wheels to cp312."""
    index = "https://download.pytorch.org/whl"
    lock = wheel_lock(SIX)
    root = lock["package"][0]
    root["optional-dependencies"] = {
        "cpu": [{"name": "torch", "version": "2.5.1+cpu"}],
        "cu124": [{"name": "torch", "version": "2.5.1+cu124"}],
    }
    for local, minors in (("cpu", (10, 11, 12, 13)), ("cu124", (10, 11, 12))):
        wheels = [
            f"{index}/{local}/torch-2.5.1%2B{local}-cp3{m}-cp3{m}-linux_x86_64.whl" for m in minors
        ]
        lock["package"].append(
            {
                "name": "torch",
                "version": f"2.5.1+{local}",
                "source": {"registry": f"{index}/{local}"},
                "wheels": [{"url": w} for w in wheels],
            }
        )
    return lock


@pytest.mark.parametrize(
    ("host_gpu", "variant", "python"), [(True, "cu124", "3.12"), (False, "cpu", "3.13")]
)
def test_the_chosen_variants_packages_need_wheels_too(
    host_gpu: bool, variant: str, python: str
) -> None:
    from envforge.cuda.catalog import load_cuda_catalog

    data = sklearn(project={"optional-dependencies": {"cpu": ["torch"], "cu124": ["torch"]}})
    project = Project.from_dict(data)
    lock = Lock.from_dict(torch_variant_lock(), project_name=project.name)
    options = BuildOptions(host_gpu=host_gpu)
    p = make_plan(project, lock, NO_PIN, load_catalog(), options, load_cuda_catalog())
    assert (p.extras, p.python) == ((variant,), python)
    assert "3.14: torch 2.5.1+" in python_decision(p)


# --- .python-version ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.11", "3.11"),
        ("3.11\n", "3.11"),
        ("3.11.7\n", "3.11"),
        ("cpython-3.12\n", "3.12"),
        ("cpython@3.13.1\n", "3.13"),
        ("cpython-3.12.3-linux-x86_64-gnu\n", "3.12"),
        ("3.13+freethreaded\n", "3.13"),
        ("# pinned by uv python pin\n\n  3.10  \n", "3.10"),
        ("3.12 # the team's Python\n", "3.12"),
        ("\n\n3.14\n3.11\n", "3.14"),  # the first request wins
    ],
)
def test_parse_python_version_file(text: str, expected: str) -> None:
    assert parse_python_version_file(text) == expected


@pytest.mark.parametrize("text", ["pypy3.10\n", "3\n", "python3.11\n", "latest\n", "2.7.18\n"])
def test_parse_python_version_file_rejects(text: str) -> None:
    with pytest.raises(InvalidProjectError) as info:
        parse_python_version_file(text)
    request = text.strip()
    assert info.value.message == f"Unsupported Python request {request!r} in .python-version"
    assert info.value.file == ".python-version"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_parse_python_version_file_empty(text: str) -> None:
    with pytest.raises(InvalidProjectError) as info:
        parse_python_version_file(text)
    assert info.value.message == "No Python version in .python-version"


def test_bad_python_version_file_fails_the_plan() -> None:
    with pytest.raises(InvalidProjectError):
        plan(facts=replace(FACTS, python_version_file="pypy3.10\n"))
