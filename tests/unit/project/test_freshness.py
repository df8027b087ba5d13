"""lock_drift: the pure check that uv.lock is in step with pyproject.toml.

The fixture locks under tests/fixtures/locks/ were written by real uv (`uv lock`), so
these tests hold envforge to what uv actually records, not to what we think it records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from envforge.project.freshness import lock_drift
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from tests.unit.conftest import Loaded


def drift(pyproject: dict[str, Any], lock_data: dict[str, Any]) -> list[str]:
    project = Project.from_dict(pyproject)
    return lock_drift(project, Lock.from_dict(lock_data, project_name=project.name))


def deps(pyproject: dict[str, Any]) -> list[str]:
    dependencies: list[str] = pyproject["project"]["dependencies"]
    return dependencies


# --- examples/cpu-sklearn -----------------------------------------------------------


def test_example_is_in_step(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    assert drift(sklearn_pyproject, sklearn_lock_data) == []


def test_changed_specifier(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    deps(sklearn_pyproject)[0] = "numpy>=2"
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependencies: numpy>=2 is in pyproject.toml but not in uv.lock",
        "dependencies: numpy>=1.26 is in uv.lock but not in pyproject.toml",
    ]


def test_added_dependency(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    deps(sklearn_pyproject).append("requests>=2.31")
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependencies: requests>=2.31 is in pyproject.toml but not in uv.lock"
    ]


def test_removed_dependency(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    deps(sklearn_pyproject).remove("pandas>=2.2")
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependencies: pandas>=2.2 is in uv.lock but not in pyproject.toml"
    ]


def test_added_extras_on_a_dependency(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    deps(sklearn_pyproject)[1] = "pandas[parquet]>=2.2"
    assert "dependencies: pandas[parquet]>=2.2 is in pyproject.toml but not in uv.lock" in drift(
        sklearn_pyproject, sklearn_lock_data
    )


def test_spelling_of_names_and_specifiers_is_not_drift(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    sklearn_pyproject["project"]["dependencies"] = [
        "NumPy >= 1.26",
        "pandas>=2.2",
        "Scikit_Learn>=1.5",
    ]
    assert drift(sklearn_pyproject, sklearn_lock_data) == []


@pytest.mark.parametrize(
    ("ours", "uv_records"),
    [
        ("==v0.14.0", "==0.14.0"),  # the real Hades pins ssort==v0.14.0; uv records ==0.14.0
        (">=1.0.0-rc1", ">=1.0.0rc1"),
        ("==1.0.*", "==1.0.*"),
        ("~=2.0, !=2.1.0", "!=2.1.0,~=2.0"),
    ],
)
def test_a_version_spelt_otherwise_is_not_drift(
    ours: str, uv_records: str, sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    deps(sklearn_pyproject).append(f"ssort{ours}")
    root = next(p for p in sklearn_lock_data["package"] if p["name"] == "cpu-sklearn")
    root["metadata"]["requires-dist"].append({"name": "ssort", "specifier": uv_records})
    assert drift(sklearn_pyproject, sklearn_lock_data) == []


def test_a_different_version_still_is_drift(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    deps(sklearn_pyproject).append("ssort==v0.14.1")
    root = next(p for p in sklearn_lock_data["package"] if p["name"] == "cpu-sklearn")
    root["metadata"]["requires-dist"].append({"name": "ssort", "specifier": "==0.14.0"})
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependencies: ssort==0.14.1 is in pyproject.toml but not in uv.lock",
        "dependencies: ssort==0.14.0 is in uv.lock but not in pyproject.toml",
    ]


def test_changed_group(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    sklearn_pyproject["dependency-groups"]["dev"] = ["pytest>=9"]
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "group 'dev': pytest>=9 is in pyproject.toml but not in uv.lock",
        "group 'dev': pytest>=8 is in uv.lock but not in pyproject.toml",
    ]


def test_added_group(sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]) -> None:
    sklearn_pyproject["dependency-groups"]["docs"] = ["mkdocs>=1.6"]
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "group 'docs': mkdocs>=1.6 is in pyproject.toml but not in uv.lock"
    ]


def test_added_empty_group_is_not_drift(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    sklearn_pyproject["dependency-groups"]["docs"] = []
    assert drift(sklearn_pyproject, sklearn_lock_data) == []


def test_removed_group(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    del sklearn_pyproject["dependency-groups"]
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependency group 'dev' is in uv.lock but not in pyproject.toml"
    ]


def test_added_extra(sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]) -> None:
    sklearn_pyproject["project"]["optional-dependencies"] = {"Plots": ["matplotlib>=3.8"]}
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependencies: matplotlib>=3.8 (extra 'plots') is in pyproject.toml but not in uv.lock"
    ]


def test_changed_requires_python(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    sklearn_pyproject["project"]["requires-python"] = ">=3.11"
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "requires-python: pyproject.toml says '>=3.11', uv.lock says '>=3.10'"
    ]


def test_removed_requires_python(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    del sklearn_pyproject["project"]["requires-python"]
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "requires-python: pyproject.toml says '', uv.lock says '>=3.10'"
    ]


def test_renamed_project(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    sklearn_pyproject["project"]["name"] = "cpu-sklearn-2"
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "uv.lock has no entry for the project 'cpu-sklearn-2'"
    ]


# --- tests/fixtures/locks/extras-groups: markers, extras, include-group, virtual -----


@pytest.fixture
def extras_groups(fixture_project: Callable[[str], Loaded]) -> Loaded:
    return fixture_project("extras-groups")


def test_uv_rewrites_are_tolerated(extras_groups: Loaded) -> None:
    # uv records python_version as python_full_version, adds "and extra == '...'" to an
    # extra's markers, and flattens include-group: none of that is drift.
    assert drift(*extras_groups) == []


def test_removed_extra_dependency(extras_groups: Loaded) -> None:
    pyproject, lock_data = extras_groups
    pyproject["project"]["optional-dependencies"]["fast"] = []
    assert drift(pyproject, lock_data) == [
        "dependencies: tomli>=2.0 (extra 'fast') is in uv.lock but not in pyproject.toml"
    ]


def test_dependency_moved_from_extra_to_main(
    extras_groups: Loaded,
) -> None:
    pyproject, lock_data = extras_groups
    pyproject["project"]["optional-dependencies"]["fast"] = []
    deps(pyproject).append("tomli>=2.0; python_version >= '3.12'")
    assert drift(pyproject, lock_data) == [
        "dependencies: tomli>=2.0 is in pyproject.toml but not in uv.lock",
        "dependencies: tomli>=2.0 (extra 'fast') is in uv.lock but not in pyproject.toml",
    ]


def test_included_group_change_reaches_the_including_group(
    extras_groups: Loaded,
) -> None:
    pyproject, lock_data = extras_groups
    pyproject["dependency-groups"]["test"] = ["iniconfig>=2.1"]
    assert drift(pyproject, lock_data) == [
        "group 'dev': iniconfig>=2.1 is in pyproject.toml but not in uv.lock",
        "group 'dev': iniconfig>=2.0 is in uv.lock but not in pyproject.toml",
        "group 'test': iniconfig>=2.1 is in pyproject.toml but not in uv.lock",
        "group 'test': iniconfig>=2.0 is in uv.lock but not in pyproject.toml",
    ]


def test_dropped_include_group(extras_groups: Loaded) -> None:
    pyproject, lock_data = extras_groups
    pyproject["dependency-groups"]["dev"] = ["pluggy>=1.5"]
    assert drift(pyproject, lock_data) == [
        "group 'dev': iniconfig>=2.0 is in uv.lock but not in pyproject.toml"
    ]


# --- what uv normalizes when it writes the lock (fixtures locked by real uv) --------


def test_compatible_release_requires_python_as_uv_records_it(
    fixture_project: Callable[[str], Loaded],
) -> None:
    assert drift(*fixture_project("compatible-python")) == []


def test_group_names_as_uv_records_them(fixture_project: Callable[[str], Loaded]) -> None:
    assert drift(*fixture_project("group-names")) == []


# --- requirements from a direct source, and requires-python compared by its releases --


def test_a_direct_source_takes_the_specifier_s_place(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    # [tool.uv.sources] numpy = { git = ... }: uv records the git URL and no specifier
    # (NVIDIA-NeMo/RL's lock, for one); a registry entry of the same name keeps its own.
    root = next(p for p in sklearn_lock_data["package"] if p["name"] == "cpu-sklearn")
    dist = root["metadata"]["requires-dist"]
    dist[0] = {"name": "numpy", "git": "https://github.com/numpy/numpy?tag=v2.0.0"}
    assert drift(sklearn_pyproject, sklearn_lock_data) == []
    dist.append({"name": "numpy", "specifier": "==1.0", "marker": "sys_platform == 'win32'"})
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependencies: numpy==1.0 is in uv.lock but not in pyproject.toml"
    ]


def test_a_direct_source_for_a_requirement_pyproject_lacks_is_drift(
    sklearn_pyproject: dict[str, Any], sklearn_lock_data: dict[str, Any]
) -> None:
    root = next(p for p in sklearn_lock_data["package"] if p["name"] == "cpu-sklearn")
    root["metadata"]["requires-dist"].append({"name": "torch", "url": "https://x.invalid/t.whl"})
    assert drift(sklearn_pyproject, sklearn_lock_data) == [
        "dependencies: torch (from a direct source) is in uv.lock but not in pyproject.toml"
    ]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("~=3.10", ">=3.10,<4", True),
        ("==3.11.*", ">=3.11,<3.12", True),
        (">3.10", ">=3.10.1", True),
        (">=3.10", ">=3.10.0", True),
        (">=3.10", ">=3.11", False),
        ("<3.14,>=3.13.14", ">=3.13.14,<3.14", True),
        ("<3.14,>=3.13.14", ">=3.13.13,<3.14", False),
        ("!=3.12.1,>=3.12", ">=3.12", False),
        ("", ">=0", True),
        ("===3.11.4", "==3.11.4", True),
    ],
)
def test_same_pythons_from_the_specifiers(a: str, b: str, same: bool) -> None:
    from packaging.specifiers import SpecifierSet

    from envforge.project.freshness import same_pythons

    assert same_pythons(SpecifierSet(a), SpecifierSet(b)) is same
