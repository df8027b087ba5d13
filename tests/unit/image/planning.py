"""make_plan on cpu-sklearn's pyproject and lock, changed per test: the data and helpers
the plan tests share."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from envforge.errors import PlanError
from envforge.image.bases import load_catalog
from envforge.image.options import BuildOptions
from envforge.image.plan import Plan, make_plan
from envforge.project.facts import ProjectFacts
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from tests.unit.conftest import CPU_SKLEARN, read_toml

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
