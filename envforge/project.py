"""The project as pyproject.toml describes it. Pure: parses dicts, never opens files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envforge.errors import InvalidProjectError
from envforge.settings import EnvforgeSettings

_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def _expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise InvalidProjectError(f"'{where}' must be {what}, not {type(value).__name__}")
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    _expect(value, list, where, "an array of strings")
    for i, item in enumerate(value):
        _expect(item, str, f"{where}[{i}]", "a string")
    return tuple(value)


def _requirement(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidProjectError(f"Invalid requirement {text!r} in '{where}': {exc}") from None


def _requirements(value: Any, where: str) -> tuple[Requirement, ...]:
    return tuple(_requirement(t, f"{where}[{i}]") for i, t in enumerate(_str_list(value, where)))


@dataclass(frozen=True)
class DependencyGroup:
    """A PEP 735 group: its own requirements plus the groups it includes."""

    requirements: tuple[Requirement, ...]
    includes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project:
    name: str
    version: str | None
    description: str | None
    requires_python: SpecifierSet | None
    dependencies: tuple[Requirement, ...]
    optional_dependencies: Mapping[str, tuple[Requirement, ...]]
    dependency_groups: Mapping[str, DependencyGroup]
    scripts: Mapping[str, str]
    # uv installs the project itself only when it is a package (has a build system).
    is_package: bool
    # [build-system] requires: installed once with the environment so a code edit builds offline.
    build_requires: tuple[Requirement, ...]
    uv_default_groups: tuple[str, ...]
    envforge: EnvforgeSettings = field(default_factory=EnvforgeSettings)

    @property
    def normalized_name(self) -> str:
        return canonicalize_name(self.name)

    @property
    def module_name(self) -> str:
        """The import name uv's build backends and hatch assume by default."""
        return self.normalized_name.replace("-", "_")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Project:
        project = data.get("project")
        if project is None:
            raise InvalidProjectError(
                "No [project] table",
                hint="Add a [project] table with at least 'name' (uv init writes one).",
            )
        _expect(project, Mapping, "project", "a table")
        name = project.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise InvalidProjectError(f"Invalid project name {name!r} in 'project.name'")

        dynamic = _str_list(project.get("dynamic", []), "project.dynamic")
        version = project.get("version")
        if version is not None:
            _expect(version, str, "project.version", "a string")
        elif "version" not in dynamic:
            raise InvalidProjectError(
                "No 'project.version'", hint='Set version = "0.1.0" or list it in dynamic.'
            )

        requires_python = None
        if (rp := project.get("requires-python")) is not None:
            _expect(rp, str, "project.requires-python", "a string")
            try:
                requires_python = SpecifierSet(rp)
            except InvalidSpecifier:
                raise InvalidProjectError(
                    f"Invalid specifier {rp!r} in 'project.requires-python'"
                ) from None

        optional = project.get("optional-dependencies", {})
        _expect(optional, Mapping, "project.optional-dependencies", "a table")
        groups_table = data.get("dependency-groups", {})
        _expect(groups_table, Mapping, "dependency-groups", "a table")
        scripts = project.get("scripts", {})
        _expect(scripts, Mapping, "project.scripts", "a table")
        for key, target in scripts.items():
            _expect(target, str, f"project.scripts.{key}", "a string")

        tool = data.get("tool", {})
        _expect(tool, Mapping, "tool", "a table")
        uv = tool.get("uv", {})
        _expect(uv, Mapping, "tool.uv", "a table")
        groups = {g: _group(entries, g) for g, entries in groups_table.items()}
        # uv's legacy dev-dependencies are the "dev" group under another name.
        if "dev-dependencies" in uv:
            legacy = _requirements(uv["dev-dependencies"], "tool.uv.dev-dependencies")
            dev = groups.get("dev", DependencyGroup(()))
            groups["dev"] = DependencyGroup(dev.requirements + legacy, dev.includes)
        for g, group in groups.items():
            for inc in group.includes:
                if inc not in groups:
                    raise InvalidProjectError(
                        f"Group {g!r} includes unknown group {inc!r} in 'dependency-groups'"
                    )

        package = uv.get("package")
        if package is not None:
            _expect(package, bool, "tool.uv.package", "true or false")
        is_package = package if package is not None else "build-system" in data
        build_system = data.get("build-system", {})
        _expect(build_system, Mapping, "build-system", "a table")
        # PEP 517's fallback when a package names no backend: setuptools' legacy build.
        build_requires = _requirements(
            build_system.get("requires", ["setuptools>=40.8.0"]), "build-system.requires"
        )
        default_groups = uv.get("default-groups", ["dev"])
        if default_groups == "all":
            default_groups = list(groups)
        default_groups = _str_list(default_groups, "tool.uv.default-groups")

        description = project.get("description")
        if description is not None:
            _expect(description, str, "project.description", "a string")
        return cls(
            name=name,
            version=version,
            description=description,
            requires_python=requires_python,
            dependencies=_requirements(project.get("dependencies", []), "project.dependencies"),
            optional_dependencies={
                extra: _requirements(reqs, f"project.optional-dependencies.{extra}")
                for extra, reqs in optional.items()
            },
            dependency_groups=groups,
            scripts=dict(scripts),
            is_package=is_package,
            build_requires=build_requires,
            uv_default_groups=default_groups,
            envforge=EnvforgeSettings.from_dict(tool.get("envforge", {})),
        )


def _group(entries: Any, group: str) -> DependencyGroup:
    where = f"dependency-groups.{group}"
    _expect(entries, list, where, "an array")
    reqs: list[Requirement] = []
    includes: list[str] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Mapping) and set(entry) == {"include-group"}:
            includes.append(_expect(entry["include-group"], str, f"{where}[{i}]", "a group name"))
        elif isinstance(entry, str):
            reqs.append(_requirement(entry, f"{where}[{i}]"))
        else:
            raise InvalidProjectError(
                f"'{where}[{i}]' must be a requirement string or {{include-group = \"...\"}}"
            )
    return DependencyGroup(tuple(reqs), tuple(includes))
