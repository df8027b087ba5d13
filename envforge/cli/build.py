"""`envforge build`: write the files when they are envforge's, build, then smoke-check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envforge.cli.console import err, out
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
    NetworkOpt,
    PackageOpt,
    PathArg,
    PythonOpt,
    PythonSourceOpt,
    UvImageOpt,
    UvSourceOpt,
    build_options,
    builder_choice,
    network_choice,
    read_ca,
)


def build(
    path: PathArg = Path("."),
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="Image tag (default: name:version).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Build every layer afresh.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a Dockerfile you edited.")
    ] = False,
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Skip the smoke check that the built image starts."),
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
    network: NetworkOpt = "bridge",
) -> None:
    """Build the image through the Docker engine, with the build log streamed live.

    Writes the Dockerfile and .dockerignore first when they are missing or still
    envforge's; a Dockerfile you edited is built as it is. Then proves that the image
    starts (its packages import, its console scripts load) unless --no-check.
    """
    from envforge.engine import client as engine
    from envforge.engine.network import WHY
    from envforge.image.outputs import classify, write_outputs
    from envforge.image.plan import CA_IN_CONTEXT
    from envforge.pipeline import build_args, rendered, smoke_check, start_build
    from envforge.project.loader import UNCHECKED

    options = build_options(
        python=python, base_image=base_image, registry_mirror=registry_mirror,
        uv_image=uv_image, uv_source=uv_source, extra=extra, all_extras=all_extras,
        group=group, ca_bundle=ca_bundle, cpu=cpu, cuda=cuda, python_source=python_source,
        package=package,
    )  # fmt: skip
    build_network = network_choice(network)
    start = start_build(path, options, builder_choice(builder))
    loaded, the_plan = start.loaded, start.plan
    if start.freshness.startswith(UNCHECKED):
        # The build's `uv sync --locked` refuses a stale lock anyway: said, not refused here.
        err(f"warning: uv.lock {start.freshness}; the build's uv sync --locked is the check")

    files = rendered(the_plan)
    ours = {n: t for n, t in files.items() if force or classify(loaded.root / n, t) != "conflict"}
    for written in write_outputs(loaded.root, ours, force=force):
        if written.action != "unchanged":
            out(f"{written.action:<9} {loaded.root / written.name}")
    for name in sorted(set(files) - set(ours)):
        # Loud, on stderr: the image comes from a file envforge did not write (or that was
        # edited since), so neither envforge's flags nor its fixes reach it.
        err(
            f"warning: building {loaded.root / name} as it is: envforge did not write it, "
            "or it was edited since, so envforge's flags and fixes do not change it "
            "(--force replaces it with envforge's)"
        )

    out(f"builder   {the_plan.builder} ({start.builder_reason})")
    out(f"network   {build_network} ({WHY[build_network]})")
    extra_files = {CA_IN_CONTEXT: read_ca(ca_bundle)} if ca_bundle is not None else {}
    built = engine.build_image(
        start.client,
        loaded.root,
        tag or the_plan.default_tag,
        buildargs=build_args(the_plan, start.revision),
        extra_files=extra_files,
        nocache=no_cache,
        builder=the_plan.builder,
        network=build_network,
        out=lambda line: print(line, flush=True),
    )
    out(f"built     {built.tag}")
    typer.echo(f"id        {built.id}")
    typer.echo(f"size      {built.size / 1e6:.1f} MB")
    if no_check:
        typer.echo("check     skipped (--no-check)")
        return
    from envforge.engine import smoke  # the check's own code: none of the build's start-up

    report = smoke_check(start.client, built.id, the_plan)
    for check in report.checks:
        if check.expected:
            out(f"check     {check.label} does not load, as planned: needs {check.expected}")
            continue
        out(f"check     {check.label} {'ok' if check.ok else 'FAILED'}")
    if report.ok and not report.checks:
        out(f"check     {smoke.PYTHON} starts ok (nothing else to check)")
    if not report.ok:
        raise smoke.failure(built.tag, report, the_plan.apt_packages, built.id)
