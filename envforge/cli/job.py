"""`envforge job`: a Kubernetes Job or a Slurm script that runs the image on a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envforge.cli.console import err
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


def job(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="PATH|IMAGE",
            help="A project folder (its default tag) or a local image.",
            show_default=False,
        ),
    ] = ".",
    on: Annotated[
        str,
        typer.Option(
            "--target",
            help="Where the job runs: kubernetes (a batch/v1 Job), slurm-apptainer or "
            "slurm-pyxis (an sbatch script).",
        ),
    ] = "",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the job file here, not stdout.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the -o file.")] = False,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            help="For a project: the image the job pulls (REGISTRY/NAME@sha256:...) "
            "instead of its default tag.",
        ),
    ] = None,
    gpus: Annotated[
        int | None,
        typer.Option(
            "--gpus", help="GPUs for the job (default: 1 when the image needs CUDA, else 0)."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The job's name (default: the project's).")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Kubernetes: the Job's namespace.")
    ] = None,
    node_selector: Annotated[
        list[str] | None,
        typer.Option(
            "--node-selector",
            help="Kubernetes: run on nodes with this label, KEY=VALUE (repeatable).",
        ),
    ] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Slurm: the time limit (02:00:00).")
    ] = None,
    partition: Annotated[
        str | None, typer.Option("--partition", help="Slurm: the partition.")
    ] = None,
    cpus: Annotated[int | None, typer.Option("--cpus", help="CPUs for the job.")] = None,
    mem: Annotated[
        str | None, typer.Option("--mem", help="Memory for the job, as sbatch --mem (64G).")
    ] = None,
    shm_size: Annotated[
        str | None,
        typer.Option("--shm-size", help="Kubernetes: the size of /dev/shm (default 1g)."),
    ] = None,
    sif: Annotated[
        str | None,
        typer.Option(
            "--sif",
            help="slurm-apptainer: where the SIF file is kept "
            "(default: $ENVFORGE_SIF_DIR, else ~/.cache/envforge/sif).",
        ),
    ] = None,
    archive: Annotated[
        str | None,
        typer.Option(
            "--archive",
            help="slurm-apptainer: build the SIF from this `docker save` FILE.tar, "
            "not from the registry.",
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
    """Write a job that runs the image on a cluster: a Kubernetes Job or an sbatch script.

    Arguments after `--` go to the image's command: envforge job PATH --target
    slurm-pyxis -- --seed 1

    The image is named by its registry digest when it has one (a REF@sha256:... given,
    or the local image's RepoDigests after a push). A GPU job carries the minimum NVIDIA
    driver: the Slurm scripts check the node's driver before the program, as
    `envforge run --gpus` does; the Kubernetes Job sets NVIDIA_REQUIRE_CUDA and an
    annotation.
    """
    from envforge import jobs, safeio
    from envforge.errors import InputError
    from envforge.jobs import model

    if not on:
        raise InputError("--target is required", hint=f"Give one of: {', '.join(model.TARGETS)}.")
    is_project = Path(target).is_dir()
    if not is_project:
        # Given on the command line, not from the environment (ENVFORGE_BASE_IMAGE ...).
        project_only = ("ref", "python", "base_image", "extra", "all_extras", "group", "cpu",
                        "cuda", "package")  # fmt: skip
        given = [
            name for name in project_only
            if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
        ]  # fmt: skip
        if given:
            raise InputError(
                f"--{given[0].replace('_', '-')} goes with a project folder, not an image",
                hint=f"No folder {target!r} here: it is read as an image. Give a project "
                "folder, or leave the option out.",
            )
    options = model.JobOptions(
        target=on, gpus=gpus, name=name, namespace=namespace,
        node_selector=tuple(node_selector or ()), time=time, partition=partition, cpus=cpus,
        mem=mem, shm_size=shm_size, sif=sif, archive=archive,
        args=tuple(ctx.args) if ctx.args else None,
    )  # fmt: skip
    if is_project:
        build = build_options(
            python=python, base_image=base_image, extra=extra, all_extras=all_extras,
            group=group, cpu=cpu, cuda=cuda, package=package,
        )  # fmt: skip
        if gpus is not None and not cpu:
            from dataclasses import replace

            # The job's nodes decide the variant (CPU or CUDA), not the login node it is
            # written on: with --gpus N, planned as `envforge build` plans on a GPU host.
            build = replace(build, host_gpu=gpus > 0)
        facts = model.project_facts(Path(target), build, ref)
    else:
        facts = model.image_facts(target)
    spec = model.check_options(options, facts)
    text = jobs.render_job(spec)
    for warning in spec.warnings:
        err(f"warning: {warning}")
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists() and not force:
        raise InputError(
            f"Refusing to overwrite '{output}': it exists",
            hint="Write the job elsewhere (-o), or replace the file with --force.",
        )
    if not output.parent.is_dir():
        raise InputError(
            f"Cannot write '{output}': no folder '{output.parent}'",
            hint="Create the folder first, or write the job elsewhere.",
        )
    safeio.write_text_atomic(output, text)
    err(f"wrote     {output}")
