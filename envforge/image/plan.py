"""Every choice behind an image, with its reason. Pure: project, lock and catalog in, Plan out.

The renderer turns a Plan into a Dockerfile; `envforge plan` prints it. Nothing here
touches the filesystem, the network or Docker, so each rule is tested on plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envforge import __version__, validate
from envforge.cuda.catalog import CudaCatalog
from envforge.cuda.needs import GpuNeeds
from envforge.errors import InvalidProjectError, LockError, PlanError
from envforge.image.bases import PYTHON_REGISTRY, Catalog, PythonImage
from envforge.image.gpu import GpuPlan, plan_gpu
from envforge.labels import ImageLabels
from envforge.project.context import CODE_FOLDER_NAMES, DEFAULT_IGNORES
from envforge.project.facts import ProjectFacts
from envforge.project.installset import Target
from envforge.project.lockfile import Lock, LockedPackage
from envforge.project.pyproject import Project
from envforge.project.vcsversion import (
    DEFAULT_VERSION,
    VERSIONINGIT,
    VcsVersion,
    env_names,
    from_revision,
)
from envforge.project.wheeltags import GLIBC, UNKNOWN_GLIBC, Support, label, no_wheel, support

VENV = "/app/.venv"
APP_DIR = "/app"
APP_USER = "app"
APP_UID = 10001
CA_IN_CONTEXT = ".envforge/ca-bundle.crt"
MANAGED_PYTHON = "/opt/python"


@dataclass(frozen=True)
class Decision:
    topic: str
    choice: str
    reason: str


@dataclass(frozen=True)
class BuildOptions:
    """What the user asked for on the command line or in the environment."""

    python: str | None = None
    base_image: str | None = None
    registry_mirror: str | None = None
    uv_image: str | None = None
    uv_source: str | None = None
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    groups: tuple[str, ...] = ()
    ca_bundle: bool = False
    cpu: bool = False  # --cpu: no GPU setup, the CPU variant of a lock that has both
    cuda: str | None = None  # --cuda X.Y: a system CUDA from an nvidia/cuda base
    package: str | None = None  # --package: the workspace member to build
    host_gpu: bool | None = None  # whether this host has an NVIDIA GPU (None: not probed)
    python_source: str | None = None  # "base" or "uv" (managed Python)
    # The Python a named base image holds ("3.12.3"; "" when it has none; None: not probed).
    base_python: str | None = None


@dataclass(frozen=True)
class Plan:
    project: Project
    python: str
    base_ref: str
    builder_ref: str  # the deps and project stages' base: base_ref, or a -devel image
    base_name: str
    base_digest: str | None
    uv_source: str
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
    entrypoint: tuple[str, ...]
    apt_packages: tuple[str, ...]
    build_apt_packages: tuple[str, ...]
    ports: tuple[int, ...]
    env: Mapping[str, str]
    labels: Mapping[str, str]
    ca_bundle: bool
    compile_bytecode: bool
    gpu: GpuPlan
    python_source: str  # "base": the base image's Python; "uv": uv's managed Python
    dockerignore: tuple[str, ...]
    default_tag: str
    decisions: tuple[Decision, ...] = field(default=())
    # Where the backend's PEP 517 get_requires_for_build_wheel runs: "deps" (from
    # pyproject.toml alone), "project" (it needs the source, setup.py) or None (not run).
    build_requires_hook: str | None = None
    member_dir: str | None = None  # facts.workspace_member: the project's folder in the context
    # Workspace members copied by their pyproject.toml alone (the one built, and those it
    # does not install): uv finds the whole workspace, and an edit there rebuilds nothing.
    member_manifests: tuple[str, ...] = ()
    # The local package at the workspace root (source "."), when the member built depends on
    # it: left out of uv sync (--no-install-package), built and installed with the member in
    # the project stage, so that an edit of the root's code rebuilds no environment.
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
    decisions: list[Decision] = []
    settings = project.envforge

    python, why, fit_notes = _choose_python(project, lock, facts, catalog, options)
    override = options.base_image or settings.base_image
    base_python = options.base_python if override else None

    extras, groups, flags = _selection(project, options)
    gpu = GpuPlan("cpu")
    if cuda_catalog is not None and lock.root is not None:
        asked = options
        gpu = _plan_gpu(project, lock, catalog, cuda_catalog, asked, python, extras, groups)
        if gpu.variant_extras:
            # The variant's packages (torch from the PyTorch index, say) need wheels too.
            with_variant = replace(asked, extras=extras + gpu.variant_extras)
            again, why, fit_notes = _choose_python(project, lock, facts, catalog, with_variant)
            if again != python:
                python = again
                gpu = _plan_gpu(project, lock, catalog, cuda_catalog, asked, python, extras, groups)
            options = replace(asked, extras=extras + gpu.variant_extras)
            extras, groups, flags = _selection(project, options)
    decisions.append(Decision("python", python, why))
    decisions += fit_notes
    decisions += [Decision(*reason) for reason in gpu.reasons]
    if facts.workspace_member:
        flags = [flags[0], "--package", project.normalized_name, *flags[1:]]
        decisions.append(
            Decision(
                "workspace",
                f"member {project.name} ({facts.workspace_member})",
                "PATH is a uv workspace root: the member is built with uv sync --package from "
                "the root's pyproject.toml and uv.lock, the workspace root is the build "
                "context; the members it installs are copied into the dependency stage, the "
                "others only by their pyproject.toml (uv --locked checks the whole workspace)",
            )
        )
    local_paths = _local_paths(lock)
    manifests: tuple[str, ...] = ()
    root_package: str | None = None
    root_requires: tuple[str, ...] = ()
    if facts.workspace_member:
        needed = _reachable_folders(lock)
        manifests = tuple(
            sorted({p for p in local_paths if p not in needed} | {facts.workspace_member})
        )
        local_paths = tuple(p for p in local_paths if p in needed)
        if "." in needed:
            root_package = _installed_root(
                lock,
                _target(catalog, python, settings.debian, overridden=bool(override)),
                extras,
                groups,
            )
        if root_package is not None:
            own = {str(r) for r in project.build_requires}
            root_requires = tuple(r for r in facts.root_build_requires if r not in own)
            decisions.append(
                Decision(
                    "workspace root",
                    f"{root_package} (.) built with the member",
                    "the member depends on the workspace root's own project: uv sync leaves it "
                    "out (--no-install-package), the project stage builds its wheel from the "
                    "context beside the member's, so that a code edit of either rebuilds only "
                    "the code layer",
                )
            )
    if local_paths:
        decisions.append(
            Decision(
                "local sources",
                " ".join(local_paths),
                "path dependencies of the lock: copied into the dependency stage, installed "
                "non-editable; an edit there rebuilds the environment",
            )
        )

    if gpu.mode == "system" and not override:
        assert gpu.base_name is not None
        name = f"docker.io/{gpu.base_name}"
        base_ref, base_name, base_digest = (
            _mirrored(name, options.registry_mirror, short=True),
            name,
            None,
        )
        builder_ref = base_ref
        if gpu.builder_base_name:
            devel = f"docker.io/{gpu.builder_base_name}"
            builder_ref = _mirrored(devel, options.registry_mirror, short=True)
        why = (
            f"CUDA {gpu.cuda} from the system; not pinned: the catalog knows no digest for it "
            "(pin one with --base-image nvidia/cuda:<tag>@sha256:... --python-source uv)"
        )
    else:
        base_ref, base_name, base_digest, why = _choose_base(project, python, catalog, options)
        builder_ref = base_ref
    decisions.append(Decision("base image", base_ref, why))
    python_source = options.python_source or settings.python_source
    source_why = "the base image carries no Python (nvidia/cuda)"
    if python_source is None:
        python_source = "uv" if gpu.mode == "system" and not override else "base"
        if base_python == "":
            python_source, source_why = "uv", "the named base image has no Python"
        elif base_python and ".".join(base_python.split(".")[:2]) != python:
            python_source = "uv"
            source_why = (
                f"the named base image holds Python {base_python}, the project asks for {python}"
            )
    if python_source == "uv":
        decisions.append(
            Decision(
                "python source",
                f"uv python install {python}",
                f"{source_why}: uv's managed Python is installed in the builder and copied into "
                "the runtime stage",
            )
        )

    uv_source = options.uv_source or settings.uv_source or "image"
    if uv_source == "pip" and python_source == "uv":
        raise PlanError(
            "--uv-source pip needs a Python in the base image, and this base has none",
            hint="Use the uv image (--uv-image for a mirror), or a base with Python (--python-source base).",
        )
    uv = catalog.uv
    if uv_source == "pip":
        uv_ref = f"uv=={uv.version}"
        why = "pip install in the builder stage, for hosts that cannot reach ghcr.io"
    elif options.uv_image:
        uv_ref = options.uv_image
        why = f"the image you named (--uv-image / ENVFORGE_UV_IMAGE); the catalog's uv is {uv.version}"
    else:
        uv_ref = _mirrored(f"{uv.image}:{uv.version}", options.registry_mirror)
        if uv.digest:
            uv_ref += f"@{uv.digest}"
        pin = f"pinned by digest {uv.digest}" if uv.digest else "pinned by version tag"
        why = f"uv {uv.version} from its official image, {pin}; copied into the builder stages only"
    decisions.append(Decision("uv", uv_ref, why))

    decisions.append(
        Decision(
            "dependencies",
            "uv sync " + _shell_join(tuple(flags)),
            "exactly the lock (--locked fails the build if uv.lock is stale); "
            + (
                f"groups {', '.join(groups)} included as asked"
                if groups
                else "no dependency group (dev stays out)"
            )
            + (f"; extras {', '.join(extras)}" if extras else ""),
        )
    )

    build_apt = settings.build_apt_packages
    git = _git_sources(lock)
    if git:
        if "git" not in build_apt:
            build_apt = (*build_apt, "git")
        shown = ", ".join(git[:3]) + (f" and {len(git) - 3} more" if len(git) > 3 else "")
        decisions.append(
            Decision(
                "git",
                "apt-get install git, in the builder stages only",
                f"uv.lock installs {shown} from git: uv sync needs the git binary to fetch "
                "it; installed with build-apt-packages in the dependency stage, never in the "
                "final image",
            )
        )
    hook, backend_decision = _backend(project, facts, build_apt)
    if backend_decision is not None:
        decisions.append(backend_decision)

    target = _target(catalog, python, settings.debian, overridden=bool(override))
    needs = _script_needs(project, lock, facts, target, extras, groups)
    entrypoint, why = _entrypoint(project, facts, needs)
    decisions.append(Decision("command", _shell_join(entrypoint), why))
    others = [s for s in sorted(needs) if s != _candidate_script(project)]
    if others:
        shown = "; ".join(f"{s} needs {needs[s]}" for s in others[:5])
        more = f"; and {len(others) - 5} more" if len(others) > 5 else ""
        decisions.append(
            Decision(
                "scripts",
                f"{len(others)} of {len(project.scripts)} need more than the image installs",
                f"{shown}{more}: the smoke check expects them not to load",
            )
        )
    kept_folders, context_decision = _context_folders(project, facts, entrypoint)
    if context_decision is not None:
        decisions.append(context_decision)

    if project.is_package:
        decisions.append(
            Decision(
                "layers",
                "environment, then project",
                "dependencies come from pyproject.toml + uv.lock alone; the project is built "
                "as a wheel and installed in its own layer, so a code edit reuses the environment",
            )
        )
    else:
        decisions.append(
            Decision(
                "layers",
                "environment, then source",
                "the project is not a package (no [build-system] or tool.uv.package = false): "
                f"its source is copied to {APP_DIR} beside the environment",
            )
        )
    decisions.append(
        Decision(
            "bytecode",
            "compiled at build" if settings.compile_bytecode else "not compiled",
            "the environment is read-only at run time, so .pyc files written at build are the only "
            "ones Python gets: each start skips compiling what it imports; set [tool.envforge] "
            "compile-bytecode = false for a faster build and a smaller image"
            if settings.compile_bytecode
            else "[tool.envforge] compile-bytecode = false: a faster build and a smaller image, "
            "but every start compiles what it imports again",
        )
    )
    if options.ca_bundle:
        decisions.append(
            Decision(
                "ca bundle",
                CA_IN_CONTEXT,
                "trusted by uv and pip in the builder stages only; the final image never holds it",
            )
        )

    labels = _labels(project, python, base_name, base_digest, facts, extras, groups)
    labels.update(gpu.labels)
    if project.description and validate.summary(project.description)[1]:
        decisions.append(
            Decision(
                "description",
                f"first {validate.DESCRIPTION_MAX} characters",
                f"project.description has {len(project.description)} characters: the image's "
                "description label holds a one-line summary (a Dockerfile line must stay short)",
            )
        )
    version, version_why = image_version(project, lock, facts)
    if version_why:
        decisions.append(Decision("version", version, version_why))
    vcs = _vcs_version(project, lock, facts)
    if vcs is not None:
        decisions.append(_vcs_decision(vcs))
    return Plan(
        project=project,
        python=python,
        base_ref=base_ref,
        builder_ref=builder_ref,
        base_name=base_name,
        base_digest=base_digest,
        uv_source=uv_source,
        uv_ref=uv_ref,
        uv_version=uv.version,
        sync_flags=tuple(flags),
        extras=extras,
        groups=groups,
        copy_python_version=facts.python_version_file is not None,
        local_paths=local_paths,
        install_project=project.is_package,
        entrypoint=entrypoint,
        apt_packages=settings.apt_packages,
        build_apt_packages=build_apt,
        ports=settings.ports,
        env=dict(settings.env),
        labels=labels,
        ca_bundle=options.ca_bundle,
        compile_bytecode=settings.compile_bytecode,
        gpu=gpu,
        python_source=python_source,
        dockerignore=dockerignore_patterns(settings.exclude, settings.include, keep=kept_folders),
        default_tag=f"{project.normalized_name}:{version}",
        decisions=tuple(decisions),
        options=options,
        version_from_revision=project.dynamic_version,
        build_requires_hook=hook,
        member_dir=facts.workspace_member,
        member_manifests=manifests,
        root_package=root_package,
        root_build_requires=root_requires,
        scripts_needing=needs,
        vcs=vcs,
        version_fallback=_bare(_lock_version(lock)) or "latest",
    )


def _vcs_version(project: Project, lock: Lock, facts: ProjectFacts) -> VcsVersion | None:
    """The version a git-versioning backend gets in the project stage: the one uv.lock
    recorded for the root, else 0.0.0+g<short sha> from the revision, else 0.0.0."""
    if not project.is_package or not project.version_backends:
        return None
    locked = _lock_version(lock)
    default = _bare(locked) or DEFAULT_VERSION
    return VcsVersion(
        backends=project.version_backends,
        env=env_names(project.version_backends, project.name),
        version=locked or from_revision(facts.revision) or DEFAULT_VERSION,
        default=default,
    )


def _bare(version: str | None) -> str | None:
    """A version that can stand bare in the Dockerfile (a default); an epoch's "!" cannot."""
    return version if version and re.fullmatch(r"[A-Za-z0-9.+_-]+", version) else None


def _vcs_decision(vcs: VcsVersion) -> Decision:
    backends = ", ".join(vcs.backends)
    if not vcs.env:
        return Decision(
            "version from git",
            f"{backends}: no version given",
            f"{VERSIONINGIT} documents no environment variable that sets the version and .git "
            "stays out of the build context: its build fails there unless [tool.versioningit] "
            "sets default-version",
        )
    why = (
        f"the image's wheel gets version {vcs.version} via {', '.join(vcs.env)}, .git stays out "
        "of the build context"
    )
    if vcs.version != vcs.default:
        why += (
            f" (from the git revision, passed as ENVFORGE_VERSION by envforge build; a "
            f"plain docker build gives {vcs.default})"
        )
    if VERSIONINGIT in vcs.backends:
        why += f"; {VERSIONINGIT} documents no such variable and is given none"
    return Decision("version from git", f"{backends}: {vcs.version}", why)


def revision_tag(revision: str) -> str:
    """The tag of a revision: 'git-' and its short sha, '-dirty' kept ('git-abc1234-dirty')."""
    sha, dirty = revision.removesuffix("-dirty"), revision.endswith("-dirty")
    return f"git-{sha[:7]}" + ("-dirty" if dirty else "")


def image_version(project: Project, lock: Lock, facts: ProjectFacts) -> tuple[str, str | None]:
    """The version part of the default tag, and why when it is not the static version."""
    if project.version:
        return project.version, None
    locked = _lock_version(lock)
    if project.dynamic_version and facts.revision:
        return revision_tag(facts.revision), (
            "project.version is dynamic: the image is tagged with the git revision (git-<short "
            "sha>, -dirty when the tree has changes) and labelled "
            "org.opencontainers.image.version with "
            + ("its wheel's version" if project.version_backends else "the commit")
        )
    no_git = "project.version is dynamic and no git revision could be read (not a git checkout, or git is not installed)"
    if locked:
        return locked, f"{no_git}: the version uv.lock recorded"
    return "latest", f"{no_git}: tagged :latest"


def _reachable_folders(lock: Lock) -> set[str]:
    """Local folders the root may install: its graph with every extra and group, and no
    marker evaluated (a superset of what uv sync installs, so that nothing needed is left out)."""
    import posixpath

    by_name: dict[str, list[LockedPackage]] = {}
    for pkg in lock.packages:
        by_name.setdefault(canonicalize_name(pkg.name), []).append(pkg)
    seen: set[int] = set()
    todo = [lock.root] if lock.root is not None else []
    folders: set[str] = set()
    while todo:
        pkg = todo.pop()
        if id(pkg) in seen:
            continue
        seen.add(id(pkg))
        if pkg.local_folder is not None:
            folders.add(posixpath.normpath(pkg.local_folder))
        edges = list(pkg.dependencies)
        for group in (*pkg.optional_dependencies.values(), *pkg.dev_dependencies.values()):
            edges += group
        for edge in edges:
            todo += [
                p
                for p in by_name.get(canonicalize_name(edge.name), [])
                if edge.version is None or p.version == edge.version
            ]
    return folders


def _git_sources(lock: Lock) -> tuple[str, ...]:
    """The locked packages that uv fetches with git ('name (url)')."""

    def shown(text: str) -> str:  # for the terminal: control characters escaped, bounded
        return validate.one_line(text)[:200]

    return tuple(
        sorted(
            f"{shown(p.name)} ({shown(p.source['git'].split('?')[0].split('#')[0])})"
            for p in lock.packages
            if "git" in p.source
        )
    )


@dataclass(frozen=True)
class _Backend:
    what: str  # how it builds, for the plan
    apt: tuple[str, ...]  # the build-apt-packages it is likely to need
    hook: str | None  # where get_requires_for_build_wheel runs


def _backend(
    project: Project, facts: ProjectFacts, build_apt: tuple[str, ...]
) -> tuple[str | None, Decision | None]:
    """Whether the project's build backend compiles, what it likely needs, and where its
    dynamic build requirements (PEP 517 get_requires_for_build_wheel) are installed."""
    if not project.is_package:
        return None, None
    requires = {canonicalize_name(r.name) for r in project.build_requires}
    backend = project.build_backend or "setuptools.build_meta:__legacy__"
    module = backend.split(":", 1)[0].split(".", 1)[0]
    markers = facts.build_markers
    cc = ("build-essential",)
    rust = ("cargo", "rustc")
    found: _Backend | None = None
    if module == "scikit_build_core":
        found = _Backend(
            "scikit-build-core compiles with CMake (cmake and ninja come from PyPI)", cc, "deps"
        )
    elif module == "mesonpy":
        found = _Backend("meson-python compiles with Meson (ninja comes from PyPI)", cc, "deps")
    elif module == "maturin":
        found = _Backend("maturin compiles Rust with cargo", rust, "deps")
    elif module == "setuptools":
        hook = "project" if "setup.py" in markers else None
        if "setuptools-rust" in requires:
            found = _Backend("setuptools-rust compiles Rust with cargo", rust, hook)
        elif markers & {"setup.py:ext_modules", "native-sources"} or requires & {
            "cython",
            "pybind11",
        }:
            found = _Backend("setuptools compiles C/C++ extensions", cc, hook)
        elif hook:
            return hook, None  # setup.py may ask for more (setup_requires): asked, not compiled
    elif requires & {"hatch-cython", "cython", "pybind11", "nanobind"}:
        found = _Backend(
            f"{module} with {', '.join(sorted(requires & {'hatch-cython', 'cython', 'pybind11', 'nanobind'}))} compiles C/C++",
            cc,
            None,
        )
    if found is None:
        return None, None
    missing = [p for p in found.apt if p not in build_apt]
    wanted = ", ".join(f'"{p}"' for p in found.apt)
    tools = "Rust toolchain" if found.apt == rust else "C/C++ compiler"
    needs = (
        f"likely needs [tool.envforge] build-apt-packages = [{wanted}] (the builder has no "
        f"{tools} otherwise)"
        if missing
        else f"build-apt-packages has {', '.join(found.apt)}"
    )
    where = {
        "deps": "its dynamic build requirements (PEP 517 get_requires_for_build_wheel) are "
        "installed into /opt/build-env in the dependency stage",
        "project": "its dynamic build requirements (PEP 517 get_requires_for_build_wheel, "
        "which runs setup.py) are installed into /opt/build-env in the project stage",
        None: "",
    }[found.hook]
    reason = "; ".join(x for x in (f"{found.what}", needs, where) if x)
    return found.hook, Decision("build backend", f"{backend} (compiles)", reason)


def _installed_root(
    lock: Lock, target: Target, extras: tuple[str, ...], groups: tuple[str, ...]
) -> str | None:
    """The workspace root's package when uv sync installs it for the member (through the
    chosen extras and groups, under the image's markers): what the project stage builds."""
    from packaging.utils import canonicalize_name

    from envforge.project.installset import installed_packages

    name = _root_package(lock)
    if name is None:
        return None
    installed = installed_packages(lock, target, extras=extras, groups=groups)
    return name if canonicalize_name(name) in installed else None


def _root_package(lock: Lock) -> str | None:
    """The name of the package the lock builds from the workspace root ("."), when it is one
    uv installs (editable or directory; a virtual root installs nothing)."""
    import posixpath

    for pkg in lock.packages:
        if pkg is lock.root:
            continue
        for kind in ("editable", "directory"):
            where = pkg.source.get(kind)
            if where is not None and posixpath.normpath(where) == ".":
                return validate.project_name(pkg.name, "the workspace root's package", "uv.lock")
    return None


def _lock_version(lock: Lock) -> str | None:
    """The root's version as uv recorded it (a dynamic version): it becomes the image tag."""
    if lock.root is None or lock.root.version is None:
        return None
    return validate.pep440_version(
        lock.root.version, f"the version of {lock.root.name!r}", "uv.lock"
    )


def _local_paths(lock: Lock) -> tuple[str, ...]:
    """Folders of the lock's path dependencies, relative to the project; refused outside it."""
    import posixpath

    paths = []
    for pkg in lock.packages:
        if pkg is lock.root:
            continue
        for kind in ("directory", "editable", "path", "virtual"):
            where = pkg.source.get(kind)
            if where is None or where == ".":
                continue
            norm = posixpath.normpath(where)
            if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
                raise PlanError(
                    f"uv.lock installs {validate.one_line(pkg.name)} from "
                    f"{validate.one_line(repr(where))}, outside the project: "
                    "a Docker build sees only the project folder",
                    hint="Move it inside the project (a uv workspace member), publish it, or "
                    "depend on it through git.",
                )
            paths.append(validate.relative_path(where, f"the source of {pkg.name!r}", "uv.lock"))
    return tuple(sorted(set(paths)))


def _plan_gpu(
    project: Project,
    lock: Lock,
    catalog: Catalog,
    cuda_catalog: CudaCatalog,
    options: BuildOptions,
    python: str,
    extras: tuple[str, ...],
    groups: tuple[str, ...],
) -> GpuPlan:
    from envforge.cuda.needs import infer_needs
    from envforge.project.installset import installed_packages

    overridden = bool(options.base_image or project.envforge.base_image)
    target = _target(catalog, python, project.envforge.debian, overridden=overridden)

    def needs_for(chosen: tuple[str, ...]) -> GpuNeeds:
        installed = installed_packages(lock, target, extras=chosen, groups=groups)
        return replace(
            infer_needs(installed, cuda_catalog),
            target=f"Python {target.python_full_version}, linux/x86_64",
        )

    return plan_gpu(
        extras_asked=bool(extras) or options.all_extras,
        project_extras=sorted(project.optional_dependencies),
        needs_for=needs_for,
        catalog=cuda_catalog,
        cpu=options.cpu,
        cuda=options.cuda or project.envforge.cuda,
        host_gpu=options.host_gpu,
        chosen_extras=extras,
        cuda_devel=project.envforge.cuda_devel,
    )


def parse_python_version_file(text: str) -> str:
    """The major.minor that a .python-version asks for ('3.11', '3.11.7', 'cpython-3.11')."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(
            r"(?:cpython[-@]?)?(3\.\d{1,2})(?:\.\d+)?(?:[-+][A-Za-z0-9._+-]*)?", line, re.ASCII
        )
        if not match:
            raise InvalidProjectError(
                f"Unsupported Python request {line!r}",
                file=".python-version",
                hint="Write a CPython version such as 3.11 (uv python pin 3.11).",
            )
        return match.group(1)
    raise InvalidProjectError("No Python version", file=".python-version")


def _minor_allowed(spec: SpecifierSet, version: str) -> bool:
    """Whether spec holds for some X.Y.Z release of minor version X.Y.

    Within one minor version a specifier changes its answer only at the patch it names, so
    patch 0, each named patch and its neighbours decide it (no probing of patch numbers)."""
    major, minor = (int(p) for p in version.split("."))
    patches = {0}
    for one in spec:
        try:
            release = Version(one.version.replace(".*", "")).release
        except InvalidVersion:  # '===' compares strings: nothing to take a patch from
            continue
        if release[:2] == (major, minor) and len(release) > 2:
            patches |= {max(release[2] - 1, 0), release[2], release[2] + 1}
    return any(spec.contains(f"{version}.{n}") for n in sorted(patches))


@dataclass(frozen=True)
class _Fit:
    """How a lock's install set installs on one Python: each package's Support."""

    python: str
    found: tuple[Support, ...] = ()

    def of(self, *kinds: str) -> list[Support]:
        return [f for f in self.found if f.kind in kinds]

    @property
    def installs(self) -> bool:
        return not self.of("none")

    @property
    def all_wheels(self) -> bool:
        # An sdist-only package is the same on every Python: it tells none apart.
        return not self.of("none", "compile")

    def shortfall(self) -> str:
        """'ray 2.49.2 has no cp314 wheel; ...': why this Python is passed over."""
        missing = self.of("none") + self.of("compile")
        shown = [
            no_wheel(f, self.python)
            + (" (only an sdist to compile)" if f.kind == "compile" else "")
            for f in missing[:3]
        ]
        more = f"; and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"{self.python}: " + "; ".join(shown) + more


def _fit(
    lock: Lock,
    catalog: Catalog,
    version: str,
    debian: str | None,
    overridden: bool,
    extras: tuple[str, ...],
    groups: tuple[str, ...],
) -> _Fit:
    """How the image's install set (the plan's extras and groups) installs on Python version."""
    from envforge.project.installset import installed_packages

    if lock.root is None:
        return _Fit(version)
    image = None if overridden else catalog.python_image(version, debian)
    glibc = GLIBC.get(image.debian, UNKNOWN_GLIBC) if image else UNKNOWN_GLIBC
    target = _target(catalog, version, debian, overridden=overridden)
    installed = installed_packages(lock, target, extras=extras, groups=groups)
    found = tuple(support(pkg, version, glibc) for _, pkg in sorted(installed.items()))
    return _Fit(version, found)


def _names(found: list[Support]) -> str:
    return ", ".join(label(f) for f in found)


def _fit_decisions(fit: _Fit, asked: str | None) -> list[Decision]:
    """What the chosen Python's install set needs beyond wheels: a risk or a warning each."""
    out: list[Decision] = []
    tag = "cp" + fit.python.replace(".", "")
    if fit.of("none"):
        out.append(
            Decision(
                "python warning",
                _names(fit.of("none")),
                f"{asked} asks for {fit.python}, but the lock has neither a {tag} wheel nor an "
                "sdist for these: uv sync will fail; pin a Python the lock has wheels for",
            )
        )
    if fit.of("compile"):
        names = ", ".join(f.package for f in fit.of("compile"))
        why = f"builds {names} from source: needs a compiler (the lock has no {tag} wheel for "
        why += 'them); add build-apt-packages = ["build-essential"] to [tool.envforge]'
        out.append(
            Decision(
                "python warning" if asked else "source builds",
                _names(fit.of("compile")),
                (f"{asked} asks for {fit.python}: " if asked else "") + why,
            )
        )
    if fit.of("sdist"):
        out.append(
            Decision(
                "source builds",
                _names(fit.of("sdist")),
                "only an sdist in the lock: built from source at build time, which may compile "
                "(a pure-Python one needs no compiler; others need build-apt-packages)",
            )
        )
    return out


def _choose_python(
    project: Project, lock: Lock, facts: ProjectFacts, catalog: Catalog, options: BuildOptions
) -> tuple[str, str, list[Decision]]:
    """The image's Python, why, and what its install set risks on it. The one place a
    Python is chosen: asked for, a named base's own, or the newest the lock has wheels for."""
    specs = [s for s in (project.requires_python, lock.requires_python) if s is not None]
    spec = SpecifierSet(",".join(str(s) for s in specs)) if specs else SpecifierSet()
    spec_text = str(project.requires_python or spec) or "any"
    known = catalog.pythons()
    debian = project.envforge.debian

    overridden = bool(options.base_image or project.envforge.base_image)
    extras, groups, _ = _selection(project, options)

    def fit(version: str) -> _Fit:
        return _fit(lock, catalog, version, debian, overridden, extras, groups)

    def allowed(version: str) -> bool:
        # A catalog image ships one patch release, and that is the one that must fit;
        # a named image may hold any patch of the minor version.
        image = catalog.python_image(version, debian)
        if image is not None and not overridden:
            return spec.contains(image.python_patch)
        return _minor_allowed(spec, version)

    asked: tuple[str, str] | None = None
    if options.python:
        asked = (options.python, "--python")
    elif project.envforge.python:
        asked = (project.envforge.python, "[tool.envforge] python")
    elif facts.python_version_file is not None:
        asked = (parse_python_version_file(facts.python_version_file), ".python-version")
    if asked:
        version, where = asked
        if not allowed(version):
            raise PlanError(
                f"Python {version} from {where} does not satisfy requires-python '{spec_text}'",
                hint="Pin a Python that requires-python allows (uv python pin X.Y).",
            )
        if version not in known and not overridden:
            raise PlanError(
                f"No base image for Python {version} (from {where}) in envforge's catalog "
                f"(it knows {', '.join(known)})",
                hint="Pick a known version, or name an image with --base-image.",
            )
        return (
            version,
            f"{where} asks for {version}; requires-python is '{spec_text}'",
            _fit_decisions(fit(version), where),
        )
    base_python = options.base_python if overridden else None
    if base_python and all(s.contains(base_python) for s in specs):
        # A named base's own Python wins over the catalog's newest when the project allows it.
        own = ".".join(base_python.split(".")[:2])
        return (
            own,
            f"the named base image's own Python ({base_python}) satisfies requires-python",
            _fit_decisions(fit(own), "the named base image"),
        )
    candidates = [
        v for v in known if allowed(v) and (overridden or catalog.python_image(v, debian))
    ]
    if not candidates:
        raise PlanError(
            f"No Python in envforge's catalog ({', '.join(known)}) satisfies "
            f"requires-python '{spec_text}'",
            hint="Relax requires-python, or name an image with --base-image and a --python.",
        )
    fits: list[_Fit] = []
    for version in sorted(candidates, key=Version, reverse=True):
        fits.append(fit(version))
        if fits[-1].all_wheels:
            break  # the newest with wheels for all: no older one is looked at
    chosen = next((f for f in fits if f.all_wheels), None) or next(
        (f for f in fits if f.installs), None
    )
    if chosen is None:
        raise PlanError(
            "No Python that requires-python "
            f"'{spec_text}' allows can install the lock: " + "; ".join(f.shortfall() for f in fits),
            hint="Re-lock with versions that have wheels for one of these Pythons "
            "(uv lock --upgrade-package NAME), or relax requires-python.",
        )
    passed = [f.shortfall() for f in fits[: fits.index(chosen)]]
    why = (
        f"newest Python in the catalog that requires-python '{spec_text}' allows "
        f"(allowed: {', '.join(candidates)})"
    )
    if passed:
        what = (
            "wheels for its whole install set" if chosen.all_wheels else "a file for each package"
        )
        why += f" for which the lock has {what}; passed over: " + "; ".join(passed)
    return chosen.python, why + "; pin another with .python-version", _fit_decisions(chosen, None)


def _choose_base(
    project: Project, python: str, catalog: Catalog, options: BuildOptions
) -> tuple[str, str, str | None, str]:
    override = options.base_image or project.envforge.base_image
    if override:
        where = (
            "--base-image / ENVFORGE_BASE_IMAGE"
            if options.base_image
            else "[tool.envforge] base-image"
        )
        digest = override.split("@", 1)[1] if "@" in override else None
        return (
            override,
            override.split("@", 1)[0],
            digest,
            f"named by {where}; its own Python serves when it is {python} (see python source)",
        )
    debian = project.envforge.debian
    image: PythonImage | None = catalog.python_image(python, debian)
    if image is None:
        have = sorted(p.debian for p in catalog.python if p.python == python)
        raise PlanError(
            f"No python:{python}-slim-{debian} in envforge's catalog (has: {', '.join(have)})",
            hint="Set [tool.envforge] debian to one of those, or name an image with --base-image.",
        )
    name = f"{PYTHON_REGISTRY}:{image.tag}"
    ref = _mirrored(name, options.registry_mirror, short=True)
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
    if options.registry_mirror:
        why += f"; pulled through the mirror {options.registry_mirror}"
    return ref, name, image.digest, why


def _mirrored(name: str, mirror: str | None, *, short: bool = False) -> str:
    """Rewrite a full reference (docker.io/library/python:3.11) for a mirror, keeping its path."""
    registry, _, path = name.partition("/")
    if mirror:
        return f"{mirror.rstrip('/')}/{path}"
    if short and registry == "docker.io":
        return path.removeprefix("library/")
    return name


def _selection(
    project: Project, options: BuildOptions
) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    settings = project.envforge
    known_extras = set(project.optional_dependencies)
    extras = (
        tuple(sorted(known_extras))
        if options.all_extras
        else tuple(dict.fromkeys(options.extras or settings.extras))
    )
    for extra in extras:
        if extra not in known_extras:
            raise PlanError(
                f"Unknown extra {extra!r}",
                hint=f"The project's extras: {', '.join(sorted(known_extras)) or 'none'}.",
            )
    groups = tuple(dict.fromkeys(options.groups or settings.groups))
    for group in groups:
        if group not in project.dependency_groups:
            raise PlanError(
                f"Unknown dependency group {group!r}",
                hint=f"The project's groups: {', '.join(sorted(project.dependency_groups)) or 'none'}.",
            )
    flags = ["--locked"]
    # --no-dev leaves out only "dev"; when other groups are default too, leave them all out.
    if groups or tuple(project.uv_default_groups) != ("dev",):
        flags.append("--no-default-groups")
    else:
        flags.append("--no-dev")
    # Each flag and its value are separate items (argv): plan --json lists them so.
    if options.all_extras:
        flags.append("--all-extras")
    else:
        flags += [item for e in extras for item in ("--extra", e)]
    flags += [item for g in groups for item in ("--group", g)]
    flags.append("--no-editable")
    return extras, groups, flags


FALLBACK_COMMAND = ("python",)


def _named_like(project: Project, names: list[str]) -> str | None:
    """The one of names that is the project's own name, normalised (my-tool, my_tool)."""
    own = [n for n in names if canonicalize_name(n) == project.normalized_name]
    return own[0] if len(own) == 1 else None


def _candidate_script(project: Project) -> str | None:
    """The console script the command would be: the one, or of several the one named like
    the project."""
    scripts = sorted(project.scripts)
    return scripts[0] if len(scripts) == 1 else _named_like(project, scripts)


def _target(catalog: Catalog, python: str, debian: str | None, *, overridden: bool) -> Target:
    from envforge.project.installset import Target

    image = None if overridden else catalog.python_image(python, debian)
    return Target(image.python_patch if image else f"{python}.0")


def _script_needs(
    project: Project,
    lock: Lock,
    facts: ProjectFacts,
    target: Target,
    extras: tuple[str, ...],
    groups: tuple[str, ...],
) -> dict[str, str]:
    """Console script -> what it needs that the image lacks ("the extra 'cli' (imports
    typer): add --extra cli to use it"), for the scripts that need an extra or a group.

    A script needs one when its module imports (facts.script_imports) a package of the lock
    that the image's install set lacks and that extra or group installs, or when its entry
    point names an extra (`mod:app [cli]`) that installs something the image lacks. An
    import that names no locked package (the stdlib, a distribution named otherwise) and a
    locked package that no extra or group brings (a marker for another Python) say nothing."""
    from envforge.project.installset import installed_packages
    from envforge.project.scriptscan import ENTRY_POINT_RE

    if not project.is_package or lock.root is None or not project.scripts:
        return {}
    own = {canonicalize_name(p) for p in facts.packages} | {project.normalized_name}
    locked = {canonicalize_name(p.name) for p in lock.packages} - own
    declared: dict[str, list[str]] = {}
    imported: dict[str, dict[str, str]] = {}  # script -> canonical name -> import name
    for script, value in project.scripts.items():
        match = ENTRY_POINT_RE.fullmatch(value)
        names = set(facts.script_imports.get(script, frozenset()))
        if match:
            # The entry point's own module may live in a dependency (jupyterlab.labapp:main).
            names.add(match["module"].split(".")[0])
        imported[script] = {canonicalize_name(n): n for n in sorted(names)}
        imported[script] = {k: v for k, v in imported[script].items() if k in locked}
        asked = (match["extras"] or "") if match else ""
        declared[script] = [
            e
            for e in (x.strip() for x in asked.split(","))
            if e in project.optional_dependencies and e not in extras
        ]
    if not any(imported.values()) and not any(declared.values()):
        return {}
    installed = set(installed_packages(lock, target, extras=extras, groups=groups))
    brings: dict[tuple[str, str], set[str]] = {}

    def brought(kind: str, name: str) -> set[str]:
        if (kind, name) not in brings:
            try:
                more = (
                    installed_packages(lock, target, extras=(*extras, name), groups=groups)
                    if kind == "extra"
                    else installed_packages(lock, target, extras=extras, groups=(*groups, name))
                )
            except LockError:  # a broken entry the image does not install: it tells nothing
                more = {}
            brings[kind, name] = set(more) - installed
        return brings[kind, name]

    choices = [("extra", e) for e in sorted(project.optional_dependencies) if e not in extras]
    choices += [("group", g) for g in sorted(project.dependency_groups) if g not in groups]
    needs: dict[str, str] = {}
    for script in sorted(imported):
        lacking = {k: v for k, v in imported[script].items() if k not in installed}
        # Of the extras (then groups) that bring what it imports, the one that brings least:
        # `peft`, not `all`.
        found = [
            (kind != "extra", len(brought(kind, name)), kind, name, hits)
            for kind, name in (choices if lacking else [])
            if (hits := sorted(v for k, v in lacking.items() if k in brought(kind, name)))
        ]
        if found:
            _, _, kind, name, hits = min(found)
            needs[script] = (
                f"the {kind} {name!r} (imports {', '.join(hits[:3])}): "
                f"add --{kind} {name} to use it"
            )
        for extra in declared[script] if script not in needs else []:
            if brought("extra", extra):
                needs[script] = (
                    f"the extra {extra!r} (its entry point names [{extra}]): "
                    f"add --extra {extra} to use it"
                )
                break
    return needs


def _entrypoint(
    project: Project, facts: ProjectFacts, needs: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], str]:
    """The image's command, and why: one that starts, or `python` and a line saying so.

    needs: the console scripts that need an extra or group the image lacks (_script_needs):
    never chosen, the plan says what would make them start."""
    if project.envforge.command:
        return project.envforge.command, "[tool.envforge] command"
    needs = needs or {}
    choose = "set [tool.envforge] command to choose, or per run: envforge run PATH --entrypoint CMD"
    notes: list[str] = []
    if project.is_package:
        scripts = sorted(project.scripts)
        chosen = _candidate_script(project)
        if len(scripts) > 1:
            listed = ", ".join(scripts)
            if chosen and chosen not in needs:
                return (chosen,), (
                    f"the console script named like the project, of {len(scripts)} in "
                    f"[project.scripts] ({listed}); {choose}"
                )
            notes.append(
                f"{len(scripts)} console scripts in [project.scripts] ({listed})"
                + ("" if chosen else ", none named like the project")
            )
        if chosen is not None and chosen in needs:
            notes.append(f"{chosen} needs {needs[chosen]}")
        elif len(scripts) == 1:
            return (
                scripts[0],
            ), f"the project's one console script, [project.scripts] {scripts[0]}"
    else:
        if project.scripts:
            notes.append("[project.scripts] are not installed: the project is not a package")
        if "main.py" in facts.top_level:
            return (
                "python",
                "main.py",
            ), "the project is not a package and has main.py (uv init's layout)"
    mains = sorted(facts.main_modules)
    module = project.module_name if project.module_name in mains else None
    module = module or (mains[0] if len(mains) == 1 else _named_like(project, mains))
    if module:
        notes.append(f"runs {module}/__main__.py, which the project's source has")
        return ("python", "-m", module), "; ".join(notes) + f"; {choose}"
    if len(mains) > 1:
        notes.append(
            f"{len(mains)} modules with a __main__.py ({', '.join(mains)}), none named like the "
            "project"
        )
    where = "no console script, no __main__.py in its packages" + (
        "" if project.is_package else ", no main.py"
    )
    lead = "; ".join(notes) if notes else f"nothing to run: {where}"
    what = (
        "envforge run PATH -- -m MODULE, a module the image installs"
        if project.is_package
        else f"envforge run PATH -- SCRIPT.py, from the source in {APP_DIR}, or -- -m MODULE"
    )
    return FALLBACK_COMMAND, (
        f"{lead}: the image starts python, which runs what follows it ({what}); "
        "set [tool.envforge] command for a default"
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


def _shell_join(argv: tuple[str, ...]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def _referenced_folders(project: Project, entrypoint: tuple[str, ...]) -> set[str]:
    """Root names the command and the console scripts point into: `python runs/train.py`,
    `python -m models.train`, `[project.scripts] x = "data.cli:main"`."""
    import posixpath

    tops: set[str] = set()
    for i, arg in enumerate(entrypoint):
        value = arg.split("=", 1)[-1]
        if i > 0 and entrypoint[i - 1] == "-m":
            tops.add(value.split(".", 1)[0])
        elif "/" in value:
            norm = posixpath.normpath(value).removeprefix(f"{APP_DIR}/")
            if not norm.startswith(("/", "..")):
                tops.add(norm.split("/", 1)[0])
    for target in project.scripts.values():
        tops.add(target.split(":", 1)[0].split(".", 1)[0].strip())
    return tops


def _context_folders(
    project: Project, facts: ProjectFacts, entrypoint: tuple[str, ...]
) -> tuple[tuple[str, ...], Decision | None]:
    """Which default-ignored folders that exist here stay in the build context (they hold
    the project's code or the command uses them), and the plan line that says so."""
    if not facts.ignored_folders:
        return (), None
    settings = project.envforge
    referenced = _referenced_folders(project, entrypoint)
    kept: list[str] = []
    why_kept: list[str] = []
    left: list[str] = []
    for name, holds_py in facts.ignored_folders:
        if name in settings.include:
            continue  # shipped as asked; the .dockerignore re-includes it already
        code = name in CODE_FOLDER_NAMES and name not in settings.exclude
        if code and holds_py:
            kept.append(name)
            why_kept.append(f"{name} holds .py files (the project's own code)")
        elif code and name in referenced:
            kept.append(name)
            why_kept.append(f"{name} is named by the command or [project.scripts]")
        else:
            left.append(name)
    if not kept and not left:
        return (), None
    choice = "; ".join(
        part
        for part in (
            f"leaves out {', '.join(left)}" if left else "",
            f"keeps {', '.join(kept)}" if kept else "",
        )
        if part
    )
    reasons = []
    if left:
        reasons.append(
            f"of the folders envforge's default .dockerignore names, {', '.join(left)} "
            f"{'exists' if len(left) == 1 else 'exist'} here and {'stays' if len(left) == 1 else 'stay'} "
            "out of the build context (list one under [tool.envforge] include to ship it)"
        )
    if kept:
        reasons.append(
            f"kept in the context although the defaults name {'it' if len(kept) == 1 else 'them'}: "
            + "; ".join(why_kept)
            + " (list one under [tool.envforge] exclude to leave it out)"
        )
    return tuple(kept), Decision("context", choice, "; ".join(reasons))


def dockerignore_patterns(
    exclude: tuple[str, ...], include: tuple[str, ...], *, keep: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Lines of .dockerignore: envforge's defaults, minus what the project includes and the
    folders that hold its code (keep), plus its excludes."""
    kept = set(include) | set(keep)
    lines: list[str] = []
    for comment, patterns in DEFAULT_IGNORES:
        chosen = [p for p in patterns if p not in kept]
        if chosen:
            lines += [f"# {comment}", *chosen]
    if exclude:
        lines += ["# From [tool.envforge] exclude", *exclude]
    # An include that no default names may still sit under one (data/keep.csv): re-include it.
    defaults = {p for _, ps in DEFAULT_IGNORES for p in ps}
    reinclude = [f"!{p}" for p in include if p not in defaults]
    if reinclude:
        lines += ["# From [tool.envforge] include", *reinclude]
    return tuple(lines)
