"""A remembered `uv lock --check --offline` pass, so that a rebuild after a code edit does not
wait ~0.3 s for uv to say again what it said about the same files.

The key is the sha256 of everything uv reads to judge the lock (seen with strace on
uv 0.13): pyproject.toml, uv.toml and .python-version of the project folder and of every
folder above it (uv looks upwards for its settings, the Python pin and an enclosing
workspace), uv.lock, the pyproject.toml of every local package the lock or a workspace
members glob names and of the folders between it and the project (uv looks there for
the package's own workspace), a local wheel's bytes, what lies where a members glob
looks, the project's .venv, the uv binary and the environment uv is given. A stale verdict
is impossible because any edit to those files changes the key, and a project whose
metadata uv would have to build (dynamic dependencies, a setup.py, an sdist) is never
remembered: its verdict rests on files no key can list. Only a pass is stored; a stale
lock or a failure runs uv every time. The key is taken before and after uv runs and
stored only when both agree, so a file edited while uv reads it is not remembered.

Stored in XDG_CACHE_HOME/envforge/lock-check.json (written atomically); a cache that
cannot be read or written is ignored, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from envforge import safeio
from envforge.errors import InputError
from envforge.project.lockfile import Lock

_VERSION = 1
_MAX_KEYS = 256  # the newest passes kept: one per project state
_MAX_LISTED = 2000  # entries read under one members glob before giving up on the key
# uv reads these from its environment to find its cache and an interpreter.
_ENV = ("PATH", "HOME", "VIRTUAL_ENV", "CONDA_PREFIX", "XDG_DATA_HOME", "XDG_CACHE_HOME")
_GLOB_CHARS = frozenset("*?[")


class _Uncacheable(Exception):
    """The project's verdict rests on files the key cannot list."""


def cache_file() -> Path:
    return safeio.cache_dir() / "lock-check.json"


def verdict_key(uv: str, root: Path, lock: Lock, env: Mapping[str, str]) -> str | None:
    """The key of uv's verdict on the project at root, or None when none can be trusted."""
    try:
        parts = list(_inputs(uv, root.resolve(), lock, env))
    except (_Uncacheable, OSError, ValueError, RecursionError):
        return None
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def known_fresh(key: str) -> bool:
    return key in _read()


def remember_fresh(key: str) -> None:
    kept = [k for k in _read() if k != key][-(_MAX_KEYS - 1) :]
    keys = [*kept, key]
    path = cache_file()
    with contextlib.suppress(OSError, InputError):
        path.parent.mkdir(parents=True, exist_ok=True)
        safeio.write_text_atomic(path, json.dumps({"version": _VERSION, "fresh": keys}))


def _read() -> list[str]:
    try:
        data = json.loads(safeio.read_bytes(cache_file()))  # a FIFO there is refused, not read
    except (InputError, ValueError, RecursionError):
        return []
    keys = data.get("fresh") if isinstance(data, dict) and data.get("version") == _VERSION else []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _inputs(uv: str, root: Path, lock: Lock, env: Mapping[str, str]) -> Iterator[Any]:
    yield ["v", _VERSION, str(root)]
    binary = os.stat(os.path.realpath(uv))
    yield ["uv", os.path.realpath(uv), binary.st_size, binary.st_mtime_ns, binary.st_ino]
    yield ["env", {k: v for k, v in env.items() if k in _ENV or k.startswith("UV_")}]
    for above in (root, *root.parents):
        for name in ("pyproject.toml", "uv.toml", ".python-version"):
            yield [str(above / name), _digest(above / name)]
    yield ["uv.lock", _digest(root / "uv.lock")]
    yield [".venv", _digest(root / ".venv" / "pyvenv.cfg")]  # uv may judge with its Python
    project = _toml(root / "pyproject.toml")
    _check_static(root, project, is_root=True)
    for folder in sorted(_lock_folders(lock)):
        yield from _local_package(root, folder)
    workspace = _table(_table(project.get("tool")).get("uv")).get("workspace")
    if workspace is not None:
        for key in ("members", "exclude"):
            patterns = _table(workspace).get(key, [])
            if not isinstance(patterns, list):
                raise _Uncacheable
            for pattern in patterns:
                for folder in sorted(_glob_candidates(root, str(pattern))):
                    yield from _candidate(root, folder)


def _table(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Uncacheable
    return value


def _lock_folders(lock: Lock) -> set[str]:
    """The local packages the lock names (the project, members, path sources, wheels)."""
    folders = {
        pkg.source[kind]
        for pkg in lock.packages
        for kind in ("editable", "virtual", "directory", "path")
        if kind in pkg.source
    }
    return folders - {"."}


def _glob_candidates(root: Path, pattern: str) -> list[str]:
    """Every path a members glob could match, whatever glob rules uv follows: all that
    lies, hidden names included, as deep under the glob's fixed prefix as it reaches."""
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    if "**" in parts or ".." in parts or pattern.startswith("/"):
        raise _Uncacheable
    fixed = 0
    while fixed < len(parts) and not _GLOB_CHARS & set(parts[fixed]):
        fixed += 1
    level = [Path(*parts[:fixed])]
    for _ in range(len(parts) - fixed):
        level = [p / e.name for p in level if (root / p).is_dir() for e in os.scandir(root / p)]
        if len(level) > _MAX_LISTED:
            raise _Uncacheable
    return [p.as_posix() for p in level]


def _candidate(root: Path, folder: str) -> Iterator[Any]:
    """What lies where a members glob looks: a folder's pyproject.toml, or its kind."""
    path = root / folder
    if path.is_dir():
        yield from _local_package(root, folder)
    else:
        yield [folder, "file" if path.exists() else None]


def _local_package(root: Path, folder: str) -> Iterator[Any]:
    """A local package's own files, and the pyproject.toml of the folders uv looks in on
    its way up to the project's (or to one of the project's own parents, already keyed)."""
    path = (root / folder).resolve()
    if path.is_file():
        if not path.name.endswith(".whl"):
            raise _Uncacheable  # an sdist: uv builds it for its metadata
        yield [folder, _digest(path)]
        return
    pyproject = path / "pyproject.toml"
    yield [folder, str(path), path.is_dir(), _digest(pyproject)]
    if pyproject.is_file():
        _check_static(path, _toml(pyproject), is_root=False)
    elif (path / "setup.py").exists() or (path / "setup.cfg").exists():
        raise _Uncacheable
    for above in path.parents:
        if above == root or above in root.parents:
            break
        yield [str(above / "pyproject.toml"), _digest(above / "pyproject.toml")]


def _check_static(folder: Path, data: Mapping[str, Any], *, is_root: bool) -> None:
    """A package uv reads from its pyproject.toml alone: a static [project] table, but for
    a dynamic version (uv then compares the rest: checked with uv 0.13). No [project]: a
    virtual workspace root, or a member that a setup.py describes (uncacheable)."""
    table = data.get("project")
    if table is None:
        if not is_root and ((folder / "setup.py").exists() or (folder / "setup.cfg").exists()):
            raise _Uncacheable
        return
    dynamic = _table(table).get("dynamic", [])
    if not isinstance(dynamic, list) or set(map(str, dynamic)) - {"version"}:
        raise _Uncacheable


def _toml(path: Path) -> Mapping[str, Any]:
    import tomllib

    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _Uncacheable from exc


def _digest(path: Path) -> str | None:
    """sha256 of a regular file's bytes (a link is followed, as uv follows it); None when
    nothing is there. Anything else (a folder, a FIFO) makes the key untrustworthy."""
    import stat

    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(info.st_mode):
        raise _Uncacheable
    return hashlib.sha256(path.read_bytes()).hexdigest()
