"""The compatibility rules: a project's GPU needs against a host's driver, GPUs and engine. Pure.

Each rule yields Findings (ok, warn, fail) that say what, why, and how to fix. `envforge
doctor` prints them; `envforge run --gpus` refuses on a fail before any container exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from packaging.version import Version

from envforge.cuda.catalog import CudaCatalog
from envforge.cuda.needs import GpuNeeds
from envforge.cuda.versions import arch_list_runs_on, parse_driver_version
from envforge.host.facts import DriverFacts, EngineFacts, GpuDevice, HostFacts

Level = Literal["ok", "warn", "fail"]
LEVELS: tuple[Level, ...] = get_args(Level)  # in order of gravity

_NO_DRIVER_FIX = {
    "no-driver": "Install the NVIDIA driver (libnvidia-ml.so.1 is not found).",
    "driver-not-loaded": "Load the kernel module (modprobe nvidia) or reboot after installing the driver.",
    "version-mismatch": "The kernel module and the user-space driver differ: reboot, or reload the "
    "nvidia module, after a driver update.",
    "no-gpu": "The driver sees no GPU: check the card, its power, and the VM's passthrough.",
    "error": "Run nvidia-smi to see what the driver reports.",
}
_TOOLKIT_FIX = (
    "Install the NVIDIA Container Toolkit, then `nvidia-ctk runtime configure --runtime=docker` "
    "and restart dockerd (see docs.nvidia.com/datacenter/cloud-native/container-toolkit)."
)


@dataclass(frozen=True, kw_only=True)
class Finding:
    level: Level
    check: str  # driver, gpu, cuda, arch, mig, engine, toolkit, project
    what: str
    why: str = ""
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "level": self.level,
            "check": self.check,
            "what": self.what,
            "why": self.why,
            "fix": self.fix,
        }


def verdict(findings: list[Finding]) -> Level:
    return max((f.level for f in findings), key=LEVELS.index, default="ok")


def _gib(n: int | None) -> str:
    return f", {n / 2**30:.0f} GiB" if n else ""


def _gpu_line(gpu: GpuDevice, catalog: CudaCatalog) -> str:
    arch = catalog.architecture(gpu.sm) if gpu.sm else None
    family = f" ({arch.family})" if arch else ""
    sm = f", sm_{gpu.sm.replace('.', '')}{family}" if gpu.sm else ", compute capability unknown"
    return f"GPU {gpu.index}: {gpu.name}{sm}{_gib(gpu.memory_total_bytes)}"


def host_findings(host: HostFacts, catalog: CudaCatalog) -> list[Finding]:
    """The host on its own: driver, GPUs, MIG, engine, container toolkit."""
    out: list[Finding] = []
    driver = host.driver
    if driver.status == "ok":
        api = (
            f" (CUDA {driver.cuda_driver_version} driver API)" if driver.cuda_driver_version else ""
        )
        out.append(
            Finding(
                level="ok",
                check="driver",
                what=f"NVIDIA driver {driver.driver_version}{api}, read through {driver.source}",
            )
        )
        out += [Finding(level="ok", check="gpu", what=_gpu_line(g, catalog)) for g in driver.gpus]
        out += _mig(driver)
    else:
        out.append(
            Finding(
                level="ok",
                check="driver",
                what=_no_driver_text(driver),
                why="A host without an NVIDIA GPU or driver runs CPU images; GPU images run on its CPU only.",
                fix=_NO_DRIVER_FIX.get(driver.status, ""),
            )
        )
    out += _engine(host.engine, gpu_host=driver.status == "ok", strict=False)
    return out


def _no_driver_text(driver: DriverFacts) -> str:
    what = {
        "no-driver": "no NVIDIA driver on this host",
        "driver-not-loaded": "NVIDIA driver installed but its kernel module is not loaded",
        "version-mismatch": "NVIDIA driver/library version mismatch",
        "no-gpu": "NVIDIA driver loaded, but it sees no GPU",
    }.get(driver.status, "the NVIDIA driver could not be read")
    return what + (f" ({driver.detail})" if driver.detail else "")


def _mig(driver: DriverFacts) -> list[Finding]:
    return [
        Finding(
            level="warn",
            check="mig",
            what=f"GPU {g.index} ({g.name}) is in MIG mode",
            why="A container sees only the MIG instances it is given; --gpus all hands it none of the "
            "parent GPU's memory outside them, and some tools report the parent GPU.",
            fix="Pass MIG devices explicitly (--gpus device=MIG-<uuid>), or disable MIG (nvidia-smi -mig 0).",
        )
        for g in driver.gpus
        if g.mig_enabled
    ]


def _engine(engine: EngineFacts, *, gpu_host: bool, strict: bool) -> list[Finding]:
    if not engine.reachable:
        return [
            Finding(
                level="warn",
                check="engine",
                what=f"Docker engine not reachable at {engine.where}",
                why=engine.detail or "",
                fix="Start dockerd, or point DOCKER_HOST at a running engine.",
            )
        ]
    out = [
        Finding(
            level="ok",
            check="engine",
            what=f"Docker engine {engine.version or '?'} at {engine.where}",
        )
    ]
    how = [
        *(["nvidia runtime"] if "nvidia" in engine.runtimes else []),
        *([f"{len(engine.cdi_specs)} CDI spec(s)"] if engine.cdi_specs else []),
        *(["nvidia-container-runtime-hook on PATH"] if engine.nvidia_hook_on_path else []),
    ]
    if engine.gpu_capable:
        version = f" {engine.nvidia_ctk_version}" if engine.nvidia_ctk_version else ""
        out.append(
            Finding(
                level="ok",
                check="toolkit",
                what=f"NVIDIA Container Toolkit{version}: {', '.join(how)}",
            )
        )
    elif gpu_host:
        out.append(
            Finding(
                level="fail" if strict else "warn",
                check="toolkit",
                what="NVIDIA Container Toolkit not set up for this Docker engine",
                why='Without it `--gpus` fails: could not select device driver "" with capabilities: [[gpu]].',
                fix=_TOOLKIT_FIX,
            )
        )
    return out


def project_findings(
    needs: GpuNeeds,
    host: HostFacts,
    catalog: CudaCatalog,
    *,
    subject: str,
    gpus_requested: bool = False,
) -> list[Finding]:
    """A project's (or image's) needs against this host. gpus_requested: a `run --gpus` gate."""
    out: list[Finding] = []
    if not needs.needs_cuda:
        cpu = [
            f"{f.name} {f.version} ({'ROCm' if f.build == 'rocm' else 'CPU'} build)"
            for f in needs.frameworks
        ]
        out.append(
            Finding(
                level="ok",
                check="project",
                what=f"{subject} needs no CUDA" + (f": {', '.join(cpu)}" if cpu else ""),
                why="It runs on any host; GPUs are not used.",
            )
        )
        return out
    summary = f"{subject} needs CUDA {needs.cuda}" + (
        f" and cuDNN {needs.cudnn}" if needs.cudnn else ""
    )
    summary += f" ({'from nvidia-* wheels in the lock' if needs.runtime_from == 'wheels' else 'from the system: the image must carry it'})"
    if needs.target:
        summary += f" for {needs.target}"
    out.append(
        Finding(
            level="ok",
            check="project",
            what=summary,
            why="; ".join(e for f in needs.frameworks for e in f.evidence),
        )
    )
    driver = host.driver
    if driver.status != "ok":
        out.append(
            driver_missing(
                needs,
                what=_no_driver_text(driver),
                fix=_NO_DRIVER_FIX.get(driver.status, ""),
                gpus_requested=gpus_requested,
            )
        )
        return out
    out.append(_driver_rule(needs, driver))
    for gpu in driver.gpus:
        out.append(_arch_rule(needs, gpu, catalog))
    out += _mig(driver)
    out += _engine(host.engine, gpu_host=True, strict=gpus_requested)
    return out


def _driver_rule(needs: GpuNeeds, driver: DriverFacts) -> Finding:
    assert needs.cuda is not None and driver.driver_version is not None
    need_mm = Version(".".join(needs.cuda.split(".")[:2]))
    have = parse_driver_version(driver.driver_version)
    floor = parse_driver_version(needs.driver_floor) if needs.driver_floor else None
    toolkit = parse_driver_version(needs.driver_toolkit) if needs.driver_toolkit else None
    api = Version(driver.cuda_driver_version) if driver.cuda_driver_version else None
    what_have = f"driver {driver.driver_version}" + (
        f" (CUDA {driver.cuda_driver_version})" if api else ""
    )

    full = (api is not None and api >= need_mm) or (
        api is None and toolkit is not None and have >= toolkit
    )
    if full:
        return Finding(
            level="ok", check="cuda", what=f"CUDA {needs.cuda} fully supported by {what_have}"
        )
    same_major = api is None or api.major == need_mm.major
    if same_major and floor is not None and have >= floor:
        return driver_under_minor_compat(needs, what_have)
    return driver_too_old(needs, what_have)


def driver_missing(needs: GpuNeeds, *, what: str, fix: str, gpus_requested: bool) -> Finding:
    """No usable driver for the CUDA an image needs: a fail when GPUs are asked for."""
    return Finding(
        level="fail" if gpus_requested else "warn",
        check="driver",
        what=what,
        why=f"CUDA {needs.cuda} needs an NVIDIA driver >= {needs.driver_floor or '?'}"
        + (f" (>= {needs.driver_toolkit} for full support)" if needs.driver_toolkit else "")
        + ("; without one the CUDA build runs on the CPU only" if not gpus_requested else ""),
        fix=fix,
    )


def _wanted_driver(needs: GpuNeeds) -> str:
    return (
        f"driver >= {needs.driver_toolkit}"
        if needs.driver_toolkit
        else f"a driver for CUDA {needs.cuda}"
    )


def driver_under_minor_compat(needs: GpuNeeds, what_have: str) -> Finding:
    """The warning for a driver between the CUDA major's floor and the release's own driver.
    what_have: "driver 580.159.04 (CUDA 13.0)", as the host reports it."""
    return Finding(
        level="warn",
        check="cuda",
        what=f"CUDA {needs.cuda} runs on {what_have} under minor-version compatibility",
        why="Within a CUDA major, newer runtimes run on older drivers, with limits: features that "
        "need the newer driver are unavailable, and PTX produced by the newer toolkit cannot be "
        "JIT-compiled by this driver.",
        fix=f"For full support, install an NVIDIA {_wanted_driver(needs)}.",
    )


def driver_too_old(needs: GpuNeeds, what_have: str) -> Finding:
    """The one wording of a driver too old for the CUDA an image needs: `envforge doctor`,
    the `run --gpus` gate and the driver check of `envforge job`'s Slurm scripts say it."""
    fix = f"Install an NVIDIA {_wanted_driver(needs)}" + (
        f" (at least {needs.driver_floor} under minor-version compatibility)."
        if needs.driver_floor
        else "."
    )
    return Finding(
        level="fail",
        check="cuda",
        what=f"{what_have} is too old for CUDA {needs.cuda}",
        why='The container would fail with "CUDA driver version is insufficient for CUDA runtime version".',
        fix=fix + " Or lock a build for an older CUDA that this driver supports.",
    )


def _arch_rule(needs: GpuNeeds, gpu: GpuDevice, catalog: CudaCatalog) -> Finding:
    name = f"GPU {gpu.index} ({gpu.name}"
    if gpu.sm is None:
        return Finding(
            level="warn",
            check="arch",
            what=f"{name}): compute capability unknown",
            why="nvidia-smi did not report it.",
        )
    sm = gpu.sm
    label = f"sm_{sm.replace('.', '')}"
    name += f", {label})"
    assert needs.cuda is not None
    toolkit_ok = catalog.cuda_supports_sm(needs.cuda, sm)
    arch = catalog.architecture(sm)
    removed = arch.removed_in if arch else None
    first = arch.first_cuda if arch else None
    if toolkit_ok is False and removed and Version(_mm(needs.cuda)) >= Version(removed):
        return Finding(
            level="fail",
            check="arch",
            what=f"{name} is not supported by CUDA {needs.cuda}",
            why=f"CUDA {needs.cuda} has no code generation for {label} (dropped in CUDA {removed}).",
            fix=f"Lock a build for a CUDA release before {removed}, which still supports this GPU.",
        )
    # A GPU newer than the CUDA: a known arch list still decides (PTX JIT, same-major cubins).
    if toolkit_ok is False and needs.arch_list is None:
        return Finding(
            level="fail",
            check="arch",
            what=f"{name} is not supported by CUDA {needs.cuda}",
            why=f"CUDA {needs.cuda} has no code generation for {label}"
            + (f" (it came in CUDA {first})" if first else "")
            + ".",
            fix=(f"Lock a build with CUDA >= {first}" if first else "Lock a build for a newer CUDA")
            + _torch_hint(catalog, sm),
        )
    if needs.arch_list is None:
        return Finding(
            level="warn",
            check="arch",
            what=f"{name}: the build's GPU architectures are unknown to envforge",
            why="The catalog has no arch list for this build, so kernels for this GPU cannot be confirmed.",
        )
    listed = " ".join(needs.arch_list)
    if sm in needs.arch_list:
        return Finding(
            level="ok", check="arch", what=f"{name} has native kernels in the build ({listed})"
        )
    if arch_list_runs_on(needs.arch_list, False, sm):
        # Binary compatibility within a major: an 8.9 GPU runs code built for 8.6.
        return Finding(
            level="ok",
            check="arch",
            what=f"{name} runs the build's kernels for an earlier {sm.split('.')[0]}.x ({listed})",
        )
    newest = max(needs.arch_list, key=Version)
    if arch_list_runs_on(needs.arch_list, needs.ptx, sm):
        return Finding(
            level="warn",
            check="arch",
            what=f"{name} runs through PTX JIT: the build ships kernels up to sm_{newest.replace('.', '')} plus PTX",
            why="The first start compiles the PTX for this GPU (slow), and some kernels may be missing.",
        )
    frameworks = ", ".join(f"{f.name} {f.version}" for f in needs.frameworks if f.build == "cuda")
    return Finding(
        level="fail",
        check="arch",
        what=f"{name} is not in the build's arch list ({listed})",
        why=f"{frameworks} ships no kernels for {label}: it would fail with "
        '"no kernel image is available for execution on the device".',
        fix=(
            f"Lock a build with CUDA >= {first}"
            if first
            else "Lock a build whose arch list has this GPU"
        )
        + _torch_hint(catalog, sm),
    )


def _mm(cuda: str) -> str:
    return ".".join(cuda.split(".")[:2])


def _torch_hint(catalog: CudaCatalog, sm: str) -> str:
    first = catalog.first_torch_with_sm(sm)
    return f" (torch >= {first} from PyPI supports {sm})." if first else "."
