"""Bytecode for the environment uv installed: python compile_bytecode.py [DIR ...], by
default the site-packages of the Python that runs it. Envforge writes this file into the
Dockerfile and never imports it. Compiles each .py file whose .pyc is missing or stale,
largest first, in one forked worker per CPU (at most 8), but not under folders named test
or tests (test suites, which programs seldom import). Best effort, like the compile step of
uv: a file that does not compile, or a worker that cannot start, is left to Python.
Standard library only, Python 3.7 or newer. The Dockerfile holds this file without its
docstring and comment lines, so that editing them rebuilds no image's environment."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import py_compile
import sys
import sysconfig
import warnings

SKIPPED = {"test", "tests", "__pycache__"}
MAX_WORKERS = 8


def is_fresh(path: str, stat: os.stat_result) -> bool:
    """Whether the .pyc beside path was compiled from this source: its magic, and the mtime
    and size of the source, or for a hash-based .pyc (SOURCE_DATE_EPOCH) the source hash."""
    try:
        with open(importlib.util.cache_from_source(path), "rb") as cached:
            head = cached.read(16)
    except (OSError, ValueError):
        return False
    if len(head) < 16 or head[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(head[4:8], "little") & 1:
        try:
            with open(path, "rb") as source:
                return head[8:16] == importlib.util.source_hash(source.read())
        except OSError:
            return False
    mtime = int.from_bytes(head[8:12], "little")
    size = int.from_bytes(head[12:16], "little")
    return mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF


def stale_sources(roots: list[str]) -> list[tuple[int, str]]:
    """(size, path) of each source under roots that needs compiling."""
    found = []
    for root in roots:
        for top, dirs, files in os.walk(root):
            dirs[:] = [name for name in dirs if name not in SKIPPED]
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(top, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                if not is_fresh(path, stat):
                    found.append((stat.st_size, path))
    return sorted(found, reverse=True)


def compile_each(paths: list[str]) -> None:
    warnings.simplefilter("ignore")  # SyntaxWarnings in packages: the uv step hides them too
    for path in paths:
        # A syntax error or an unreadable file: Python meets it at import, as without this.
        with contextlib.suppress(Exception):
            py_compile.compile(path, doraise=True)


def main(argv: list[str]) -> int:
    found = argv or [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    roots = sorted({os.path.realpath(root) for root in found})  # lib64 -> lib: one walk
    paths = [path for _, path in stale_sources(roots)]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = max(1, min(cpus or 1, MAX_WORKERS, len(paths))) if hasattr(os, "fork") else 1
    children = []
    mine = list(range(workers))  # the shares this process compiles itself
    for index in range(1, workers):
        try:
            pid = os.fork()
        except OSError:  # a pids limit, no memory: this process takes the share
            continue
        if pid == 0:
            compile_each(paths[index::workers])
            os._exit(0)
        children.append(pid)
        mine.remove(index)
    for index in mine:
        compile_each(paths[index::workers])
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
