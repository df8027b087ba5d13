"""The image's base: a named one, the nvidia/cuda image of a system CUDA, or the catalog's
pinned python:*-slim image."""

from __future__ import annotations

from dataclasses import dataclass

from envforge.errors import PlanError
from envforge.image.bases import PYTHON_REGISTRY, Catalog
from envforge.image.decision import Decision
from envforge.image.gpu import GpuPlan
from envforge.image.options import BuildOptions, named_base_image
from envforge.project.pyproject import Project


@dataclass(frozen=True, kw_only=True)
class BaseChoice:
    ref: str  # what FROM names (mirrored, pinned)
    builder_ref: str  # the deps and project stages' base: ref, or a -devel image
    name: str  # the full name, unmirrored: the base.name label
    digest: str | None


def choose_base(
    project: Project, python: str, catalog: Catalog, options: BuildOptions, gpu: GpuPlan
) -> tuple[BaseChoice, Decision]:
    named = named_base_image(project, options)
    mirror = options.registry_mirror
    if gpu.mode == "system" and not named:
        assert gpu.base_name is not None
        name = f"docker.io/{gpu.base_name}"
        ref = mirrored(name, mirror, short=True)
        builder_ref = ref
        if gpu.builder_base_name:
            builder_ref = mirrored(f"docker.io/{gpu.builder_base_name}", mirror, short=True)
        why = (
            f"CUDA {gpu.cuda} from the system; not pinned: the catalog knows no digest for it "
            "(pin one with --base-image nvidia/cuda:<tag>@sha256:... --python-source uv)"
        )
        choice = BaseChoice(ref=ref, builder_ref=builder_ref, name=name, digest=None)
        return choice, Decision("base image", ref, why)
    if named:
        where = (
            "--base-image / ENVFORGE_BASE_IMAGE"
            if options.base_image
            else "[tool.envforge] base-image"
        )
        digest = named.split("@", 1)[1] if "@" in named else None
        why = f"named by {where}; its own Python serves when it is {python} (see python source)"
        choice = BaseChoice(
            ref=named, builder_ref=named, name=named.split("@", 1)[0], digest=digest
        )
        return choice, Decision("base image", named, why)
    debian = project.envforge.debian
    image = catalog.python_image(python, debian)
    if image is None:
        have = sorted(p.debian for p in catalog.python if p.python == python)
        raise PlanError(
            f"No python:{python}-slim-{debian} in envforge's catalog (has: {', '.join(have)})",
            hint="Set [tool.envforge] debian to one of those, or name an image with --base-image.",
        )
    name = f"{PYTHON_REGISTRY}:{image.tag}"
    ref = mirrored(name, mirror, short=True)
    if image.digest:
        ref += f"@{image.digest}"
    pin = (
        f"pinned by image-index digest (Python {image.python_patch}, from {catalog.sources[image.source].split(',')[0]})"
        if image.digest
        else "not pinned: the catalog knows no digest for it"
    )
    distro = f"Debian {image.debian}" + (
        " (set by [tool.envforge] debian)" if debian else " (the catalog's default)"
    )
    why = f"official slim image, {distro}, {pin}"
    if mirror:
        why += f"; pulled through the mirror {mirror}"
    choice = BaseChoice(ref=ref, builder_ref=ref, name=name, digest=image.digest)
    return choice, Decision("base image", ref, why)


def mirrored(name: str, mirror: str | None, *, short: bool = False) -> str:
    """Rewrite a full reference (docker.io/library/python:3.11) for a mirror, keeping its path."""
    registry, _, path = name.partition("/")
    if mirror:
        return f"{mirror.rstrip('/')}/{path}"
    if short and registry == "docker.io":
        return path.removeprefix("library/")
    return name
