"""What a cluster job needs, gathered from a project's plan or a local image, and checked.

Every value that reaches a job file passes envforge.validate here, at the edge: the
renderers (kubernetes.py, slurm.py) quote what passes and refuse anything else.

- The image: by registry digest when one is known (a ``REF@sha256:...`` given, or the
  local image's RepoDigests); else the tag, with a warning that the job is not pinned.
- The command: the image's ENTRYPOINT (and CMD) written out, since Pyxis does not run an
  entrypoint, and Apptainer and Kubernetes then say exactly what runs. A plan's console
  script or Python is made absolute (``/app/.venv/bin/NAME``); anything else is left to
  the image's PATH. Arguments after ``--`` are the program's (they replace CMD).
- The GPU needs (doctor's: ``GpuNeeds``) and from them the minimum driver: the CUDA
  major's floor under minor-version compatibility, and the release's own driver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from envforge import labels as keys
from envforge import validate
from envforge.cuda.needs import GpuNeeds
from envforge.cuda.versions import parse_driver_version
from envforge.errors import InputError
from envforge.image.gpu import require_cuda
from envforge.image.layout import APP_DIR, APP_UID, APP_USER
from envforge.jobs import fields

if TYPE_CHECKING:
    from envforge.image.plan import BuildOptions, Plan

Target = Literal["kubernetes", "slurm-apptainer", "slurm-pyxis"]
TARGETS: tuple[Target, ...] = get_args(Target)
SLURM: tuple[Target, ...] = ("slurm-apptainer", "slurm-pyxis")

_DIGEST_SUFFIX = re.compile(r"@sha256:[0-9a-f]{64}\Z", re.ASCII)
_NUMERIC_USER = re.compile(r"([0-9]{1,9})(?::([0-9]{1,9}))?", re.ASCII)
_NAME_JUNK = re.compile(r"[^a-z0-9-]+", re.ASCII)


@dataclass(frozen=True, kw_only=True)
class JobOptions:
    """The command line's options, as given (checked by ``check_options``)."""

    target: str
    gpus: int | None = None  # None: one GPU for an image that needs CUDA, else none
    name: str | None = None
    namespace: str | None = None
    node_selector: tuple[str, ...] = ()
    time: str | None = None
    partition: str | None = None
    cpus: int | None = None
    mem: str | None = None
    shm_size: str | None = None
    sif: str | None = None
    archive: str | None = None
    args: tuple[str, ...] | None = None  # None: none given after `--` (the image's CMD runs)


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    """The image a job runs, as the job names and starts it."""

    ref: str  # what the job pulls: a digest reference when pinned
    pinned: bool
    command: tuple[str, ...]  # the program and the arguments it always gets
    default_args: tuple[str, ...]  # CMD: replaced by the arguments after `--`
    workdir: str | None
    # An envforge image whose command is by absolute paths: it runs from any working folder,
    # so a Slurm job runs it in the submit directory, where relative paths and outputs go.
    any_workdir: bool = False
    uid: int | None  # None: not known to be a non-root uid
    gid: int | None
    user: str  # the image's USER, as its config says it ("" for root)
    needs: GpuNeeds
    require_cuda: str | None  # NVIDIA_REQUIRE_CUDA
    name: str  # the default job name
    subject: str  # the project or image, for the file's header


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """One job, checked: everything a renderer writes."""

    target: Target
    name: str
    image: ImageFacts
    args: tuple[str, ...]
    gpus: int
    namespace: str | None = None
    node_selector: tuple[tuple[str, str], ...] = ()
    time: str | None = None
    partition: str | None = None
    cpus: int | None = None
    mem: str | None = None
    shm_bytes: int | None = None
    sif: str | None = None
    archive: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def argv(self) -> tuple[str, ...]:
        """What runs: the command, then its arguments."""
        return (*self.image.command, *self.args)

    @property
    def needs(self) -> GpuNeeds:
        return self.image.needs

    @property
    def min_driver(self) -> str | None:
        """The lowest driver the job's CUDA runs on (minor-version compatibility)."""
        return self.needs.driver_floor or self.needs.driver_toolkit

    @property
    def checks_driver(self) -> bool:
        """Whether the job checks the node's driver before its program: GPUs asked for,
        an image that needs CUDA, and a minimum known."""
        return self.gpus > 0 and self.needs.needs_cuda and self.min_driver is not None


def check_options(options: JobOptions, image: ImageFacts) -> JobSpec:
    """The options checked against the target and each other, with the image: a JobSpec."""
    target = validate.one_of(options.target, TARGETS, "target", "--target")
    slurm = target in SLURM
    misplaced = [
        (flag, given)
        for flag, given, ok in (
            ("--namespace", options.namespace is not None, not slurm),
            ("--node-selector", bool(options.node_selector), not slurm),
            ("--shm-size", options.shm_size is not None, not slurm),
            ("--time", options.time is not None, slurm),
            ("--partition", options.partition is not None, slurm),
            ("--sif", options.sif is not None, target == "slurm-apptainer"),
            ("--archive", options.archive is not None, target == "slurm-apptainer"),
        )
        if given and not ok
    ]
    if misplaced:
        flag = misplaced[0][0]
        goes = {
            "--namespace": "--target kubernetes",
            "--node-selector": "--target kubernetes",
            "--shm-size": "--target kubernetes (a Slurm job's containers share the node's "
            "/dev/shm)",
            "--time": "the Slurm targets",
            "--partition": "the Slurm targets",
            "--sif": "--target slurm-apptainer",
            "--archive": "--target slurm-apptainer",
        }[flag]
        raise InputError(f"{flag} goes with {goes}, not --target {target}")
    gpus = options.gpus if options.gpus is not None else (1 if image.needs.needs_cuda else 0)
    if gpus < 0:
        raise InputError(f"Invalid --gpus {gpus}", hint="Give a number of GPUs: 0 or more.")
    if options.cpus is not None and options.cpus < 1:
        raise InputError(f"Invalid --cpus {options.cpus}", hint="Give 1 or more.")
    shm_bytes = None
    if options.shm_size is not None:
        from envforge.host.gate import parse_shm_size

        shm_bytes = parse_shm_size(options.shm_size)
    archive = fields.job_path(options.archive, "--archive") if options.archive else None
    if archive is not None and not archive.endswith(".tar"):
        raise InputError(
            f"Invalid --archive {archive!r}: not a .tar file",
            hint="Give the file `docker save IMAGE -o FILE.tar` writes.",
        )
    args = (
        image.default_args
        if options.args is None
        else tuple(fields.job_argument(a, "the arguments after --") for a in options.args)
    )
    if not image.command and not args:
        raise InputError(
            f"{image.subject} names no command (no ENTRYPOINT, no CMD)",
            hint="Give the command after --: envforge job IMAGE --target ... -- python -m app",
        )
    warnings = []
    if not image.pinned:
        warnings.append(
            f"the job names {image.ref}, a tag that is not pinned: a node pulls whatever it "
            "names when the job starts. Push the image to a registry the cluster reaches and "
            "name it by its digest (REGISTRY/NAME@sha256:...; --ref for a project)"
        )
    if target == "kubernetes" and image.uid is None:
        shown = validate.one_line(repr(image.user))[:60] if image.user else "root"
        warnings.append(
            f"{image.subject} runs as {shown}, not a numeric uid other than 0: the Job sets no "
            "runAsNonRoot, so it runs as that user; build it with a numeric USER to run it as one"
        )
    if gpus == 0 and image.needs.needs_cuda:
        warnings.append(
            f"--gpus 0: {image.subject} needs CUDA {image.needs.cuda}, and the job asks for no "
            "GPU, so it runs on the CPU only"
        )
    if gpus and not image.needs.needs_cuda:
        warnings.append(
            f"--gpus {gpus}: {image.subject} needs no CUDA (a CPU image), so the GPUs go unused"
        )
    return JobSpec(
        target=target,
        name=fields.job_name(options.name, "--name") if options.name else image.name,
        image=image,
        args=args,
        gpus=gpus,
        namespace=fields.namespace(options.namespace, "--namespace") if options.namespace else None,
        node_selector=tuple(
            fields.node_selector(v, "--node-selector") for v in options.node_selector
        ),
        time=fields.slurm_time(options.time, "--time") if options.time else None,
        partition=fields.slurm_partition(options.partition, "--partition")
        if options.partition
        else None,
        cpus=options.cpus,
        mem=fields.memory_size(options.mem, "--mem") if options.mem else None,
        shm_bytes=shm_bytes,
        sif=fields.job_path(options.sif, "--sif") if options.sif else None,
        archive=archive,
        warnings=tuple(warnings),
    )


def render_job(spec: JobSpec) -> str:
    """The job file for the spec's target."""
    if spec.target == "kubernetes":
        from envforge.jobs.kubernetes import render_kubernetes

        return render_kubernetes(spec)
    from envforge.jobs.slurm import render_slurm

    return render_slurm(spec)


# ---------------------------------------------------------------- the image, by digest


def pinned_ref(given: str, repo_digests: Sequence[str] = ()) -> tuple[str, bool]:
    """The reference a job pulls: a digest reference as given; else the image's registry
    digest (of the tag's repository when it has one there, else the first); else the tag
    itself, not pinned."""
    if _DIGEST_SUFFIX.search(given):
        return given, True
    digests = [validate.image_ref(d, "the image's RepoDigests") for d in repo_digests]
    digests = [d for d in digests if _DIGEST_SUFFIX.search(d)]
    pinned = validate.repo_digest_for(given, digests)
    return (pinned, True) if pinned is not None else (given, False)


def default_name(text: str) -> str:
    """A job name from a project name or an image's repository: its last path part,
    lowercase, with anything but letters, digits and '-' turned into '-'."""
    last = validate.repository(text).rsplit("/", 1)[-1].lower()
    name = _NAME_JUNK.sub("-", last).strip("-")[:63].rstrip("-")
    return name or "job"


# ---------------------------------------------------------------- from a plan


def facts_from_plan(plan: Plan, ref: str, repo_digests: Sequence[str] = ()) -> ImageFacts:
    """The image `envforge build` makes from this plan, named ref (its default tag, or
    what was given)."""
    pinned, is_pinned = pinned_ref(validate.image_ref(ref, "--ref"), repo_digests)
    env = dict(plan.gpu.env)
    return ImageFacts(
        ref=pinned,
        pinned=is_pinned,
        command=plan.image_entrypoint,  # the image's ENTRYPOINT, by absolute paths
        default_args=(),
        workdir=APP_DIR,
        any_workdir=True,
        uid=APP_UID,
        gid=APP_UID,
        user=APP_USER,
        needs=plan.gpu.needs if plan.gpu.uses_gpu else GpuNeeds(),
        require_cuda=env.get("NVIDIA_REQUIRE_CUDA"),
        name=default_name(plan.project.normalized_name),
        subject=plan.project.name,
    )


# ---------------------------------------------------------------- from a local image


def facts_from_attrs(ref: str, attrs: Mapping[str, Any], needs: GpuNeeds) -> ImageFacts:
    """A local image (its inspect data), with the needs doctor reads from its config."""
    from envforge.host.gate import image_labels_and_env

    ref = validate.image_ref(ref, "the image reference")
    config = attrs.get("Config") or {}
    labels, env = image_labels_and_env(attrs)
    where = f"the config of {ref}"
    entrypoint = tuple(fields.job_argument(w, where) for w in config.get("Entrypoint") or [])
    cmd = tuple(fields.job_argument(w, where) for w in config.get("Cmd") or [])
    # No ENTRYPOINT: CMD is the whole command, and the arguments after `--` replace it all.
    workdir = config.get("WorkingDir") or None
    if workdir is not None:
        workdir = fields.job_path(workdir, where)
    user = str(config.get("User") or "")
    uid, gid = _user_ids(user, envforge=keys.ENVFORGE_VERSION in labels)
    required = env.get("NVIDIA_REQUIRE_CUDA")
    if required is not None:
        required = validate.single_line_text(required, f"NVIDIA_REQUIRE_CUDA of {ref}", 4096)
    elif needs.needs_cuda:
        assert needs.cuda is not None
        required = require_cuda(needs.cuda)
    pinned, is_pinned = pinned_ref(ref, attrs.get("RepoDigests") or ())
    return ImageFacts(
        ref=pinned,
        pinned=is_pinned,
        command=entrypoint,
        default_args=cmd,
        workdir=workdir,
        any_workdir=keys.ENVFORGE_VERSION in labels
        and entrypoint[:1] != ()
        and entrypoint[0].startswith("/"),
        uid=uid,
        gid=gid,
        user=user,
        needs=needs,
        require_cuda=required if needs.needs_cuda else None,
        name=default_name(ref),
        subject=ref,
    )


def _user_ids(user: str, *, envforge: bool) -> tuple[int | None, int | None]:
    """The image's USER as ids when they are known and not root: a number (uid[:gid]),
    or envforge's own user."""
    if match := _NUMERIC_USER.fullmatch(user):
        uid = int(match[1])
        gid = int(match[2]) if match[2] else None
        return (uid, gid) if uid != 0 else (None, None)
    if envforge and user == APP_USER:
        return APP_UID, APP_UID
    return None, None


# ---------------------------------------------------------------- gathering


def project_facts(path: Path, options: BuildOptions, ref: str | None) -> ImageFacts:
    """The project's plan (as `envforge build` makes it here), and the image it names:
    ref, or its default tag, pinned through the engine's RepoDigests when it has them."""
    from envforge.pipeline import plan_project

    if ref is not None:
        validate.image_ref(ref, "--ref")
    _, plan = plan_project(path, options)
    ref = ref or plan.default_tag
    digests: Sequence[str] = ()
    if not _DIGEST_SUFFIX.search(ref):
        digests = _local_digests(ref)
    return facts_from_plan(plan, ref, digests)


def _local_digests(ref: str) -> Sequence[str]:
    """The RepoDigests of a local image; none when no engine answers or it lacks it: a job
    for a project can be written before its image is built or pushed."""
    from envforge.engine import client as engine
    from envforge.errors import DockerUnavailableError, ImageNotFoundError

    try:
        image = engine.get_image(engine.connect(), ref)
    except (DockerUnavailableError, ImageNotFoundError):
        return ()
    return tuple(image.attrs.get("RepoDigests") or ())


def image_facts(ref: str) -> ImageFacts:
    """A local image, read through the engine as `doctor --image` reads it."""
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.doctor import needs_from_image_config
    from envforge.engine import client as engine
    from envforge.host.gate import image_labels_and_env

    ref = validate.image_ref(ref, "PATH|IMAGE (no project folder of that name here)")
    attrs = engine.get_image(engine.connect(), ref).attrs
    labels, env = image_labels_and_env(attrs)
    needs = needs_from_image_config(labels, env, load_cuda_catalog())
    return facts_from_attrs(ref, attrs, needs)


def driver_version(value: str | None) -> str | None:
    """A catalog's driver version, checked before it reaches a script."""
    if value is None:
        return None
    parse_driver_version(value)
    return value
