"""Reads a project from disk: the only place that opens pyproject.toml, uv.lock and friends.

Everything it returns is handed to the pure parsers (Project.from_dict, Lock.from_dict)
and to make_plan.
"""

from __future__ import annotations

import itertools
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
from packaging.utils import canonicalize_name

from envforge import safeio, validate
from envforge.errors import (
    EnvforgeError,
    InvalidProjectError,
    LockError,
    PlanError,
    ProjectNotFoundError,
)
from envforge.project.context import default_ignored_folders
from envforge.project.facts import ProjectFacts
from envforge.project.freshness import lock_drift, path_drift
from envforge.project.lockfile import Lock, lock_hash
from envforge.project.pyproject import Project
from envforge.project.scriptscan import script_imports

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
    workspace = _workspace_table(data)
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
        ignored_folders=_ignored_folders(root, frozenset(p.name for p in root.iterdir())),
        build_markers=build_markers(source_root),
        workspace_member=member,
        root_build_requires=_root_build_requires(root_data),
    )
    return LoadedProject(
        root, project, lock, with_source_facts(facts, source_root, data, project), freshness
    )


def with_source_facts(
    facts: ProjectFacts, source_root: Path, data: Mapping[str, Any], project: Project
) -> ProjectFacts:
    """facts with what a bounded read of the source adds: its import packages, those with a
    __main__, and what each console script's module imports."""
    packages, main_modules = source_modules(source_root, data, is_package=project.is_package)
    return replace(
        facts,
        packages=packages,
        main_modules=main_modules,
        script_imports=console_script_imports(source_root, data, project),
    )


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


def _workspace_table(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, Mapping) else None
    workspace = uv.get("workspace") if isinstance(uv, Mapping) else None
    return workspace if isinstance(workspace, Mapping) else None


# A member folder reaches COPY lines: plain relative paths only.
_MEMBER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
_MAX_MEMBERS = 500
_MAX_GLOB_HITS = 5000  # paths read from one members glob, whatever they are
# Never workspace members: environments, caches, dependencies of other tools.
_HEAVY_FOLDERS = frozenset({"node_modules", "venv", "__pycache__", "site-packages"})


def _skipped_folder(folder: str) -> bool:
    """A hidden folder (.venv, .git, .tox) or a heavy one, or a folder inside one."""
    return any(p.startswith(".") or p in _HEAVY_FOLDERS for p in folder.split("/"))


def workspace_members(root: Path, workspace: Mapping[str, Any]) -> dict[str, str]:
    """A workspace's members, normalized name -> folder relative to root ([tool.uv.workspace]
    members globs minus exclude, each a folder with a pyproject.toml naming a project)."""

    def globbed(key: str) -> set[str]:
        patterns = workspace.get(key, [])
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise InvalidProjectError(f"'tool.uv.workspace.{key}' must be an array of strings")
        found: set[str] = set()
        for pattern in patterns:
            if pattern.startswith("/") or ".." in pattern.split("/") or not pattern.strip():
                raise InvalidProjectError(
                    f"Workspace {key} pattern {pattern!r} leaves the workspace",
                    file=str(root / "pyproject.toml"),
                )
            # The glob is read lazily and only so far: "**" would walk .venv and node_modules.
            hits = itertools.islice(root.glob(pattern), _MAX_GLOB_HITS)
            for hit in sorted(hits):
                folder = hit.relative_to(root).as_posix()
                if _skipped_folder(folder) or not hit.is_dir() or hit.is_symlink():
                    continue
                found.add(folder)
                if len(found) >= _MAX_MEMBERS:
                    break
        return found

    members: dict[str, str] = {}
    for folder in sorted(globbed("members") - globbed("exclude")):
        path = root / folder / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            name = tomllib.loads(path.read_text("utf-8")).get("project", {}).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
            continue
        if not isinstance(name, str):
            continue
        if not _MEMBER_RE.fullmatch(folder):
            raise InvalidProjectError(
                f"Workspace member folder {folder!r} has characters envforge does not copy",
                file=str(root / "pyproject.toml"),
                hint="Rename it with letters, digits, '.', '_', '-' and '/'.",
            )
        members[canonicalize_name(name)] = folder
    return members


def enclosing_workspace(root: Path, *, max_levels: int = 32) -> Path | None:
    """The root of the uv workspace that has root among its members, if any."""
    here = root.resolve()
    for parent in list(here.parents)[:max_levels]:
        pyproject = parent / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        workspace = _workspace_table(data)
        if workspace is None:
            continue
        try:
            members = workspace_members(parent, workspace)
        except InvalidProjectError:
            return None
        if here.relative_to(parent).as_posix() in members.values():
            return parent
        return None  # uv stops at the first workspace root above, and so do we
    return None


_NATIVE_SUFFIXES = frozenset({".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs"})
_MARKER_FILES = ("CMakeLists.txt", "meson.build", "Cargo.toml", "setup.py")
_SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "build", "dist", ".tox"})


def build_markers(root: Path, *, max_entries: int = 5000, max_depth: int = 4) -> frozenset[str]:
    """Signs that the project compiles, from a bounded look at its tree (no symlink followed)."""
    found = {name for name in _MARKER_FILES if (root / name).is_file()}
    setup = root / "setup.py"
    if "setup.py" in found:
        try:
            text = setup.read_bytes()[:200_000].decode("utf-8", "replace")
        except OSError:
            text = ""
        if any(word in text for word in ("ext_modules", "Extension(", "cythonize")):
            found.add("setup.py:ext_modules")
    seen = 0
    stack = [(root, 0)]
    while stack and seen < max_entries:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen >= max_entries:
                break
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if depth + 1 < max_depth and entry.name not in _SKIPPED_DIRS:
                    stack.append((Path(entry.path), depth + 1))
            elif os.path.splitext(entry.name)[1] in _NATIVE_SUFFIXES:
                found.add("native-sources")
                return frozenset(found)
    return frozenset(found)


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


# How `plan` and `build` say that nothing could tell whether the lock is up to date.
UNCHECKED = "could not be checked"
# uv's own settings that travel from the user's environment into `uv lock --check` and would
# make it judge another lock than the build's (UV_EXCLUDE_NEWER, UV_INDEX_URL, UV_PRERELEASE,
# ...): all UV_* are dropped, but for these, which change how uv connects, not what it resolves.
_UV_ENV_KEPT = frozenset(
    {"UV_CACHE_DIR", "UV_NATIVE_TLS", "UV_SYSTEM_CERTS", "UV_HTTP_TIMEOUT", "UV_NO_PROGRESS"}
)
_UV_MESSAGE_MAX = 1500


# An index's credentials say how to reach it, not what to resolve: kept too.
_UV_CREDENTIALS = re.compile(r"UV_INDEX_[A-Z0-9_]+_(USERNAME|PASSWORD)|UV_KEYRING_PROVIDER")


def _uv_env(config_home: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("UV_") or k in _UV_ENV_KEPT or _UV_CREDENTIALS.fullmatch(k)
    }
    # No user- or system-level uv.toml either (a user's exclude-newer): the build has none.
    env["XDG_CONFIG_HOME"] = config_home
    env["XDG_CONFIG_DIRS"] = config_home
    return env


def uv_message(stderr: str) -> str:
    """uv's stderr for an error line: control characters out, bounded, one line."""
    text = "".join(c if c.isprintable() or c == "\n" else " " for c in stderr)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    # uv's "Using CPython ..." and "Resolved N packages" lines say nothing about the failure.
    lines = [x for x in lines if not x.startswith(("Using ", "Resolved "))] or lines
    joined = " | ".join(lines)
    if len(joined) > _UV_MESSAGE_MAX:
        joined = joined[: _UV_MESSAGE_MAX - 3] + "..."
    return joined or "(no message)"


def check_lock_fresh(
    root: Path, project: Project, lock: Lock, *, lock_root: Path | None = None
) -> str:
    """Refuse a stale lock; say how it was found fresh, or that it could not be checked.

    uv decides when it is on PATH: `uv lock --check --offline` first (a fresh lock needs no
    network), then online; without the user's UV_* settings and uv.toml, as in the build.
    When uv fails for another reason than staleness, its own message is the error. Without
    uv, envforge compares the recorded requirements, of the project and of its local folders.
    lock_root: the folder of uv.lock when it is not root's (a workspace member's root).
    """
    where = lock_root or root
    stale_hint = "Run 'uv lock' in the project to bring uv.lock up to date, then retry."
    uv = shutil.which("uv")
    if uv:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="envforge-uv-config-") as config_home:
            env = _uv_env(config_home)
            done = None
            for offline in (True, False):
                # No Python download just to check a lock: slow, and offline sites have none.
                argv = [uv, "lock", "--check", "--no-python-downloads", "--directory", str(where)]
                try:
                    done = subprocess.run(
                        argv + (["--offline"] if offline else []),
                        capture_output=True, text=True, timeout=UV_CHECK_TIMEOUT_S,
                        check=False, env=env, stdin=subprocess.DEVNULL,
                    )  # fmt: skip
                except subprocess.TimeoutExpired:
                    return f"{UNCHECKED}: uv lock --check did not finish in {UV_CHECK_TIMEOUT_S} s"
                except OSError as exc:
                    return f"{UNCHECKED}: uv lock --check did not start ({exc.strerror or exc})"
                if done.returncode == 0:
                    return "uv lock --check" + (" --offline" if offline else "")
                if "needs to be updated" in done.stderr:
                    raise LockError(
                        f"uv.lock in '{where}' is out of date with pyproject.toml (uv lock --check)",
                        hint=stale_hint,
                    )
                if any(sign in done.stderr for sign in _NO_INTERPRETER):
                    # A fact about this host, not the lock: envforge's own comparison decides.
                    found = _fallback(root, project, lock, where, stale_hint, uv_found=True)
                    return f"{found} (uv lock --check found no Python here that requires-python allows)"
        assert done is not None
        raise LockError(
            f"uv lock --check failed in '{where}': {uv_message(done.stderr)}",
            hint="That is uv's own message: fix what it names (a missing folder or git "
            "submodule, an index it cannot reach), then retry; envforge builds only a lock "
            "that uv accepts.",
        )
    return _fallback(root, project, lock, where, stale_hint)


# uv's words when it has no interpreter for requires-python (it needs one to check a lock).
_NO_INTERPRETER = ("No interpreter found", "Failed to inspect Python interpreter")


def _fallback(
    root: Path,
    project: Project,
    lock: Lock,
    where: Path,
    stale_hint: str,
    *,
    uv_found: bool = False,
) -> str:
    """envforge's own comparison (no uv on PATH, or no Python for it): says when it cannot tell."""
    why = "uv could not run" if uv_found else "uv is not on PATH"
    drift = lock_drift(project, lock)
    local: dict[str, Project | str] = {}
    for pkg in lock.packages:
        folder = pkg.local_folder
        if pkg is lock.root or folder is None or folder in local:
            continue
        local[folder] = _local_project(where, folder)
    more, unknown = path_drift(lock, local)
    drift += more
    if drift:
        shown = "; ".join(drift[:5]) + (f"; and {len(drift) - 5} more" if len(drift) > 5 else "")
        raise LockError(
            f"uv.lock in '{where}' is out of date with pyproject.toml: {shown}", hint=stale_hint
        )
    if unknown:
        return (
            f"{UNCHECKED}: {why}, and envforge cannot compare "
            + "; ".join(unknown[:3])
            + (f"; and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        )
    return (
        f"recorded requirements match pyproject.toml; {why}, so markers and "
        "sources were not compared"
    )


def _local_project(where: Path, folder: str) -> Project | str:
    """A local folder's Project, or why envforge cannot compare it."""
    path = where / folder / "pyproject.toml"
    if not path.is_file():
        if (where / folder / "setup.py").is_file():
            return "it has setup.py and no pyproject.toml"
        return "its pyproject.toml is missing (a git submodule not checked out?)"
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return f"its pyproject.toml cannot be read ({type(exc).__name__})"
    dynamic = (
        data.get("project", {}).get("dynamic", []) if isinstance(data.get("project"), dict) else []
    )
    if isinstance(dynamic, list) and {"dependencies", "optional-dependencies"} & set(
        map(str, dynamic)
    ):
        return "its dependencies are dynamic"
    try:
        return Project.from_dict(data)
    except EnvforgeError as exc:
        return f"its pyproject.toml is invalid ({exc})"


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
    return validate.source_url(url)


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
        if base in seen or not safeio.real_dir(base):
            continue
        seen.add(base)
        for entry in _entries(base, budget):
            name = entry.name
            if not name.isidentifier() or name in _NOT_PACKAGES or not safeio.real_dir(entry):
                continue
            init, main = (
                safeio.real_file(entry / "__init__.py"),
                safeio.real_file(entry / "__main__.py"),
            )
            if init or main:
                packages.add(name)
            if main:
                mains.add(name)
    if is_package:
        for module in _configured_modules(data):
            for base in bases:
                folder = base.joinpath(*module.split("."))
                if safeio.real_dir(folder) and safeio.real_file(folder / "__main__.py"):
                    mains.add(module)
                    packages.add(module.split(".")[0])
    return frozenset(packages), frozenset(mains)


def console_script_imports(
    root: Path, data: Mapping[str, Any], project: Project
) -> dict[str, frozenset[str]]:
    """What each console script's module imports on load (scriptscan): a package's only,
    looked for where source_modules looks for its packages."""
    if not project.is_package or not project.scripts:
        return {}
    bases = [root, *(root / where for where in _module_roots(data))]
    return script_imports(root, list(dict.fromkeys(bases)), project.scripts)


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
