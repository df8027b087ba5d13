"""Every choice behind an image, with its reason. Pure: project, lock and catalog in, Plan out.

make_plan asks one chooser per topic, in the order `envforge plan` lists them: python.py
(the Python, and where it comes from), gpu.py, workspace.py (local sources), base.py,
uv.py, selection.py (extras, groups, sync flags), build_backend.py, command.py,
dockerignore.py, layers.py, version.py. Each returns its value and its Decisions. The
renderer turns a Plan into a Dockerfile; nothing here touches the filesystem, the network
or Docker, so each rule is tested on plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from envforge import __version__, validate
from envforge.cuda.catalog import CudaCatalog
from envforge.image.base import choose_base
from envforge.image.bases import Catalog
from envforge.image.build_backend import BuildHook, choose_backend, choose_build_apt
from envforge.image.command import FALLBACK_COMMAND, choose_command, in_image
from envforge.image.decision import Decision
from envforge.image.dockerignore import choose_dockerignore
from envforge.image.gpu import GpuPlan, gpu_for_lock
from envforge.image.heavy import HeavyPin, heavy_decision, heavy_pins
from envforge.image.layers import (
    builder_decision,
    bytecode_decision,
    ca_bundle_decision,
    layers_decision,
    sync_stage_decision,
)
from envforge.image.layout import APP_DIR, CA_IN_CONTEXT, VENV
from envforge.image.options import Builder, BuildOptions, PythonSource, SyncStage, UvSource
from envforge.image.python import PythonChoice, choose_python, choose_python_source
from envforge.image.selection import Selection, dependencies_decision, select
from envforge.image.uv import choose_uv
from envforge.image.version import choose_version, image_version, revision_tag
from envforge.image.workspace import choose_local_sources
from envforge.labels import ImageLabels
from envforge.project.facts import ProjectFacts
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from envforge.project.vcsversion import VcsVersion

# What the rest of envforge reads from the plan's module (each defined in its own).
__all__ = [
    "APP_DIR",
    "CA_IN_CONTEXT",
    "FALLBACK_COMMAND",
    "VENV",
    "BuildOptions",
    "Decision",
    "Plan",
    "image_version",
    "make_plan",
    "revision_tag",
]


@dataclass(frozen=True, kw_only=True)
class Plan:
    project: Project
    python: str
    base_ref: str
    builder_ref: str  # the deps and project stages' base: base_ref, or a -devel image
    base_name: str
    base_digest: str | None
    uv_source: UvSource
    uv_ref: str
    uv_version: str
    sync_flags: tuple[str, ...]
    extras: tuple[str, ...]
    groups: tuple[str, ...]
    copy_python_version: bool
    # Path dependencies inside the project (workspace members, [tool.uv.sources] paths):
    # the deps stage needs their sources beside pyproject.toml and uv.lock.
    local_paths: tuple[str, ...]
    install_project: bool
    # The command as chosen (`cpu-sklearn`, `python main.py`); the image's ENTRYPOINT is
    # image_entrypoint, the same by absolute paths.
    entrypoint: tuple[str, ...]
    apt_packages: tuple[str, ...]
    build_apt_packages: tuple[str, ...]
    ports: tuple[int, ...]
    env: Mapping[str, str]
    labels: Mapping[str, str]
    ca_bundle: bool
    compile_bytecode: bool
    gpu: GpuPlan
    python_source: PythonSource
    dockerignore: tuple[str, ...]
    default_tag: str
    decisions: tuple[Decision, ...] = field(default=())
    # Where the backend's PEP 517 get_requires_for_build_wheel runs (None: not run).
    build_requires_hook: BuildHook | None = None
    member_dir: str | None = None  # facts.workspace_member: the project's folder in the context
    # Workspace members copied by their pyproject.toml alone (workspace.LocalSources).
    member_manifests: tuple[str, ...] = ()
    # The workspace root's package, built with the member (workspace.LocalSources).
    root_package: str | None = None
    # The root's [build-system] requires that the member's do not already name.
    root_build_requires: tuple[str, ...] = ()
    # What was asked on the command line (variant extras included): what gives this plan again.
    options: BuildOptions = field(default_factory=BuildOptions)
    # A dynamic version: the image's version label is the revision build passes (revision_arg).
    version_from_revision: bool = False
    # Console scripts that need an extra or group the image lacks -> what (the "needs" text
    # of the plan): never the command; the smoke check expects them not to load.
    scripts_needing: Mapping[str, str] = field(default_factory=dict)
    # A backend that takes the version from git: the version the project stage tells it.
    vcs: VcsVersion | None = None
    # A dynamic version's label when build passes no revision (plain docker build): the
    # tag's version outside git (the version uv.lock recorded, else "latest").
    version_fallback: str = "latest"
    # The Dockerfile syntax: the classic builder's, or BuildKit's (render picks the template).
    builder: Builder = "classic"
    # Where uv sync installs the environment: a builder stage it is copied from, or (BuildKit,
    # nothing to compile) the runtime stage itself, with uv and the lock mounted.
    sync_stage: SyncStage = "deps"
    # Installed before the sync, in a layer of their own (runtime sync only): heavy.py.
    heavy: tuple[HeavyPin, ...] = ()

    @property
    def image_entrypoint(self) -> tuple[str, ...]:
        """The ENTRYPOINT the Dockerfile writes: entrypoint by absolute paths, which start
        from any working directory (command.in_image)."""
        return in_image(self.entrypoint, self.project)

    @property
    def revision_arg(self) -> str:
        return "ENVFORGE_REVISION"

    @property
    def version_arg(self) -> str:
        """The build argument that carries a git-versioned wheel's version (plan.vcs)."""
        return "ENVFORGE_VERSION"


def make_plan(
    project: Project,
    lock: Lock,
    facts: ProjectFacts,
    catalog: Catalog,
    options: BuildOptions = BuildOptions(),
    cuda_catalog: CudaCatalog | None = None,
) -> Plan:
    """The whole plan. Without cuda_catalog, no GPU analysis is made (a CPU image)."""
    settings = project.envforge
    python, gpu, options, selection = _python_and_gpu(
        project, lock, facts, catalog, options, cuda_catalog
    )
    # In the order `envforge plan` lists them; a chooser with nothing to say gives None.
    decisions: list[Decision | None] = [*python.decisions, *gpu.decisions]
    if facts.workspace_member:
        selection = selection.for_member(project.normalized_name)
    sources, said = choose_local_sources(project, lock, facts, python.target, selection)
    decisions += said
    base, said_base = choose_base(project, python.version, catalog, options, gpu)
    python_source, said_source = choose_python_source(project, options, python.version, gpu.mode)
    uv, said_uv = choose_uv(project, catalog, options, python_source)
    build_apt, said_git = choose_build_apt(lock, settings.build_apt_packages)
    hook, said_backend = choose_backend(project, facts, build_apt)
    decisions += [
        said_base,
        said_source,
        said_uv,
        dependencies_decision(selection),
        said_git,
        said_backend,
    ]
    command, said = choose_command(project, lock, facts, python.target, selection)
    decisions += said
    dockerignore, said_context = choose_dockerignore(project, facts, command.entrypoint)
    decisions += [
        said_context,
        layers_decision(project),
        bytecode_decision(settings.compile_bytecode),
        ca_bundle_decision(options.ca_bundle, options.builder),
        builder_decision(options.builder),
    ]
    sync_stage, said_stage = _sync_stage(options.builder, build_apt)
    heavy_mb = settings.heavy_wheel_mb
    pins = heavy_pins(lock, python.target, python.version, selection, heavy_mb)
    decisions += [
        said_stage,
        heavy_decision(pins, _why_no_split(options.builder, sync_stage), heavy_mb),
    ]
    labels = _labels(
        project, python.version, base.name, base.digest, facts, selection.extras, selection.groups
    )
    labels.update(gpu.labels)
    decisions.append(_description_decision(project))
    version, said = choose_version(project, lock, facts)
    decisions += said
    return Plan(
        project=project,
        python=python.version,
        base_ref=base.ref,
        builder_ref=base.builder_ref,
        base_name=base.name,
        base_digest=base.digest,
        uv_source=uv.source,
        uv_ref=uv.ref,
        uv_version=uv.version,
        sync_flags=selection.sync_flags,
        extras=selection.extras,
        groups=selection.groups,
        copy_python_version=facts.python_version_file is not None,
        local_paths=sources.local_paths,
        install_project=project.is_package,
        entrypoint=command.entrypoint,
        apt_packages=settings.apt_packages,
        build_apt_packages=build_apt,
        ports=settings.ports,
        env=dict(settings.env),
        labels=labels,
        ca_bundle=options.ca_bundle,
        compile_bytecode=settings.compile_bytecode,
        gpu=gpu,
        python_source=python_source,
        dockerignore=dockerignore,
        default_tag=f"{project.normalized_name}:{version.tag}",
        decisions=tuple(d for d in decisions if d is not None),
        options=options,
        version_from_revision=project.dynamic_version,
        build_requires_hook=hook,
        member_dir=facts.workspace_member,
        member_manifests=sources.member_manifests,
        root_package=sources.root_package,
        root_build_requires=sources.root_build_requires,
        scripts_needing=command.scripts_needing,
        vcs=version.vcs,
        version_fallback=version.fallback,
        builder=options.builder,
        sync_stage=sync_stage,
        heavy=pins if sync_stage == "runtime" else (),
    )


def _sync_stage(builder: Builder, build_apt: tuple[str, ...]) -> tuple[SyncStage, Decision | None]:
    if builder == "classic":
        return "deps", None
    return sync_stage_decision(build_apt)


def _why_no_split(builder: Builder, sync_stage: SyncStage) -> str | None:
    if builder == "classic":
        return "the classic builder has no mounts: --builder buildkit splits them off"
    if sync_stage == "deps":
        return "the environment is synced in the deps stage (see above) and copied as one layer"
    return None


def _python_and_gpu(
    project: Project,
    lock: Lock,
    facts: ProjectFacts,
    catalog: Catalog,
    options: BuildOptions,
    cuda_catalog: CudaCatalog | None,
) -> tuple[PythonChoice, GpuPlan, BuildOptions, Selection]:
    """The Python and the GPU plan, which depend on each other: a CPU/CUDA variant's extra
    (torch from the PyTorch index, say) brings packages that need wheels for the Python too.
    Returns the options and selection with the variant's extra."""
    selection = select(project, options)
    python = choose_python(project, lock, facts, catalog, options, selection)
    if cuda_catalog is None or lock.root is None:
        return python, GpuPlan(mode="cpu"), options, selection
    gpu = gpu_for_lock(project, lock, cuda_catalog, options, python.target, selection)
    if not gpu.variant_extras:
        return python, gpu, options, selection
    with_variant = replace(options, extras=selection.extras + gpu.variant_extras)
    again = choose_python(
        project, lock, facts, catalog, with_variant, select(project, with_variant)
    )
    if again.version != python.version:
        gpu = gpu_for_lock(project, lock, cuda_catalog, options, again.target, selection)
    options = replace(options, extras=selection.extras + gpu.variant_extras)
    return again, gpu, options, select(project, options)


def _description_decision(project: Project) -> Decision | None:
    if not (project.description and validate.summary(project.description)[1]):
        return None
    return Decision(
        "description",
        f"first {validate.DESCRIPTION_MAX} characters",
        f"project.description has {len(project.description)} characters: the image's "
        "description label holds a one-line summary (a Dockerfile line must stay short)",
    )


def _labels(
    project: Project,
    python: str,
    base_name: str,
    base_digest: str | None,
    facts: ProjectFacts,
    extras: tuple[str, ...],
    groups: tuple[str, ...],
) -> dict[str, str]:
    return ImageLabels(
        title=project.name,
        version=project.version or None,
        description=validate.summary(project.description)[0] if project.description else None,
        source=validate.source_url(facts.git_source) or None,
        base_name=base_name,
        base_digest=base_digest or None,
        envforge_version=__version__,
        lock_hash=facts.lock_hash,
        python=python,
        extras=extras,
        groups=groups,
    ).to_labels()
