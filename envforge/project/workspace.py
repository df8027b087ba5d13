"""uv workspaces: which folders are members of a root's [tool.uv.workspace], and which
workspace, if any, a folder is a member of. Bounded globs; no symlink is followed."""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from envforge.errors import InvalidProjectError


def workspace_table(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
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
        workspace = workspace_table(data)
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
