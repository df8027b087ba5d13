"""uv.lock as data. Pure: parses the dict that tomllib gives, never opens files.

Read through envforge.fields: a wrong value's error names where it sits in the lock
(`Invalid 'package[3].wheels[0]' in uv.lock: expected a table, got 1`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envforge.errors import LockError
from envforge.fields import Fields, shown

# uv writes lock version 1 (revisions add optional fields, which we tolerate).
SUPPORTED_LOCK_VERSIONS = (1,)
_FILE = "uv.lock"
# The sources of a package uv builds from a local folder, which record its metadata.
_LOCAL_SOURCES = ("editable", "virtual", "directory")
# A requirement from one of these carries no specifier: uv writes the source in its place.
_DIRECT_SOURCES = ("git", "url", "path", "directory", "editable")


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
class LockedWheel:
    """One of a package's wheels: its URL, path or file name, and what uv recorded of it
    (a registry's wheels carry both; a local index's may carry neither)."""

    ref: str
    hash: str | None = None  # "sha256:<64 hex>"
    size: int | None = None  # bytes


@dataclass(frozen=True, kw_only=True)
class LockedPackage:
    name: str
    version: str | None
    source: Mapping[str, str]
    dependencies: tuple[LockedDependency, ...] = ()
    optional_dependencies: Mapping[str, tuple[LockedDependency, ...]] = field(default_factory=dict)
    dev_dependencies: Mapping[str, tuple[LockedDependency, ...]] = field(default_factory=dict)
    resolution_markers: tuple[str, ...] = ()
    wheels: tuple[LockedWheel, ...] = ()
    has_sdist: bool = False
    # [package.metadata] of a package built from a local folder (the project, a workspace
    # member, a path source): what uv resolved it from, for the freshness fallback.
    metadata: RootMetadata | None = None

    @property
    def local_folder(self) -> str | None:
        """The folder uv builds it from (relative to the lock), when it is a local one."""
        for kind in _LOCAL_SOURCES:
            if kind in self.source:
                return self.source[kind]
        return None

    def is_at(self, folder: str) -> bool:
        return self.source.get("editable") == folder or self.source.get("virtual") == folder


@dataclass(frozen=True)
class RootMetadata:
    requires_dist: tuple[LockedRequirement, ...] = ()
    requires_dev: Mapping[str, tuple[LockedRequirement, ...]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Lock:
    version: int
    revision: int
    requires_python: SpecifierSet | None
    packages: tuple[LockedPackage, ...]
    root: LockedPackage | None
    root_metadata: RootMetadata

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, project_name: str, root_folder: str = "."
    ) -> Lock:
        """The lock, with `project_name` (at root_folder: a workspace member's) as its root."""
        top = Fields.of(data, file=_FILE, error=LockError)
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise LockError(f"Invalid lock version: {shown(version)} in 'version' of uv.lock")
        if version not in SUPPORTED_LOCK_VERSIONS:
            raise LockError(
                f"Unsupported lock version: {version} in 'version' of uv.lock "
                f"(envforge reads version {', '.join(map(str, SUPPORTED_LOCK_VERSIONS))})",
                hint="Upgrade envforge, or re-lock with a uv release that writes version 1.",
            )
        revision = top.get("revision", int, 0)
        requires_python = None
        if (rp := top.get("requires-python", str)) is not None:
            try:
                requires_python = SpecifierSet(rp)
            except InvalidSpecifier:
                raise LockError(
                    f"Invalid specifier {rp[:80]!r} in 'requires-python' of uv.lock"
                ) from None

        tables = top.tables("package", named_by="name")
        packages = tuple(_package(t) for t in tables)
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
                _root_metadata(tables[root_at]) if root_at is not None else RootMetadata()
            ),
        )


def lock_hash(data: bytes) -> str:
    """The identity of a lock: sha256 of its bytes, as labels and records carry it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _invalid(table: Fields, expected: str) -> LockError:
    """A table of the lock that is not what it should be, as a whole."""
    return LockError(f"Invalid '{table.where}' in {_FILE}: expected {expected}")


def _version(table: Fields) -> str | None:
    """A version: a string without control characters (it reaches image tags and labels);
    a bare number, which TOML allows, is taken as its text."""
    value = table.data.get("version")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = table.get("version", str)
    if text is not None and _CONTROL_RE.search(text):
        raise table.fail("version", "a string without control characters", text)
    return text


def _package(table: Fields) -> LockedPackage:
    name = table.required("name", str)
    if not name:
        raise table.fail("name", "a package name", name)
    source = table.table("source")
    sources = {key: source.required(key, str) for key in source.data} if source else {}
    wheels = []
    for wheel in table.tables("wheels"):
        found = wheel.get("url", str) or wheel.get("filename", str) or wheel.get("path", str)
        if not found:
            raise _invalid(wheel, "a table with a 'url', 'filename' or 'path'")
        wheels.append(LockedWheel(found, wheel.get("hash", str), _size(wheel)))
    table.table("sdist")  # a table when there
    optional = table.table("optional-dependencies")
    dev = table.table("dev-dependencies")
    return LockedPackage(
        name=name,
        version=_version(table),
        source=sources,
        dependencies=_edges(table, "dependencies"),
        optional_dependencies=(
            {extra: _edges(optional, extra) for extra in optional.data} if optional else {}
        ),
        dev_dependencies={group: _edges(dev, group) for group in dev.data} if dev else {},
        resolution_markers=table.strings("resolution-markers"),
        wheels=tuple(wheels),
        has_sdist="sdist" in table,
        metadata=_root_metadata(table) if any(k in sources for k in _LOCAL_SOURCES) else None,
    )


def _size(wheel: Fields) -> int | None:
    size = wheel.get("size", int)
    if size is not None and (isinstance(size, bool) or size < 0):
        raise wheel.fail("size", "a size in bytes", size)
    return size


def _edges(table: Fields, key: str) -> tuple[LockedDependency, ...]:
    return tuple(
        LockedDependency(
            name=edge.required("name", str),
            version=_version(edge),
            marker=edge.get("marker", str),
            extras=edge.strings("extra"),
        )
        for edge in table.tables(key)
    )


def _requirements(table: Fields, key: str) -> tuple[LockedRequirement, ...]:
    return tuple(
        LockedRequirement(
            name=req.required("name", str),
            specifier=req.get("specifier", str, ""),
            extras=req.strings("extras"),
            marker=req.get("marker", str),
            direct=any(k in req for k in _DIRECT_SOURCES),
        )
        for req in table.tables(key)
    )


def _root_metadata(package: Fields) -> RootMetadata:
    meta = package.table("metadata")
    if meta is None:
        return RootMetadata()
    dev = meta.table("requires-dev")
    meta.strings("provides-extras")  # nothing reads it, but a malformed lock is refused
    return RootMetadata(
        requires_dist=_requirements(meta, "requires-dist"),
        requires_dev={group: _requirements(dev, group) for group in dev.data} if dev else {},
    )
