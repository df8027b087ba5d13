"""uv.lock as data. Pure: parses the dict that tomllib gives, never opens files."""

from __future__ import annotations

import hashlib
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
                f"Invalid lock version: {version!r} in 'version' of uv.lock",
                hint="Regenerate the lock with 'uv lock'.",
            )
        if version not in SUPPORTED_LOCK_VERSIONS:
            raise LockError(
                f"Unsupported lock version: {version} in 'version' of uv.lock "
                f"(envforge reads version {', '.join(map(str, SUPPORTED_LOCK_VERSIONS))})",
                hint="Upgrade envforge, or re-lock with a uv release that writes version 1.",
            )
        revision = data.get("revision", 0)
        if not isinstance(revision, int):
            raise LockError(f"Invalid revision: {revision!r} in 'revision' of uv.lock")
        requires_python = None
        if (rp := data.get("requires-python")) is not None:
            try:
                requires_python = SpecifierSet(str(rp))
            except InvalidSpecifier:
                raise LockError(
                    f"Invalid specifier {rp!r} in 'requires-python' of uv.lock"
                ) from None

        raw_packages = data.get("package", [])
        if not isinstance(raw_packages, list):
            raise LockError("'package' must be an array of tables in uv.lock")
        packages = tuple(_package(p, i) for i, p in enumerate(raw_packages))

        wanted = canonicalize_name(project_name)
        root_raw = next(
            (
                raw
                for raw, pkg in zip(raw_packages, packages, strict=True)
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
            root_metadata=_root_metadata(root_raw) if root_raw is not None else RootMetadata(),
        )


def lock_hash(data: bytes) -> str:
    """The identity of a lock: sha256 of its bytes, as labels and records carry it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _package(raw: Any, index: int) -> LockedPackage:
    where = f"package[{index}]"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise LockError(f"Invalid package entry: no 'name' in '{where}' of uv.lock")
    version = raw.get("version")
    source = raw.get("source", {})
    if not isinstance(source, Mapping):
        raise LockError(f"Invalid 'source' in '{where}' ({raw['name']}) of uv.lock")
    wheels = raw.get("wheels", [])
    table = f"{where} ({raw['name']})"
    return LockedPackage(
        name=raw["name"],
        version=str(version) if version is not None else None,
        source={str(k): str(v) for k, v in source.items()},
        dependencies=_edges(raw.get("dependencies", []), f"{table}.dependencies"),
        optional_dependencies={
            str(extra): _edges(edges, f"{table}.optional-dependencies.{extra}")
            for extra, edges in raw.get("optional-dependencies", {}).items()
        },
        dev_dependencies={
            str(group): _edges(edges, f"{table}.dev-dependencies.{group}")
            for group, edges in raw.get("dev-dependencies", {}).items()
        },
        resolution_markers=tuple(str(m) for m in raw.get("resolution-markers", ())),
        wheels=tuple(
            w.get("url") or w.get("filename") or w.get("path") or ""
            for w in wheels
            if isinstance(w, Mapping)
        ),
        has_sdist="sdist" in raw,
        metadata=(
            _root_metadata(raw)
            if any(k in source for k in ("editable", "virtual", "directory"))
            else None
        ),
    )


def _edges(raw: Any, where: str) -> tuple[LockedDependency, ...]:
    if not isinstance(raw, list):
        raise LockError(f"'{where}' must be an array in uv.lock")
    out = []
    for i, edge in enumerate(raw):
        if not isinstance(edge, Mapping) or not isinstance(edge.get("name"), str):
            raise LockError(f"Invalid dependency entry in '{where}[{i}]' of uv.lock")
        version = edge.get("version")
        out.append(
            LockedDependency(
                name=edge["name"],
                version=str(version) if version is not None else None,
                marker=edge.get("marker"),
                extras=tuple(str(e) for e in edge.get("extra", ())),
            )
        )
    return tuple(out)


def _requirement(raw: Any, where: str) -> LockedRequirement:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise LockError(f"Invalid requirement entry in '{where}' of uv.lock")
    return LockedRequirement(
        name=raw["name"],
        specifier=str(raw.get("specifier", "")),
        extras=tuple(raw.get("extras", ())),
        marker=raw.get("marker"),
    )


def _root_metadata(raw: Mapping[str, Any]) -> RootMetadata:
    meta = raw.get("metadata", {})
    where = f"package.metadata of {raw['name']}"
    if not isinstance(meta, Mapping):
        raise LockError(f"'{where}' must be a table in uv.lock")
    dist = tuple(_requirement(r, where) for r in meta.get("requires-dist", []))
    dev = {
        group: tuple(_requirement(r, f"{where}.requires-dev.{group}") for r in reqs)
        for group, reqs in meta.get("requires-dev", {}).items()
    }
    return RootMetadata(dist, dev, tuple(meta.get("provides-extras", ())))
