"""Which builder a build uses: BuildKit through the API where the engine has it, else classic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Builder = Literal["buildkit", "classic"]
BuilderChoice = Literal["auto", "buildkit", "classic"]
BUILDER_CHOICES: tuple[BuilderChoice, ...] = ("auto", "buildkit", "classic")
# Docker 20.10 (API 1.41): the first engine checked to build with BuildKit with no session.
MIN_API = (1, 41)


def _api(text: object) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return None


def builder_for(version: Mapping[str, Any]) -> tuple[Builder, str]:
    """The builder `auto` picks from the engine's /version answer, and why (pure)."""
    components = version.get("Components")
    names = (
        [c.get("Name") for c in components if isinstance(c, Mapping)]
        if isinstance(components, list)
        else []
    )
    number = str(version.get("Version") or "?")
    if "Podman Engine" in names:
        return "classic", f"Podman Engine {number} builds with buildah, whatever it is asked"
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


def choose_builder(client: Any, requested: BuilderChoice) -> tuple[Builder, str]:
    """The builder for `requested` on this engine, and the reason said before the build."""
    if requested == "classic":
        return "classic", "--builder classic"
    if requested != "auto":
        return requested, f"--builder {requested}"
    try:
        version = client.version()
    except Exception:  # an engine that does not answer /version: the classic path still works
        return "classic", "the engine did not say its version"
    if not isinstance(version, Mapping):
        return "classic", "the engine did not say its version"
    return builder_for(version)
