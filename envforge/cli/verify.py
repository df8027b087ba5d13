"""`envforge verify`: does the image hold exactly the lock's packages?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envforge.cli.options import PackageOpt, PathArg


def verify(
    image: Annotated[str, typer.Argument(help="The image to check.")],
    path: PathArg = Path("."),
    package: PackageOpt = None,
) -> None:
    """Prove the image holds exactly the lock's packages, and its labels the lock's hash."""
    from envforge.verify import verify_image

    verdict = verify_image(image, path, package=package or None)
    print(verdict.render())
    raise typer.Exit(0 if verdict.ok else 1)
