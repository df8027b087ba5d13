"""The one way a command makes its plan: read the project, see the host, plan.

`plan`, `dockerize`, `build`, `run`, `readme` and `doctor` all call `plan_project`, so the
image that doctor judges is the image that build makes, for the same flags and the same
host. The host is seen once: its GPU presence decides a lock's CPU/CUDA variant. Doctor
hands in the host it judges (probed, or recorded with --host-facts).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envforge.host.facts import DriverFacts, HostFacts
    from envforge.image.plan import BuildOptions, Plan
    from envforge.project.loader import LoadedProject


def host_has_gpu(driver: DriverFacts) -> bool:
    """Whether a host's driver answers and sees a GPU: what decides a lock's variant."""
    return driver.status == "ok" and bool(driver.gpus)


def plan_project(
    path: Path,
    options: BuildOptions,
    *,
    check_lock: bool = True,
    host: HostFacts | None = None,
) -> tuple[LoadedProject, Plan]:
    """The project at path and its plan for these options on this host.

    host: the host the plan is made for (doctor --host-facts); None probes this one when
    the plan needs it. options.host_gpu, when set (readme: False), wins over both.
    """
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.image.bases import load_catalog
    from envforge.image.plan import make_plan
    from envforge.project.loader import load_project

    loaded = load_project(path, check_lock=check_lock, package=options.package)
    if options.host_gpu is None and not options.cpu and _host_can_decide(loaded):
        driver = host.driver if host is not None else _probe_driver()
        options = replace(options, host_gpu=host_has_gpu(driver))
    base = options.base_image or loaded.project.envforge.base_image
    if base and options.python_source is None and loaded.project.envforge.python_source is None:
        options = replace(options, base_python=_base_python(base))
    plan = make_plan(
        loaded.project, loaded.lock, loaded.facts, load_catalog(), options, load_cuda_catalog()
    )
    return loaded, plan


def _host_can_decide(loaded: LoadedProject) -> bool:
    """Whether this host's GPU can change the plan: only by choosing between CPU and CUDA
    builds of torch behind two extras or more (image.gpu.plan_gpu). Any other project skips
    the probe, and with it NVML's import (a few hundred ms for every CPU plan)."""
    extras = loaded.project.optional_dependencies
    return len(extras) >= 2 and loaded.lock.package("torch") is not None


def _probe_driver() -> DriverFacts:
    from envforge.host.nvidia import probe_driver

    return probe_driver()


def _base_python(ref: str) -> str | None:
    """The Python of a named base image, when it is a local image and an engine answers."""
    from envforge.engine import client as engine
    from envforge.errors import DockerUnavailableError

    try:
        return engine.image_python(engine.connect(), ref)
    except DockerUnavailableError:
        return None
