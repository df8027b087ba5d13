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
from envforge.fields import Fields
from envforge.project import vcsversion
from envforge.project.settings import EnvforgeSettings

REQUIREMENT_MAX = 4096


_FILE = "pyproject.toml"


def _fields(data: object) -> Fields:
    return Fields.of(data, file=_FILE, error=InvalidProjectError.from_fields)


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


def _requirements(table: Fields, key: str) -> tuple[Requirement, ...]:
    return tuple(
        _requirement(text, f"{table.path(key)}[{i}]") for i, text in enumerate(table.strings(key))
    )


@dataclass(frozen=True)
class DependencyGroup:
    """A PEP 735 group: its own requirements plus the groups it includes."""

    requirements: tuple[Requirement, ...]
    includes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
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
        top = _fields(data)
        project = top.table("project")
        if project is None:
            raise InvalidProjectError(
                "No [project] table",
                hint="Add a [project] table with at least 'name' (uv init writes one).",
            )
        name = validate.project_name(project.data.get("name"), "'project.name'")

        dynamic = project.strings("dynamic")
        version = project.get("version", str)
        if version is not None:
            validate.pep440_version(version, "'project.version'")
        elif "version" not in dynamic:
            raise InvalidProjectError(
                "No 'project.version'", hint='Set version = "0.1.0" or list it in dynamic.'
            )

        requires_python = None
        if (rp := project.get("requires-python", str)) is not None:
            try:
                requires_python = SpecifierSet(rp)
            except InvalidSpecifier:
                raise InvalidProjectError(
                    f"Invalid specifier {rp!r} in 'project.requires-python'"
                ) from None

        optional = project.table("optional-dependencies")
        extras = list(optional.keys()) if optional else []
        for extra in extras:
            validate.extra_or_group_name(extra, "'project.optional-dependencies'", _FILE)
        groups_table = top.table("dependency-groups")
        for group_name in groups_table.data if groups_table else ():
            validate.extra_or_group_name(group_name, "'dependency-groups'", _FILE)
        scripts_table = project.table("scripts")
        scripts: dict[str, str] = {}
        for key in scripts_table.data if scripts_table else ():
            assert scripts_table is not None
            validate.script_name(key, "'project.scripts'")
            scripts[key] = validate.single_line_text(
                scripts_table.required(key, str), f"'project.scripts.{key}'", REQUIREMENT_MAX, _FILE
            )

        tool = top.table("tool")
        uv = (tool.table("uv") if tool else None) or _fields({})
        groups = {g: _group(groups_table, g) for g in groups_table.data} if groups_table else {}
        # uv's legacy dev-dependencies are the "dev" group under another name.
        if "dev-dependencies" in uv:
            legacy = _requirements(uv, "dev-dependencies")
            dev = groups.get("dev", DependencyGroup(()))
            groups["dev"] = DependencyGroup(dev.requirements + legacy, dev.includes)
        for g, group in groups.items():
            for inc in group.includes:
                if inc not in groups:
                    raise InvalidProjectError(
                        f"Group {g!r} includes unknown group {inc!r} in 'dependency-groups'"
                    )

        package = uv.get("package", bool)
        is_package = package if package is not None else "build-system" in top
        build_system = top.table("build-system") or _fields({})
        # PEP 517's fallback when a package names no backend: setuptools' legacy build.
        build_requires = (
            _requirements(build_system, "requires")
            if "requires" in build_system
            else (Requirement("setuptools>=40.8.0"),)
        )
        build_backend = build_system.data.get("build-backend")
        if build_backend is not None:
            build_backend = validate.object_reference(build_backend, "'build-system.build-backend'")
        if uv.data.get("default-groups") == "all":
            default_groups = tuple(groups)
        elif "default-groups" in uv:
            default_groups = uv.strings("default-groups")
        else:
            default_groups = ("dev",)

        dynamic_version = version is None and "version" in dynamic
        return cls(
            name=name,
            version=version,
            description=project.get("description", str),
            requires_python=requires_python,
            dependencies=_requirements(project, "dependencies"),
            optional_dependencies=(
                {extra: _requirements(optional, extra) for extra in extras} if optional else {}
            ),
            dependency_groups=groups,
            scripts=scripts,
            is_package=is_package,
            build_requires=build_requires,
            uv_default_groups=default_groups,
            envforge=EnvforgeSettings.from_dict(tool.data.get("envforge", {}) if tool else {}),
            dynamic_version=dynamic_version,
            build_backend=build_backend,
            version_backends=vcsversion.detect(data, build_requires)
            if is_package and dynamic_version
            else (),
        )


def _group(groups: Fields, group: str) -> DependencyGroup:
    entries = groups.required(group, list)
    where = groups.path(group)
    reqs: list[Requirement] = []
    includes: list[str] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Mapping) and set(entry) == {"include-group"}:
            include = Fields(data=entry, where=f"{where}[{i}]", file=_FILE, error=groups.error)
            includes.append(include.required("include-group", str))
        elif isinstance(entry, str):
            reqs.append(_requirement(entry, f"{where}[{i}]"))
        else:
            raise InvalidProjectError(
                f"'{where}[{i}]' must be a requirement string or {{include-group = \"...\"}}"
            )
    return DependencyGroup(tuple(reqs), tuple(includes))
