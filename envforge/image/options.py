"""What the user asked for on the command line or in the environment, before any choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from envforge.project.pyproject import Project

# Where the image's Python comes from: the base image's own, or uv's managed Python
# (the values of project.settings.PYTHON_SOURCES).
PythonSource = Literal["base", "uv"]
# How uv enters the builder stages: copied from its image, or pip-installed
# (the values of project.settings.UV_SOURCES).
UvSource = Literal["image", "pip"]
# Which Dockerfile syntax the plan renders: the classic builder's, or BuildKit's (RUN --mount).
Builder = Literal["classic", "buildkit"]
# Where uv sync installs the environment (plan.sync_stage).
SyncStage = Literal["deps", "runtime"]


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    python: str | None = None
    base_image: str | None = None
    registry_mirror: str | None = None
    uv_image: str | None = None
    uv_source: UvSource | None = None
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    groups: tuple[str, ...] = ()
    ca_bundle: bool = False
    cpu: bool = False  # --cpu: no GPU setup, the CPU variant of a lock that has both
    cuda: str | None = None  # --cuda X.Y: a system CUDA from an nvidia/cuda base
    package: str | None = None  # --package: the workspace member to build
    host_gpu: bool | None = None  # whether this host has an NVIDIA GPU (None: not probed)
    python_source: PythonSource | None = None
    # The Python a named base image holds ("3.12.3"; "" when it has none; None: not probed).
    base_python: str | None = None
    builder: Builder = "classic"


def named_base_image(project: Project, options: BuildOptions) -> str | None:
    """The base image named by --base-image, else by [tool.envforge] base-image."""
    return options.base_image or project.envforge.base_image
