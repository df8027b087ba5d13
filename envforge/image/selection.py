"""Which extras and dependency groups the image installs, and the uv sync flags for them."""

from __future__ import annotations

from dataclasses import dataclass

from envforge.errors import PlanError
from envforge.image.decision import Decision, shell_join
from envforge.image.options import BuildOptions
from envforge.project.pyproject import Project


@dataclass(frozen=True)
class Selection:
    extras: tuple[str, ...]
    groups: tuple[str, ...]
    # Each flag and its value are separate items (argv): plan --json lists them so.
    sync_flags: tuple[str, ...]

    def for_member(self, name: str) -> Selection:
        """The flags that sync one workspace member: --package NAME after --locked."""
        first, *rest = self.sync_flags
        return Selection(self.extras, self.groups, (first, "--package", name, *rest))


def select(project: Project, options: BuildOptions) -> Selection:
    """The extras and groups asked for (options, else [tool.envforge]), each one checked."""
    settings = project.envforge
    known_extras = set(project.optional_dependencies)
    extras = (
        tuple(sorted(known_extras))
        if options.all_extras
        else tuple(dict.fromkeys(options.extras or settings.extras))
    )
    for extra in extras:
        if extra not in known_extras:
            raise PlanError(
                f"Unknown extra {extra!r}",
                hint=f"The project's extras: {', '.join(sorted(known_extras)) or 'none'}.",
            )
    groups = tuple(dict.fromkeys(options.groups or settings.groups))
    for group in groups:
        if group not in project.dependency_groups:
            raise PlanError(
                f"Unknown dependency group {group!r}",
                hint=f"The project's groups: {', '.join(sorted(project.dependency_groups)) or 'none'}.",
            )
    flags = ["--locked"]
    # --no-dev leaves out only "dev"; when other groups are default too, leave them all out.
    if groups or tuple(project.uv_default_groups) != ("dev",):
        flags.append("--no-default-groups")
    else:
        flags.append("--no-dev")
    if options.all_extras:
        flags.append("--all-extras")
    else:
        flags += [item for e in extras for item in ("--extra", e)]
    flags += [item for g in groups for item in ("--group", g)]
    flags.append("--no-editable")
    return Selection(extras, groups, tuple(flags))


def dependencies_decision(selection: Selection) -> Decision:
    groups, extras = selection.groups, selection.extras
    return Decision(
        "dependencies",
        "uv sync " + shell_join(selection.sync_flags),
        "exactly the lock (--locked fails the build if uv.lock is stale); "
        + (
            f"groups {', '.join(groups)} included as asked"
            if groups
            else "no dependency group (dev stays out)"
        )
        + (f"; extras {', '.join(extras)}" if extras else ""),
    )
