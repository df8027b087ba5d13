"""What the reader saw beside pyproject.toml that the plan depends on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class ProjectFacts:
    """What the reader saw beside pyproject.toml that the plan depends on."""

    lock_hash: str
    python_version_file: str | None = None
    top_level: frozenset[str] = frozenset()
    git_source: str | None = None
    # HEAD's commit ("<sha>" or "<sha>-dirty"), read only for a dynamic version: it tags the image.
    revision: str | None = None
    # The folders at the root named like a default .dockerignore entry (default_ignored_folders),
    # each with whether it holds .py files itself: (name, holds_py), sorted.
    ignored_folders: tuple[tuple[str, bool], ...] = ()
    # A workspace member's build: the [build-system] requires of the workspace root's own
    # project, which the project stage builds too when the member depends on it.
    root_build_requires: tuple[str, ...] = ()
    # Import packages in the project's source (top level and src/, or where its build
    # backend's settings say), and those of them, or of their dotted modules, that
    # have a __main__.py: what `python -m` can run. For a non-package project, only the
    # top level (its source is copied as it is).
    packages: frozenset[str] = frozenset()
    main_modules: frozenset[str] = frozenset()
    # Signs that the project compiles (bounded look at the source tree): "CMakeLists.txt",
    # "meson.build", "Cargo.toml", "setup.py", "setup.py:ext_modules", "native-sources".
    build_markers: frozenset[str] = frozenset()
    # The folder of the workspace member being built (--package), relative to the workspace
    # root, which holds pyproject.toml, uv.lock and the build context; None: the root itself.
    workspace_member: str | None = None
    # Console script -> the top-level names its entry point's module imports on load (its
    # own package left out; envforge.project.scriptscan): a script that imports what only an extra
    # or group installs is not the default command without it.
    script_imports: Mapping[str, frozenset[str]] = field(default_factory=dict)
