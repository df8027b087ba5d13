"""The GPU side of a plan: which CUDA variant, which base, which NVIDIA settings. Pure.

- CUDA from wheels (torch, jax, tensorflow from PyPI): keep the python:*-slim base, no
  second copy of CUDA underneath; set what the NVIDIA container toolkit reads, with an
  NVIDIA_REQUIRE_CUDA computed from the lock.
- A system CUDA (cupy without ctk, onnxruntime-gpu, or [tool.envforge] cuda): an
  nvidia/cuda runtime image of the newest patch of that CUDA, cuDNN when needed, with
  uv's managed Python (nvidia/cuda images carry none).
- Locks that hold CPU and CUDA variants behind extras: --cpu/--cuda choose, else the host
  does (a GPU present: the CUDA variant).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.version import Version

from envforge.cuda.catalog import CudaCatalog
from envforge.cuda.needs import GpuNeeds
from envforge.cuda.rows import ImageKind
from envforge.errors import PlanError
from envforge.image.decision import Decision
from envforge.image.options import BuildOptions
from envforge.image.selection import Selection
from envforge.labels import ImageLabels
from envforge.project.installset import Target
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project

CUDA_IMAGE = "nvidia/cuda"
DEFAULT_UBUNTU = "22.04"
# "cpu": no GPU setup; "wheels": CUDA from the lock's nvidia-* wheels on a python:*-slim base;
# "system": CUDA from an nvidia/cuda base.
GpuMode = Literal["cpu", "wheels", "system"]


@dataclass(frozen=True, kw_only=True)
class GpuPlan:
    mode: GpuMode
    needs: GpuNeeds = field(default_factory=GpuNeeds)
    variant_extras: tuple[str, ...] = ()  # extras chosen for a CPU/CUDA variant
    cuda: str | None = None  # what the image provides or needs: "13.2", "12.9.1"
    base_name: str | None = None  # system mode: nvidia/cuda:<tag>
    builder_base_name: str | None = None  # system mode with cuda-devel: the -devel tag
    env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    decisions: tuple[Decision, ...] = ()

    @property
    def uses_gpu(self) -> bool:
        return self.mode != "cpu"


def newest_release(catalog: CudaCatalog, cuda: str, *, major_only: bool = False) -> str:
    """The newest patch release the catalog knows: '12.8' -> '12.8.1'; '12' -> '12.9.1'."""
    if major_only:
        major = cuda.split(".")[0]
        minors = [c for c in catalog.cudas() if c.split(".")[0] == major]
        if not minors:
            raise PlanError(f"No CUDA {major}.x in envforge's CUDA catalog")
        cuda = max(minors, key=Version)
    row = catalog.toolkit(cuda)
    if row is None:
        raise PlanError(
            f"CUDA {cuda} is not in envforge's CUDA catalog (it knows {', '.join(catalog.cudas())})"
        )
    releases = [cuda] if cuda.count(".") == 2 else [f"{row.cuda}.0", *row.updates]
    return max(releases, key=Version)


def cuda_base(catalog: CudaCatalog, release: str, *, cudnn: bool) -> tuple[str, str]:
    """(nvidia/cuda:<tag>, why) for a release: runtime flavour, cuDNN when needed."""
    image = catalog.cuda_image(release)
    ubuntu = max(image.ubuntu, key=Version) if image and image.ubuntu else DEFAULT_UBUNTU
    kind: ImageKind = "cudnn-runtime" if cudnn else "runtime"
    if image is not None and (image.cudnn_tag or not cudnn):
        tag = image.tag(kind, ubuntu)
    else:
        tag = f"{release}-{kind}-ubuntu{ubuntu}"
    known = (
        ""
        if image and image.ubuntu
        else f" (Ubuntu {ubuntu}: the catalog lists no versions for it)"
    )
    return (
        f"{CUDA_IMAGE}:{tag}",
        f"runtime flavour{', with cuDNN' if cudnn else ''}, newest Ubuntu{known}",
    )


def gpu_for_lock(
    project: Project,
    lock: Lock,
    cuda_catalog: CudaCatalog,
    options: BuildOptions,
    target: Target,
    selection: Selection,
) -> GpuPlan:
    """The GPU plan of a lock's install set (selection) on the image's Python (target)."""
    from envforge.cuda.needs import infer_needs
    from envforge.project.installset import installed_packages

    def needs_for(chosen: tuple[str, ...]) -> GpuNeeds:
        installed = installed_packages(lock, target, extras=chosen, groups=selection.groups)
        return replace(
            infer_needs(installed, cuda_catalog),
            target=f"Python {target.python_full_version}, linux/x86_64",
        )

    return plan_gpu(
        extras_asked=bool(selection.extras) or options.all_extras,
        project_extras=sorted(project.optional_dependencies),
        needs_for=needs_for,
        catalog=cuda_catalog,
        cpu=options.cpu,
        cuda=options.cuda or project.envforge.cuda,
        host_gpu=options.host_gpu,
        chosen_extras=selection.extras,
        cuda_devel=project.envforge.cuda_devel,
    )


def plan_gpu(
    *,
    extras_asked: bool,
    project_extras: Sequence[str],
    needs_for: Callable[[tuple[str, ...]], GpuNeeds],
    catalog: CudaCatalog,
    cpu: bool = False,
    cuda: str | None = None,
    host_gpu: bool | None = None,
    chosen_extras: tuple[str, ...] = (),
    cuda_devel: bool = False,
) -> GpuPlan:
    """needs_for(extras) gives the needs of the install set with those extras."""
    decisions: list[Decision] = []
    variant: tuple[str, ...] = ()
    if not extras_asked:
        cpu_extras, cuda_extras = [], []
        for extra in project_extras:
            extra_needs = needs_for((extra,))
            builds = {f.build for f in extra_needs.frameworks if f.name == "torch"}
            if "cuda" in builds and extra_needs.needs_cuda:
                cuda_extras.append(extra)
            elif "cpu" in builds:
                cpu_extras.append(extra)
        if cpu_extras and cuda_extras:
            want_cuda = (not cpu) and (cuda is not None or bool(host_gpu))
            pick = cuda_extras[0] if want_cuda else cpu_extras[0]
            variant = (pick,)
            why = (
                "--cpu" if cpu else "--cuda" if cuda is not None
                else "this host has an NVIDIA GPU" if host_gpu
                else "this host has no NVIDIA GPU"
            )  # fmt: skip
            decisions.append(
                Decision(
                    "variant",
                    f"extra {pick}",
                    f"the lock holds CPU ({', '.join(cpu_extras)}) and CUDA ({', '.join(cuda_extras)}) "
                    f"builds of torch behind extras; {why}. Choose with --extra, --cpu or --cuda",
                )
            )
    needs = needs_for(chosen_extras + variant)

    if cpu:
        if needs.needs_cuda:
            decisions.append(
                Decision("gpu", "none (--cpu)", f"the locked CUDA {needs.cuda} wheels are still installed, but "
                 "the image is not set up for GPUs")
            )  # fmt: skip
        return GpuPlan(mode="cpu", needs=needs, variant_extras=variant, decisions=tuple(decisions))

    if cuda is not None or needs.runtime_from == "system":
        asked = cuda is not None
        release = newest_release(
            catalog, cuda or needs.cuda or "", major_only=not asked and _major_only(needs)
        )
        with_cudnn = bool(needs.cudnn) or not needs.needs_cuda
        base, why = cuda_base(catalog, release, cudnn=with_cudnn)
        builder = None
        if cuda_devel:
            # nvcc and headers for what compiles against CUDA, in the builder stages only.
            builder = base.replace("-runtime-", "-devel-")
            decisions.append(
                Decision("builder", builder, "[tool.envforge] cuda-devel: nvcc and CUDA headers to build "
                 "extensions, in the builder stages only; the runtime stage stays -runtime")
            )  # fmt: skip
        source = "--cuda / [tool.envforge] cuda" if asked else _system_evidence(needs)
        decisions.append(
            Decision(
                "gpu",
                f"system CUDA {release}",
                f"{source}: CUDA must come from the base image; {why}",
            )
        )
        if asked and needs.runtime_from == "wheels":
            decisions.append(
                Decision(
                    "note",
                    "two CUDAs",
                    f"the lock's nvidia-* wheels still bring CUDA {needs.cuda}, which its frameworks "
                    f"use; the base's CUDA {release} serves only code that needs a system CUDA",
                )
            )
        return GpuPlan(
            mode="system",
            needs=needs,
            variant_extras=variant,
            cuda=release,
            base_name=base,
            builder_base_name=builder,
            env=(("NVIDIA_DRIVER_CAPABILITIES", "compute,utility"),),
            labels=_labels(release, needs, image_cudnn=_image_cudnn(catalog, release)),
            decisions=tuple(decisions),
        )

    if needs.needs_cuda:
        assert needs.cuda is not None
        decisions.append(
            Decision(
                "gpu",
                f"CUDA {needs.cuda} from wheels",
                "the lock's nvidia-* wheels carry the CUDA libraries: a python:*-slim base, no "
                "nvidia/cuda underneath, which saves the second copy of CUDA and cuDNN such a base "
                "would carry (2.56 GB for examples/gpu-torch, bench/gpu_image_size.py); "
                "NVIDIA_REQUIRE_CUDA lets the container toolkit and envforge check the driver",
            )
        )
        return GpuPlan(
            mode="wheels",
            needs=needs,
            variant_extras=variant,
            cuda=needs.cuda,
            env=(
                ("NVIDIA_VISIBLE_DEVICES", "all"),
                ("NVIDIA_DRIVER_CAPABILITIES", "compute,utility"),
                ("NVIDIA_REQUIRE_CUDA", require_cuda(needs.cuda)),
            ),
            labels=_labels(needs.cuda, needs),
            decisions=tuple(decisions),
        )
    return GpuPlan(mode="cpu", needs=needs, variant_extras=variant, decisions=tuple(decisions))


def require_cuda(cuda: str) -> str:
    """NVIDIA_REQUIRE_CUDA for an image of this CUDA: "cuda>=13.0" for 13.2.

    The toolkit compares it with the driver's CUDA version and knows nothing of
    minor-version compatibility: asking for X.Y would refuse the older drivers of the same
    major that run it. So the major's floor; envforge's own checks tell the rest."""
    return f"cuda>={cuda.split('.')[0]}.0"


def _major_only(needs: GpuNeeds) -> bool:
    # A system CUDA inferred from a package name (cupy-cuda12x, onnxruntime-gpu) means any
    # release of that major: take the newest, which supports the most GPUs.
    return all(f.runtime_from == "system" for f in needs.frameworks if f.build == "cuda")


def _system_evidence(needs: GpuNeeds) -> str:
    names = [f"{f.name} {f.version}" for f in needs.frameworks if f.runtime_from == "system"]
    return ", ".join(names) or "the lock"


def _image_cudnn(catalog: CudaCatalog, release: str) -> str | None:
    image = catalog.cuda_image(release)
    return ".".join(image.cudnn.split(".")[:3]) if image and image.cudnn else None


def _labels(
    cuda: str, needs: GpuNeeds, *, image_cudnn: str | None = None
) -> tuple[tuple[str, str], ...]:
    # A system CUDA's cuDNN is the base image's; from wheels it is the lock's.
    cudnn = image_cudnn or needs.cudnn or None
    labels = ImageLabels(cuda=cuda, cudnn=cudnn, arch_list=needs.arch_list, ptx=needs.ptx)
    return tuple(labels.to_labels().items())
