"""What stays out of the build context: envforge's default .dockerignore, the project's
include and exclude, and the default-ignored folders that hold its code."""

from __future__ import annotations

import posixpath

from envforge.image.decision import Decision
from envforge.image.layout import APP_DIR
from envforge.project.context import CODE_FOLDER_NAMES, DEFAULT_IGNORES
from envforge.project.facts import ProjectFacts
from envforge.project.pyproject import Project


def choose_dockerignore(
    project: Project, facts: ProjectFacts, entrypoint: tuple[str, ...]
) -> tuple[tuple[str, ...], Decision | None]:
    """The .dockerignore lines, and the plan line for the default-ignored folders here."""
    settings = project.envforge
    kept, decision = _context_folders(project, facts, entrypoint)
    return dockerignore_patterns(settings.exclude, settings.include, keep=kept), decision


def _referenced_folders(project: Project, entrypoint: tuple[str, ...]) -> set[str]:
    """Root names the command and the console scripts point into: `python runs/train.py`,
    `python -m models.train`, `[project.scripts] x = "data.cli:main"`."""
    tops: set[str] = set()
    for i, arg in enumerate(entrypoint):
        value = arg.split("=", 1)[-1]
        if i > 0 and entrypoint[i - 1] == "-m":
            tops.add(value.split(".", 1)[0])
        elif "/" in value:
            norm = posixpath.normpath(value).removeprefix(f"{APP_DIR}/")
            if not norm.startswith(("/", "..")):
                tops.add(norm.split("/", 1)[0])
    for target in project.scripts.values():
        tops.add(target.split(":", 1)[0].split(".", 1)[0].strip())
    return tops


def _context_folders(
    project: Project, facts: ProjectFacts, entrypoint: tuple[str, ...]
) -> tuple[tuple[str, ...], Decision | None]:
    """Which default-ignored folders that exist here stay in the build context (they hold
    the project's code or the command uses them), and the plan line that says so."""
    if not facts.ignored_folders:
        return (), None
    settings = project.envforge
    referenced = _referenced_folders(project, entrypoint)
    kept: list[str] = []
    why_kept: list[str] = []
    left: list[str] = []
    for name, holds_py in facts.ignored_folders:
        if name in settings.include:
            continue  # shipped as asked; the .dockerignore re-includes it already
        code = name in CODE_FOLDER_NAMES and name not in settings.exclude
        if code and holds_py:
            kept.append(name)
            why_kept.append(f"{name} holds .py files (the project's own code)")
        elif code and name in referenced:
            kept.append(name)
            why_kept.append(f"{name} is named by the command or [project.scripts]")
        else:
            left.append(name)
    if not kept and not left:
        return (), None
    choice = "; ".join(
        part
        for part in (
            f"leaves out {', '.join(left)}" if left else "",
            f"keeps {', '.join(kept)}" if kept else "",
        )
        if part
    )
    reasons = []
    if left:
        reasons.append(
            f"of the folders envforge's default .dockerignore names, {', '.join(left)} "
            f"{'exists' if len(left) == 1 else 'exist'} here and {'stays' if len(left) == 1 else 'stay'} "
            "out of the build context (list one under [tool.envforge] include to ship it)"
        )
    if kept:
        reasons.append(
            f"kept in the context although the defaults name {'it' if len(kept) == 1 else 'them'}: "
            + "; ".join(why_kept)
            + " (list one under [tool.envforge] exclude to leave it out)"
        )
    return tuple(kept), Decision("context", choice, "; ".join(reasons))


def dockerignore_patterns(
    exclude: tuple[str, ...], include: tuple[str, ...], *, keep: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Lines of .dockerignore: envforge's defaults, minus what the project includes and the
    folders that hold its code (keep), plus its excludes."""
    kept = set(include) | set(keep)
    lines: list[str] = []
    for comment, patterns in DEFAULT_IGNORES:
        chosen = [p for p in patterns if p not in kept]
        if chosen:
            lines += [f"# {comment}", *chosen]
    if exclude:
        lines += ["# From [tool.envforge] exclude", *exclude]
    # An include that no default names may still sit under one (data/keep.csv): re-include it.
    defaults = {p for _, ps in DEFAULT_IGNORES for p in ps}
    reinclude = [f"!{p}" for p in include if p not in defaults]
    if reinclude:
        lines += ["# From [tool.envforge] include", *reinclude]
    return tuple(lines)
