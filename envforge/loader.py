"""Reads a project from disk: the only place that opens pyproject.toml, uv.lock and friends.

Everything it returns is handed to the pure parsers (Project.from_dict, Lock.from_dict)
and to make_plan.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from envforge.errors import InvalidProjectError, LockError, ProjectNotFoundError
from envforge.freshness import lock_drift
from envforge.lockfile import Lock, lock_hash
from envforge.plan import ProjectFacts, default_ignored_folders
from envforge.project import Project

UV_CHECK_TIMEOUT_S = 60
# The source scan looks at a few folders, one level deep each: at most this many entries.
SCAN_MAX_ENTRIES = 2000
# Folders that are never the project's import package (setuptools' discovery skips them too).
_NOT_PACKAGES = frozenset(
    {"tests", "test", "docs", "doc", "examples", "example", "benchmarks", "bench", "scripts",
     "tools", "build", "dist", "site-packages", "node_modules", "venv", "__pycache__"}
)  # fmt: skip


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
    if not pyproject_path.is_file():
        raise ProjectNotFoundError(str(root))
    text = _read(pyproject_path)
    try:
        # tomlkit, not tomllib: its errors carry line and column for the user.
        data = tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.ParseError as exc:
        raise InvalidProjectError(
            f"Invalid TOML ({exc})", file=str(pyproject_path), hint="Fix the syntax at that line."
        ) from None
    project = Project.from_dict(data)

    lock_path = root / "uv.lock"
    if not lock_path.is_file():
        raise LockError(
            f"No uv.lock in '{root}'",
            hint="Run 'uv lock' in the project, then commit uv.lock: envforge builds exactly the lock.",
        )
    lock_bytes = lock_path.read_bytes()
    try:
        # tomllib for the lock: locks of GPU projects run to thousands of lines.
        lock_data = tomllib.loads(lock_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LockError(
            f"Invalid TOML in '{lock_path}' ({exc})", hint="Regenerate it with 'uv lock'."
        ) from None
    lock = Lock.from_dict(lock_data, project_name=project.name)

    freshness = "not checked"
    if check_lock:
        freshness = check_lock_fresh(root, project, lock)

    pv = root / ".python-version"
    top_level = frozenset(p.name for p in root.iterdir())
    facts = ProjectFacts(
        lock_hash=lock_hash(lock_bytes),
        python_version_file=_read(pv) if pv.is_file() else None,
        top_level=top_level,
        git_source=git_remote_url(root),
        # Only a dynamic version needs it (the default tag); build reads it again anyway.
        revision=git_revision(root) if project.dynamic_version else None,
        ignored_folders=_ignored_folders(root, top_level),
    )
    packages, main_modules = source_modules(root, data, is_package=project.is_package)
    facts = replace(facts, packages=packages, main_modules=main_modules)
    return LoadedProject(root, project, lock, facts, freshness)


_PY_SCAN_LIMIT = 1000  # entries read per folder: a data folder may hold millions of files


def _ignored_folders(root: Path, top_level: frozenset[str]) -> tuple[tuple[str, bool], ...]:
    """The default-ignored folder names at the root, each with whether it holds .py files
    itself (one level, at most _PY_SCAN_LIMIT entries): a bounded look, no walk."""
    from itertools import islice

    found = []
    for name in default_ignored_folders():
        path = root / name
        if name not in top_level or path.is_symlink() or not path.is_dir():
            continue
        try:
            with os.scandir(path) as entries:
                holds_py = any(
                    e.name.endswith(".py") and e.is_file(follow_symlinks=False)
                    for e in islice(entries, _PY_SCAN_LIMIT)
                )
        except OSError:
            holds_py = False
        found.append((name, holds_py))
    return tuple(sorted(found))


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidProjectError(f"Cannot read ({exc})", file=str(path)) from None


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
    return source_url(url)


_SCP_RE = re.compile(r"(?:[^@/:\s]+@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?!//)(?P<path>[^\s]+)")
_URL_RE = re.compile(
    r"(?:git\+)?(?P<scheme>https?|ssh|git)://(?:[^@/\s]*@)?"
    r"(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*)(?::(?P<port>\d{1,5}))?(?P<path>/[^\s]*)?"
)


def source_url(remote: str) -> str | None:
    """A git remote as the https URL the OCI source label carries, or None.

    scp-style (git@github.com:o/r.git), ssh:// and git:// remotes become
    https://host/path (their ports are not https's, so dropped); http(s) keeps its scheme
    and port. Credentials and a trailing .git are dropped; a local path, file:// or
    anything unparsable (spaces, control characters) gives None: no label.
    """
    if not remote.isprintable() or remote != remote.strip():
        return None
    if match := _URL_RE.fullmatch(remote):
        scheme, host, port = match["scheme"], match["host"], match["port"]
        path = match["path"] or ""
        if scheme in ("ssh", "git"):
            scheme, port = "https", None
        # ssh://host/~user/repo is a home-relative path: no web page says where.
        if path.startswith("/~"):
            return None
    elif "://" not in remote and (match := _SCP_RE.fullmatch(remote)):
        scheme, host, port = "https", match["host"], None
        path = "/" + match["path"].lstrip("/")
        if len(host) == 1:  # C:\repo, a Windows drive
            return None
    else:
        return None
    path = path.rstrip("/").removesuffix(".git").rstrip("/")
    if not path.strip("/"):
        return None
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}"


GENERATED_FILES = ("Dockerfile", ".dockerignore", "compose.yaml")


def git_revision(root: Path) -> str | None:
    """HEAD's commit, with '-dirty' when the project's tree has changes (beyond
    GENERATED_FILES, which envforge writes)."""
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
        # envforge's own outputs do not make the tree dirty: else the Dockerfile that the
        # first build writes would tag every later build of the same commit -dirty.
        dirty = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain", "--", ".",
             *(f":(exclude){name}" for name in GENERATED_FILES)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def source_modules(
    root: Path, data: Mapping[str, Any], *, is_package: bool
) -> tuple[frozenset[str], frozenset[str]]:
    """The project's top-level import packages, and the modules among them (or named by
    the build backend's settings) that have a __main__.py.

    A bounded scan: the project folder and src/ (or the backend's module root), one level
    each, at most SCAN_MAX_ENTRIES entries; hidden folders, .venv, node_modules and
    symlinks are never entered. A non-package project runs from its copied source, so only
    its top level counts."""
    budget = [SCAN_MAX_ENTRIES]
    bases = [root]
    if is_package:
        bases += [root / where for where in _module_roots(data)]
    packages: set[str] = set()
    mains: set[str] = set()
    seen: set[Path] = set()
    for base in bases:
        if base in seen or not _real_dir(base):
            continue
        seen.add(base)
        for entry in _entries(base, budget):
            name = entry.name
            if not name.isidentifier() or name in _NOT_PACKAGES or not _real_dir(entry):
                continue
            init, main = _real_file(entry / "__init__.py"), _real_file(entry / "__main__.py")
            if init or main:
                packages.add(name)
            if main:
                mains.add(name)
    if is_package:
        for module in _configured_modules(data):
            for base in bases:
                folder = base.joinpath(*module.split("."))
                if _real_dir(folder) and _real_file(folder / "__main__.py"):
                    mains.add(module)
                    packages.add(module.split(".")[0])
    return frozenset(packages), frozenset(mains)


def _entries(folder: Path, budget: list[int]) -> list[Path]:
    out: list[Path] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
                if not entry.name.startswith("."):
                    out.append(folder / entry.name)
    except OSError:
        pass
    return sorted(out)


def _real_dir(path: Path) -> bool:
    try:
        return not path.is_symlink() and path.is_dir()
    except OSError:
        return False


def _real_file(path: Path) -> bool:
    try:
        return not path.is_symlink() and path.is_file()
    except OSError:
        return False


def _table(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _module_roots(data: Mapping[str, Any]) -> list[str]:
    """Folders, relative to the project, where build backends look for the package."""
    roots = ["src"]
    uv_root = _table(data, "tool", "uv", "build-backend", "module-root")
    roots += _strings(uv_root)
    package_dir = _table(data, "tool", "setuptools", "package-dir")
    if isinstance(package_dir, Mapping):
        roots += _strings(package_dir.get(""))
    roots += _strings(_table(data, "tool", "setuptools", "packages", "find", "where"))
    for path in _strings(_table(data, "tool", "hatch", "build", "targets", "wheel", "packages")):
        parent = path.replace("\\", "/").rstrip("/").rpartition("/")[0]
        if parent:
            roots.append(parent)
    return [r for r in dict.fromkeys(roots) if _inside(r)]


def _configured_modules(data: Mapping[str, Any]) -> list[str]:
    """Import names the build backend's settings give (uv_build, flit, hatch, setuptools)."""
    names = _strings(_table(data, "tool", "uv", "build-backend", "module-name"))
    names += _strings(_table(data, "tool", "flit", "module", "name"))
    for path in _strings(_table(data, "tool", "hatch", "build", "targets", "wheel", "packages")):
        names.append(path.replace("\\", "/").rstrip("/").rpartition("/")[2])
    packages = _table(data, "tool", "setuptools", "packages")
    if isinstance(packages, list):
        names += _strings(packages)
    return [n for n in dict.fromkeys(names) if n and all(p.isidentifier() for p in n.split("."))]


def _inside(relative: str) -> bool:
    parts = relative.replace("\\", "/").split("/")
    return bool(relative) and not relative.startswith("/") and ".." not in parts
