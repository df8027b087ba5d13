"""`envforge readme`: write, or --check, README.md's requirements section."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envforge.cli.options import (
    AllExtrasOpt,
    BaseOpt,
    CpuOpt,
    CudaOpt,
    ExtraOpt,
    GroupOpt,
    MirrorOpt,
    PackageOpt,
    PathArg,
    PythonOpt,
    build_options,
)


def readme(
    path: PathArg = Path("."),
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1, printing the difference, when the section is stale."),
    ] = False,
    create: Annotated[
        bool, typer.Option("--create", help="Create README.md when it is missing.")
    ] = False,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="The published image, by digest (what `envforge push` printed): "
            "the section says to docker pull it.",
        ),
    ] = None,
    *,
    python: PythonOpt = None,
    base_image: BaseOpt = None,
    registry_mirror: MirrorOpt = None,
    extra: ExtraOpt = None,
    all_extras: AllExtrasOpt = False,
    group: GroupOpt = None,
    cpu: CpuOpt = False,
    cuda: CudaOpt = None,
    package: PackageOpt = None,
) -> None:
    """Write or update the requirements section of README.md (driver, CUDA, GPUs, commands)."""
    from envforge.image.readme import readme_change
    from envforge.image.readme_file import write_readme
    from envforge.pipeline import plan_project
    from envforge.validate import digest_ref

    pinned = digest_ref(image, "--image") if image is not None else None

    # The section must not depend on the machine that writes it: no host probe.
    options = build_options(
        python=python, base_image=base_image, registry_mirror=registry_mirror, extra=extra,
        all_extras=all_extras, group=group, cpu=cpu, cuda=cuda, package=package, host_gpu=False,
    )  # fmt: skip
    # A stale lock is refused, as by every command that reads it: a README must not
    # publish what the lock no longer gives.
    loaded, the_plan = plan_project(path, options)
    change = readme_change(loaded, the_plan, create=create, pinned=pinned)
    if check:
        if not change.stale:
            typer.echo(f"up to date {change.path}")
            return
        typer.echo(change.diff(), nl=False)
        typer.echo(f"stale     {change.path}: run `{change.again}` to update it", err=True)
        raise typer.Exit(1)
    typer.echo(f"{write_readme(change):<9} {change.path}")
