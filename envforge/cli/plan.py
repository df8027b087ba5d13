"""`envforge plan`: every decision behind the image, with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envforge.cli.console import out
from envforge.cli.options import (
    AllExtrasOpt,
    BaseOpt,
    BuilderOpt,
    CaOpt,
    CpuOpt,
    CudaOpt,
    ExtraOpt,
    GroupOpt,
    MirrorOpt,
    PackageOpt,
    PathArg,
    PythonOpt,
    PythonSourceOpt,
    UvImageOpt,
    UvSourceOpt,
    build_options,
)


def plan(
    path: PathArg = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    host_facts: Annotated[
        Path | None,
        typer.Option(
            "--host-facts",
            help="Plan for recorded host facts (a doctor --json report) instead of this host: "
            "its GPU decides a CPU/CUDA variant, as doctor --host-facts judges it.",
        ),
    ] = None,
    *,
    python: PythonOpt = None,
    base_image: BaseOpt = None,
    registry_mirror: MirrorOpt = None,
    uv_image: UvImageOpt = None,
    uv_source: UvSourceOpt = None,
    extra: ExtraOpt = None,
    all_extras: AllExtrasOpt = False,
    group: GroupOpt = None,
    ca_bundle: CaOpt = None,
    cpu: CpuOpt = False,
    cuda: CudaOpt = None,
    python_source: PythonSourceOpt = None,
    package: PackageOpt = None,
    builder: BuilderOpt = "auto",
) -> None:
    """Print every decision behind the image, with its reason."""
    from envforge.image.report import plan_json, plan_text
    from envforge.pipeline import plan_project

    options = build_options(
        python=python, base_image=base_image, registry_mirror=registry_mirror,
        uv_image=uv_image, uv_source=uv_source, extra=extra, all_extras=all_extras,
        group=group, ca_bundle=ca_bundle, cpu=cpu, cuda=cuda, python_source=python_source,
        package=package, builder=builder,
    )  # fmt: skip
    host = None
    if host_facts is not None:
        from envforge.doctor import load_host_facts

        host = load_host_facts(host_facts)
    loaded, the_plan = plan_project(path, options, host=host)
    if as_json:
        import json

        typer.echo(json.dumps(plan_json(the_plan, loaded.freshness), indent=2))
    else:
        out(plan_text(the_plan, loaded.freshness, str(path)), nl=False)
