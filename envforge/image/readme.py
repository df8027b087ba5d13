"""`envforge readme`: the requirements section of a project's README.md, kept up to date.

What a user needs to run the image (Python, base image, CUDA, cuDNN, NVIDIA driver, GPU
architectures, Docker and the NVIDIA Container Toolkit) and the commands that build and
run it, written between two markers (readme_file.py places it in README.md).
``render_section`` is pure; ``readme_change`` reads README.md and gives its update.

The section depends on the plan and the CUDA catalog only: no date, no host fact and no
envforge version, so the same lock gives the same bytes on every machine and release.
Every byte of README.md outside the markers stays as it was.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from packaging.version import Version

from envforge.cuda.catalog import CudaCatalog
from envforge.cuda.versions import arch_list_runs_on
from envforge.errors import InputError
from envforge.image.gpu import newest_release
from envforge.image.plan import APP_DIR, CA_IN_CONTEXT, FALLBACK_COMMAND
from envforge.image.readme_file import (
    END,
    NOTE,
    README,
    START,
    ReadmeChange,
    markdown_text,
    read_readme,
    update_readme,
)
from envforge.labels import ImageLabels
from envforge.validate import summary

if TYPE_CHECKING:
    from envforge.image.plan import Plan
    from envforge.project.loader import LoadedProject

TOOLKIT_URL = (
    "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html"
)
# --- the section ----------------------------------------------------------------------


def render_section(plan: Plan, catalog: CudaCatalog, *, pinned: str | None = None) -> str:
    """The section, markers included, ending with a newline. Pure and deterministic.
    pinned: the image as published, by digest (what `envforge push` printed, checked by
    validate.digest_ref), to pull and run instead of building."""
    gpu = plan.gpu
    member = _member_flag(plan)
    lines = [START, NOTE, "## Requirements", ""]
    lines.append(f"- **Python**: {_python(plan)}")
    lines.append(f"- **Base image**: {_base(plan)}")
    if gpu.uses_gpu:
        lines += _gpu_lines(plan, catalog)
        lines.append(
            "- **Docker**: Docker Engine 19.03 or newer (for `--gpus`), with the "
            f"[NVIDIA Container Toolkit]({TOOLKIT_URL})"
        )
        lines.append(f"- `envforge doctor .{member}` checks a host against all of the above.")
    else:
        lines.append(f"- **GPU**: {_no_gpu(plan)}")
        lines.append("- **Docker**: Docker Engine or Docker Desktop; no NVIDIA driver needed")

    flags = "".join(f" {f}" for f in build_flags(plan, catalog))
    gpus = " --gpus all" if gpu.uses_gpu else ""
    tag = shlex.quote(plan.default_tag)
    if plan.version_from_revision:
        # A dynamic version tags with the git revision; the section must not hold this
        # checkout's sha, so the command computes it where it runs.
        tag = f'"{plan.project.normalized_name}:git-$(git rev-parse --short=7 HEAD)"'
    lines += [
        "",
        "### Build and run",
        "",
        "From this folder, with envforge:",
        "",
        "```sh",
        f"envforge build .{flags}",
        f"envforge run .{member}{gpus}",
        "```",
        *_published(pinned, gpus),
        *_without_envforge(plan, tag, flags, gpus),
    ]
    if plan.entrypoint == FALLBACK_COMMAND:
        lines += _fallback_lines(tag, f"{member}{gpus}", gpus, installed=plan.install_project)
    lines.append(END)
    return "\n".join(lines) + "\n"


def _published(pinned: str | None, gpus: str) -> list[str]:
    """Pull and run the pushed image by its digest: the bytes that were checked, whatever
    the tag points at later."""
    if pinned is None:
        return []
    ref = shlex.quote(pinned)  # a digest reference holds no shell or markdown character
    return [
        "",
        "### Run the published image",
        "",
        f"The image is published as `{pinned}`, pinned by its digest:",
        "",
        "```sh",
        f"docker pull {ref}",
        f"docker run --rm{gpus} {ref}",
        "```",
    ]


def _without_envforge(plan: Plan, tag: str, flags: str, gpus: str) -> list[str]:
    """Plain `docker build` / `docker buildx build` of the Dockerfile envforge writes (either
    syntax): the build arguments `envforge build` passes, and where the CA bundle goes."""
    args = f"--build-arg {plan.revision_arg}=$(git rev-parse HEAD)"
    lines = [
        "",
        "### Build without envforge",
        "",
        f"The Dockerfile (the committed one, or what `envforge dockerize .{flags}` writes) "
        "builds with Docker alone: `docker build` on Docker 23 or newer (BuildKit by default; "
        "on Docker 20.10, set `DOCKER_BUILDKIT=1`), or `docker buildx build`. The revision "
        "label takes the commit:",
        "",
        "```sh",
        f"docker build -t {tag} {args} .",
        f"docker buildx build --load -t {tag} {args} .",
        f"docker run --rm{gpus} {tag}",
        "```",
    ]
    if plan.vcs is not None:
        lines += [
            "",
            f"The wheel's version comes from `--build-arg {plan.version_arg}=VERSION` "
            f"(`envforge build` passes the one git gives; the Dockerfile's default is "
            f"{markdown_text(plan.vcs.default)}).",
        ]
    return [
        *lines,
        "",
        "A Dockerfile written with `--ca-bundle FILE` (behind a TLS-intercepting proxy) reads "
        f"the CA bundle from `{CA_IN_CONTEXT}`, which only the builder stages see: put it "
        f"there first, `mkdir -p {CA_IN_CONTEXT.rsplit('/', 1)[0]} && cp FILE {CA_IN_CONTEXT}`.",
    ]


def _member_flag(plan: Plan) -> str:
    """' --package NAME' for a workspace member (the commands run on the root), else ''."""
    if plan.member_dir is None:
        return ""
    return f" --package {shlex.quote(plan.project.normalized_name)}"


def _fallback_lines(tag: str, run_flags: str, gpus: str, *, installed: bool) -> list[str]:
    """The image has no program of its own: say so, and how to run one."""
    if installed:
        # A package: the image holds its installed modules, not this folder's scripts.
        what = "a module the image installs, or a script of this folder mounted into it:"
        script = f'docker run --rm{gpus} -v "$PWD":/work -w /work {tag} <script.py>'
    else:
        what = f"a module or a script of the project (its source is in {APP_DIR}):"
        script = f"docker run --rm{gpus} {tag} <script.py>"
    return [
        "",
        "The image's command is `python`: the project has no console script and no "
        "`__main__.py` to run by default, so the commands above start the interpreter. "
        f"Name what to run after the image, {what}",
        "",
        "```sh",
        f"envforge run .{run_flags} -- -m <module>",
        script,
        "```",
        "",
        "or set `[tool.envforge] command` in pyproject.toml to make it the default.",
    ]


def build_flags(plan: Plan, catalog: CudaCatalog) -> list[str]:
    """The envforge flags that give this plan again, beyond what pyproject.toml says:
    the section's commands must build the image it describes."""
    settings = plan.project.envforge
    options = plan.options
    flags: list[str] = []
    if plan.member_dir is not None:
        # A workspace member: every command runs on the workspace root, naming the member.
        flags.append(_member_flag(plan).strip())
    if options.python:
        flags.append(f"--python {shlex.quote(plan.python)}")
    if options.base_image:
        flags.append(f"--base-image {shlex.quote(plan.base_ref)}")
    gpu = plan.gpu
    if options.cpu:
        flags.append("--cpu")
    asked = bool(options.cuda or settings.cuda)
    if gpu.mode == "system" and asked and gpu.cuda is not None:
        configured = newest_release(catalog, settings.cuda) if settings.cuda else None
        if configured != gpu.cuda:
            flags.append(f"--cuda {shlex.quote(gpu.cuda)}")
    if plan.extras != tuple(dict.fromkeys(settings.extras)):
        flags += [f"--extra {shlex.quote(e)}" for e in plan.extras]
    if plan.groups != tuple(dict.fromkeys(settings.groups)):
        flags += [f"--group {shlex.quote(g)}" for g in plan.groups]
    return flags


def _short(name: str) -> str:
    """docker.io/library/python:3.11-slim -> python:3.11-slim; docker.io/nvidia/cuda -> nvidia/cuda."""
    return name.removeprefix("docker.io/").removeprefix("library/")


def _python(plan: Plan) -> str:
    if plan.python_source == "uv":
        return f"{plan.python}, uv's managed Python, installed into the image (the base has none)"
    return f"{plan.python}, from the base image"


def _base(plan: Plan) -> str:
    name = _short(plan.base_name)
    if plan.base_digest:
        return f"`{name}@{plan.base_digest}`"
    pin = f"--base-image {name}@sha256:<digest>"
    if plan.python_source == "uv":
        pin += " --python-source uv"  # a named base is taken to hold its own Python
    named = bool(plan.options.base_image or plan.project.envforge.base_image)
    why = "" if named else "envforge's catalog knows none; "
    return f"`{name}`, not pinned by digest ({why}pin one with `{pin}`)"


def _no_gpu(plan: Plan) -> str:
    needs = plan.gpu.needs
    if needs.needs_cuda:
        return (
            f"none needed: a CPU image (built with `--cpu`; the lock's CUDA {needs.cuda} "
            "wheels are installed, but the image is not set up for GPUs)"
        )
    return "none needed: a CPU image"


def _gpu_lines(plan: Plan, catalog: CudaCatalog) -> list[str]:
    gpu = plan.gpu
    needs = gpu.needs
    assert gpu.cuda is not None
    lines: list[str] = []
    if gpu.mode == "system":
        own_base = plan.base_name == f"docker.io/{gpu.base_name}"
        where = "the nvidia/cuda base image" if own_base else "the base image"
        system = [f for f in needs.frameworks if f.runtime_from == "system" and f.cuda]
        if plan.options.cuda or plan.project.envforge.cuda:
            flagged = any(f.startswith("--cuda") for f in build_flags(plan, catalog))
            why = "asked for with `--cuda`" if flagged else "set by `[tool.envforge] cuda`"
        elif system:
            why = ", ".join(
                f"{f.name} {f.version} needs CUDA {_major(f.cuda or '')} from the system"
                for f in system
            )
        else:
            why = "the lock needs a system CUDA"
        cuda_line = f"{gpu.cuda}, from {where} ({why})"
        if needs.runtime_from == "wheels" and needs.cuda:
            cuda_line += (
                f"; the lock's nvidia-* wheels bring CUDA {needs.cuda}, which its frameworks use"
            )
        lines.append(f"- **CUDA**: {cuda_line}")
        cudnn = ImageLabels.from_labels(dict(gpu.labels)).cudnn
        if cudnn:
            lines.append(f"- **cuDNN**: {cudnn}, from {where}")
        elif needs.cudnn:
            lines.append(f"- **cuDNN**: from {where} (version not in envforge's catalog)")
        else:
            lines.append("- **cuDNN**: none (not needed)")
    else:
        lines.append(
            f"- **CUDA**: {gpu.cuda}, from the lock's nvidia-* wheels: inside the image, "
            "so the host needs no CUDA toolkit, only the driver"
        )
        lines.append(
            f"- **cuDNN**: {needs.cudnn}, from the lock's wheels"
            if needs.cudnn
            else "- **cuDNN**: none in the lock"
        )
    lines += _driver_lines(plan, catalog)
    lines += _arch_lines(plan, catalog)
    return lines


def _major(cuda: str) -> str:
    return cuda.split(".")[0]


def _governing_cuda(plan: Plan) -> str:
    """The newest CUDA in the image: the one the driver must serve."""
    gpu = plan.gpu
    assert gpu.cuda is not None
    cudas = [gpu.cuda]
    if gpu.mode == "system" and gpu.needs.runtime_from == "wheels" and gpu.needs.cuda:
        cudas.append(gpu.needs.cuda)
    return max(cudas, key=Version)


def _driver_lines(plan: Plan, catalog: CudaCatalog) -> list[str]:
    cuda = _governing_cuda(plan)
    info = catalog.toolkit_driver_info(cuda)
    floor = catalog.minor_compat_floor(int(_major(cuda)))
    if info is None:
        text = f"one that supports CUDA {cuda} (its driver is not in envforge's catalog)"
        if floor:
            text += f"; >= {floor} runs CUDA {_major(cuda)}.x under minor-version compatibility"
        return [f"- **NVIDIA driver**: {text}"]
    unverified = "" if info.verified else " (not confirmed in envforge's catalog)"
    text = f">= {info.driver} for full CUDA {cuda} support{unverified}"
    if floor is None or _driver_key(floor) >= _driver_key(info.driver):
        return [f"- **NVIDIA driver**: {text}"]
    text += (
        f"; >= {floor} runs it under minor-version compatibility "
        "(features that need a newer driver are unavailable)"
    )
    if plan.gpu.mode != "system":
        # envforge's own images ask the toolkit only for the major's floor (cuda>=X.0).
        return [f"- **NVIDIA driver**: {text}"]
    return [
        f"- **NVIDIA driver**: {text}",
        f"  - below {info.driver}, the nvidia/cuda base's `NVIDIA_REQUIRE_CUDA` can make the "
        "NVIDIA Container Toolkit refuse to start the container: `-e NVIDIA_DISABLE_REQUIRE=1` "
        "lifts that check",
    ]


def _driver_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def _arch_lines(plan: Plan, catalog: CudaCatalog) -> list[str]:
    needs = plan.gpu.needs
    cuda = _governing_cuda(plan)
    if needs.arch_list is None:
        unknown = [
            f"{f.name} {f.version}"
            for f in needs.frameworks
            if f.build == "cuda" and f.arch_list is None
        ]
        text = "not known: envforge's CUDA catalog has no architecture list for " + (
            ", ".join(unknown) or "the lock's CUDA frameworks"
        )
        supported = [
            a for a in catalog.architectures if catalog.cuda_supports_sm(cuda, a.sm) is True
        ]
        if supported:
            lo, hi = supported[0], supported[-1]
            families = lo.family if lo.family == hi.family else f"{lo.family} to {hi.family}"
            text += (
                f"; CUDA {cuda} itself supports compute capability {lo.sm} to {hi.sm} ({families})"
            )
        return [f"- **GPUs**: {text}"]
    if not needs.arch_list:
        return ["- **GPUs**: none: the lock's CUDA frameworks share no GPU architecture"]
    built = ", ".join(needs.arch_list) + (" +PTX" if needs.ptx else "")
    lines = [f"- **GPUs**: built for compute capability {built}, so it runs on:"]
    lines += [f"  - {line}" for line in _families(needs.arch_list, needs.ptx, cuda, catalog)]
    if needs.ptx:
        lines.append("  - +PTX: newer GPUs through JIT")
    return lines


def _families(arch_list: Sequence[str], ptx: bool, cuda: str, catalog: CudaCatalog) -> list[str]:
    """'Ampere (8.0, 8.6): A100, RTX 30xx, A10, A40' for each family the build runs on."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for arch in catalog.architectures:
        if catalog.cuda_supports_sm(cuda, arch.sm) is False:
            continue
        if not arch_list_runs_on(arch_list, ptx, arch.sm):
            continue
        sms, examples = groups.setdefault(arch.family, ([], []))
        native = arch_list_runs_on(arch_list, False, arch.sm)
        sms.append(arch.sm if native else f"{arch.sm} through PTX")
        examples += [e for e in arch.examples if e not in examples]
    return [
        f"{family} ({', '.join(sms)})" + (f": {', '.join(examples)}" if examples else "")
        for family, (sms, examples) in groups.items()
    ]


# --- README.md: its update -------------------------------------------------------------


def _title(plan: Plan) -> str:
    """The start of a README that envforge creates: the project's name and description,
    on one line each, with markdown's punctuation escaped (no heading, fence or marker)."""
    project = plan.project
    title = f"# {markdown_text(project.name)}\n"
    if not project.description:
        return title
    return title + f"\n{markdown_text(summary(project.description)[0])}\n"


def readme_change(
    loaded: LoadedProject, plan: Plan, *, create: bool, pinned: str | None = None
) -> ReadmeChange:
    """README.md's requirements section, updated for plan (and the published image, pinned
    by digest); a missing README.md is an input error unless create."""
    from envforge.cuda.catalog import load_cuda_catalog

    path = loaded.root / README
    current = read_readme(path)
    member = _member_flag(plan)
    if current is None and not create:
        raise InputError(
            f"No {README} in '{loaded.root}'",
            hint="Create one with the requirements section: "
            f"envforge readme {loaded.root}{member} --create",
        )
    section = render_section(plan, load_cuda_catalog(), pinned=pinned)
    new = update_readme(current if current is not None else _title(plan), section, name=str(path))
    image = f" --image {shlex.quote(pinned)}" if pinned else ""
    return ReadmeChange(
        path=path, current=current, new=new, again=f"envforge readme {loaded.root}{member}{image}"
    )
