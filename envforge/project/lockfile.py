"""uv.lock as data. Pure: parses the dict that tomllib gives, never opens files."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envforge.errors import LockError

# uv writes lock version 1 (revisions add optional fields, which we tolerate).
SUPPORTED_LOCK_VERSIONS = (1,)


@dataclass(frozen=True)
class LockedRequirement:
    """One entry of the root package's recorded metadata (requires-dist, requires-dev)."""

    name: str
    specifier: str = ""
    extras: tuple[str, ...] = ()
    marker: str | None = None
    # From a direct source (git, url, path, directory, editable): uv records no specifier.
    direct: bool = False


@dataclass(frozen=True)
class LockedDependency:
    """An edge of the lock's graph: which entry of `name` (by version when the lock
    forks), under which marker, with which extras."""

    name: str
    version: str | None = None
    marker: str | None = None
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str | None
    source: Mapping[str, str]
    dependencies: tuple[LockedDependency, ...] = ()
    optional_dependencies: Mapping[str, tuple[LockedDependency, ...]] = field(default_factory=dict)
    dev_dependencies: Mapping[str, tuple[LockedDependency, ...]] = field(default_factory=dict)
    resolution_markers: tuple[str, ...] = ()
    wheels: tuple[str, ...] = ()
    has_sdist: bool = False
    # [package.metadata] of a package built from a local folder (the project, a workspace
    # member, a path source): what uv resolved it from, for the freshness fallback.
    metadata: RootMetadata | None = None

    @property
    def dependency_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dependencies)

    @property
    def is_root_candidate(self) -> bool:
        return self.is_at(".")

    @property
    def local_folder(self) -> str | None:
        """The folder uv builds it from (relative to the lock), when it is a local one."""
        for kind in ("editable", "virtual", "directory"):
            if kind in self.source:
                return self.source[kind]
        return None

    def is_at(self, folder: str) -> bool:
        return self.source.get("editable") == folder or self.source.get("virtual") == folder


@dataclass(frozen=True)
class RootMetadata:
    requires_dist: tuple[LockedRequirement, ...] = ()
    requires_dev: Mapping[str, tuple[LockedRequirement, ...]] = field(default_factory=dict)
    provides_extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lock:
    version: int
    revision: int
    requires_python: SpecifierSet | None
    packages: tuple[LockedPackage, ...]
    root: LockedPackage | None
    root_metadata: RootMetadata

    def package(self, name: str) -> LockedPackage | None:
        wanted = canonicalize_name(name)
        return next((p for p in self.packages if canonicalize_name(p.name) == wanted), None)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, project_name: str, root_folder: str = "."
    ) -> Lock:
        """The lock, with `project_name` (at root_folder: a workspace member's) as its root."""
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise LockError(
                f"Invalid lock version: {_short(version)} in 'version' of uv.lock",
                hint="Regenerate the lock with 'uv lock'.",
            )
        if version not in SUPPORTED_LOCK_VERSIONS:
            raise LockError(
                f"Unsupported lock version: {version} in 'version' of uv.lock "
                f"(envforge reads version {', '.join(map(str, SUPPORTED_LOCK_VERSIONS))})",
                hint="Upgrade envforge, or re-lock with a uv release that writes version 1.",
            )
        revision = data.get("revision", 0)
        if not isinstance(revision, int) or isinstance(revision, bool):
            raise LockError(
                f"Invalid revision: {_short(revision)} in 'revision' of uv.lock", hint=_REGEN
            )
        requires_python = None
        if (rp := data.get("requires-python")) is not None:
            if not isinstance(rp, str):
                raise _invalid("requires-python", "the top level", "a string")
            try:
                requires_python = SpecifierSet(str(rp))
            except InvalidSpecifier:
                raise LockError(
                    f"Invalid specifier {rp[:80]!r} in 'requires-python' of uv.lock", hint=_REGEN
                ) from None

        raw_packages = data.get("package", [])
        if not isinstance(raw_packages, list):
            raise LockError("'package' must be an array of tables in uv.lock", hint=_REGEN)
        packages = tuple(_package(p, i) for i, p in enumerate(raw_packages))

        wanted = canonicalize_name(project_name)
        root_at = next(
            (
                i
                for i, pkg in enumerate(packages)
                if canonicalize_name(pkg.name) == wanted and pkg.is_at(root_folder)
            ),
            None,
        )
        root = next((p for p in packages if canonicalize_name(p.name) == wanted), None)
        return cls(
            version=version,
            revision=revision,
            requires_python=requires_python,
            packages=packages,
            root=root,
            root_metadata=(
                _root_metadata(raw_packages[root_at], f"package[{root_at}]")
                if root_at is not None
                else RootMetadata()
            ),
        )


def lock_hash(data: bytes) -> str:
    """The identity of a lock: sha256 of its bytes, as labels and records carry it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_REGEN = "Regenerate the lock with 'uv lock'."


def _invalid(field: str, where: str, expected: str) -> LockError:
    return LockError(f"Invalid '{field}' in {where} of uv.lock: expected {expected}", hint=_REGEN)


def _str_field(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _invalid(key, where, "a string")
    if isinstance(value, str) and _CONTROL_RE.search(value):
        raise _invalid(key, where, "a string without control characters")
    return str(value)


def _str_list(value: Any, field: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(field, where, "an array of strings")
    return tuple(value)


def _table_of(value: Any, field: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid(field, where, "a table")
    return value


def _package(raw: Any, index: int) -> LockedPackage:
    where = f"package[{index}]"
    if not isinstance(raw, Mapping):
        raise LockError(f"Invalid {where} of uv.lock: expected a table", hint=_REGEN)
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise _invalid("name", where, "a string")
    table = f"{where} ({raw['name']})"
    version = _str_field(raw, "version", table)
    source = _table_of(raw.get("source", {}), "source", table)
    for key, value in source.items():
        if not isinstance(value, str):
            raise _invalid(f"source.{key}", table, "a string")
    wheels = raw.get("wheels", [])
    if not isinstance(wheels, list) or not all(isinstance(w, Mapping) for w in wheels):
        raise _invalid("wheels", table, "an array of tables")
    names = []
    for i, wheel in enumerate(wheels):
        name = wheel.get("url") or wheel.get("filename") or wheel.get("path")
        if not isinstance(name, str) or not name:
            raise _invalid(f"wheels[{i}]", table, "a table with a 'url', 'filename' or 'path'")
        names.append(name)
    if "sdist" in raw and not isinstance(raw["sdist"], Mapping):
        raise _invalid("sdist", table, "a table")
    optional = _table_of(raw.get("optional-dependencies", {}), "optional-dependencies", table)
    dev = _table_of(raw.get("dev-dependencies", {}), "dev-dependencies", table)
    return LockedPackage(
        name=raw["name"],
        version=version,
        source={str(k): str(v) for k, v in source.items()},
        dependencies=_edges(raw.get("dependencies", []), "dependencies", table),
        optional_dependencies={
            str(extra): _edges(edges, f"optional-dependencies.{extra}", table)
            for extra, edges in optional.items()
        },
        dev_dependencies={
            str(group): _edges(edges, f"dev-dependencies.{group}", table)
            for group, edges in dev.items()
        },
        resolution_markers=_str_list(
            raw.get("resolution-markers", []), "resolution-markers", table
        ),
        wheels=tuple(names),
        has_sdist="sdist" in raw,
        metadata=(
            _root_metadata(raw, where)
            if any(k in source for k in ("editable", "virtual", "directory"))
            else None
        ),
    )


def _edges(raw: Any, field: str, where: str) -> tuple[LockedDependency, ...]:
    if not isinstance(raw, list):
        raise _invalid(field, where, "an array of tables")
    out = []
    for i, edge in enumerate(raw):
        at = f"{field}[{i}]"
        if not isinstance(edge, Mapping) or not isinstance(edge.get("name"), str):
            raise _invalid(at, where, "a table with a 'name'")
        marker = edge.get("marker")
        if marker is not None and not isinstance(marker, str):
            raise _invalid(f"{at}.marker", where, "a string")
        out.append(
            LockedDependency(
                name=edge["name"],
                version=_str_field(edge, "version", f"{where} {at}"),
                marker=marker,
                extras=_str_list(edge.get("extra", []), f"{at}.extra", where),
            )
        )
    return tuple(out)


def _requirement(raw: Any, field: str, where: str) -> LockedRequirement:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise _invalid(field, where, "a table with a 'name'")
    specifier = raw.get("specifier", "")
    if not isinstance(specifier, str):
        raise _invalid(f"{field}.specifier", where, "a string")
    marker = raw.get("marker")
    if marker is not None and not isinstance(marker, str):
        raise _invalid(f"{field}.marker", where, "a string")
    return LockedRequirement(
        name=raw["name"],
        specifier=specifier,
        extras=_str_list(raw.get("extras", []), f"{field}.extras", where),
        marker=marker,
        direct=any(k in raw for k in _DIRECT_SOURCES),
    )


_DIRECT_SOURCES = ("git", "url", "path", "directory", "editable")


def _root_metadata(raw: Mapping[str, Any], at: str) -> RootMetadata:
    where = f"{at} ({raw['name']})"
    meta = _table_of(raw.get("metadata", {}), "metadata", where)
    dist_raw = meta.get("requires-dist", [])
    if not isinstance(dist_raw, list):
        raise _invalid("metadata.requires-dist", where, "an array of tables")
    dist = tuple(
        _requirement(r, f"metadata.requires-dist[{i}]", where) for i, r in enumerate(dist_raw)
    )
    dev_raw = _table_of(meta.get("requires-dev", {}), "metadata.requires-dev", where)
    dev = {}
    for group, reqs in dev_raw.items():
        field = f"metadata.requires-dev.{group}"
        if not isinstance(reqs, list):
            raise _invalid(field, where, "an array of tables")
        dev[str(group)] = tuple(_requirement(r, f"{field}[{i}]", where) for i, r in enumerate(reqs))
    extras = _str_list(meta.get("provides-extras", []), "metadata.provides-extras", where)
    return RootMetadata(dist, dev, extras)
