"""Which locked packages `uv sync` installs for one target (Python, Linux, x86_64). Pure.

A universal uv.lock holds every platform and Python at once and may fork (torch 2.14.1
for Python 3.10, 2.15.0 for 3.11+). What an image gets is the subgraph reachable from
the project under the image's markers: this module walks it, as uv does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.utils import canonicalize_name

from envforge.errors import LockError
from envforge.project.lockfile import Lock, LockedDependency, LockedPackage

_EXTRA_RE = re.compile(r"""\bextra\s*(==|!=)\s*(['"])(.*?)\2""")


@dataclass(frozen=True)
class Target:
    """The environment an image runs in, as PEP 508 markers see it."""

    python_full_version: str  # "3.11.16": the base image's own patch release
    sys_platform: str = "linux"
    platform_machine: str = "x86_64"

    def environment(self) -> dict[str, str]:
        major_minor = ".".join(self.python_full_version.split(".")[:2])
        return {
            "python_full_version": self.python_full_version,
            "python_version": major_minor,
            "implementation_version": self.python_full_version,
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "sys_platform": self.sys_platform,
            "platform_system": "Linux" if self.sys_platform == "linux" else self.sys_platform,
            "platform_machine": self.platform_machine,
            "os_name": "posix",
            "platform_release": "",
            "platform_version": "",
            "extra": "",
        }


def _applies(marker: str | None, env: Mapping[str, str], extras: Iterable[str]) -> bool:
    """Whether a lock's marker holds for env; LockError for a marker that does not parse
    or cannot be evaluated (an int, '~=' on a platform name, an unknown variable)."""
    if not marker:
        return True
    shown = repr(marker) if len(repr(marker)) <= 120 else repr(marker)[:117] + "..."
    if not isinstance(marker, str):
        raise LockError(
            f"Invalid marker {shown} in uv.lock: expected a string",
            hint="Regenerate the lock with 'uv lock'.",
        )
    try:
        return _evaluate(marker, env, extras)
    except InvalidMarker:
        raise LockError(
            f"Invalid marker {shown} in uv.lock", hint="Regenerate the lock with 'uv lock'."
        ) from None
    except (UndefinedComparison, UndefinedEnvironmentName, ValueError, TypeError) as exc:
        raise LockError(
            f"Marker {shown} in uv.lock cannot be evaluated ({exc})",
            hint="Regenerate the lock with 'uv lock'.",
        ) from None


def _evaluate(marker: str, env: Mapping[str, str], extras: Iterable[str]) -> bool:
    parsed = Marker(marker)
    if "extra" not in marker:
        return parsed.evaluate(dict(env))
    # uv encodes conflicting extras and groups as extra names ('extra-9-gpu-torch-cu124')
    # and means a set: `extra != 'x'` holds when x is not active, whatever else is.
    active = {canonicalize_name(e) for e in extras}

    def decide(match: re.Match[str]) -> str:
        holds = (canonicalize_name(match[3]) in active) == (match[1] == "==")
        return "extra == ''" if holds else "extra != ''"

    return Marker(_EXTRA_RE.sub(decide, marker)).evaluate({**env, "extra": ""})


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
    env = target.environment()
    extras, groups = tuple(extras), tuple(groups)
    active = _encoded(root.name, extras, groups)

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
        if not _applies(edge.marker, env, active):
            continue
        pkg = _pick(by_name, edge, env, active)
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
    env: Mapping[str, str],
    active: Iterable[str],
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
            or any(_applies(m, env, active) for m in p.resolution_markers)
        ] or candidates
    if not candidates:
        raise LockError(
            f"uv.lock names {edge.name} {edge.version or ''} as a dependency but has no such package"
        )
    return candidates[0]
