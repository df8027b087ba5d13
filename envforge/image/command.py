"""The image's command (ENTRYPOINT), and the console scripts that would not start in it:
those that need an extra or a dependency group the image does not install.

The command is chosen by name (`cpu-sklearn`, `python main.py`) and written into the image
by absolute path (in_image): Apptainer and Pyxis start it from the host's working directory,
and a program or script found through the image's WORKDIR would not be found there."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from envforge.errors import LockError
from envforge.image.decision import Decision, shell_join
from envforge.image.layout import APP_DIR, VENV
from envforge.image.selection import Selection
from envforge.project.facts import ProjectFacts
from envforge.project.installset import Target
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project


@dataclass(frozen=True, kw_only=True)
class CommandChoice:
    entrypoint: tuple[str, ...]
    # Console scripts that need an extra or group the image lacks -> what (the "needs" text
    # of the plan): never the command; the smoke check expects them not to load.
    scripts_needing: Mapping[str, str]


def choose_command(
    project: Project, lock: Lock, facts: ProjectFacts, target: Target, selection: Selection
) -> tuple[CommandChoice, list[Decision]]:
    """The command, and the plan lines for it and for the scripts it cannot start."""
    needs = _script_needs(project, lock, facts, target, selection.extras, selection.groups)
    entrypoint, why = _entrypoint(project, facts, needs)
    absolute = in_image(entrypoint, project)
    if absolute != entrypoint:
        why += (
            f"; written into the image by absolute path, so that it starts from any working "
            f"directory, as Apptainer and Pyxis run it (from the host's, not {APP_DIR})"
        )
    decisions = [Decision("command", shell_join(absolute), why)]
    others = [s for s in sorted(needs) if s != candidate_script(project)]
    if others:
        shown = "; ".join(f"{s} needs {needs[s]}" for s in others[:5])
        more = f"; and {len(others) - 5} more" if len(others) > 5 else ""
        decisions.append(
            Decision(
                "scripts",
                f"{len(others)} of {len(project.scripts)} need more than the image installs",
                f"{shown}{more}: the smoke check expects them not to load",
            )
        )
    return CommandChoice(entrypoint=entrypoint, scripts_needing=needs), decisions


FALLBACK_COMMAND = ("python",)

_PYTHON_RE = re.compile(r"python(?:3(?:\.\d+)?)?")
# Python options that take the next argument as their value.
_PY_VALUE_OPTS = frozenset({"-W", "-X", "-Q"})


def in_image(command: Sequence[str], project: Project) -> tuple[str, ...]:
    """The command as the image's ENTRYPOINT: Python (python, python3, python3.X) and the
    project's own console scripts by their path in the environment (/app/.venv/bin/NAME), and
    the script Python runs by its path under /app (`python main.py`: /app/main.py). Anything
    else is left as it is: another program is found on the image's PATH, which holds the
    environment's bin first, and an option or a module (-m) needs no path."""
    if not command:
        return tuple(command)
    program, *args = command
    if _PYTHON_RE.fullmatch(program):
        return (f"{VENV}/bin/{program}", *_script_in_app(args))
    if "/" not in program and project.is_package and program in project.scripts:
        return (f"{VENV}/bin/{program}", *args)
    return tuple(command)


def _script_in_app(args: Sequence[str]) -> list[str]:
    """Python's arguments with the script it runs (the first word that is not an option)
    made absolute under /app; unchanged for -m, -c and - (they name no file)."""
    out = list(args)
    skip = False
    for i, arg in enumerate(out):
        if skip:
            skip = False
            continue
        if arg in ("-m", "-c", "-") or arg.startswith(("-m", "-c")):
            return out
        if arg in _PY_VALUE_OPTS:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        if not arg.startswith("/"):
            out[i] = posixpath.normpath(posixpath.join(APP_DIR, arg))
        return out
    return out


def _named_like(project: Project, names: list[str]) -> str | None:
    """The one of names that is the project's own name, normalised (my-tool, my_tool)."""
    own = [n for n in names if canonicalize_name(n) == project.normalized_name]
    return own[0] if len(own) == 1 else None


def candidate_script(project: Project) -> str | None:
    """The console script the command would be: the one, or of several the one named like
    the project."""
    scripts = sorted(project.scripts)
    return scripts[0] if len(scripts) == 1 else _named_like(project, scripts)


def _script_needs(
    project: Project,
    lock: Lock,
    facts: ProjectFacts,
    target: Target,
    extras: tuple[str, ...],
    groups: tuple[str, ...],
) -> dict[str, str]:
    """Console script -> what it needs that the image lacks ("the extra 'cli' (imports
    typer): add --extra cli to use it"), for the scripts that need an extra or a group.

    A script needs one when its module imports (facts.script_imports) a package of the lock
    that the image's install set lacks and that extra or group installs, or when its entry
    point names an extra (`mod:app [cli]`) that installs something the image lacks. An
    import that names no locked package (the stdlib, a distribution named otherwise) and a
    locked package that no extra or group brings (a marker for another Python) say nothing."""
    from envforge.project.installset import installed_packages
    from envforge.project.scriptscan import ENTRY_POINT_RE

    if not project.is_package or lock.root is None or not project.scripts:
        return {}
    own = {canonicalize_name(p) for p in facts.packages} | {project.normalized_name}
    locked = {canonicalize_name(p.name) for p in lock.packages} - own
    declared: dict[str, list[str]] = {}
    imported: dict[str, dict[str, str]] = {}  # script -> canonical name -> import name
    for script, value in project.scripts.items():
        match = ENTRY_POINT_RE.fullmatch(value)
        names = set(facts.script_imports.get(script, frozenset()))
        if match:
            # The entry point's own module may live in a dependency (jupyterlab.labapp:main).
            names.add(match["module"].split(".")[0])
        imported[script] = {canonicalize_name(n): n for n in sorted(names)}
        imported[script] = {k: v for k, v in imported[script].items() if k in locked}
        asked = (match["extras"] or "") if match else ""
        declared[script] = [
            e
            for e in (x.strip() for x in asked.split(","))
            if e in project.optional_dependencies and e not in extras
        ]
    if not any(imported.values()) and not any(declared.values()):
        return {}
    installed = set(installed_packages(lock, target, extras=extras, groups=groups))
    brings: dict[tuple[str, str], set[str]] = {}

    def brought(kind: str, name: str) -> set[str]:
        if (kind, name) not in brings:
            try:
                more = (
                    installed_packages(lock, target, extras=(*extras, name), groups=groups)
                    if kind == "extra"
                    else installed_packages(lock, target, extras=extras, groups=(*groups, name))
                )
            except LockError:  # a broken entry the image does not install: it tells nothing
                more = {}
            brings[kind, name] = set(more) - installed
        return brings[kind, name]

    choices = [("extra", e) for e in sorted(project.optional_dependencies) if e not in extras]
    choices += [("group", g) for g in sorted(project.dependency_groups) if g not in groups]
    needs: dict[str, str] = {}
    for script in sorted(imported):
        lacking = {k: v for k, v in imported[script].items() if k not in installed}
        # Of the extras (then groups) that bring what it imports, the one that brings least:
        # `peft`, not `all`.
        found = [
            (kind != "extra", len(brought(kind, name)), kind, name, hits)
            for kind, name in (choices if lacking else [])
            if (hits := sorted(v for k, v in lacking.items() if k in brought(kind, name)))
        ]
        if found:
            _, _, kind, name, hits = min(found)
            needs[script] = (
                f"the {kind} {name!r} (imports {', '.join(hits[:3])}): "
                f"add --{kind} {name} to use it"
            )
        for extra in declared[script] if script not in needs else []:
            if brought("extra", extra):
                needs[script] = (
                    f"the extra {extra!r} (its entry point names [{extra}]): "
                    f"add --extra {extra} to use it"
                )
                break
    return needs


def _entrypoint(
    project: Project, facts: ProjectFacts, needs: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], str]:
    """The image's command, and why: one that starts, or `python` and a line saying so.

    needs: the console scripts that need an extra or group the image lacks (_script_needs):
    never chosen, the plan says what would make them start."""
    if project.envforge.command:
        return project.envforge.command, "[tool.envforge] command"
    needs = needs or {}
    choose = "set [tool.envforge] command to choose, or per run: envforge run PATH --entrypoint CMD"
    notes: list[str] = []
    if project.is_package:
        scripts = sorted(project.scripts)
        chosen = candidate_script(project)
        if len(scripts) > 1:
            listed = ", ".join(scripts)
            if chosen and chosen not in needs:
                return (chosen,), (
                    f"the console script named like the project, of {len(scripts)} in "
                    f"[project.scripts] ({listed}); {choose}"
                )
            notes.append(
                f"{len(scripts)} console scripts in [project.scripts] ({listed})"
                + ("" if chosen else ", none named like the project")
            )
        if chosen is not None and chosen in needs:
            notes.append(f"{chosen} needs {needs[chosen]}")
        elif len(scripts) == 1:
            return (
                scripts[0],
            ), f"the project's one console script, [project.scripts] {scripts[0]}"
    else:
        if project.scripts:
            notes.append("[project.scripts] are not installed: the project is not a package")
        if "main.py" in facts.top_level:
            return (
                "python",
                "main.py",
            ), "the project is not a package and has main.py (uv init's layout)"
    mains = sorted(facts.main_modules)
    module = project.module_name if project.module_name in mains else None
    module = module or (mains[0] if len(mains) == 1 else _named_like(project, mains))
    if module:
        notes.append(f"runs {module}/__main__.py, which the project's source has")
        return ("python", "-m", module), "; ".join(notes) + f"; {choose}"
    if len(mains) > 1:
        notes.append(
            f"{len(mains)} modules with a __main__.py ({', '.join(mains)}), none named like the "
            "project"
        )
    where = "no console script, no __main__.py in its packages" + (
        "" if project.is_package else ", no main.py"
    )
    lead = "; ".join(notes) if notes else f"nothing to run: {where}"
    what = (
        "envforge run PATH -- -m MODULE, a module the image installs"
        if project.is_package
        else f"envforge run PATH -- SCRIPT.py, from the source in {APP_DIR}, or -- -m MODULE"
    )
    return FALLBACK_COMMAND, (
        f"{lead}: the image starts python, which runs what follows it ({what}); "
        "set [tool.envforge] command for a default"
    )
