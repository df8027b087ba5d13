"""How uv, the installer, enters the builder stages: its official image, a named one, or pip."""

from __future__ import annotations

from dataclasses import dataclass

from envforge.errors import PlanError
from envforge.image.base import mirrored
from envforge.image.bases import Catalog
from envforge.image.decision import Decision
from envforge.image.options import BuildOptions, PythonSource, UvSource
from envforge.project.pyproject import Project


@dataclass(frozen=True, kw_only=True)
class UvChoice:
    source: UvSource
    ref: str  # the image to copy it from, or the pip requirement (uv==X.Y.Z)
    version: str  # the catalog's uv


def choose_uv(
    project: Project, catalog: Catalog, options: BuildOptions, python_source: PythonSource
) -> tuple[UvChoice, Decision]:
    asked = options.uv_source or project.envforge.uv_source
    source: UvSource = "pip" if asked == "pip" else "image"
    if source == "pip" and python_source == "uv":
        raise PlanError(
            "--uv-source pip needs a Python in the base image, and this base has none",
            hint="Use the uv image (--uv-image for a mirror), or a base with Python (--python-source base).",
        )
    uv = catalog.uv
    if source == "pip":
        ref = f"uv=={uv.version}"
        why = "pip install in the builder stage, for hosts that cannot reach ghcr.io"
    elif options.uv_image:
        ref = options.uv_image
        why = f"the image you named (--uv-image / ENVFORGE_UV_IMAGE); the catalog's uv is {uv.version}"
    else:
        ref = mirrored(f"{uv.image}:{uv.version}", options.registry_mirror)
        if uv.digest:
            ref += f"@{uv.digest}"
        pin = f"pinned by digest {uv.digest}" if uv.digest else "pinned by version tag"
        why = f"uv {uv.version} from its official image, {pin}; copied into the builder stages only"
    return UvChoice(source=source, ref=ref, version=uv.version), Decision("uv", ref, why)
