"""The project as pyproject.toml describes it. Pure: parses dicts, never opens files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envforge import validate
from envforge.errors import InvalidProjectError
from envforge.project import vcsversion
from envforge.project.settings import EnvforgeSettings

REQUIREMENT_MAX = 4096


def _expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise InvalidProjectError(
            f"'{where}' must be {what}, not {type(value).__name__}", hint=f"Make it {what}."
        )
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    _expect(value, list, where, "an array of strings")
    for i, item in enumerate(value):
        _expect(item, str, f"{where}[{i}]", "a string")
    return tuple(value)


def _requirement(text: str, where: str) -> Requirement:
    if validate.has_control(text) or len(text) > REQUIREMENT_MAX:
        validate.fail(
            "requirement",
            text,
            f"'{where}'",
            f"Write each requirement on one line, in under {REQUIREMENT_MAX} characters.",
            "pyproject.toml",
        )
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidProjectError(
            f"Invalid requirement {text!r} in '{where}': {exc}",
            hint="Write a PEP 508 requirement, such as numpy>=2.0.",
        ) from None


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
    # project.dynamic lists "version" and there is no static one: the build backend decides.
    dynamic_version: bool = False
    # [build-system] build-backend (an object reference, "module:object"); None: PEP 517's
    # fallback, setuptools' legacy backend.
    build_backend: str | None = None
    # Backends that take the dynamic version from git (envforge.project.vcsversion.detect): the
    # project stage, which has no .git, tells them a version instead.
    version_backends: tuple[str, ...] = ()

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
        name = validate.project_name(project.get("name"), "'project.name'")

        dynamic = _str_list(project.get("dynamic", []), "project.dynamic")
        version = project.get("version")
        if version is not None:
            _expect(version, str, "project.version", "a string")
            validate.pep440_version(version, "'project.version'")
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
        for extra in optional:
            validate.extra_or_group_name(extra, "'project.optional-dependencies'", "pyproject.toml")
        groups_table = data.get("dependency-groups", {})
        _expect(groups_table, Mapping, "dependency-groups", "a table")
        for group_name in groups_table:
            validate.extra_or_group_name(group_name, "'dependency-groups'", "pyproject.toml")
        scripts = project.get("scripts", {})
        _expect(scripts, Mapping, "project.scripts", "a table")
        for key, target in scripts.items():
            validate.script_name(key, "'project.scripts'")
            _expect(target, str, f"project.scripts.{key}", "a string")
            validate.single_line_text(
                target, f"'project.scripts.{key}'", REQUIREMENT_MAX, "pyproject.toml"
            )

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
        build_backend = build_system.get("build-backend")
        if build_backend is not None:
            build_backend = validate.object_reference(build_backend, "'build-system.build-backend'")
        default_groups = uv.get("default-groups", ["dev"])
        if default_groups == "all":
            default_groups = list(groups)
        default_groups = _str_list(default_groups, "tool.uv.default-groups")

        description = project.get("description")
        if description is not None:
            _expect(description, str, "project.description", "a string")
        dynamic_version = version is None and "version" in dynamic
        return cls(
            name=name,
            version=version,
            description=_description(project.get("description")),
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
            dynamic_version=dynamic_version,
            build_backend=build_backend,
            version_backends=vcsversion.detect(data, build_requires)
            if is_package and dynamic_version
            else (),
        )


def _description(value: Any) -> str | None:
    if value is None:
        return None
    return str(_expect(value, str, "project.description", "a string"))


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
