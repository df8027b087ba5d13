"""The `envforge` command line: thin commands over the domain modules.

Domain modules are imported inside each command so that `envforge --help` stays fast.
Every EnvforgeError becomes one message on stderr and its exit code, never a traceback.
"""

from __future__ import annotations

import errno
import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from envforge.host.facts import HostFacts
    from envforge.image.plan import BuildOptions, Plan
    from envforge.project.loader import LoadedProject

app = typer.Typer(
    name="envforge",
    help="Turn a uv project (pyproject.toml + uv.lock) into a small, reproducible container image.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])


INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE (sysexits.h): a bug in envforge
DEBUG_ENV = "ENVFORGE_DEBUG"


def _err(text: str) -> None:
    from envforge.validate import for_terminal

    typer.echo(for_terminal(text), err=True)


def _out(text: str, *, nl: bool = True) -> None:
    """Print what holds project strings: control characters shown escaped, never acted on."""
    from envforge.validate import for_terminal

    typer.echo(for_terminal(text), nl=nl)


# errno -> (exit code, hint): the host's state, not a bug; 2 when the user's files or
# folders are at fault, 1 when the machine is (a full disk, an I/O error).
_OS_ERRORS = {
    errno.EACCES: (2, "Check the permissions of that file or folder."),
    errno.EPERM: (2, "Check the permissions of that file or folder."),
    errno.EROFS: (2, "The file system is read-only: work in a writable copy of the project."),
    errno.EISDIR: (2, "A directory stands where a file should be: remove or rename it."),
    errno.ENOTDIR: (2, "A file stands where a folder should be: remove or rename it."),
    errno.ELOOP: (2, "A symbolic link points to itself, or loops: fix or remove it."),
    errno.ENAMETOOLONG: (2, "Use a shorter path."),
    errno.ENOENT: (2, "Check that the path exists."),
    errno.ENOSPC: (1, "The disk is full: free some space, then retry."),
    errno.EDQUOT: (1, "The disk quota is exhausted: free some space, then retry."),
}


def _os_error(exc: OSError) -> tuple[str, str, int]:
    code, hint = _OS_ERRORS.get(exc.errno or 0, (1, "Check the file system, then retry."))
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f": '{exc.filename}'" if exc.filename is not None else ""
    return f"{what}{where}", hint, code


def handled(func: F) -> F:
    """Report EnvforgeError as 'error: ...' plus its hint, and exit with its code.

    The last resort too: an OSError (permissions, a read-only or full disk, a directory
    where a file should be) is one error line and a hint; any other exception is an
    "internal error" (exit 70) with a hint to report it, and its traceback only with
    ENVFORGE_DEBUG=1. Every line printed has its control characters escaped.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import os

        from envforge.errors import EnvforgeError

        try:
            return func(*args, **kwargs)
        except EnvforgeError as exc:
            from envforge.validate import one_line

            _err(f"error: {one_line(exc.message)}")
            for line in getattr(exc, "log_tail", []) or []:
                _err(f"  | {one_line(line)}")
            if exc.hint:
                _err(f"hint: {one_line(exc.hint)}")
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer.Exit(code), usage errors: typer reports them
        except OSError as exc:
            message, hint, code = _os_error(exc)
            _err(f"error: {message}")
            _err(f"hint: {hint}")
            raise typer.Exit(code) from None
        except RecursionError:
            _err("error: An input is nested too deep for envforge to read")
            _err("hint: Flatten the nested arrays or tables of the project's files.")
            raise typer.Exit(2) from None
        except Exception as exc:
            if os.environ.get(DEBUG_ENV) == "1":
                raise
            detail = " ".join(str(exc).split())[:200]
            _err(f"error: internal error: {type(exc).__name__}" + (f": {detail}" if detail else ""))
            _err(
                f"hint: This is a bug in envforge: run again with {DEBUG_ENV}=1 for the "
                "traceback, and report it with the command that failed."
            )
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None

    return wrapper  # type: ignore[return-value]


PathArg = Annotated[
    Path, typer.Argument(help="The project folder (with pyproject.toml and uv.lock).")
]
PythonOpt = Annotated[
    str | None, typer.Option("--python", help="Python major.minor for the image.")
]
BaseOpt = Annotated[
    str | None,
    typer.Option(
        "--base-image",
        envvar="ENVFORGE_BASE_IMAGE",
        help="Use this base image (a local name, or a private registry's) instead of the catalog's.",
    ),
]
MirrorOpt = Annotated[
    str | None,
    typer.Option(
        "--registry-mirror",
        envvar="ENVFORGE_REGISTRY_MIRROR",
        help="Pull catalog images through this registry (host[/prefix]), keeping their digests.",
    ),
]
UvImageOpt = Annotated[
    str | None,
    typer.Option("--uv-image", envvar="ENVFORGE_UV_IMAGE", help="Take uv from this image instead."),
]
UvSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--uv-source",
        envvar="ENVFORGE_UV_SOURCE",
        help="Where the builder gets uv: 'image' (ghcr.io/astral-sh/uv) or 'pip' (PyPI).",
    ),
]
ExtraOpt = Annotated[
    list[str] | None, typer.Option("--extra", help="Include this extra (repeatable).")
]
AllExtrasOpt = Annotated[bool, typer.Option("--all-extras", help="Include every extra.")]
GroupOpt = Annotated[
    list[str] | None, typer.Option("--group", help="Include this dependency group (repeatable).")
]
CpuOpt = Annotated[
    bool, typer.Option("--cpu", help="A CPU image: the CPU variant of the lock, no GPU setup.")
]
CudaOpt = Annotated[
    str | None,
    typer.Option("--cuda", help="Take CUDA X.Y from an nvidia/cuda base (a system CUDA)."),
]
PythonSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--python-source", help="The image's Python: 'base' (the base image's) or 'uv' (managed)."
    ),
]
PackageOpt = Annotated[
    str | None,
    typer.Option("--package", help="Build this member of the uv workspace whose root is PATH."),
]
CaOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        envvar="ENVFORGE_CA_BUNDLE",
        help="PEM bundle to trust in the builder stages (TLS-intercepting proxies); never in the image.",
    ),
]


def _options(
    python: str | None,
    base_image: str | None,
    registry_mirror: str | None,
    uv_image: str | None,
    uv_source: str | None,
    extra: list[str] | None,
    all_extras: bool,
    group: list[str] | None,
    ca_bundle: Path | None,
    *,
    cpu: bool = False,
    cuda: str | None = None,
    python_source: str | None = None,
) -> BuildOptions:
    from envforge import validate
    from envforge.errors import InputError
    from envforge.image.plan import BuildOptions
    from envforge.project.settings import PYTHON_SOURCES, UV_SOURCES

    if cpu and cuda:
        raise InputError(
            "--cpu and --cuda exclude each other", hint="Give --cpu for a CPU image, or --cuda X.Y."
        )
    if cuda is not None:
        validate.cuda_version(cuda, "--cuda")
    if python_source is not None and python_source not in PYTHON_SOURCES:
        validate.fail("Python source", python_source, "--python-source",
                      f"Use one of: {', '.join(PYTHON_SOURCES)}.")  # fmt: skip
    if uv_source is not None and uv_source not in UV_SOURCES:
        validate.fail("uv source", uv_source, "--uv-source / ENVFORGE_UV_SOURCE",
                      f"Use one of: {', '.join(UV_SOURCES)}.")  # fmt: skip
    if python is not None:
        validate.python_minor(python, "--python")
    base_image = base_image or None
    if base_image is not None:
        validate.image_ref(base_image, "--base-image / ENVFORGE_BASE_IMAGE")
    uv_image = uv_image or None
    if uv_image is not None:
        validate.image_ref(uv_image, "--uv-image / ENVFORGE_UV_IMAGE")
    registry_mirror = registry_mirror or None
    if registry_mirror is not None:
        registry_mirror = validate.registry_mirror(
            registry_mirror, "--registry-mirror / ENVFORGE_REGISTRY_MIRROR"
        )
    for name in extra or ():
        validate.extra_or_group_name(name, "--extra")
    for name in group or ():
        validate.extra_or_group_name(name, "--group")
    if ca_bundle is not None:
        _read_ca(ca_bundle)
    return BuildOptions(
        python=python,
        base_image=base_image,
        registry_mirror=registry_mirror,
        uv_image=uv_image,
        uv_source=uv_source,
        extras=tuple(extra or ()),
        all_extras=all_extras,
        groups=tuple(group or ()),
        ca_bundle=ca_bundle is not None,
        cpu=cpu,
        cuda=cuda,
        python_source=python_source,
    )


@dataclass(frozen=True)
class BuildFlags:
    """The build options dockerize, plan and build share, as @build_flags hands them over."""

    options: BuildOptions
    ca_bundle: Path | None


_BUILD_PARAMS = tuple(
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
    for name, kind, default in (
        ("python", PythonOpt, None),
        ("base_image", BaseOpt, None),
        ("registry_mirror", MirrorOpt, None),
        ("uv_image", UvImageOpt, None),
        ("uv_source", UvSourceOpt, None),
        ("extra", ExtraOpt, None),
        ("all_extras", AllExtrasOpt, False),
        ("group", GroupOpt, None),
        ("ca_bundle", CaOpt, None),
        ("cpu", CpuOpt, False),
        ("cuda", CudaOpt, None),
        ("python_source", PythonSourceOpt, None),
        ("package", PackageOpt, None),
    )
)


def build_flags(func: F) -> F:
    """Give a command the shared build options: Typer sees them in the signature; the
    command receives them checked, as `flags`."""
    # eval_str: this module's annotations are strings (PEP 563), Typer needs the objects.
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "flags"]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        shared = {p.name: kwargs.pop(p.name, p.default) for p in _BUILD_PARAMS}
        cpu, cuda, python_source = (
            shared.pop("cpu"),
            shared.pop("cuda"),
            shared.pop("python_source"),
        )
        package = shared.pop("package")
        options = _options(**shared, cpu=cpu, cuda=cuda, python_source=python_source)
        options = replace(options, package=package or None)
        return func(*args, flags=BuildFlags(options, shared["ca_bundle"]), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*own, *_BUILD_PARAMS])  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _read_ca(path: Path) -> str:
    from envforge import safeio
    from envforge.errors import InputError

    try:
        text = safeio.read_text(path)  # a regular file only: a FIFO would hang the read
    except InputError as exc:
        raise InputError(
            f"Cannot read the CA bundle '{path}' ({exc.message})",
            hint="Pass a readable PEM file with --ca-bundle or ENVFORGE_CA_BUNDLE.",
        ) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise InputError(
            f"'{path}' holds no PEM certificate",
            hint="Pass a PEM file (-----BEGIN CERTIFICATE-----).",
        )
    return text


def _plan(
    path: Path, options: BuildOptions, *, check_lock: bool = True, host: HostFacts | None = None
) -> tuple[LoadedProject, Plan]:
    """Every command's plan: envforge.pipeline.plan_project (doctor's too)."""
    from envforge.pipeline import plan_project

    return plan_project(path, options, check_lock=check_lock, host=host)


def _rendered(plan: Plan) -> dict[str, str]:
    from envforge.image.render import render_dockerfile, render_dockerignore

    return {"Dockerfile": render_dockerfile(plan), ".dockerignore": render_dockerignore(plan)}


@app.command()
@handled
@build_flags
def dockerize(
    path: PathArg = Path("."),
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print the Dockerfile instead of writing files.")
    ] = False,
    compose: Annotated[
        bool, typer.Option("--compose", help="Also write compose.yaml (GPU reservation, volumes).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files you wrote or edited.")
    ] = False,
    flags: BuildFlags = None,  # type: ignore[assignment]  # given by @build_flags
) -> None:
    """Write a multi-stage Dockerfile and a .dockerignore beside pyproject.toml."""
    from envforge.image.outputs import write_outputs

    options = flags.options
    loaded, plan = _plan(path, options)
    files = _rendered(plan)
    if stdout:
        typer.echo(files["Dockerfile"], nl=False)
        return
    if compose:
        from envforge.image.compose import render_compose

        files["compose.yaml"] = render_compose(plan)
    for written in write_outputs(loaded.root, files, force=force):
        _out(f"{written.action:<9} {loaded.root / written.name}")
    _out(f"base      {plan.base_ref} (Python {plan.python})")
    _out(f"next      envforge build {path}")


@app.command()
@handled
@build_flags
def plan(
    path: PathArg = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    host_facts: Annotated[
        Path | None,
        typer.Option(
            "--host-facts",
            help="Plan for recorded host facts (a doctor --json report) instead of this host: "
            "its GPU decides a CPU/CUDA variant, as doctor --host-facts judges it.",
        ),
    ] = None,
    flags: BuildFlags = None,  # type: ignore[assignment]  # given by @build_flags
) -> None:
    """Print every decision behind the image, with its reason."""
    from envforge.image.report import plan_json, plan_text

    options = flags.options
    host = None
    if host_facts is not None:
        from envforge.doctor import load_host_facts

        host = load_host_facts(host_facts)
    loaded, the_plan = _plan(path, options, host=host)
    if as_json:
        import json

        typer.echo(json.dumps(plan_json(the_plan, loaded.freshness), indent=2))
    else:
        _out(plan_text(the_plan, loaded.freshness, str(path)), nl=False)


@app.command()
@handled
@build_flags
def build(
    path: PathArg = Path("."),
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="Image tag (default: name:version).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Build every layer afresh.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a Dockerfile you edited.")
    ] = False,
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Skip the smoke check that the built image starts."),
    ] = False,
    flags: BuildFlags = None,  # type: ignore[assignment]  # given by @build_flags
) -> None:
    """Build the image through the Docker engine, with the build log streamed live.

    Writes the Dockerfile and .dockerignore first when they are missing or still
    envforge's; a Dockerfile you edited is built as it is. Then proves that the image
    starts (its packages import, its console scripts load) unless --no-check.
    """
    from concurrent.futures import ThreadPoolExecutor

    from envforge.engine import client as engine
    from envforge.image.outputs import classify, write_outputs
    from envforge.image.plan import CA_IN_CONTEXT
    from envforge.project.loader import UNCHECKED, check_lock_fresh, git_revision

    options = flags.options
    loaded, the_plan = _plan(path, options, check_lock=False)
    # `uv lock --check` and git run while the engine is reached: a rebuild after a
    # code edit is short, and these subprocesses would otherwise add to it.
    with ThreadPoolExecutor(max_workers=2) as pool:
        fresh = pool.submit(check_lock_fresh, loaded.root, loaded.project, loaded.lock)
        revision = pool.submit(git_revision, loaded.root)
        client = engine.connect()
        freshness = fresh.result()  # a stale lock stops here, before any file is written
    if freshness.startswith(UNCHECKED):
        # The build's `uv sync --locked` refuses a stale lock anyway: said, not refused here.
        _err(f"warning: uv.lock {freshness}; the build's uv sync --locked is the check")

    files = _rendered(the_plan)
    ours = {n: t for n, t in files.items() if force or classify(loaded.root / n, t) != "conflict"}
    for written in write_outputs(loaded.root, ours, force=force):
        if written.action != "unchanged":
            _out(f"{written.action:<9} {loaded.root / written.name}")
    for name in sorted(set(files) - set(ours)):
        # Loud, on stderr: the image comes from a file envforge did not write (or that was
        # edited since), so neither envforge's flags nor its fixes reach it.
        _err(
            f"warning: building {loaded.root / name} as it is: envforge did not write it, "
            "or it was edited since, so envforge's flags and fixes do not change it "
            "(--force replaces it with envforge's)"
        )

    image_tag = tag or the_plan.default_tag
    ca_bundle = flags.ca_bundle
    extra_files = {CA_IN_CONTEXT: _read_ca(ca_bundle)} if ca_bundle is not None else {}
    built = engine.build_image(
        client,
        loaded.root,
        image_tag,
        buildargs=_build_args(the_plan, loaded.facts.revision or revision.result()),
        extra_files=extra_files,
        nocache=no_cache,
        out=lambda line: print(line, flush=True),
    )
    _out(f"built     {built.tag}")
    typer.echo(f"id        {built.id}")
    typer.echo(f"size      {built.size / 1e6:.1f} MB")
    if no_check:
        typer.echo("check     skipped (--no-check)")
        return
    _smoke_check(client, built, the_plan)


def _build_args(the_plan: Any, revision: str | None) -> dict[str, str]:
    """The revision label's commit ("-dirty" is no part of a commit id), and for a backend
    that takes the version from git, the version the plan gave its wheel."""
    args = {the_plan.revision_arg: (revision or "").removesuffix("-dirty")}
    if the_plan.vcs is not None:
        args[the_plan.version_arg] = the_plan.vcs.version
    return args


def _smoke_check(client: Any, built: Any, the_plan: Any) -> None:
    """Run the built image's smoke check; one line per check; a failure raises (exit 1)."""
    from envforge.engine import client as engine
    from envforge.engine import smoke

    command = smoke.image_command(engine.get_image(client, built.id).attrs)
    report = smoke.run_check(client, built.id, smoke.probe_spec(the_plan, command))
    report = smoke.expect_failures(report, the_plan.scripts_needing)
    for check in report.checks:
        if check.expected:
            _out(f"check     {check.label} does not load, as planned: needs {check.expected}")
            continue
        _out(f"check     {check.label} {'ok' if check.ok else 'FAILED'}")
    if report.ok and not report.checks:
        _out(f"check     {smoke.PYTHON} starts ok (nothing else to check)")
    if not report.ok:
        raise smoke.failure(built.tag, report, the_plan.apt_packages, built.id)


def _gpu_gate(
    image: str,
    attrs: Any,
    request: Any,
    host_facts: Path | None,
    skip_checks: bool,
) -> None:
    """The `run --gpus` preflight: print what is not ok in doctor's format (stderr), and
    refuse on a fail unless --skip-checks. Runs before any container exists."""
    from envforge import doctor as doc
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.errors import GpuGateRefused
    from envforge.host import gate

    catalog = load_cuda_catalog()
    labels, env = gate.image_labels_and_env(attrs)
    needs = doc.needs_from_image_config(labels, env, catalog)
    host = doc.load_host_facts(host_facts) if host_facts is not None else doc.probe_host()
    pre = gate.preflight(image, needs, host, request, catalog)
    shown = [f for f in pre.findings if f.level != "ok"]
    if shown:
        _err(gate.render_findings(shown, color=sys.stderr.isatty()).rstrip("\n"))
    if not pre.refused:
        return
    if not skip_checks:
        raise GpuGateRefused(image, len(pre.failed))
    _err(f"warning: --skip-checks: starting despite {len(pre.failed)} failed check(s)")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@handled
def run(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="A project folder (runs its default tag) or an image.")
    ] = ".",
    env: Annotated[
        list[str] | None, typer.Option("-e", "--env", help="KEY=VALUE, or KEY from this shell.")
    ] = None,
    volume: Annotated[
        list[str] | None, typer.Option("-v", "--volume", help="HOST:CONTAINER[:ro].")
    ] = None,
    publish: Annotated[
        list[str] | None, typer.Option("-p", "--publish", help="[IP:][HOST:]CONTAINER.")
    ] = None,
    workdir: Annotated[
        str | None, typer.Option("--workdir", "-w", help="Working folder inside.")
    ] = None,
    entrypoint: Annotated[
        str | None, typer.Option("--entrypoint", help="Run this instead of the image's command.")
    ] = None,
    tty: Annotated[
        bool | None,
        typer.Option("--tty/--no-tty", help="Interactive TTY (default: when attached to one)."),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(
            "--gpus",
            help="GPUs for the container: all, a count, or device=0,1 / device=GPU-<uuid>. "
            "Checked first against the driver, GPUs and container toolkit.",
        ),
    ] = None,
    shm_size: Annotated[
        str | None, typer.Option("--shm-size", help="Size of /dev/shm, such as 256m or 8g.")
    ] = None,
    skip_checks: Annotated[
        bool,
        typer.Option("--skip-checks", help="Start with --gpus even when the GPU checks fail."),
    ] = False,
    host_facts: Annotated[
        Path | None,
        typer.Option(
            "--host-facts",
            help="Check --gpus against recorded host facts (a doctor --json report) "
            "instead of this host.",
        ),
    ] = None,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="Write a JSON record of this run (image, lock, git commit, command, host GPU, "
            "timing, exit code) to --runs-dir.",
        ),
    ] = False,
    runs_dir: Annotated[
        Path, typer.Option("--runs-dir", help="Where --record writes (envforge runs reads it).")
    ] = Path(".envforge/runs"),
    package: PackageOpt = None,
) -> None:
    """Run the image: output streamed, exit code returned, container removed.

    Arguments after `--` go to the image's command: envforge run PATH -- --seed 1

    With --gpus, the image's CUDA (from envforge's labels, or NVIDIA_REQUIRE_CUDA /
    CUDA_VERSION) is checked against this host before any container exists, as
    `envforge doctor --image` does; a failed check refuses to start (exit 1).
    """
    import os
    import shlex

    from envforge.engine import client as engine
    from envforge.engine.runargs import parse_env, parse_ports, parse_volumes
    from envforge.errors import InputError
    from envforge.host import gate

    if gpus is None and (skip_checks or host_facts is not None):
        raise InputError("--skip-checks and --host-facts go with --gpus")
    request = gate.parse_gpus(gpus) if gpus is not None else None
    image = target
    if package and not Path(target).is_dir():
        raise InputError("--package goes with a project folder (a uv workspace root), not an image")
    if Path(target).is_dir():
        from envforge.image.plan import BuildOptions

        # Only the tag is needed: no lock check, and no flag but --package changes it.
        _, the_plan = _plan(Path(target), BuildOptions(package=package or None), check_lock=False)
        image = the_plan.default_tag
    spec = engine.RunSpec(
        image=image,
        args=list(ctx.args),
        env=parse_env(env or [], os.environ),
        volumes=parse_volumes(volume or []),
        ports=parse_ports(publish or []),
        workdir=workdir,
        entrypoint=shlex.split(entrypoint) if entrypoint else None,
        tty=tty if tty is not None else (sys.stdin.isatty() and sys.stdout.isatty()),
        gpus=request,
        shm_size=gate.parse_shm_size(shm_size) if shm_size is not None else None,
    )
    client = engine.connect()
    found = engine.get_image(client, image)
    if request is not None:
        _gpu_gate(image, found.attrs, request, host_facts, skip_checks)
    if not record:
        raise typer.Exit(engine.run_container(client, spec))
    from envforge import records

    with records.recording(
        runs_dir, image=found, spec=spec, target=target, host_facts=host_facts
    ) as run_record:
        run_record.exit_code = engine.run_container(client, spec)
    typer.echo(f"recorded  {run_record.path}", err=True)
    raise typer.Exit(run_record.exit_code)


@app.command()
@handled
def runs(
    directory: Annotated[
        Path, typer.Argument(help="Where `envforge run --record` wrote its records.")
    ] = Path(".envforge/runs"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")] = False,
) -> None:
    """List the recorded runs, newest first."""
    from envforge import records

    raise typer.Exit(records.list_command(directory, as_json=as_json))


@app.command()
@handled
def readme(
    path: PathArg = Path("."),
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1, printing the difference, when the section is stale."),
    ] = False,
    create: Annotated[
        bool, typer.Option("--create", help="Create README.md when it is missing.")
    ] = False,
    python: PythonOpt = None,
    base_image: BaseOpt = None,
    registry_mirror: MirrorOpt = None,
    extra: ExtraOpt = None,
    all_extras: AllExtrasOpt = False,
    group: GroupOpt = None,
    cpu: CpuOpt = False,
    cuda: CudaOpt = None,
    package: PackageOpt = None,
) -> None:
    """Write or update the requirements section of README.md (driver, CUDA, GPUs, commands)."""
    from envforge.image import readme as readme_mod

    # The section must not depend on the machine that writes it: no host probe.
    options = replace(
        _options(
            python,
            base_image,
            registry_mirror,
            None,
            None,
            extra,
            all_extras,
            group,
            None,
            cpu=cpu,
            cuda=cuda,
        ),
        host_gpu=False,
        package=package or None,
    )
    # A stale lock is refused, as by every command that reads it: a README must not
    # publish what the lock no longer gives.
    loaded, the_plan = _plan(path, options)
    raise typer.Exit(readme_mod.readme_command(loaded, the_plan, check=check, create=create))


@app.command()
@handled
def verify(
    image: Annotated[str, typer.Argument(help="The image to check.")],
    path: PathArg = Path("."),
    package: PackageOpt = None,
) -> None:
    """Prove the image holds exactly the lock's packages, and its labels the lock's hash."""
    from envforge import verify as verify_mod

    raise typer.Exit(verify_mod.verify_command(image, path, package=package or None))


@app.command()
@handled
def doctor(
    path: Annotated[
        Path | None, typer.Argument(help="A project: is this host able to run it?")
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="A local image: is this host able to run it?")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    host_facts: Annotated[
        Path | None,
        typer.Option(
            "--host-facts",
            help="Judge against recorded host facts (a doctor --json report) instead of this host.",
        ),
    ] = None,
    python: PythonOpt = None,
    base_image: BaseOpt = None,
    extra: ExtraOpt = None,
    all_extras: AllExtrasOpt = False,
    group: GroupOpt = None,
    cpu: CpuOpt = False,
    cuda: CudaOpt = None,
    package: PackageOpt = None,
) -> None:
    """Check the NVIDIA driver, GPUs and container toolkit, for a project or an image.

    For a project, doctor judges the plan `envforge build` makes with the same flags on the
    host it checks (with --host-facts, the recorded one): its GPU decides a CPU/CUDA variant.
    Exit code 0 when all is well (warnings included), 1 when something fails.
    """
    from envforge import doctor as doc
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.errors import InputError

    if path is not None and image is not None:
        raise InputError("Give a project PATH or --image, not both")
    if package and path is None:
        raise InputError("--package goes with a project PATH (a uv workspace root)")
    catalog = load_cuda_catalog()
    host = doc.load_host_facts(host_facts) if host_facts is not None else doc.probe_host()
    project = image_needs = the_plan = None
    if path is not None:
        options = _options(
            python, base_image, None, None, None, extra, all_extras, group, None, cpu=cpu, cuda=cuda
        )
        options = replace(options, package=package or None)
        the_plan, needs = doc.needs_for_project(path, options, host)
        project = (the_plan.project.name, needs)
    if image is not None:
        labels, env = doc.image_config(image)
        image_needs = (image, doc.needs_from_image_config(labels, env, catalog))
    report = doc.diagnose(host, project=project, image=image_needs, catalog=catalog, plan=the_plan)
    if as_json:
        import json

        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(doc.render_text(report, color=sys.stdout.isatty()), nl=False)
    raise typer.Exit(report.exit_code)


def main() -> None:
    app(prog_name="envforge")
