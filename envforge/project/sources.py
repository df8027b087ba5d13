"""What a bounded read of the project's source adds to its facts: its import packages and
those with a __main__, what each console script's module imports, signs that it compiles,
and which default-ignored folders hold Python. Never a walk of the whole tree: each scan
has an entry budget, skips hidden and heavy folders and follows no symlink."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

from envforge import safeio
from envforge.project.context import default_ignored_folders
from envforge.project.facts import ProjectFacts
from envforge.project.pyproject import Project
from envforge.project.scriptscan import script_imports

# The source scan looks at a few folders, one level deep each: at most this many entries.
SCAN_MAX_ENTRIES = 2000
# Folders that are never the project's import package (setuptools' discovery skips them too).
_NOT_PACKAGES = frozenset(
    {"tests", "test", "docs", "doc", "examples", "example", "benchmarks", "bench", "scripts",
     "tools", "build", "dist", "site-packages", "node_modules", "venv", "__pycache__"}
)  # fmt: skip


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


def ignored_folders(root: Path, top_level: frozenset[str]) -> tuple[tuple[str, bool], ...]:
    """The default-ignored folder names at the root, each with whether it holds .py files
    itself (one level, at most _PY_SCAN_LIMIT entries): a bounded look, no walk."""
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
