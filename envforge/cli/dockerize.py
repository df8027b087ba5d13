"""`envforge dockerize`: write the Dockerfile and .dockerignore (and compose.yaml)."""

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


def dockerize(
    path: PathArg = Path("."),
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print the Dockerfile instead of writing files.")
    ] = False,
    compose: Annotated[
        bool, typer.Option("--compose", help="Also write compose.yaml (GPU reservation, volumes).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files you wrote or edited.")
    ] = False,
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
    """Write a multi-stage Dockerfile and a .dockerignore beside pyproject.toml."""
    from envforge.image.outputs import write_outputs
    from envforge.pipeline import plan_project, rendered

    options = build_options(
        python=python, base_image=base_image, registry_mirror=registry_mirror,
        uv_image=uv_image, uv_source=uv_source, extra=extra, all_extras=all_extras,
        group=group, ca_bundle=ca_bundle, cpu=cpu, cuda=cuda, python_source=python_source,
        package=package, builder=builder,
    )  # fmt: skip
    loaded, plan = plan_project(path, options)
    files = rendered(plan)
    if stdout:
        typer.echo(files["Dockerfile"], nl=False)
        return
    if compose:
        from envforge.image.compose import render_compose

        files["compose.yaml"] = render_compose(plan)
    for written in write_outputs(loaded.root, files, force=force):
        out(f"{written.action:<9} {loaded.root / written.name}")
    out(f"base      {plan.base_ref} (Python {plan.python})")
    out(f"next      envforge build {path}")
