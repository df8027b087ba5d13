"""The one way a command makes its plan: read the project, see the host, plan; and the
steps `envforge build` takes around it (the lock check, the engine, the smoke check).

`plan`, `dockerize`, `build`, `run`, `readme` and `doctor` all call `plan_project`, so the
image that doctor judges is the image that build makes, for the same flags and the same
host. The host is seen once: its GPU presence decides a lock's CPU/CUDA variant. Doctor
hands in the host it judges (probed, or recorded with --host-facts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from envforge.engine.builder import BuilderChoice
    from envforge.engine.smoke import Report as SmokeReport
    from envforge.host.facts import DriverFacts, HostFacts
    from envforge.image.options import Builder
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
    return len(extras) >= 2 and any(
        canonicalize_name(p.name) == "torch" for p in loaded.lock.packages
    )


def _probe_driver() -> DriverFacts:
    from envforge.host.nvidia import probe_driver

    return probe_driver()


def _base_python(ref: str) -> str | None:
    """The Python of a named base image, when it is a local image and an engine answers."""
    from envforge.engine import client as engine
    from envforge.errors import DockerUnavailableError

    known = engine.known_image_python(ref)  # without docker-py, when the answer is cached
    if known is not None:
        return known
    try:
        return engine.image_python(engine.connect(), ref)
    except DockerUnavailableError:
        return None


def default_tag(path: Path, package: str | None = None) -> str:
    """The tag `envforge build` gives the project by default (name:version), read without a
    plan: `run PATH` starts an image already built, which no plan rule may refuse."""
    from envforge.image.plan import image_version
    from envforge.project.loader import load_project

    loaded = load_project(path, check_lock=False, package=package)
    version, _ = image_version(loaded.project, loaded.lock, loaded.facts)
    return f"{loaded.project.normalized_name}:{version}"


def image_for(target: str, package: str | None = None) -> str:
    """The image a command names: a project folder's default tag (default_tag), else
    target itself (a name or an id), as `envforge run` and `envforge save` take it."""
    from envforge.errors import InputError

    if not Path(target).is_dir():
        if package:
            raise InputError(
                "--package goes with a project folder (a uv workspace root), not an image"
            )
        return target
    return default_tag(Path(target), package or None)


def rendered(plan: Plan) -> dict[str, str]:
    """The files envforge writes beside pyproject.toml, by name. Rendering is a pure
    function of the plan and envforge's own files, so the bytes are remembered by both:
    jinja2's import and the render are ~0.1 s of a rebuild after a code edit."""
    from envforge import parsecache

    def render() -> dict[str, str]:
        from envforge.image.render import render_dockerfile, render_dockerignore

        return {"Dockerfile": render_dockerfile(plan), ".dockerignore": render_dockerignore(plan)}

    return parsecache.remembered("rendered", plan, render)


@dataclass(frozen=True, kw_only=True)
class BuildStart:
    """What `envforge build` knows before it writes a file: the plan, an engine that
    answers, whether the lock is fresh, and the git revision for the labels."""

    loaded: LoadedProject
    plan: Plan
    client: Any  # docker.DockerClient, or engine.socket_engine.SocketEngine
    freshness: str
    revision: str | None
    builder_reason: str  # why plan.builder: said before the build


def start_build(path: Path, options: BuildOptions, requested: BuilderChoice = "auto") -> BuildStart:
    """Plan, then check the lock and read git while the engine is reached: a rebuild after a
    code edit is short, and these subprocesses would otherwise add to it. A stale lock
    raises here, before any file is written. The engine decides the builder, which decides
    the plan's Dockerfile: planned again when it is not the one first assumed."""
    from concurrent.futures import ThreadPoolExecutor

    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.engine import client as engine
    from envforge.image.bases import load_catalog
    from envforge.image.plan import make_plan
    from envforge.project.loader import check_lock_fresh, git_revision

    assumed: Builder = "classic" if requested == "classic" else "buildkit"
    loaded, plan = plan_project(path, replace(options, builder=assumed), check_lock=False)
    with ThreadPoolExecutor(max_workers=2) as pool:
        fresh = pool.submit(check_lock_fresh, loaded.root, loaded.project, loaded.lock)
        revision = pool.submit(git_revision, loaded.root)
        # A BuildKit build on the engine's unix socket needs no docker-py (socket_engine).
        client = (engine.connect_socket() if requested != "classic" else None) or engine.connect()
        builder, why = engine.choose_builder(client, requested)
        if builder != plan.builder:
            plan = make_plan(
                loaded.project, loaded.lock, loaded.facts, load_catalog(),
                replace(plan.options, builder=builder), load_cuda_catalog(),
            )  # fmt: skip
        freshness = fresh.result()
        git = loaded.facts.revision or revision.result()
    return BuildStart(
        loaded=loaded, plan=plan, client=client, freshness=freshness, revision=git,
        builder_reason=why,
    )  # fmt: skip


def build_args(plan: Plan, revision: str | None) -> dict[str, str]:
    """The revision label's commit ("-dirty" is no part of a commit id), and for a backend
    that takes the version from git, the version the plan gave its wheel."""
    args = {plan.revision_arg: (revision or "").removesuffix("-dirty")}
    if plan.vcs is not None:
        args[plan.version_arg] = plan.vcs.version
    return args


def smoke_check(client: Any, image_id: str, plan: Plan) -> SmokeReport:
    """The built image's smoke check, with the failures the plan expects marked as such."""
    from envforge.engine import client as engine
    from envforge.engine import smoke

    client = engine.docker_client(client)
    command = smoke.image_command(engine.get_image(client, image_id).attrs)
    report = smoke.run_check(client, image_id, smoke.probe_spec(plan, command))
    return smoke.expect_failures(report, plan.scripts_needing)
