"""The local sources the dependency stage needs: path dependencies, workspace members (some
by their pyproject.toml alone) and the workspace root's own package."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from envforge import validate
from envforge.errors import PlanError
from envforge.image.decision import Decision
from envforge.image.selection import Selection
from envforge.project.facts import ProjectFacts
from envforge.project.installset import Target
from envforge.project.lockfile import Lock, LockedPackage
from envforge.project.pyproject import Project


@dataclass(frozen=True, kw_only=True)
class LocalSources:
    # Path dependencies inside the project (workspace members, [tool.uv.sources] paths):
    # the deps stage needs their sources beside pyproject.toml and uv.lock.
    local_paths: tuple[str, ...] = ()
    # Workspace members copied by their pyproject.toml alone (the one built, and those it
    # does not install): uv finds the whole workspace, and an edit there rebuilds nothing.
    member_manifests: tuple[str, ...] = ()
    # The local package at the workspace root (source "."), when the member built depends on
    # it: left out of uv sync (--no-install-package), built and installed with the member in
    # the project stage, so that an edit of the root's code rebuilds no environment.
    root_package: str | None = None
    # The root's [build-system] requires that the member's do not already name.
    root_build_requires: tuple[str, ...] = ()


def choose_local_sources(
    project: Project, lock: Lock, facts: ProjectFacts, target: Target, selection: Selection
) -> tuple[LocalSources, list[Decision]]:
    decisions: list[Decision] = []
    member = facts.workspace_member
    if member:
        decisions.append(
            Decision(
                "workspace",
                f"member {project.name} ({member})",
                "PATH is a uv workspace root: the member is built with uv sync --package from "
                "the root's pyproject.toml and uv.lock, the workspace root is the build "
                "context; the members it installs are copied into the dependency stage, the "
                "others only by their pyproject.toml (uv --locked checks the whole workspace)",
            )
        )
    local_paths = _local_paths(lock)
    manifests: tuple[str, ...] = ()
    root_package: str | None = None
    root_requires: tuple[str, ...] = ()
    if member:
        needed = _reachable_folders(lock)
        manifests = tuple(sorted({p for p in local_paths if p not in needed} | {member}))
        local_paths = tuple(p for p in local_paths if p in needed)
        if "." in needed:
            root_package = _installed_root(lock, target, selection)
        if root_package is not None:
            own = {str(r) for r in project.build_requires}
            root_requires = tuple(r for r in facts.root_build_requires if r not in own)
            decisions.append(
                Decision(
                    "workspace root",
                    f"{root_package} (.) built with the member",
                    "the member depends on the workspace root's own project: uv sync leaves it "
                    "out (--no-install-package), the project stage builds its wheel from the "
                    "context beside the member's, so that a code edit of either rebuilds only "
                    "the code layer",
                )
            )
    if local_paths:
        decisions.append(
            Decision(
                "local sources",
                " ".join(local_paths),
                "path dependencies of the lock: copied into the dependency stage, installed "
                "non-editable; an edit there rebuilds the environment",
            )
        )
    sources = LocalSources(
        local_paths=local_paths,
        member_manifests=manifests,
        root_package=root_package,
        root_build_requires=root_requires,
    )
    return sources, decisions


def _reachable_folders(lock: Lock) -> set[str]:
    """Local folders the root may install: its graph with every extra and group, and no
    marker evaluated (a superset of what uv sync installs, so that nothing needed is left out)."""
    by_name: dict[str, list[LockedPackage]] = {}
    for pkg in lock.packages:
        by_name.setdefault(canonicalize_name(pkg.name), []).append(pkg)
    seen: set[int] = set()
    todo = [lock.root] if lock.root is not None else []
    folders: set[str] = set()
    while todo:
        pkg = todo.pop()
        if id(pkg) in seen:
            continue
        seen.add(id(pkg))
        if pkg.local_folder is not None:
            folders.add(posixpath.normpath(pkg.local_folder))
        edges = list(pkg.dependencies)
        for group in (*pkg.optional_dependencies.values(), *pkg.dev_dependencies.values()):
            edges += group
        for edge in edges:
            todo += [
                p
                for p in by_name.get(canonicalize_name(edge.name), [])
                if edge.version is None or p.version == edge.version
            ]
    return folders


def _installed_root(lock: Lock, target: Target, selection: Selection) -> str | None:
    """The workspace root's package when uv sync installs it for the member (through the
    chosen extras and groups, under the image's markers): what the project stage builds."""
    from envforge.project.installset import installed_packages

    name = _root_package(lock)
    if name is None:
        return None
    installed = installed_packages(lock, target, extras=selection.extras, groups=selection.groups)
    return name if canonicalize_name(name) in installed else None


def _root_package(lock: Lock) -> str | None:
    """The name of the package the lock builds from the workspace root ("."), when it is one
    uv installs (editable or directory; a virtual root installs nothing)."""
    for pkg in lock.packages:
        if pkg is lock.root:
            continue
        for kind in ("editable", "directory"):
            where = pkg.source.get(kind)
            if where is not None and posixpath.normpath(where) == ".":
                return validate.project_name(pkg.name, "the workspace root's package", "uv.lock")
    return None


def _local_paths(lock: Lock) -> tuple[str, ...]:
    """Folders of the lock's path dependencies, relative to the project; refused outside it."""
    paths = []
    for pkg in lock.packages:
        if pkg is lock.root:
            continue
        for kind in ("directory", "editable", "path", "virtual"):
            where = pkg.source.get(kind)
            if where is None or where == ".":
                continue
            norm = posixpath.normpath(where)
            if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
                raise PlanError(
                    f"uv.lock installs {validate.one_line(pkg.name)} from "
                    f"{validate.one_line(repr(where))}, outside the project: "
                    "a Docker build sees only the project folder",
                    hint="Move it inside the project (a uv workspace member), publish it, or "
                    "depend on it through git.",
                )
            paths.append(validate.relative_path(where, f"the source of {pkg.name!r}", "uv.lock"))
    return tuple(sorted(set(paths)))
