"""Reads a project from disk: the only place that opens pyproject.toml, uv.lock and friends.

Everything it returns is handed to the pure parsers (Project.from_dict, Lock.from_dict)
and to make_plan.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomlkit
import tomlkit.exceptions

from envforge import safeio
from envforge.errors import InvalidProjectError, LockError, ProjectNotFoundError
from envforge.freshness import lock_drift
from envforge.lockfile import Lock, lock_hash
from envforge.plan import ProjectFacts
from envforge.project import Project

UV_CHECK_TIMEOUT_S = 60


@dataclass(frozen=True)
class LoadedProject:
    root: Path
    project: Project
    lock: Lock
    facts: ProjectFacts
    freshness: str  # how the lock was found up to date, for `envforge plan`


def load_project(path: str | Path, *, check_lock: bool = True) -> LoadedProject:
    root = Path(path)
    if not root.exists():
        raise ProjectNotFoundError(str(path), missing=True)
    if root.is_file() and root.name == "pyproject.toml":
        root = root.parent
    pyproject_path = root / "pyproject.toml"
    if not pyproject_path.exists() and not pyproject_path.is_symlink():
        raise ProjectNotFoundError(str(root))
    text = _read(pyproject_path)
    try:
        # tomlkit, not tomllib: its errors carry line and column for the user.
        data = tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.TOMLKitError as exc:  # ParseError, KeyAlreadyPresent...
        raise InvalidProjectError(
            f"Invalid TOML ({_one_line(exc)})",
            file=str(pyproject_path),
            hint="Fix the syntax at that line.",
        ) from None
    except RecursionError:
        raise InvalidProjectError(
            "Invalid TOML (values nested too deep)",
            file=str(pyproject_path),
            hint="Flatten the nested arrays or tables.",
        ) from None
    project = Project.from_dict(data)

    lock_path = root / "uv.lock"
    if not lock_path.exists() and not lock_path.is_symlink():
        raise LockError(
            f"No uv.lock in '{root}'",
            hint="Run 'uv lock' in the project, then commit uv.lock: envforge builds exactly the lock.",
        )
    lock_bytes = _read_bytes(lock_path)
    try:
        # tomllib for the lock: locks of GPU projects run to thousands of lines.
        lock_data = tomllib.loads(lock_bytes.decode("utf-8"))
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
    lock = Lock.from_dict(lock_data, project_name=project.name)

    freshness = "not checked"
    if check_lock:
        freshness = check_lock_fresh(root, project, lock)

    pv = root / ".python-version"
    facts = ProjectFacts(
        lock_hash=lock_hash(lock_bytes),
        python_version_file=_read(pv) if pv.exists() or pv.is_symlink() else None,
        top_level=frozenset(p.name for p in root.iterdir()),
        git_source=git_remote_url(root),
    )
    return LoadedProject(root, project, lock, facts, freshness)


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


def check_lock_fresh(root: Path, project: Project, lock: Lock) -> str:
    """Refuse a stale lock. uv decides when it is on PATH; else compare recorded requirements."""
    stale_hint = "Run 'uv lock' in the project to bring uv.lock up to date, then retry."
    uv = shutil.which("uv")
    if uv:
        try:
            done = subprocess.run(
                [uv, "lock", "--check", "--directory", str(root)],
                capture_output=True,
                text=True,
                timeout=UV_CHECK_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is not None and done.returncode == 0:
            return "uv lock --check"
        if done is not None and "needs to be updated" in done.stderr:
            raise LockError(
                f"uv.lock in '{root}' is out of date with pyproject.toml (uv lock --check)",
                hint=stale_hint,
            )
        # uv failed for another reason (no network, say): fall back to our own comparison.
    drift = lock_drift(project, lock)
    if drift:
        shown = "; ".join(drift[:5]) + (f"; and {len(drift) - 5} more" if len(drift) > 5 else "")
        raise LockError(
            f"uv.lock in '{root}' is out of date with pyproject.toml: {shown}", hint=stale_hint
        )
    return "recorded requirements match pyproject.toml" + (
        "" if not uv else " (uv lock --check could not run)"
    )


def git_remote_url(root: Path) -> str | None:
    """The origin's URL, with any credentials removed, for the image's source label."""
    git = shutil.which("git")
    if not git:
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    url = done.stdout.strip()
    if done.returncode != 0 or not url:
        return None
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://{rest.split('@', 1)[1]}"
    return url


def git_revision(root: Path) -> str | None:
    """HEAD's commit, with '-dirty' when the tree has changes."""
    git = shutil.which("git")
    if not git:
        return None
    try:
        head = subprocess.run(
            [git, "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
