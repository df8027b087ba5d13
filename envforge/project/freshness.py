"""Is uv.lock up to date with pyproject.toml? The pure fallback for when uv is not on PATH.

uv records, in the root package's metadata, the requirements it resolved from. We
compare names, extras, specifiers and the extra/group each belongs to. uv rewrites
markers (python_version becomes python_full_version, say), so markers other than
``extra == '...'`` are not compared: `uv lock --check` catches those edits.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envforge.project.lockfile import Lock, LockedRequirement, RootMetadata
from envforge.project.pyproject import Project

_EXTRA_RE = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")

# (name, extras, specifier, extra-or-None)
_Key = tuple[str, tuple[str, ...], str, str | None]
# The specifier of a requirement uv records from a direct source, as messages show it.
_DIRECT = " (from a direct source)"


def _spec(text: str) -> str:
    """A specifier set in one spelling: its versions normalised as uv records them
    (`==v0.14.0` is `==0.14.0`, `>=1.0.0-rc1` is `>=1.0.0rc1`), `===` left as written."""
    if not text:
        return ""
    parts = []
    for spec in SpecifierSet(text):
        version, wildcard = spec.version, ""
        if spec.operator != "===":
            if version.endswith(".*"):
                version, wildcard = version[:-2], ".*"
            with contextlib.suppress(InvalidVersion):
                version = str(Version(version))
        parts.append(f"{spec.operator}{version}{wildcard}")
    return ",".join(sorted(parts))


def _from_lock(req: LockedRequirement) -> _Key:
    match = _EXTRA_RE.search(req.marker or "")
    extra = canonicalize_name(match.group(1)) if match else None
    extras = tuple(sorted(canonicalize_name(e) for e in req.extras))
    spec = _DIRECT if req.direct else _spec(req.specifier)
    return (canonicalize_name(req.name), extras, spec, extra)


def _from_project(req: Requirement, extra: str | None) -> _Key:
    extras = tuple(sorted(canonicalize_name(e) for e in req.extras))
    return (canonicalize_name(req.name), extras, _spec(str(req.specifier)), extra)


def _describe(key: _Key) -> str:
    name, extras, spec, extra = key
    text = name + (f"[{','.join(extras)}]" if extras else "") + spec
    return text + (f" (extra '{extra}')" if extra else "")


def _diff(where: str, wanted: Iterable[_Key], locked: Iterable[LockedRequirement]) -> list[str]:
    """What one side has that the other lacks. uv records a requirement with a direct source
    (a git, url or path entry of [tool.uv.sources], a URL in the requirement) without its
    specifier, the source in its place: any requirement of that name and extra matches it."""
    want = set(wanted)
    have = {_from_lock(r) for r in locked}
    direct = {(n, e, x) for n, e, s, x in have if s == _DIRECT}
    wanted_names = {(n, e, x) for n, e, _, x in want}
    missing = {k for k in want - have if (k[0], k[1], k[3]) not in direct}
    extra = {k for k in have - want if k[2] != _DIRECT or (k[0], k[1], k[3]) not in wanted_names}
    return [
        f"{where}: {_describe(k)} is in {a} but not in {b}"
        for keys, a, b in (
            (missing, "pyproject.toml", "uv.lock"),
            (extra, "uv.lock", "pyproject.toml"),
        )
        for k in sorted(keys, key=str)
    ]


def same_pythons(a: SpecifierSet | None, b: SpecifierSet | None) -> bool:
    """Whether two requires-python specifiers allow the same Python releases (X.Y.Z):
    uv rewrites '~=3.10' as '>=3.10, <4'.

    A specifier's verdict changes only at the releases its clauses name (and, for '~=' and
    '.*', the next minor or major), so the two agree everywhere when they agree at each
    of those, at the release just after each, and at 0.0.0."""
    if str(a or "") == str(b or ""):
        return True
    sa, sb = a or SpecifierSet(), b or SpecifierSet()
    return all(sa.contains(v) == sb.contains(v) for v in _probes(sa, sb))


def _probes(*sets: SpecifierSet) -> list[str]:
    edges: set[tuple[int, int, int]] = set()
    for spec in (s for specs in sets for s in specs):
        text = spec.version.removesuffix(".*")
        try:
            release = Version(text).release
        except InvalidVersion:
            continue  # '===' with a version no Python has
        major, minor, patch = (*release, 0, 0)[:3]
        edges |= {(major, minor, patch), (major, minor + 1, 0), (major + 1, 0, 0)}
    probes = {(0, 0, 0)} | edges | {(x, y, z + 1) for x, y, z in edges}
    return [f"{x}.{y}.{z}" for x, y, z in sorted(probes)]


def lock_drift(project: Project, lock: Lock) -> list[str]:
    """Each way in which uv.lock disagrees with pyproject.toml; empty when in step."""
    if lock.root is None:
        return [f"uv.lock has no entry for the project '{project.name}'"]
    drift: list[str] = []
    if not same_pythons(project.requires_python, lock.requires_python):
        drift.append(
            f"requires-python: pyproject.toml says '{project.requires_python or ''}', "
            f"uv.lock says '{lock.requires_python or ''}'"
        )
    return drift + metadata_drift(project, lock.root_metadata)


def path_drift(lock: Lock, local: Mapping[str, Project | str]) -> tuple[list[str], list[str]]:
    """The lock's local-folder packages (path sources, workspace members) against their own
    pyproject.toml: local maps each folder to its Project, or to why it cannot be read.
    Returns (drift, what could not be compared)."""
    drift: list[str] = []
    unknown: list[str] = []
    for pkg in lock.packages:
        folder = pkg.local_folder
        if pkg is lock.root or folder is None or folder not in local:
            continue
        project = local[folder]
        if isinstance(project, str):
            unknown.append(f"{pkg.name} ({folder}): {project}")
            continue
        if canonicalize_name(project.name) != canonicalize_name(pkg.name):
            drift.append(f"{folder}: pyproject.toml names '{project.name}', uv.lock '{pkg.name}'")
            continue
        if pkg.metadata is not None:
            drift += [f"{folder}: {d}" for d in metadata_drift(project, pkg.metadata)]
    return drift, unknown


def metadata_drift(project: Project, meta: RootMetadata) -> list[str]:
    """How a package's recorded [package.metadata] differs from its pyproject.toml."""
    drift: list[str] = []
    wanted = [_from_project(r, None) for r in project.dependencies]
    for extra, reqs in project.optional_dependencies.items():
        wanted += [_from_project(r, canonicalize_name(extra)) for r in reqs]
    drift += _diff("dependencies", wanted, meta.requires_dist)

    # Group names compare normalized (PEP 735), as uv writes them.
    ours = {canonicalize_name(g): g for g in project.dependency_groups}
    locked_groups = {canonicalize_name(g): reqs for g, reqs in meta.requires_dev.items()}
    for key in sorted(set(ours) | set(locked_groups)):
        if key not in ours:
            drift.append(f"dependency group '{key}' is in uv.lock but not in pyproject.toml")
            continue
        wanted_reqs = _flatten(project, ours[key])
        if key not in locked_groups and not wanted_reqs:
            continue  # an empty group leaves no trace in the lock
        drift += _diff(
            f"group '{ours[key]}'",
            [_from_project(r, None) for r in wanted_reqs],
            locked_groups.get(key, ()),
        )
    return drift


def _flatten(project: Project, group: str, seen: frozenset[str] = frozenset()) -> list[Requirement]:
    """A group's requirements with its include-group entries expanded, as uv records them."""
    if group in seen:
        return []
    entry = project.dependency_groups[group]
    reqs = list(entry.requirements)
    for inc in entry.includes:
        reqs += _flatten(project, inc, seen | {group})
    return reqs
