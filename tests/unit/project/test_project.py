"""Project.from_dict: what envforge understands of pyproject.toml, and how it says no."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from envforge.errors import InputError, InvalidProjectError
from envforge.project.pyproject import DependencyGroup, Project

REALISTIC = """
[project]
name = "My_Project"
version = "1.2.3"
description = "A realistic project"
requires-python = ">=3.10,<3.13"
dependencies = [
    "numpy>=1.26",
    "requests[socks]>=2.31; sys_platform == 'linux'",
]

[project.optional-dependencies]
cuda = ["cupy-cuda12x>=13"]
plots = ["matplotlib>=3.8", "seaborn"]

[project.scripts]
train = "my_project.cli:train"

[dependency-groups]
test = ["pytest>=8"]
dev = [{ include-group = "test" }, "ruff>=0.6"]

[tool.uv]
dev-dependencies = ["mypy>=1.11"]

[tool.envforge]
ports = [8000]

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"
"""

MINIMAL = {"project": {"name": "demo", "version": "0.1.0"}}


def parse(text: str) -> Project:
    return Project.from_dict(tomllib.loads(text))


def minimal(**project: Any) -> dict[str, Any]:
    """A minimal valid pyproject, with [project] keys added or replaced."""
    return {"project": {**MINIMAL["project"], **project}}


def strs(reqs: Any) -> list[str]:
    return [str(r) for r in reqs]


def invalid(data: dict[str, Any]) -> InvalidProjectError:
    with pytest.raises(InvalidProjectError) as info:
        Project.from_dict(data)
    assert info.value.exit_code == 2
    assert isinstance(info.value, InputError)
    return info.value


# --- a valid project ----------------------------------------------------------------


def test_realistic_project_identity() -> None:
    project = parse(REALISTIC)
    assert project.name == "My_Project"
    assert project.normalized_name == "my-project"
    assert project.module_name == "my_project"
    assert project.version == "1.2.3"
    assert project.description == "A realistic project"


def test_realistic_project_requires_python() -> None:
    spec = parse(REALISTIC).requires_python
    assert spec is not None
    assert spec.contains("3.12.4")
    assert not spec.contains("3.13.0")
    assert not spec.contains("3.9.18")


def test_realistic_project_dependencies_keep_extras_and_markers() -> None:
    deps = parse(REALISTIC).dependencies
    assert [d.name for d in deps] == ["numpy", "requests"]
    assert str(deps[0].specifier) == ">=1.26"
    assert deps[1].extras == {"socks"}
    assert str(deps[1].marker) == 'sys_platform == "linux"'


def test_realistic_project_optional_dependencies() -> None:
    optional = parse(REALISTIC).optional_dependencies
    assert set(optional) == {"cuda", "plots"}
    assert strs(optional["cuda"]) == ["cupy-cuda12x>=13"]
    assert strs(optional["plots"]) == ["matplotlib>=3.8", "seaborn"]


def test_dependency_groups_keep_include_group_and_merge_legacy_dev_dependencies() -> None:
    groups = parse(REALISTIC).dependency_groups
    assert set(groups) == {"test", "dev"}
    assert strs(groups["test"].requirements) == ["pytest>=8"]
    assert groups["test"].includes == ()
    # [tool.uv] dev-dependencies land in "dev", after the group's own requirements.
    assert strs(groups["dev"].requirements) == ["ruff>=0.6", "mypy>=1.11"]
    assert groups["dev"].includes == ("test",)


def test_legacy_dev_dependencies_alone_make_a_dev_group() -> None:
    project = Project.from_dict({**minimal(), "tool": {"uv": {"dev-dependencies": ["pytest>=8"]}}})
    assert set(project.dependency_groups) == {"dev"}
    assert strs(project.dependency_groups["dev"].requirements) == ["pytest>=8"]


def test_realistic_project_scripts_and_settings() -> None:
    project = parse(REALISTIC)
    assert dict(project.scripts) == {"train": "my_project.cli:train"}
    assert project.envforge.ports == (8000,)
    assert project.uv_default_groups == ("dev",)


def test_a_project_with_build_system_is_a_package() -> None:
    project = parse(REALISTIC)
    assert project.is_package is True
    assert strs(project.build_requires) == ["hatchling>=1.25"]


def test_a_project_without_build_system_is_not_a_package() -> None:
    project = Project.from_dict(minimal())
    assert project.is_package is False
    assert project.requires_python is None
    assert project.dependencies == ()
    assert project.dependency_groups == {}
    assert project.envforge.command is None


@pytest.mark.parametrize(
    ("build_system", "package", "expected"),
    [
        (True, False, False),
        (False, True, True),
        (True, True, True),
        (False, False, False),
    ],
)
def test_tool_uv_package_overrides_build_system(
    build_system: bool, package: bool, expected: bool
) -> None:
    data: dict[str, Any] = {**minimal(), "tool": {"uv": {"package": package}}}
    if build_system:
        data["build-system"] = {"requires": ["hatchling"], "build-backend": "hatchling.build"}
    assert Project.from_dict(data).is_package is expected


def test_package_without_build_system_builds_with_pep517_fallback() -> None:
    project = Project.from_dict({**minimal(), "tool": {"uv": {"package": True}}})
    assert strs(project.build_requires) == ["setuptools>=40.8.0"]


def test_build_system_without_requires_falls_back_to_setuptools() -> None:
    project = Project.from_dict({**minimal(), "build-system": {}})
    assert project.is_package is True
    assert strs(project.build_requires) == ["setuptools>=40.8.0"]


def test_dynamic_version_is_allowed() -> None:
    project = Project.from_dict({"project": {"name": "demo", "dynamic": ["version"]}})
    assert project.version is None


@pytest.mark.parametrize(
    ("default_groups", "expected"),
    [(["dev", "lint"], ("dev", "lint")), ("all", ("docs", "dev")), ([], ())],
)
def test_uv_default_groups(default_groups: Any, expected: tuple[str, ...]) -> None:
    data = {
        **minimal(),
        "dependency-groups": {"docs": ["mkdocs"], "dev": ["pytest"]},
        "tool": {"uv": {"default-groups": default_groups}},
    }
    assert Project.from_dict(data).uv_default_groups == expected


def test_group_with_only_includes() -> None:
    data = {**minimal(), "dependency-groups": {"a": ["x"], "b": [{"include-group": "a"}]}}
    assert Project.from_dict(data).dependency_groups["b"] == DependencyGroup((), ("a",))


# --- errors ------------------------------------------------------------------------


def test_no_project_table() -> None:
    error = invalid({"tool": {"uv": {}}})
    assert error.message == "No [project] table in pyproject.toml"
    assert error.file == "pyproject.toml"
    assert error.hint is not None and "[project]" in error.hint


def test_invalid_requirement_names_its_place() -> None:
    error = invalid(minimal(dependencies=["numpy>=1.26", "pandas>>2"]))
    assert error.message.startswith(
        "Invalid requirement 'pandas>>2' in 'project.dependencies[1]': "
    )
    assert error.message.endswith(" in pyproject.toml")


def test_invalid_optional_requirement_names_its_extra() -> None:
    error = invalid(minimal(**{"optional-dependencies": {"gpu": ["torch>="]}}))
    assert "'project.optional-dependencies.gpu[0]'" in error.message


def test_invalid_group_requirement_names_its_group() -> None:
    error = invalid({**minimal(), "dependency-groups": {"dev": ["pytest", "not a req!"]}})
    assert "'dependency-groups.dev[1]'" in error.message


def test_invalid_legacy_dev_dependency_names_its_place() -> None:
    error = invalid({**minimal(), "tool": {"uv": {"dev-dependencies": ["ok", "=bad"]}}})
    assert "'tool.uv.dev-dependencies[1]'" in error.message


def test_bad_requires_python() -> None:
    error = invalid(minimal(**{"requires-python": "3.10+"}))
    assert (
        error.message == "Invalid specifier '3.10+' in 'project.requires-python' in pyproject.toml"
    )


def test_unknown_include_group() -> None:
    error = invalid(
        {
            **minimal(),
            "dependency-groups": {"test": ["pytest"], "dev": [{"include-group": "tests"}]},
        }
    )
    assert error.message == (
        "Group 'dev' includes unknown group 'tests' in 'dependency-groups' in pyproject.toml"
    )


def test_no_version_and_not_dynamic() -> None:
    error = invalid({"project": {"name": "demo"}})
    assert error.message == "No 'project.version' in pyproject.toml"


@pytest.mark.parametrize("name", [None, "", "my project", "-demo", "demo-", 42])
def test_invalid_project_name(name: Any) -> None:
    error = invalid({"project": {"name": name, "version": "1"}})
    assert error.message == f"Invalid project name {name!r} in 'project.name' in pyproject.toml"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"project": ["name"]}, "'project': expected a table, got ['name']"),
        (minimal(version=1), "'project.version': expected a string, got 1"),
        (
            minimal(**{"requires-python": 3.1}),
            "'project.requires-python': expected a string, got 3.1",
        ),
        (minimal(dependencies="numpy"), "'project.dependencies': expected an array, got 'numpy'"),
        (minimal(dependencies=["numpy", 1]), "'project.dependencies[1]': expected a string, got 1"),
        (
            minimal(**{"optional-dependencies": ["gpu"]}),
            "'project.optional-dependencies': expected a table, got ['gpu']",
        ),
        (
            minimal(**{"optional-dependencies": {"gpu": "torch"}}),
            "'project.optional-dependencies.gpu': expected an array, got 'torch'",
        ),
        (minimal(scripts=["train"]), "'project.scripts': expected a table, got ['train']"),
        (minimal(scripts={"train": 1}), "'project.scripts.train': expected a string, got 1"),
        (
            {**minimal(), "dependency-groups": ["dev"]},
            "'dependency-groups': expected a table, got ['dev']",
        ),
        (
            {**minimal(), "dependency-groups": {"dev": "pytest"}},
            "'dependency-groups.dev': expected an array, got 'pytest'",
        ),
        (
            {**minimal(), "dependency-groups": {"dev": [{"include-group": 1}]}},
            "'dependency-groups.dev[0].include-group': expected a string, got 1",
        ),
        (
            {**minimal(), "tool": {"uv": {"package": "yes"}}},
            "'tool.uv.package': expected true or false, got 'yes'",
        ),
        ({**minimal(), "tool": {"uv": []}}, "'tool.uv': expected a table, got []"),
        (
            {**minimal(), "build-system": ["hatchling"]},
            "'build-system': expected a table, got ['hatchling']",
        ),
        (
            {**minimal(), "tool": {"uv": {"default-groups": "dev"}}},
            "'tool.uv.default-groups': expected an array, got 'dev'",
        ),
    ],
)
def test_wrong_types(data: dict[str, Any], message: str) -> None:
    where, _, rest = message.partition(": ")
    assert invalid(data).message == f"Invalid {where} in pyproject.toml: {rest}"


def test_a_group_entry_of_another_shape() -> None:
    data = {**minimal(), "dependency-groups": {"dev": [{"include": "x"}]}}
    assert invalid(data).message == (
        "'dependency-groups.dev[0]' must be a requirement string or {include-group = \"...\"} "
        "in pyproject.toml"
    )


def test_envforge_table_errors_surface_as_project_errors() -> None:
    error = invalid({**minimal(), "tool": {"envforge": {"port": [80]}}})
    assert error.message == "Unknown key 'tool.envforge.port' in pyproject.toml"
