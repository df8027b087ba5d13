"""`envforge doctor`: can this host (or a recorded one) run a project, an image?"""

from __future__ import annotations

import sys
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
    PackageOpt,
    PythonOpt,
    build_options,
)


def doctor(
    path: Annotated[
        Path | None, typer.Argument(help="A project: is this host able to run it?")
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="A local image: is this host able to run it?")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    host_facts: Annotated[
        Path | None,
        typer.Option(
            "--host-facts",
            help="Judge against recorded host facts (a doctor --json report) instead of this host.",
        ),
    ] = None,
    *,
    python: PythonOpt = None,
    base_image: BaseOpt = None,
    extra: ExtraOpt = None,
    all_extras: AllExtrasOpt = False,
    group: GroupOpt = None,
    cpu: CpuOpt = False,
    cuda: CudaOpt = None,
    package: PackageOpt = None,
) -> None:
    """Check the NVIDIA driver, GPUs and container toolkit, for a project or an image.

    For a project, doctor judges the plan `envforge build` makes with the same flags on the
    host it checks (with --host-facts, the recorded one): its GPU decides a CPU/CUDA variant.
    Exit code 0 when all is well (warnings included), 1 when something fails.
    """
    from envforge.doctor import check, host_for, render_text
    from envforge.errors import InputError

    if path is not None and image is not None:
        raise InputError("Give a project PATH or --image, not both")
    if package and path is None:
        raise InputError("--package goes with a project PATH (a uv workspace root)")
    host = host_for(host_facts)
    options = None
    if path is not None:
        options = build_options(
            python=python, base_image=base_image, extra=extra, all_extras=all_extras,
            group=group, cpu=cpu, cuda=cuda, package=package,
        )  # fmt: skip
    report = check(host, path=path, options=options, image=image)
    if as_json:
        import json

        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(render_text(report, color=sys.stdout.isatty()), nl=False)
    raise typer.Exit(report.exit_code)
