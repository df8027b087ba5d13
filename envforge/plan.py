"""Every choice behind an image, with its reason. Pure: project, lock and catalog in, Plan out.

The renderer turns a Plan into a Dockerfile; `envforge plan` prints it. Nothing here
touches the filesystem, the network or Docker, so each rule is tested on plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envforge import __version__, validate
from envforge.catalog import PYTHON_REGISTRY, Catalog, PythonImage
from envforge.cuda_catalog import CudaCatalog
from envforge.errors import InvalidProjectError, PlanError
from envforge.gpu_needs import GpuNeeds
from envforge.gpu_plan import GpuPlan, plan_gpu
from envforge.lockfile import Lock
from envforge.project import Project

VENV = "/app/.venv"
APP_DIR = "/app"
APP_USER = "app"
APP_UID = 10001
CA_IN_CONTEXT = ".envforge/ca-bundle.crt"
MANAGED_PYTHON = "/opt/python"
LABEL_PREFIX = "dev.envforge"


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
    host_gpu: bool | None = None  # whether this host has an NVIDIA GPU (None: not probed)
    python_source: str | None = None  # "base" or "uv" (managed Python)
    # The Python a named base image holds ("3.12.3"; "" when it has none; None: not probed).
    base_python: str | None = None


@dataclass(frozen=True)
class ProjectFacts:
    """What the reader saw beside pyproject.toml that the plan depends on."""

    lock_hash: str
    python_version_file: str | None = None
    top_level: frozenset[str] = frozenset()
    git_source: str | None = None


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
    # What was asked on the command line (variant extras included): what gives this plan again.
    options: BuildOptions = field(default_factory=BuildOptions)

    @property
    def revision_arg(self) -> str:
        return "ENVFORGE_REVISION"


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

    python, why = _choose_python(project, lock, facts, catalog, options)
    override = options.base_image or settings.base_image
    base_python = options.base_python if override else None
    pinned = bool(options.python or settings.python or facts.python_version_file is not None)
    if base_python and not pinned:
        # A named base's own Python wins over the catalog's newest when the project allows it.
        own = ".".join(base_python.split(".")[:2])
        allowed = [s for s in (project.requires_python, lock.requires_python) if s is not None]
        if own != python and all(s.contains(base_python) for s in allowed):
            python, why = (
                own,
                f"the named base image's own Python ({base_python}) satisfies requires-python",
            )
    decisions.append(Decision("python", python, why))

    extras, groups, flags = _selection(project, options)
    gpu = GpuPlan("cpu")
    if cuda_catalog is not None and lock.root is not None:
        gpu = _plan_gpu(project, lock, catalog, cuda_catalog, options, python, extras, groups)
        if gpu.variant_extras:
            options = replace(options, extras=extras + gpu.variant_extras)
            extras, groups, flags = _selection(project, options)
    decisions += [Decision(*reason) for reason in gpu.reasons]
    local_paths = _local_paths(lock)
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

    entrypoint, why = _entrypoint(project, facts)
    decisions.append(Decision("command", _shell_join(entrypoint), why))

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
    version = project.version or _lock_version(lock) or "latest"
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
        build_apt_packages=settings.build_apt_packages,
        ports=settings.ports,
        env=dict(settings.env),
        labels=labels,
        ca_bundle=options.ca_bundle,
        compile_bytecode=settings.compile_bytecode,
        gpu=gpu,
        python_source=python_source,
        dockerignore=dockerignore_patterns(settings.exclude, settings.include),
        default_tag=f"{project.normalized_name}:{version}",
        decisions=tuple(decisions),
        options=options,
    )


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
    from envforge.gpu_needs import infer_needs
    from envforge.installset import Target, installed_packages

    image = catalog.python_image(python, project.envforge.debian)
    target = Target(image.python_patch if image else f"{python}.0")

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


def _choose_python(
    project: Project, lock: Lock, facts: ProjectFacts, catalog: Catalog, options: BuildOptions
) -> tuple[str, str]:
    specs = [s for s in (project.requires_python, lock.requires_python) if s is not None]
    spec = SpecifierSet(",".join(str(s) for s in specs)) if specs else SpecifierSet()
    spec_text = str(project.requires_python or spec) or "any"
    known = catalog.pythons()

    overridden = bool(options.base_image or project.envforge.base_image)

    def allowed(version: str) -> bool:
        # A catalog image ships one patch release, and that is the one that must fit;
        # a named image may hold any patch of the minor version.
        image = catalog.python_image(version, project.envforge.debian)
        if image is not None and not overridden:
            return spec.contains(image.python_patch)
        return any(spec.contains(f"{version}.{n}") for n in range(40))

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
        return version, f"{where} asks for {version}; requires-python is '{spec_text}'"
    candidates = [
        v
        for v in known
        if allowed(v) and (overridden or catalog.python_image(v, project.envforge.debian))
    ]
    if not candidates:
        raise PlanError(
            f"No Python in envforge's catalog ({', '.join(known)}) satisfies "
            f"requires-python '{spec_text}'",
            hint="Relax requires-python, or name an image with --base-image and a --python.",
        )
    chosen = max(candidates, key=Version)
    return chosen, (
        f"newest Python in the catalog that requires-python '{spec_text}' allows "
        f"(allowed: {', '.join(candidates)}); pin another with .python-version"
    )


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
    # Argv words, a flag and its value apart: the renderer quotes each one.
    if options.all_extras:
        flags.append("--all-extras")
    else:
        flags += [word for e in extras for word in ("--extra", e)]
    flags += [word for g in groups for word in ("--group", g)]
    flags.append("--no-editable")
    return extras, groups, flags


def _entrypoint(project: Project, facts: ProjectFacts) -> tuple[tuple[str, ...], str]:
    if project.envforge.command:
        return project.envforge.command, "[tool.envforge] command"
    scripts = sorted(project.scripts)
    if project.is_package and len(scripts) == 1:
        return (scripts[0],), f"the project's one console script, [project.scripts] {scripts[0]}"
    if not project.is_package and "main.py" in facts.top_level:
        return (
            "python",
            "main.py",
        ), "the project is not a package and has main.py (uv init's layout)"
    why = (
        f"no single console script ({len(scripts)} in [project.scripts])"
        if scripts
        else "no console script"
    )
    return (
        ("python", "-m", project.module_name),
        f"{why}: runs the package as a module; set [tool.envforge] command to choose",
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
    oci = "org.opencontainers.image"
    labels = {f"{oci}.title": project.name}
    if project.version:
        labels[f"{oci}.version"] = project.version
    if project.description:
        labels[f"{oci}.description"] = validate.summary(project.description)[0]
    source = validate.source_url(facts.git_source)
    if source:
        labels[f"{oci}.source"] = source
    labels[f"{oci}.base.name"] = base_name
    if base_digest:
        labels[f"{oci}.base.digest"] = base_digest
    labels[f"{LABEL_PREFIX}.version"] = __version__
    labels[f"{LABEL_PREFIX}.lock-hash"] = facts.lock_hash
    labels[f"{LABEL_PREFIX}.python"] = python
    labels[f"{LABEL_PREFIX}.extras"] = ",".join(extras)
    labels[f"{LABEL_PREFIX}.groups"] = ",".join(groups)
    return labels


def _shell_join(argv: tuple[str, ...]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


_DEFAULT_IGNORES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Virtual environments and caches", (
        ".venv", "venv", "**/__pycache__", "**/*.py[cod]", ".pytest_cache", ".mypy_cache",
        ".ruff_cache", ".tox", ".nox", ".coverage", "htmlcov", ".cache",
    )),
    ("Version control (the revision travels as a build argument)", (".git", ".hg", ".svn")),
    ("Build outputs", ("build", "dist", "**/*.egg-info")),
    ("envforge's run records (envforge run --record)", (".envforge/runs",)),
    ("Notebooks' checkpoints", ("**/.ipynb_checkpoints",)),
    ("Secrets never belong in an image", (
        ".env", ".env.*", "**/*.pem", "**/*.key", "**/id_rsa*", "**/id_ed25519*", ".netrc",
    )),
    ("Large data and model folders: list one under [tool.envforge] include to ship it", (
        "data", "datasets", "models", "checkpoints", "wandb", "mlruns", "outputs",
        "lightning_logs", "runs",
    )),
)  # fmt: skip


def dockerignore_patterns(exclude: tuple[str, ...], include: tuple[str, ...]) -> tuple[str, ...]:
    """Lines of .dockerignore: envforge's defaults, minus what the project includes, plus its excludes."""
    kept = set(include)
    lines: list[str] = []
    for comment, patterns in _DEFAULT_IGNORES:
        chosen = [p for p in patterns if p not in kept]
        if chosen:
            lines += [f"# {comment}", *chosen]
    if exclude:
        lines += ["# From [tool.envforge] exclude", *exclude]
    # An include that no default names may still sit under one (data/keep.csv): re-include it.
    defaults = {p for _, ps in _DEFAULT_IGNORES for p in ps}
    reinclude = [f"!{p}" for p in include if p not in defaults]
    if reinclude:
        lines += ["# From [tool.envforge] include", *reinclude]
    return tuple(lines)
