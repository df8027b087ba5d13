"""What this host offers to a GPU container: the NVIDIA driver, its GPUs and the Docker engine.

Pure models. ``envforge.host.nvidia`` and ``envforge.engine.probe`` fill them from a live host;
``to_dict``/``from_dict`` store a host as JSON (stable keys) so it can be replayed in tests.
``from_dict`` reads through ``envforge.fields.Fields``: a wrong value is a HostFactsError
that names its place ('driver.gpus[0].index').
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

from envforge.errors import HostFactsError
from envforge.fields import Fields

DriverStatus = Literal[
    "ok", "no-driver", "driver-not-loaded", "version-mismatch", "no-gpu", "error"
]
DRIVER_STATUSES: tuple[DriverStatus, ...] = get_args(DriverStatus)
DriverSource = Literal["nvml", "nvidia-smi", "none"]
DRIVER_SOURCES: tuple[DriverSource, ...] = get_args(DriverSource)
NVIDIA_RUNTIME = "nvidia"
NVIDIA_CDI_KIND = "nvidia.com/gpu"
FILE = "host facts"

_DRIVER_VERSION_RE = re.compile(r"\d{1,4}(\.\d{1,4}){0,3}")  # 580.159.04
_CUDA_VERSION_RE = re.compile(r"\d{1,3}\.\d{1,3}")  # 13.0

C = TypeVar("C", bound=str)


@dataclass(frozen=True, kw_only=True)
class GpuDevice:
    index: int
    name: str
    compute_capability: tuple[int, int] | None  # None when the source does not say
    memory_total_bytes: int | None
    uuid: str | None
    mig_enabled: bool | None  # current MIG mode; None when unknown or unsupported

    @property
    def sm(self) -> str | None:
        """The compute capability as people write it: "9.0"."""
        if self.compute_capability is None:
            return None
        major, minor = self.compute_capability
        return f"{major}.{minor}"

    def to_dict(self) -> dict[str, Any]:
        cc = self.compute_capability
        return {
            "index": self.index,
            "name": self.name,
            "compute_capability": list(cc) if cc is not None else None,
            "memory_total_bytes": self.memory_total_bytes,
            "uuid": self.uuid,
            "mig_enabled": self.mig_enabled,
        }

    @classmethod
    def from_fields(cls, gpu: Fields) -> GpuDevice:
        return cls(
            index=gpu.required("index", int),
            name=gpu.required("name", str),
            compute_capability=_compute_capability(gpu),
            memory_total_bytes=gpu.get("memory_total_bytes", int),
            uuid=gpu.get("uuid", str),
            mig_enabled=gpu.get("mig_enabled", bool),
        )


@dataclass(frozen=True, kw_only=True)
class DriverFacts:
    status: DriverStatus
    source: DriverSource
    driver_version: str | None  # "580.159.04"
    cuda_driver_version: str | None  # "13.0": the driver API version, not a toolkit
    gpus: tuple[GpuDevice, ...] = ()
    detail: str | None = None  # the error text for non-ok states (or why a fallback was used)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "source": self.source,
            "driver_version": self.driver_version,
            "cuda_driver_version": self.cuda_driver_version,
            "gpus": [gpu.to_dict() for gpu in self.gpus],
            "detail": self.detail,
        }

    @classmethod
    def from_fields(cls, driver: Fields) -> DriverFacts:
        return cls(
            status=_choice(driver, "status", DRIVER_STATUSES),
            source=_choice(driver, "source", DRIVER_SOURCES),
            driver_version=_version(driver, "driver_version", _DRIVER_VERSION_RE),
            cuda_driver_version=_version(driver, "cuda_driver_version", _CUDA_VERSION_RE),
            gpus=tuple(GpuDevice.from_fields(gpu) for gpu in driver.tables("gpus")),
            detail=driver.get("detail", str),
        )


@dataclass(frozen=True, kw_only=True)
class EngineFacts:
    reachable: bool
    where: str  # DOCKER_HOST, or the default socket
    version: str | None = None
    runtimes: tuple[str, ...] = ()
    default_runtime: str | None = None
    cdi_specs: tuple[str, ...] = ()  # CDI spec files found on this machine (paths)
    nvidia_ctk_version: str | None = None
    nvidia_hook_on_path: bool = False  # nvidia-container-runtime-hook found on PATH
    detail: str | None = None
    cdi_kinds: tuple[str, ...] = ()  # the device kinds those specs declare: "nvidia.com/gpu"

    @property
    def gpu_capable(self) -> bool:
        """Whether the NVIDIA container toolkit is wired up: an nvidia runtime in the engine,
        a CDI spec for nvidia.com/gpu, or the hook that lets dockerd offer --gpus.

        Says nothing of reachability: read ``reachable`` too.
        """
        return (
            NVIDIA_RUNTIME in self.runtimes
            or NVIDIA_CDI_KIND in self.cdi_kinds
            or self.nvidia_hook_on_path
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reachable": self.reachable,
            "where": self.where,
            "version": self.version,
            "runtimes": list(self.runtimes),
            "default_runtime": self.default_runtime,
            "cdi_specs": list(self.cdi_specs),
            "cdi_kinds": list(self.cdi_kinds),
            "nvidia_ctk_version": self.nvidia_ctk_version,
            "nvidia_hook_on_path": self.nvidia_hook_on_path,
            "detail": self.detail,
        }

    @classmethod
    def from_fields(cls, engine: Fields) -> EngineFacts:
        return cls(
            reachable=engine.required("reachable", bool),
            where=engine.required("where", str),
            version=engine.get("version", str),
            runtimes=engine.strings("runtimes"),
            default_runtime=engine.get("default_runtime", str),
            cdi_specs=engine.strings("cdi_specs"),
            cdi_kinds=engine.strings("cdi_kinds"),
            nvidia_ctk_version=engine.get("nvidia_ctk_version", str),
            nvidia_hook_on_path=engine.get("nvidia_hook_on_path", bool, False),
            detail=engine.get("detail", str),
        )


@dataclass(frozen=True, kw_only=True)
class HostFacts:
    driver: DriverFacts
    engine: EngineFacts

    def to_dict(self) -> dict[str, Any]:
        return {"driver": self.driver.to_dict(), "engine": self.engine.to_dict()}

    @classmethod
    def from_dict(cls, data: object) -> HostFacts:
        """A host as ``to_dict`` stored it; HostFactsError, with the place, when it is not."""
        host = Fields.of(data, file=FILE, error=HostFactsError)
        return cls(
            driver=DriverFacts.from_fields(host.required_table("driver")),
            engine=EngineFacts.from_fields(host.required_table("engine")),
        )


def _choice(table: Fields, key: str, choices: tuple[C, ...]) -> C:
    value = table.required(key, str)
    for choice in choices:
        if value == choice:
            return choice
    raise table.fail(key, "one of " + ", ".join(choices), value)


def _version(table: Fields, key: str, pattern: re.Pattern[str]) -> str | None:
    text = table.get(key, str)
    if text is not None and not pattern.fullmatch(text):
        raise table.fail(key, "a version number", text)
    return text


def _compute_capability(gpu: Fields) -> tuple[int, int] | None:
    cc = gpu.get("compute_capability", list)
    if cc is None:
        return None
    if len(cc) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in cc):
        raise gpu.fail("compute_capability", "[major, minor]", cc)
    return int(cc[0]), int(cc[1])
