"""Which locked packages `uv sync` installs for one target (Python, Linux, x86_64). Pure.

A universal uv.lock holds every platform and Python at once and may fork (torch 2.14.1
for Python 3.10, 2.15.0 for 3.11+). What an image gets is the subgraph reachable from
the project under the image's markers: this module walks it, as uv does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.utils import canonicalize_name

from envforge.errors import LockError
from envforge.fields import shown
from envforge.project import markers
from envforge.project.lockfile import Lock, LockedDependency, LockedPackage
from envforge.project.markers import Target as Target


def _applies(marker: str | None, target: Target, active: frozenset[str]) -> bool:
    """Whether a lock's marker holds for target; LockError for a marker that does not parse
    or cannot be evaluated (an int, '~=' on a platform name, an unknown variable)."""
    if not marker:
        return True
    if not isinstance(marker, str):
        raise LockError(f"Invalid marker {shown(marker, 120)} in uv.lock: expected a string")
    try:
        return markers.holds(marker, target, active)
    except InvalidMarker:
        raise LockError(f"Invalid marker {shown(marker, 120)} in uv.lock") from None
    except (UndefinedComparison, UndefinedEnvironmentName, ValueError, TypeError) as exc:
        raise LockError(
            f"Marker {shown(marker, 120)} in uv.lock cannot be evaluated ({exc})"
        ) from None


def _encoded(project: str, extras: Iterable[str], groups: Iterable[str]) -> list[str]:
    name = canonicalize_name(project)
    out = []
    for extra in extras:
        out += [extra, f"extra-{len(name)}-{name}-{extra}"]
    out += [f"group-{len(name)}-{name}-{g}" for g in groups]
    return out


def installed_packages(
    lock: Lock,
    target: Target,
    *,
    extras: Iterable[str] = (),
    groups: Iterable[str] = (),
) -> dict[str, LockedPackage]:
    """Canonical name -> the locked package uv installs for target (the project excluded)."""
    if lock.root is None:
        raise LockError("uv.lock has no entry for the project itself")
    root = lock.root
    extras, groups = tuple(extras), tuple(groups)
    active = frozenset(canonicalize_name(e) for e in _encoded(root.name, extras, groups))

    by_name: dict[str, list[LockedPackage]] = {}
    for pkg in lock.packages:
        by_name.setdefault(canonicalize_name(pkg.name), []).append(pkg)

    edges: list[LockedDependency] = list(root.dependencies)
    for extra in extras:
        edges += root.optional_dependencies.get(extra, ())
    for group in groups:
        edges += root.dev_dependencies.get(group, ())

    chosen: dict[str, LockedPackage] = {}
    seen: set[tuple[str, str | None, tuple[str, ...]]] = set()
    while edges:
        edge = edges.pop()
        if not _applies(edge.marker, target, active):
            continue
        pkg = _pick(by_name, edge, target, active)
        key = (canonicalize_name(pkg.name), pkg.version, tuple(sorted(edge.extras)))
        if key in seen:
            continue
        seen.add(key)
        chosen[key[0]] = pkg
        edges += pkg.dependencies
        for extra in edge.extras:
            edges += pkg.optional_dependencies.get(extra, ())
    return chosen


def _pick(
    by_name: Mapping[str, list[LockedPackage]],
    edge: LockedDependency,
    target: Target,
    active: frozenset[str],
) -> LockedPackage:
    candidates = by_name.get(canonicalize_name(edge.name), [])
    if edge.version is not None:
        candidates = [p for p in candidates if p.version == edge.version]
    if len(candidates) > 1:
        # A fork without a version on the edge: the entry whose resolution markers hold.
        candidates = [
            p
            for p in candidates
            if not p.resolution_markers
            or any(_applies(m, target, active) for m in p.resolution_markers)
        ] or candidates
    if not candidates:
        raise LockError(
            f"uv.lock names {edge.name} {edge.version or ''} as a dependency but has no such package"
        )
    return candidates[0]
