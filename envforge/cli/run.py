"""`envforge run`: start an image (a project's default tag, or one named), GPUs checked first."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envforge.cli.console import err
from envforge.cli.options import PackageOpt
from envforge.records import DEFAULT_DIR

if TYPE_CHECKING:
    from envforge.host.gate import GpuRequest


def run(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="A project folder (runs its default tag) or an image.")
    ] = ".",
    env: Annotated[
        list[str] | None, typer.Option("-e", "--env", help="KEY=VALUE, or KEY from this shell.")
    ] = None,
    volume: Annotated[
        list[str] | None, typer.Option("-v", "--volume", help="HOST:CONTAINER[:ro].")
    ] = None,
    publish: Annotated[
        list[str] | None, typer.Option("-p", "--publish", help="[IP:][HOST:]CONTAINER.")
    ] = None,
    workdir: Annotated[
        str | None, typer.Option("--workdir", "-w", help="Working folder inside.")
    ] = None,
    entrypoint: Annotated[
        str | None, typer.Option("--entrypoint", help="Run this instead of the image's command.")
    ] = None,
    tty: Annotated[
        bool | None,
        typer.Option("--tty/--no-tty", help="Interactive TTY (default: when attached to one)."),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(
            "--gpus",
            help="GPUs for the container: all, a count, or device=0,1 / device=GPU-<uuid>. "
            "Checked first against the driver, GPUs and container toolkit.",
        ),
    ] = None,
    shm_size: Annotated[
        str | None, typer.Option("--shm-size", help="Size of /dev/shm, such as 256m or 8g.")
    ] = None,
    skip_checks: Annotated[
        bool,
        typer.Option("--skip-checks", help="Start with --gpus even when the GPU checks fail."),
    ] = False,
    host_facts: Annotated[
        Path | None,
        typer.Option(
            "--host-facts",
            help="Check --gpus against recorded host facts (a doctor --json report) "
            "instead of this host.",
        ),
    ] = None,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="Write a JSON record of this run (image, lock, git commit, command, host GPU, "
            "timing, exit code) to --runs-dir.",
        ),
    ] = False,
    runs_dir: Annotated[
        Path, typer.Option("--runs-dir", help="Where --record writes (envforge runs reads it).")
    ] = DEFAULT_DIR,
    package: PackageOpt = None,
) -> None:
    """Run the image: output streamed, exit code returned, container removed.

    Arguments after `--` go to the image's command: envforge run PATH -- --seed 1

    With --gpus, the image's CUDA (from envforge's labels, or NVIDIA_REQUIRE_CUDA /
    CUDA_VERSION) is checked against this host before any container exists, as
    `envforge doctor --image` does; a failed check refuses to start (exit 1).
    """
    import os
    import shlex

    from envforge.engine import client as engine
    from envforge.engine.runargs import parse_env, parse_ports, parse_volumes
    from envforge.errors import InputError
    from envforge.host import gate

    if gpus is None and (skip_checks or host_facts is not None):
        raise InputError("--skip-checks and --host-facts go with --gpus")
    request = gate.parse_gpus(gpus) if gpus is not None else None
    from envforge.pipeline import image_for

    # No lock check, no plan: an image already built runs whatever a plan would say.
    image = image_for(target, package)
    spec = engine.RunSpec(
        image=image,
        args=list(ctx.args),
        env=parse_env(env or [], os.environ),
        volumes=parse_volumes(volume or []),
        ports=parse_ports(publish or []),
        workdir=workdir,
        entrypoint=shlex.split(entrypoint) if entrypoint else None,
        tty=tty if tty is not None else (sys.stdin.isatty() and sys.stdout.isatty()),
        gpus=request,
        shm_size=gate.parse_shm_size(shm_size) if shm_size is not None else None,
    )
    client = engine.connect()
    found = engine.get_image(client, image)
    if request is not None:
        _gpu_gate(image, found.attrs, request, host_facts, skip_checks)
    if not record:
        raise typer.Exit(engine.run_container(client, spec))
    from envforge import records

    run_record = None
    try:
        with records.recording(
            runs_dir, image=found, spec=spec, target=target, host_facts=host_facts
        ) as run_record:
            run_record.exit_code = engine.run_container(client, spec)
    finally:
        if run_record is not None and run_record.notice:
            typer.echo(run_record.notice, err=True)
    raise typer.Exit(run_record.exit_code)


def _gpu_gate(
    image: str,
    attrs: Mapping[str, Any],
    request: GpuRequest,
    host_facts: Path | None,
    skip_checks: bool,
) -> None:
    """Print what the preflight finds not ok, in doctor's format (stderr); refuse on a
    fail unless --skip-checks."""
    from envforge.doctor import gpu_preflight
    from envforge.errors import GpuGateRefused
    from envforge.host import gate

    pre = gpu_preflight(image, attrs, request, host_facts)
    shown = [f for f in pre.findings if f.level != "ok"]
    if shown:
        err(gate.render_findings(shown, color=sys.stderr.isatty()).rstrip("\n"))
    if not pre.refused:
        return
    if not skip_checks:
        raise GpuGateRefused(image, len(pre.failed))
    err(f"warning: --skip-checks: starting despite {len(pre.failed)} failed check(s)")
