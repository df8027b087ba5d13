"""Which builder a build uses: BuildKit through the API where the engine has it, else classic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from envforge.engine.podman import podman_version, shown

Builder = Literal["buildkit", "classic"]
BuilderChoice = Literal["auto", "buildkit", "classic"]
BUILDER_CHOICES: tuple[BuilderChoice, ...] = ("auto", "buildkit", "classic")
# Docker 20.10 (API 1.41): the first engine checked to build with BuildKit with no session.
MIN_API = (1, 41)
# Podman's /build is buildah whatever it is asked. Buildah 1.28 (Podman 4.3.1) builds the
# BuildKit Dockerfile, cache mounts included, but keeps a RUN --mount=type=bind layer when
# the file bound changes (checked: a uv.lock with one package more rebuilt nothing, and the
# image lacked it; buildah issues 5400 and 6609): so Podman gets the classic Dockerfile,
# whose COPY of pyproject.toml and uv.lock is in the layer cache's key.
_PODMAN_WHY = (
    "builds with buildah, which does not rebuild a RUN --mount=type=bind layer when the "
    "bound uv.lock changes: the classic Dockerfile"
)


def builder_for(version: Mapping[str, Any]) -> tuple[Builder, str]:
    """The builder `auto` picks from the engine's /version answer, and why (pure)."""
    podman = podman_version(version)
    if podman is not None:
        return "classic", f"Podman Engine {shown(podman)} {_PODMAN_WHY}"
    number = str(version.get("Version") or "?")
    api = _api(version.get("ApiVersion"))
    if api is None:
        return "classic", "the engine did not say its API version"
    if api < MIN_API:
        return (
            "classic",
            f"Docker Engine {number} (API {version.get('ApiVersion')}) predates BuildKit "
            "through the API",
        )
    return "buildkit", f"Docker Engine {number} supports BuildKit through the API"


def _api(text: object) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return None


def _version(client: Any) -> Mapping[str, Any] | None:
    try:
        version = client.version()
    except Exception:  # an engine that does not answer /version: the classic path still works
        return None
    return version if isinstance(version, Mapping) else None


def choose_builder(client: Any, requested: BuilderChoice) -> tuple[Builder, str]:
    """The builder for `requested` on this engine, and the reason said before the build."""
    if requested == "classic":
        return "classic", "--builder classic"
    version = _version(client)
    if requested == "buildkit":
        podman = podman_version(version) if version is not None else None
        if podman is None:
            return "buildkit", "--builder buildkit"
        # Said, not refused: a setting made for Docker (ENVFORGE_BUILDER) still builds here.
        return (
            "classic",
            f"--builder buildkit: Podman Engine {shown(podman)} has no BuildKit; it {_PODMAN_WHY}",
        )
    if version is None:
        return "classic", "the engine did not say its version"
    return builder_for(version)
