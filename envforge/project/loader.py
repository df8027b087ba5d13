"""Reads a project from disk: the one entry point that opens pyproject.toml, uv.lock and
.python-version, and gathers the rest through its neighbours (workspace: the members;
lockcheck: is the lock fresh; git: origin and revision; sources: the bounded source scan).

Everything it returns is handed to the pure parsers (Project.from_dict, Lock.from_dict)
and to make_plan.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from envforge import parsecache, safeio
from envforge.errors import (
    EnvforgeError,
    InvalidProjectError,
    LockError,
    PlanError,
    ProjectNotFoundError,
)
from envforge.project.facts import ProjectFacts
from envforge.project.git import git_remote_url, git_revision
from envforge.project.lockcheck import UNCHECKED, check_lock_fresh
from envforge.project.lockfile import Lock, lock_hash
from envforge.project.pyproject import Project
from envforge.project.sources import build_markers, ignored_folders, with_source_facts
from envforge.project.workspace import enclosing_workspace, workspace_members, workspace_table

# The door of project/: commands read a project, check its lock and ask git through here
# (tests replace these names here to keep git and uv out).
__all__ = [
    "UNCHECKED",
    "LoadedProject",
    "check_lock_fresh",
    "git_remote_url",
    "git_revision",
    "load_project",
]


@dataclass(frozen=True)
class LoadedProject:
    root: Path
    project: Project
    lock: Lock
    facts: ProjectFacts
    freshness: str  # how the lock was found up to date, for `envforge plan`


def load_project(
    path: str | Path, *, check_lock: bool = True, package: str | None = None
) -> LoadedProject:
    """The project at path; package: the member to build, when path is a uv workspace root."""
    root = Path(path)
    if not root.exists():
        raise ProjectNotFoundError(str(path), missing=True)
    if root.is_file() and root.name == "pyproject.toml":
        root = root.parent
    pyproject_path = root / "pyproject.toml"
    if not pyproject_path.exists() and not pyproject_path.is_symlink():
        raise ProjectNotFoundError(str(root))
    data = _parse_pyproject(pyproject_path)
    workspace = workspace_table(data)
    member: str | None = None
    root_data: Mapping[str, Any] | None = None
    own = data.get("project", {}).get("name") if isinstance(data.get("project"), Mapping) else None
    if package is not None and isinstance(own, str) and _same(own, package):
        package = None  # the workspace root's own project: built as without --package
    if package is not None:
        if workspace is None:
            raise PlanError(
                f"--package {package}: '{root}' is not a uv workspace root",
                hint="--package names a member of the workspace whose root is PATH "
                "(its pyproject.toml has [tool.uv.workspace]).",
            )
        members = workspace_members(root, workspace)
        member = members.get(canonicalize_name(package))
        if member is None:
            raise PlanError(
                f"No member {package!r} in the uv workspace at '{root}'",
                hint=f"Its members: {', '.join(sorted(members)) or 'none'}.",
            )
        root_data = data
        data = _parse_pyproject(root / member / "pyproject.toml")
    elif workspace is not None and "project" not in data:
        members = workspace_members(root, workspace)
        raise PlanError(
            f"'{root}' is a virtual uv workspace root (no [project]): name the member to build",
            hint=f"envforge build {root} --package NAME "
            f"(members: {', '.join(sorted(members)) or 'none'}).",
        )
    project = Project.from_dict(data)

    lock_path = root / "uv.lock"
    if not lock_path.exists() and not lock_path.is_symlink():
        enclosing = enclosing_workspace(root)
        if enclosing is not None:
            raise LockError(
                f"'{root}' is the member {project.name} of the uv workspace at "
                f"'{enclosing}', whose uv.lock builds it",
                hint=f"Run envforge on the workspace root with --package {project.name}: "
                f"envforge build {enclosing} --package {project.name}",
            )
        raise LockError(
            f"No uv.lock in '{root}'",
            hint="Run 'uv lock' in the project, then commit uv.lock: envforge builds exactly the lock.",
        )
    lock_bytes = _read_bytes(lock_path)
    try:
        # tomllib for the lock (locks of GPU projects run to thousands of lines), its
        # parse remembered by the lock's sha256.
        lock_data = parsecache.parsed("uv.lock", lock_bytes, _toml_of)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LockError(
            f"Invalid TOML in '{lock_path}' ({_one_line(exc)})",
            hint="Regenerate it with 'uv lock'.",
        ) from None
    except RecursionError:
        raise LockError(
            f"Invalid TOML in '{lock_path}' (values nested too deep)",
            hint="Regenerate it with 'uv lock'.",
        ) from None
    lock = Lock.from_dict(lock_data, project_name=project.name, root_folder=member or ".")

    freshness = "not checked"
    if check_lock:
        freshness = check_lock_fresh(root, project, lock)

    pv = root / ".python-version"
    # A workspace member's own folder holds its source; the workspace root is the context.
    source_root = root / (member or ".")
    top_level = frozenset(p.name for p in source_root.iterdir())
    facts = ProjectFacts(
        lock_hash=lock_hash(lock_bytes),
        python_version_file=_read(pv) if pv.exists() or pv.is_symlink() else None,
        top_level=top_level,
        git_source=git_remote_url(root),
        # Only a dynamic version needs it (the default tag); build reads it again anyway.
        revision=git_revision(root) if project.dynamic_version else None,
        ignored_folders=ignored_folders(root, frozenset(p.name for p in root.iterdir())),
        build_markers=build_markers(source_root),
        workspace_member=member,
        root_build_requires=_root_build_requires(root_data),
    )
    return LoadedProject(
        root, project, lock, with_source_facts(facts, source_root, data, project), freshness
    )


def _toml_of(data: bytes) -> dict[str, Any]:
    return tomllib.loads(data.decode("utf-8"))


def _same(a: str, b: str) -> bool:
    return canonicalize_name(a) == canonicalize_name(b)


def _parse_pyproject(path: Path) -> dict[str, Any]:
    if not path.exists() and not path.is_symlink():
        raise ProjectNotFoundError(str(path.parent))
    text = _read(path)
    try:
        # tomllib reads it (ten times faster on a large pyproject.toml); tomlkit only
        # explains a file that tomllib refuses: its errors carry line and column.
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        pass
    import tomlkit  # only to explain the error: its import alone costs ~40 ms
    import tomlkit.exceptions

    try:
        data: dict[str, Any] = tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.TOMLKitError as exc:  # ParseError, KeyAlreadyPresent...
        raise InvalidProjectError(
            f"Invalid TOML ({_one_line(exc)})", file=str(path), hint="Fix the syntax at that line."
        ) from None
    except RecursionError:
        raise InvalidProjectError(
            "Invalid TOML (values nested too deep)",
            file=str(path),
            hint="Flatten the nested arrays or tables.",
        ) from None
    return data


def _root_build_requires(data: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The workspace root's [build-system] requires, read as Project reads the member's."""
    if data is None or not isinstance(data.get("project"), Mapping):
        return ()
    try:
        return tuple(str(r) for r in Project.from_dict(data).build_requires)
    except EnvforgeError:
        return ()  # the root's own project is not what is built: its faults are uv's to report


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _read_bytes(path: Path) -> bytes:
    """A regular file's bytes; a FIFO, a directory or an unreadable file is refused
    (InputError, never read: a FIFO would hang)."""
    return safeio.read_bytes(path)


def _read(path: Path) -> str:
    data = _read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidProjectError(
            f"Not UTF-8 text ({exc.reason} at byte {exc.start})",
            file=str(path),
            hint="Save the file as UTF-8.",
        ) from None
