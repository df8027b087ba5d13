"""What a locked project needs from the GPU stack: CUDA, cuDNN, driver, GPU architectures. Pure.

The lock is the truth: envforge reads the packages `uv sync` would install for the image's
target (installset) and infers from them, saying which package told it what. Release
tables (the CUDA catalog) only fill in what a lock cannot say: a build's arch list and
the drivers a CUDA release needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.version import Version

from envforge.cuda.catalog import CudaCatalog
from envforge.project.lockfile import LockedPackage

_RUNTIME_RE = re.compile(r"^nvidia-cuda-runtime(?:-cu(\d+))?\Z")
_CUDNN_RE = re.compile(r"^nvidia-cudnn-cu(\d+)\Z")
_LOCAL_CUDA_RE = re.compile(r"^cu(\d+)(\d)\Z")  # cu124 -> 12.4, cu130 -> 13.0
_JAX_PLUGIN_RE = re.compile(r"^jax-cuda(\d+)-(?:plugin|pjrt)\Z")
_CUPY_RE = re.compile(r"^cupy-cuda(\d+)x\Z")


# The kind of a framework's locked build; "rocm" (AMD) is outside what envforge checks.
Build = Literal["cuda", "cpu", "rocm"]
# Where the CUDA runtime comes from: "wheels", nvidia-* in the lock; "system", the image's.
RuntimeFrom = Literal["wheels", "system"]


@dataclass(frozen=True, kw_only=True)
class FrameworkNeed:
    """One accelerator framework in the lock, and what its locked build needs."""

    name: str
    version: str
    build: Build
    cuda: str | None = None  # "12.4" or "12.4.1" when the lock shows the update
    cudnn: str | None = None
    runtime_from: RuntimeFrom | None = None
    arch_list: tuple[str, ...] | None = None  # SMs with native kernels; None: unknown
    ptx: bool = False  # also ships PTX for the newest arch, which newer GPUs can JIT
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class GpuNeeds:
    frameworks: tuple[FrameworkNeed, ...] = ()
    cuda: str | None = None
    cudnn: str | None = None
    runtime_from: RuntimeFrom | None = None
    driver_floor: str | None = None  # lowest driver, under minor-version compatibility
    driver_toolkit: str | None = None  # the CUDA release's own driver: full support
    arch_list: tuple[str, ...] | None = None
    ptx: bool = False
    notes: tuple[str, ...] = field(default=())
    target: str | None = None  # what the needs were read for: "Python 3.11.16, linux/x86_64"

    @property
    def needs_cuda(self) -> bool:
        return self.cuda is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "cuda": self.cuda,
            "cudnn": self.cudnn,
            "runtime_from": self.runtime_from,
            "driver_floor": self.driver_floor,
            "driver_toolkit": self.driver_toolkit,
            "arch_list": list(self.arch_list) if self.arch_list is not None else None,
            "ptx": self.ptx,
            "frameworks": [
                {
                    "name": f.name,
                    "version": f.version,
                    "build": f.build,
                    "cuda": f.cuda,
                    "cudnn": f.cudnn,
                    "runtime_from": f.runtime_from,
                    "arch_list": list(f.arch_list) if f.arch_list is not None else None,
                    "ptx": f.ptx,
                    "evidence": list(f.evidence),
                }
                for f in self.frameworks
            ],
            "notes": list(self.notes),
        }


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _cudnn(version: str) -> str:
    """nvidia-cudnn-cu12 9.1.0.70 is cuDNN 9.1.0."""
    return ".".join(version.split(".")[:3])


@dataclass(frozen=True)
class _Wheels:
    """The CUDA the nvidia-* wheels of an install set carry."""

    cuda: str | None = None
    cuda_evidence: str | None = None
    cudnn: str | None = None
    cudnn_evidence: str | None = None
    any_nvidia: tuple[str, ...] = ()

    def on_major(self, major: str) -> bool:
        """Whether the runtime wheel is CUDA ``major``: a cuda12 build cannot use 13's."""
        return self.cuda is not None and self.cuda.split(".")[0] == major


def _wheels(installed: Mapping[str, LockedPackage], catalog: CudaCatalog) -> _Wheels:
    cuda = cuda_ev = cudnn = cudnn_ev = None
    nvidia = []
    for name, pkg in sorted(installed.items()):
        if name.startswith("nvidia-"):
            nvidia.append(f"{pkg.name}=={pkg.version}")
        if pkg.version is None:
            continue
        # nvjitlink and friends are often unpinned and say nothing about CUDA: only the
        # runtime (cudart) and cuDNN are read.
        if _RUNTIME_RE.match(name):
            cuda = catalog.cuda_for_runtime_wheel(pkg.version)
            cuda_ev = f"{pkg.name}=={pkg.version} -> CUDA {cuda}"
        elif _CUDNN_RE.match(name):
            cudnn = _cudnn(pkg.version)
            cudnn_ev = f"{pkg.name}=={pkg.version} -> cuDNN {cudnn}"
    return _Wheels(cuda, cuda_ev, cudnn, cudnn_ev, tuple(nvidia))


def infer_needs(installed: Mapping[str, LockedPackage], catalog: CudaCatalog) -> GpuNeeds:
    """What the packages uv installs for one target need from the host's GPU stack."""
    wheels = _wheels(installed, catalog)
    frameworks: list[FrameworkNeed] = []
    notes: list[str] = []
    claimed: set[str] = set()

    def from_wheels(name: str, version: str, extra: list[str]) -> FrameworkNeed:
        evidence = [f"{name}=={version}", *extra]
        evidence += [e for e in (wheels.cuda_evidence, wheels.cudnn_evidence) if e]
        return FrameworkNeed(
            name=name,
            version=version,
            build="cuda",
            cuda=wheels.cuda,
            cudnn=wheels.cudnn,
            runtime_from="wheels",
            evidence=tuple(evidence),
        )

    torch = installed.get("torch")
    if torch is not None and torch.version is not None:
        claimed.add("torch")
        frameworks.append(_torch(torch.version, wheels, catalog))

    for name, pkg in sorted(installed.items()):
        version = pkg.version or "?"
        if (match := _JAX_PLUGIN_RE.match(name)) and "jax" not in claimed:
            claimed.add("jax")
            jax = installed.get("jax")
            plugin = f"{pkg.name}=={version}: the CUDA {match.group(1)} plugin"
            need = from_wheels("jax", (jax.version if jax else None) or version, [plugin])
            if not wheels.on_major(match.group(1)):
                need = replace(need, cuda=f"{match.group(1)}.0", cudnn=None, runtime_from="system")
                notes.append(
                    f"jax: no CUDA {match.group(1)} runtime wheel in the lock; assuming CUDA {need.cuda}"
                )
            frameworks.append(need)
        elif name == "tensorflow" and wheels.any_nvidia:
            claimed.add("tensorflow")
            frameworks.append(from_wheels("tensorflow", version, ["nvidia-* wheels ([and-cuda])"]))
        elif match := _CUPY_RE.match(name):
            claimed.add(name)
            if wheels.on_major(match.group(1)):
                frameworks.append(
                    from_wheels(pkg.name, version, ["its ctk extra brings the CUDA wheels"])
                )
            else:
                frameworks.append(
                    FrameworkNeed(
                        name=pkg.name, version=version, build="cuda", cuda=f"{match.group(1)}.0", runtime_from="system",
                        evidence=(f"{pkg.name}=={version}: CUDA {match.group(1)}.x from the system (no CUDA {match.group(1)} runtime wheel)",),
                    )
                )  # fmt: skip
        elif name == "onnxruntime-gpu":
            claimed.add(name)
            own = wheels.on_major("12")
            frameworks.append(
                FrameworkNeed(
                    name=pkg.name, version=version, build="cuda", cuda=wheels.cuda if own else "12.0",
                    cudnn=(wheels.cudnn if own else None) or "9.0", runtime_from="wheels" if own else "system",
                    evidence=(f"{pkg.name}=={version}: built for CUDA 12 and cuDNN 9",),
                )
            )  # fmt: skip

    if wheels.cuda is not None and not any(f.runtime_from == "wheels" for f in frameworks):
        owners = ", ".join(wheels.any_nvidia[:4])
        frameworks.append(from_wheels("nvidia-* wheels", wheels.cuda, [f"pulled in: {owners}"]))

    cuda_builds = [f for f in frameworks if f.build == "cuda"]
    if not cuda_builds:
        return GpuNeeds(frameworks=tuple(frameworks), notes=tuple(notes))

    cuda = max((f.cuda for f in cuda_builds if f.cuda), key=lambda v: Version(v), default=None)
    cudnn = max((f.cudnn for f in cuda_builds if f.cudnn), key=lambda v: Version(v), default=None)
    majors = {f.cuda.split(".")[0] for f in cuda_builds if f.cuda}
    if len(majors) > 1:
        notes.append(
            f"frameworks need different CUDA majors ({', '.join(sorted(majors))}): one of them will fail"
        )
    arch_list: tuple[str, ...] | None = None
    lists = [f.arch_list for f in cuda_builds]
    if lists and all(a is not None for a in lists):
        common = set(lists[0] or ())
        for arch in lists[1:]:
            common &= set(arch or ())
        arch_list = tuple(sorted(common, key=Version))
    runtime: RuntimeFrom = (
        "system" if any(f.runtime_from == "system" for f in cuda_builds) else "wheels"
    )
    floor = toolkit = None
    if cuda is not None:
        floor = catalog.minor_compat_floor(int(cuda.split(".")[0]))
        toolkit = catalog.toolkit_driver(cuda)
    return GpuNeeds(
        frameworks=tuple(frameworks),
        cuda=cuda,
        cudnn=cudnn,
        runtime_from=runtime,
        driver_floor=floor,
        driver_toolkit=toolkit,
        arch_list=arch_list,
        ptx=all(f.ptx for f in cuda_builds),
        notes=tuple(notes),
    )


def _torch(version: str, wheels: _Wheels, catalog: CudaCatalog) -> FrameworkNeed:
    public, _, local = version.partition("+")
    if local.startswith("rocm"):
        return FrameworkNeed(
            name="torch",
            version=version,
            build="rocm",
            evidence=(f"torch=={version}: a ROCm (AMD GPU) build",),
        )
    if local == "cpu" or (not local and wheels.cuda is None):
        why = "a +cpu build" if local == "cpu" else "no nvidia-cuda-runtime wheel for this target"
        return FrameworkNeed(
            name="torch", version=version, build="cpu", evidence=(f"torch=={version}: {why}",)
        )
    evidence = [f"torch=={version}"]
    match = _LOCAL_CUDA_RE.match(local)
    if match:
        cuda: str | None = f"{match.group(1)}.{match.group(2)}"
        evidence.append(f"+{local}: a PyTorch-index build for CUDA {cuda}")
        if wheels.cuda and _major_minor(wheels.cuda) == cuda:
            cuda = wheels.cuda
        build = catalog.torch_build(public, local)
    else:
        cuda = wheels.cuda
        build = catalog.torch_build(public, None)
    evidence += [e for e in (wheels.cuda_evidence, wheels.cudnn_evidence) if e]
    arch_list = build.arch_list if build else None
    if build is None or arch_list is None:
        evidence.append(f"arch list of torch {version} not in the catalog")
    else:
        evidence.append(
            f"arch list {' '.join(arch_list)}{' +PTX' if build.ptx else ''} "
            f"({'verified' if build.verified else 'unverified'}: {build.source})"
        )
    return FrameworkNeed(
        name="torch",
        version=version,
        build="cuda",
        cuda=cuda,
        cudnn=wheels.cudnn or (_cudnn(build.cudnn) if build and build.cudnn else None),
        runtime_from="wheels",
        arch_list=arch_list,
        ptx=bool(build and build.ptx),
        evidence=tuple(evidence),
    )
