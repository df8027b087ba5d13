"""`envforge save`: an image as a docker-archive tar, for a cluster that cannot pull it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envforge.cli.console import out
from envforge.cli.options import PackageOpt


def save(
    target: Annotated[
        str, typer.Argument(help="A project folder (saves its default tag) or an image.")
    ] = ".",
    *,
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="The tar file to write (docker-archive format)."),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the file when it exists.")
    ] = False,
    package: PackageOpt = None,
) -> None:
    """Save the image as a docker-archive tar, for a cluster that cannot pull it.

    On the cluster, Apptainer makes it a SIF: apptainer build x.sif docker-archive:x.tar
    (docker load and skopeo read it too).
    """
    import shlex

    from envforge.engine import client as engine
    from envforge.engine.save import check_target, save_image
    from envforge.pipeline import image_for

    image = image_for(target, package)
    check_target(output, force=force)  # before the engine: a bad path needs no image
    saved = save_image(engine.connect(), image, output, force=force)
    sif = Path(saved.path.name).with_suffix(".sif").name
    out(f"saved     {saved.path}")
    out(f"image     {saved.ref} ({saved.image_id.removeprefix('sha256:')[:12]})")
    out(f"size      {saved.size / 1e6:.1f} MB")
    archive = shlex.quote(f"docker-archive:{saved.path.name}")
    out(f"next      on the cluster: apptainer build {shlex.quote(sif)} {archive}")
