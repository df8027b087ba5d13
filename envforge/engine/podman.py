"""What differs behind Podman's Docker-compatible socket: how envforge recognises it (the
/version components), and how `--gpus` reaches its containers. Pure.

Podman answers the Docker API (1.41 for 4.x) with the same SDK calls, but before 5.4 it
drops a container's DeviceRequests without a word, so `--gpus` would run on the CPU; 5.4
honours only CDI requests (driver "cdi", device ids such as nvidia.com/gpu=all).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from envforge.errors import PodmanGpuError

if TYPE_CHECKING:
    from envforge.host.gate import GpuRequest

ENGINE_NAME = "Podman Engine"
CDI_MIN = (5, 4)  # the first Podman whose compat API hands out GPUs (as CDI devices)
CDI_KIND = "nvidia.com/gpu"
_VERSION_RE = re.compile(r"\d+(?:\.\d+)*", re.ASCII)


def podman_version(version: Mapping[str, Any]) -> tuple[int, ...] | None:
    """Podman's version from an engine's /version answer; None for any other engine.
    A Podman whose number does not parse is (0,): recognised, and older than any feature."""
    components = version.get("Components")
    if not isinstance(components, list):
        return None
    for component in components:
        if isinstance(component, Mapping) and component.get("Name") == ENGINE_NAME:
            return _numbers(component.get("Version") or version.get("Version")) or (0,)
    return None


def _numbers(text: object) -> tuple[int, ...]:
    """The leading dotted numbers of a version ("4.3.1+ds1" -> (4, 3, 1)); () when none."""
    match = _VERSION_RE.match(str(text or ""))
    return tuple(int(n) for n in match.group(0).split(".")) if match else ()


def shown(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version)) if version != (0,) else "(version unknown)"


def device_request_kwargs(request: GpuRequest, podman: tuple[int, ...] | None) -> dict[str, Any]:
    """docker.types.DeviceRequest's arguments for --gpus on this engine (podman: its
    version, None for Docker). Podman before 5.4 would ignore them: refused instead."""
    if podman is None:
        return request.sdk_kwargs()
    if podman < CDI_MIN:
        raise PodmanGpuError(shown(podman))
    if request.device_ids:
        names = [d if "=" in d else f"{CDI_KIND}={d}" for d in request.device_ids]
    elif request.count is None or request.count < 0:
        names = [f"{CDI_KIND}=all"]
    else:
        # CDI names devices, it does not count them: the first N by index, as docker's
        # --gpus N takes the first N.
        names = [f"{CDI_KIND}={i}" for i in range(request.count)]
    return {"driver": "cdi", "device_ids": names}
