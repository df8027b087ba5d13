"""make_plan and its helpers: every choice behind an image, on plain data."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from envforge import __version__
from envforge.errors import InvalidProjectError, PlanError
from envforge.image.bases import load_catalog
from envforge.image.plan import (
    BuildOptions,
    Plan,
    ProjectFacts,
    dockerignore_patterns,
    make_plan,
    parse_python_version_file,
)
from envforge.image.report import plan_json, plan_text
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from tests.unit.conftest import CPU_SKLEARN, LOCK_FIXTURES, read_toml

LOCK_HASH = "sha256:" + "0" * 64
PY311_DIGEST = "sha256:3c1dfceb3f1267d4d378e7883cddf35c58757bab98d70bba30b6e02e808fa21d"
FACTS = ProjectFacts(
    lock_hash=LOCK_HASH,
    python_version_file="3.11\n",
    top_level=frozenset({"pyproject.toml", "uv.lock", "src"}),
    packages=frozenset({"cpu_sklearn"}),
    main_modules=frozenset({"cpu_sklearn"}),
)
NO_PIN = replace(FACTS, python_version_file=None)
SKLEARN_PYPROJECT = read_toml(CPU_SKLEARN / "pyproject.toml")
SKLEARN_LOCK = read_toml(CPU_SKLEARN / "uv.lock")


def sklearn(**changes: Any) -> dict[str, Any]:
    """The example's pyproject, with top-level tables replaced or merged in."""
    data = copy.deepcopy(SKLEARN_PYPROJECT)
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def with_tool(data: dict[str, Any], **tables: dict[str, Any]) -> dict[str, Any]:
    """data with [tool.<name>] tables, such as with_tool(d, envforge={...}, uv={...})."""
    data.setdefault("tool", {}).update(tables)
    return data


def plan(
    pyproject: dict[str, Any] | None = None,
    facts: ProjectFacts = FACTS,
    lock: dict[str, Any] | None = None,
    **options: Any,
) -> Plan:
    project = Project.from_dict(pyproject if pyproject is not None else sklearn())
    lock_data = lock if lock is not None else SKLEARN_LOCK
    return make_plan(
        project,
        Lock.from_dict(lock_data, project_name=project.name),
        facts,
        load_catalog(),
        BuildOptions(**options),
    )


def bare_lock(requires_python: str | None = None) -> dict[str, Any]:
    return {"version": 1} | ({"requires-python": requires_python} if requires_python else {})


def plan_error(*args: Any, **kwargs: Any) -> PlanError:
    with pytest.raises(PlanError) as info:
        plan(*args, **kwargs)
    assert info.value.exit_code == 2
    return info.value


# --- python and base image ----------------------------------------------------------


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


def test_debian_setting_picks_the_row() -> None:
    p = plan(with_tool(sklearn(), envforge={"debian": "bookworm"}))
    row = load_catalog().python_image("3.11", "bookworm")
    assert row is not None and row.digest is not None
    assert p.base_ref == f"python:3.11-slim-bookworm@{row.digest}"
    assert p.base_digest == row.digest


def test_debian_setting_without_such_row() -> None:
    error = plan_error(with_tool(sklearn(), envforge={"debian": "bookworm"}), python="3.14")
    assert error.message == "No python:3.14-slim-bookworm in envforge's catalog (has: trixie)"


def test_registry_mirror_rewrites_base_and_uv() -> None:
    p = plan(registry_mirror="mirror.example:5000")
    assert p.base_ref == f"mirror.example:5000/library/python:3.11-slim-trixie@{PY311_DIGEST}"
    assert p.uv_ref == "mirror.example:5000/astral-sh/uv:0.13.9"
    # The label keeps the canonical name: the mirror is how it was pulled, not what it is.
    assert (
        p.labels["org.opencontainers.image.base.name"]
        == "docker.io/library/python:3.11-slim-trixie"
    )


def test_registry_mirror_trailing_slash() -> None:
    assert (
        plan(registry_mirror="mirror.example:5000/").uv_ref
        == "mirror.example:5000/astral-sh/uv:0.13.9"
    )


def test_default_uv_ref() -> None:
    p = plan()
    assert (p.uv_source, p.uv_ref, p.uv_version) == (
        "image",
        "ghcr.io/astral-sh/uv:0.13.9",
        "0.13.9",
    )


def test_uv_from_pip() -> None:
    p = plan(uv_source="pip")
    assert (p.uv_source, p.uv_ref) == ("pip", "uv==0.13.9")
    assert plan(with_tool(sklearn(), envforge={"uv-source": "pip"})).uv_ref == "uv==0.13.9"


def test_uv_image_override() -> None:
    assert plan(uv_image="lab/uv:0.13.9").uv_ref == "lab/uv:0.13.9"


def test_base_image_override_with_digest() -> None:
    digest = "sha256:" + "1" * 64
    p = plan(base_image=f"nvcr.io/nvidia/cuda:12.4.1-runtime@{digest}")
    assert p.base_ref == f"nvcr.io/nvidia/cuda:12.4.1-runtime@{digest}"
    assert p.base_name == "nvcr.io/nvidia/cuda:12.4.1-runtime"
    assert p.base_digest == digest
    assert p.labels["org.opencontainers.image.base.digest"] == digest


def test_base_image_override_without_digest() -> None:
    p = plan(base_image="nvcr.io/nvidia/cuda:12.4.1-runtime")
    assert (p.base_ref, p.base_name, p.base_digest) == (
        "nvcr.io/nvidia/cuda:12.4.1-runtime",
        "nvcr.io/nvidia/cuda:12.4.1-runtime",
        None,
    )
    assert "org.opencontainers.image.base.digest" not in p.labels


def test_base_image_override_ignores_the_mirror() -> None:
    p = plan(base_image="corp/python:3.11", registry_mirror="mirror.example:5000")
    assert p.base_ref == "corp/python:3.11"


# --- dependencies: uv sync flags ----------------------------------------------------


def test_default_sync_flags() -> None:
    p = plan()
    assert p.sync_flags == ("--locked", "--no-dev", "--no-editable")
    assert (p.extras, p.groups) == ((), ())


def test_groups_switch_off_default_groups() -> None:
    p = plan(groups=("dev",))
    assert p.sync_flags == ("--locked", "--no-default-groups", "--group", "dev", "--no-editable")
    assert p.groups == ("dev",)


def test_groups_from_settings_and_deduplicated() -> None:
    data = with_tool(sklearn(), envforge={"groups": ["dev", "dev"]})
    assert plan(data).groups == ("dev",)


def test_other_default_groups_are_all_left_out() -> None:
    data = with_tool(
        sklearn(**{"dependency-groups": {"lint": ["ruff>=0.6"]}}),
        uv={"default-groups": ["dev", "lint"]},
    )
    p = plan(data)
    assert p.sync_flags == ("--locked", "--no-default-groups", "--no-editable")


def test_extras() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    p = plan(data, extras=("plots",))
    assert p.extras == ("plots",)
    assert p.sync_flags == ("--locked", "--no-dev", "--extra", "plots", "--no-editable")


def test_all_extras() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    p = plan(data, all_extras=True)
    assert p.extras == ("gpu", "plots")
    assert p.sync_flags == ("--locked", "--no-dev", "--all-extras", "--no-editable")
    assert p.labels["dev.envforge.extras"] == "gpu,plots"


def test_unknown_extra_names_the_known_ones() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    error = plan_error(data, extras=("cuda",))
    assert error.message == "Unknown extra 'cuda'"
    assert error.hint == "The project's extras: gpu, plots."


def test_unknown_extra_when_there_are_none() -> None:
    assert plan_error(extras=("cuda",)).hint == "The project's extras: none."


def test_unknown_group_names_the_known_ones() -> None:
    error = plan_error(groups=("docs",))
    assert error.message == "Unknown dependency group 'docs'"
    assert error.hint == "The project's groups: dev."


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

    from envforge.image.plan import _minor_allowed

    assert _minor_allowed(SpecifierSet(spec), minor) is allowed


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


# --- entrypoint ---------------------------------------------------------------------


def entrypoint_of(
    data: dict[str, Any], top_level: set[str] | None = None, mains: set[str] | None = None
) -> tuple[str, ...]:
    return command_of(data, top_level, mains)[0]


def command_of(
    data: dict[str, Any], top_level: set[str] | None = None, mains: set[str] | None = None
) -> tuple[tuple[str, ...], str]:
    facts = FACTS if top_level is None else replace(FACTS, top_level=frozenset(top_level))
    if mains is not None:
        facts = replace(facts, main_modules=frozenset(mains), packages=frozenset(mains))
    p = plan(data, facts)
    return p.entrypoint, next(d.reason for d in p.decisions if d.topic == "command")


def scripts(*names: str) -> dict[str, Any]:
    return sklearn(project={"scripts": {n: "cpu_sklearn.experiment:main" for n in names}})


def test_one_console_script() -> None:
    assert entrypoint_of(sklearn()) == ("cpu-sklearn",)


def test_settings_command_wins() -> None:
    data = with_tool(sklearn(), envforge={"command": "python -m cpu_sklearn --seed 1"})
    assert entrypoint_of(data) == ("python", "-m", "cpu_sklearn", "--seed", "1")


def test_several_scripts_take_the_one_named_like_the_project() -> None:
    argv, why = command_of(scripts("cpu_sklearn", "sk-train", "sk-eval"), mains=set())
    assert argv == ("cpu_sklearn",)  # cpu_sklearn normalises to the project's cpu-sklearn
    assert "(cpu_sklearn, sk-eval, sk-train)" in why
    assert "[tool.envforge] command" in why and "--entrypoint" in why


def test_several_scripts_none_named_like_the_project_run_its_main() -> None:
    argv, why = command_of(scripts("a", "b"))
    assert argv == ("python", "-m", "cpu_sklearn")
    assert why.startswith("2 console scripts in [project.scripts] (a, b), none named like")


def test_several_scripts_without_a_main_start_python() -> None:
    argv, why = command_of(scripts("a", "b"), mains=set())
    assert argv == ("python",)
    assert "2 console scripts in [project.scripts] (a, b)" in why
    assert "the image starts python" in why


def test_no_scripts_run_the_packages_main() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    argv, why = command_of(data)
    assert argv == ("python", "-m", "cpu_sklearn")
    assert "runs cpu_sklearn/__main__.py" in why


def test_the_main_of_a_package_named_otherwise() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    assert entrypoint_of(data, mains={"sklab"}) == ("python", "-m", "sklab")


def test_several_mains_take_the_one_named_like_the_project() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    assert entrypoint_of(data, mains={"other", "cpu_sklearn"}) == ("python", "-m", "cpu_sklearn")
    argv, why = command_of(data, mains={"one", "two"})
    assert argv == ("python",)
    assert "2 modules with a __main__.py (one, two)" in why


def test_a_library_with_nothing_to_run_starts_python() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    argv, why = command_of(data, mains=set())
    assert argv == ("python",)
    assert why.startswith("nothing to run: no console script, no __main__.py in its packages")
    assert "envforge run PATH -- -m MODULE" in why


def test_non_package_with_main_py() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    assert entrypoint_of(data, {"pyproject.toml", "uv.lock", "main.py"}) == ("python", "main.py")
    assert plan(data).install_project is False


def test_non_package_with_a_main_module() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    top = {"pyproject.toml", "uv.lock", "app"}
    assert entrypoint_of(data, top, {"app"}) == ("python", "-m", "app")


def test_non_package_with_nothing_to_run_starts_python() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    argv, why = command_of(data, {"pyproject.toml", "uv.lock", "app.py"}, set())
    assert argv == ("python",)
    # uv installs no entry point of a project that is not a package
    assert why.startswith("[project.scripts] are not installed: the project is not a package")


def test_package_with_main_py_still_uses_its_script() -> None:
    assert entrypoint_of(sklearn(), {"pyproject.toml", "main.py"}) == ("cpu-sklearn",)


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("lib-only", ("python",)),  # a library: nothing to run
        ("main-module", ("python", "-m", "runme")),  # runme/__main__.py; gui-scripts ignored
        ("with-local-lib", ("with-local-lib",)),
        ("script-needs-extra", ("python",)),  # its script imports click: the cli extra's
    ],
)
def test_fixture_projects_commands(name: str, command: tuple[str, ...]) -> None:
    from tests.unit.helpers import plan_for

    assert plan_for(LOCK_FIXTURES.parent / "projects" / name).entrypoint == command


NEEDS_EXTRA = LOCK_FIXTURES.parent / "projects" / "script-needs-extra"
NEEDS_PYPROJECT = read_toml(NEEDS_EXTRA / "pyproject.toml")
NEEDS_LOCK = read_toml(NEEDS_EXTRA / "uv.lock")


def needs_command(
    imports: set[str],
    *,
    project: dict[str, Any] | None = None,
    mains: set[str] | None = None,
    **options: Any,
) -> tuple[tuple[str, ...], str]:
    """The command for the script-needs-extra fixture whose script imports `imports`."""
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"].update(project or {})
    facts = ProjectFacts(
        lock_hash=LOCK_HASH,
        packages=frozenset({"script_needs_extra"}),
        main_modules=frozenset(mains or ()),
        script_imports={s: frozenset(imports) for s in data["project"]["scripts"]},
    )
    p = plan(data, facts, NEEDS_LOCK, **options)
    return p.entrypoint, next(d.reason for d in p.decisions if d.topic == "command")


NEEDS_CLI = "script-needs-extra needs the extra 'cli' (imports click): add --extra cli to use it"


def test_fixture_script_that_needs_an_extra() -> None:
    from tests.unit.helpers import plan_for

    p = plan_for(NEEDS_EXTRA)
    decision = next(d for d in p.decisions if d.topic == "command")
    assert p.entrypoint == ("python",)
    assert decision.reason.startswith(NEEDS_CLI + ": the image starts python")
    assert plan_for(NEEDS_EXTRA, BuildOptions(extras=("cli",))).entrypoint == (
        "script-needs-extra",
    )
    assert plan_for(NEEDS_EXTRA, BuildOptions(all_extras=True)).entrypoint == (
        "script-needs-extra",
    )


def test_a_script_whose_module_lives_in_an_extras_package_needs_that_extra() -> None:
    # No import of its own to read: the entry point itself names click's module.
    argv, why = needs_command(
        set(), project={"scripts": {"script-needs-extra": "click.testing:main"}}
    )
    assert argv == ("python",)
    assert why.startswith(NEEDS_CLI)


def test_a_script_that_needs_an_extra_falls_back_to_the_main_module() -> None:
    argv, why = needs_command({"click", "six", "os"}, mains={"script_needs_extra"})
    assert argv == ("python", "-m", "script_needs_extra")
    assert why.startswith(NEEDS_CLI + "; runs script_needs_extra/__main__.py")


@pytest.mark.parametrize(
    "imports",
    [
        set(),
        {"six", "os", "sys"},  # installed, or the stdlib
        {"clickx", "yaml"},  # no locked package of that name
        {"script_needs_extra"},  # its own package
    ],
)
def test_imports_that_need_no_extra_keep_the_script(imports: set[str]) -> None:
    argv, why = needs_command(imports)
    assert argv == ("script-needs-extra",), why


def test_a_locked_package_from_a_group_names_the_group() -> None:
    argv, why = needs_command({"iniconfig"})
    assert argv == ("python",)
    assert why.startswith(
        "script-needs-extra needs the group 'dev' (imports iniconfig): add --group dev to use it"
    )
    assert needs_command({"iniconfig"}, groups=("dev",))[0] == ("script-needs-extra",)


def test_import_names_are_compared_canonicalised() -> None:
    assert needs_command({"Click"})[0] == ("python",)


def test_an_entry_point_that_names_an_extra() -> None:
    value = {"scripts": {"script-needs-extra": "script_needs_extra.cli:main [cli]"}}
    argv, why = needs_command(set(), project=value)
    assert argv == ("python",)
    assert "needs the extra 'cli' (its entry point names [cli]): add --extra cli" in why
    assert needs_command(set(), project=value, extras=("cli",))[0] == ("script-needs-extra",)
    # An extra it names that is not the project's says nothing.
    other = {"scripts": {"script-needs-extra": "script_needs_extra.cli:main [nope]"}}
    assert needs_command(set(), project=other)[0] == ("script-needs-extra",)


def test_of_several_scripts_the_one_named_like_the_project_needs_an_extra() -> None:
    several = {
        "scripts": {
            "script-needs-extra": "script_needs_extra.cli:main",
            "other": "script_needs_extra:other",
        }
    }
    argv, why = needs_command({"click"}, project=several)
    assert argv == ("python",)
    assert why.startswith(
        "2 console scripts in [project.scripts] (other, script-needs-extra); " + NEEDS_CLI
    )
    assert needs_command({"click"}, project=several, extras=("cli",))[0] == ("script-needs-extra",)


def test_the_command_setting_wins_over_a_script_that_needs_an_extra() -> None:
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["tool"] = {"envforge": {"command": ["script-needs-extra"]}}
    facts = ProjectFacts(
        lock_hash=LOCK_HASH, script_imports={"script-needs-extra": frozenset({"click"})}
    )
    assert plan(data, facts, NEEDS_LOCK).entrypoint == ("script-needs-extra",)


# --- labels, settings passed through, report -----------------------------------------


def test_labels() -> None:
    labels = plan(facts=replace(FACTS, git_source="https://git.example/x.git")).labels
    assert labels == {
        "org.opencontainers.image.title": "cpu-sklearn",
        "org.opencontainers.image.version": "0.1.0",
        "org.opencontainers.image.description": SKLEARN_PYPROJECT["project"]["description"],
        "org.opencontainers.image.source": "https://git.example/x",
        "org.opencontainers.image.base.name": "docker.io/library/python:3.11-slim-trixie",
        "org.opencontainers.image.base.digest": PY311_DIGEST,
        "dev.envforge.version": __version__,
        "dev.envforge.lock-hash": LOCK_HASH,
        "dev.envforge.python": "3.11",
        "dev.envforge.extras": "",
        "dev.envforge.groups": "",
    }


def test_settings_pass_through() -> None:
    data = with_tool(
        sklearn(),
        envforge={"apt-packages": ["libgomp1"], "build-apt-packages": ["g++"], "ports": [8000],
                  "env": {"OMP_NUM_THREADS": "1"}},
    )  # fmt: skip
    p = plan(data)
    assert (p.apt_packages, p.build_apt_packages, p.ports) == (("libgomp1",), ("g++",), (8000,))
    assert dict(p.env) == {"OMP_NUM_THREADS": "1"}


def test_tag_falls_back_to_the_locked_version() -> None:
    data = sklearn()
    data["project"]["version"] = None
    data["project"]["dynamic"] = ["version"]
    assert plan(data).default_tag == "cpu-sklearn:0.1.0"


def test_tag_without_any_version() -> None:
    data = sklearn()
    data["project"]["version"] = None
    data["project"]["dynamic"] = ["version"]
    assert plan(data, lock=bare_lock(">=3.10")).default_tag == "cpu-sklearn:latest"


def test_every_topic_is_explained() -> None:
    topics = [d.topic for d in plan(ca_bundle=True).decisions]
    assert topics == [
        "python",
        "base image",
        "uv",
        "dependencies",
        "command",
        "layers",
        "bytecode",
        "ca bundle",
    ]


def test_report_json_and_text() -> None:
    p = plan()
    data = plan_json(p, "uv lock --check")
    assert data["schema"] == 1
    assert data["lock"] == {"hash": LOCK_HASH, "freshness": "uv lock --check"}
    assert data["base_image"] == {
        "ref": p.base_ref, "name": p.base_name, "digest": PY311_DIGEST,
    }  # fmt: skip
    assert data["sync_flags"] == ["--locked", "--no-dev", "--no-editable"]
    extras = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"]}})
    with_extra = plan_json(plan(extras, extras=("plots",), groups=("dev",)), "uv lock --check")
    assert with_extra["sync_flags"] == [
        "--locked", "--no-default-groups", "--extra", "plots", "--group", "dev", "--no-editable",
    ]  # fmt: skip
    assert data["entrypoint"] == ["cpu-sklearn"]
    text = plan_text(p, "uv lock --check", "examples/cpu-sklearn")
    assert text.startswith("envforge plan for cpu-sklearn 0.1.0 (examples/cpu-sklearn)\n\n")
    assert "cpu-sklearn:0.1.0" in text and LOCK_HASH in text
    assert all(len(line) <= 96 for line in text.splitlines() if line.startswith(" "))


# --- .dockerignore ------------------------------------------------------------------


def test_default_dockerignore() -> None:
    lines = dockerignore_patterns((), ())
    for pattern in (
        ".venv",
        ".git",
        "**/*.pem",
        "**/*.key",
        ".env",
        "data",
        "models",
        "**/__pycache__",
    ):
        assert pattern in lines
    assert not any(line.startswith("!") for line in lines)
    assert plan().dockerignore == lines


def test_include_removes_a_default() -> None:
    lines = dockerignore_patterns((), ("data",))
    assert "data" not in lines
    assert "!data" not in lines
    assert "models" in lines


def test_include_under_a_default_is_reincluded() -> None:
    lines = dockerignore_patterns((), ("data/keep.csv",))
    assert "data" in lines
    assert lines[-2:] == ("# From [tool.envforge] include", "!data/keep.csv")
    assert lines.index("data") < lines.index("!data/keep.csv")  # later lines win in Docker


def test_exclude_adds_lines() -> None:
    lines = dockerignore_patterns(("notebooks", "*.parquet"), ())
    assert lines[-3:] == ("# From [tool.envforge] exclude", "notebooks", "*.parquet")


def test_including_a_whole_section_drops_its_comment() -> None:
    lines = dockerignore_patterns((), (".git", ".hg", ".svn"))
    assert not any("Version control" in line for line in lines)


def test_settings_reach_the_plans_dockerignore() -> None:
    data = with_tool(sklearn(), envforge={"include": ["models"], "exclude": ["scratch"]})
    lines = plan(data).dockerignore
    assert "models" not in lines and "scratch" in lines


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


def test_path_dependencies_inside_the_project_are_copied_outside_refused(tmp_path) -> None:
    import shutil

    from envforge.errors import PlanError
    from tests.conftest import REPO
    from tests.unit.helpers import plan_for

    root = tmp_path / "with-local-lib"
    shutil.copytree(REPO / "tests/fixtures/projects/with-local-lib", root)
    assert plan_for(root).local_paths == ("libs/helper",)
    lock = root / "uv.lock"
    lock.write_text(
        lock.read_text().replace('directory = "libs/helper"', 'directory = "../helper"')
    )
    with pytest.raises(PlanError, match=r"installs helper from '\.\./helper', outside the project"):
        plan_for(root)


# --- default-ignored folders that exist here: said in the plan, kept when they hold code ---


def _context(pyproject: dict[str, Any] | None = None, **folders: bool) -> tuple[Plan, Any]:
    facts = replace(FACTS, ignored_folders=tuple(sorted(folders.items())))
    p = plan(pyproject, facts=facts)
    return p, next((d for d in p.decisions if d.topic == "context"), None)


def test_existing_ignored_folders_are_named() -> None:
    p, decision = _context(**{".venv": False, ".git": False, "data": False, "outputs": False})
    assert decision.choice == "leaves out .git, .venv, data, outputs"
    assert decision.reason.startswith(
        "of the folders envforge's default .dockerignore names, .git, .venv, data, outputs exist "
        "here and stay out of the build context (list one under [tool.envforge] include to ship it)"
    )
    assert {"data", "outputs", ".venv"} <= set(p.dockerignore)


def test_a_folder_with_python_files_is_kept() -> None:
    p, decision = _context(data=False, models=True)
    assert decision.choice == "leaves out data; keeps models"
    assert "models holds .py files (the project's own code)" in decision.reason
    assert "models" not in p.dockerignore and "data" in p.dockerignore
    assert "!models" not in p.dockerignore


def test_caches_and_venvs_are_never_kept_for_their_python() -> None:
    p, decision = _context(**{"venv": True, ".venv": True, ".cache": True})
    assert decision.choice == "leaves out .cache, .venv, venv"
    assert {"venv", ".venv", ".cache"} <= set(p.dockerignore)


@pytest.mark.parametrize(
    ("envforge", "scripts", "kept"),
    [
        ({"command": ["python", "runs/train.py"]}, {}, "runs"),
        ({"command": ["python", "/app/outputs/serve.py"]}, {}, "outputs"),
        ({"command": ["python", "-m", "build.tool"]}, {}, "build"),
        ({"command": ["train", "--config=checkpoints/last.yaml"]}, {}, "checkpoints"),
        ({}, {"cpu-sklearn": "data.cli:main"}, "data"),
    ],
)
def test_a_folder_the_command_names_is_kept(envforge, scripts, kept) -> None:
    data = with_tool(sklearn(project={"scripts": scripts} if scripts else {}), envforge=envforge)
    p, decision = _context(data, **{kept: False})
    assert decision.choice == f"keeps {kept}"
    assert f"{kept} is named by the command or [project.scripts]" in decision.reason
    assert kept not in p.dockerignore


def test_exclude_wins_over_code_and_include_is_not_repeated() -> None:
    data = with_tool(sklearn(), envforge={"exclude": ["models"], "include": ["data"]})
    p, decision = _context(data, models=True, data=False)
    assert decision.choice == "leaves out models"
    assert "models" in p.dockerignore and "data" not in p.dockerignore


def test_no_ignored_folder_no_line() -> None:
    assert _context()[1] is None


def test_a_long_description_is_cut_for_the_label_and_the_plan_says_so() -> None:
    long = "A line\nthat goes on. " * 10_000
    p = plan(sklearn(project={"description": long}))
    label = p.labels["org.opencontainers.image.description"]
    assert len(label) == 512 and label.endswith("...") and "\n" not in label
    (note,) = [d for d in p.decisions if d.topic == "description"]
    assert note.choice == "first 512 characters"


@pytest.mark.parametrize(
    "remote,label",
    [
        ("git@github.com:o/r.git", "https://github.com/o/r"),
        ("https://example.org/r\nLABEL x=y", None),
        ("/srv/git/r", None),
    ],
)
def test_the_source_label_is_an_https_url_or_nothing(remote: str, label: str | None) -> None:
    p = plan(facts=replace(FACTS, git_source=remote))
    assert p.labels.get("org.opencontainers.image.source") == label


@pytest.mark.parametrize(
    "source", ["libs/a\nRUN touch /tmp/PWN", "libs/a\x00", "libs/${HOME}", "libs/*"]
)
def test_a_lock_path_source_that_copy_cannot_take_is_refused(source: str) -> None:
    lock = copy.deepcopy(SKLEARN_LOCK)
    lock["package"].append({"name": "lib", "version": "0.1.0", "source": {"directory": source}})
    with pytest.raises(InvalidProjectError) as caught:
        plan(lock=lock)
    assert caught.value.message.startswith("Invalid path ")
    assert caught.value.message.endswith(" in the source of 'lib' in uv.lock")


def test_sync_flags_are_argv_words() -> None:
    p = plan(sklearn(), groups=("dev",))
    assert "--group" in p.sync_flags and "dev" in p.sync_flags


def test_a_broken_entry_only_an_extra_reaches_tells_nothing() -> None:
    lock = copy.deepcopy(NEEDS_LOCK)
    root = next(p for p in lock["package"] if p["name"] == "script-needs-extra")
    root["optional-dependencies"]["broken"] = [{"name": "missing-package"}]
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"]["optional-dependencies"]["broken"] = ["missing-package"]
    facts = ProjectFacts(
        lock_hash=LOCK_HASH, script_imports={"script-needs-extra": frozenset({"click"})}
    )
    p = plan(data, facts, lock)
    assert p.entrypoint == ("python",)


def test_the_plan_lists_every_script_that_needs_more() -> None:
    several = {
        "scripts": {
            "script-needs-extra": "script_needs_extra.cli:main",
            "other": "script_needs_extra:other",
        }
    }
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"].update(several)
    facts = ProjectFacts(
        lock_hash=LOCK_HASH,
        script_imports={"script-needs-extra": frozenset(), "other": frozenset({"iniconfig"})},
    )
    p = plan(data, facts, NEEDS_LOCK)
    assert p.entrypoint == ("script-needs-extra",)
    assert p.scripts_needing == {
        "other": "the group 'dev' (imports iniconfig): add --group dev to use it"
    }
    decision = next(d for d in p.decisions if d.topic == "scripts")
    assert decision.choice == "1 of 2 need more than the image installs"
    assert decision.reason == (
        "other needs the group 'dev' (imports iniconfig): add --group dev to use it: "
        "the smoke check expects them not to load"
    )
    assert plan(data, facts, NEEDS_LOCK, groups=("dev",)).scripts_needing == {}


def test_the_extra_that_brings_least_is_named() -> None:
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"]["optional-dependencies"]["all"] = ["click>=8.1", "iniconfig>=2"]
    lock = copy.deepcopy(NEEDS_LOCK)
    root = next(p for p in lock["package"] if p["name"] == "script-needs-extra")
    root["optional-dependencies"]["all"] = [{"name": "click"}, {"name": "iniconfig"}]
    facts = ProjectFacts(
        lock_hash=LOCK_HASH, script_imports={"script-needs-extra": frozenset({"click"})}
    )
    assert (
        plan(data, facts, lock)
        .scripts_needing["script-needs-extra"]
        .startswith("the extra 'cli' (imports click)")
    )
