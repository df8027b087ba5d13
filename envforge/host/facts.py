"""What this host offers to a GPU container: the NVIDIA driver, its GPUs and the Docker engine.

Pure models. ``envforge.host.nvidia`` and ``envforge.engine.probe`` fill them from a live host;
``to_dict``/``from_dict`` store a host as JSON (stable keys) so it can be replayed in tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envforge.errors import InputError

DRIVER_STATUSES = (
    "ok",
    "no-driver",
    "driver-not-loaded",
    "version-mismatch",
    "no-gpu",
    "error",
)
DRIVER_SOURCES = ("nvml", "nvidia-smi", "none")
NVIDIA_RUNTIME = "nvidia"
NVIDIA_CDI_KIND = "nvidia.com/gpu"


class HostFactsError(InputError):
    """A stored host (JSON) does not have the shape ``HostFacts.from_dict`` reads."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"Invalid host facts: {message}",
            hint='Give the JSON that `envforge doctor --json` writes (or its "host").',
        )


@dataclass(frozen=True)
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
    def from_dict(cls, data: Any, where: str = "gpu") -> GpuDevice:
        data = _table(data, where)
        cc = data.get("compute_capability")
        if cc is not None:
            if not isinstance(cc, list | tuple) or len(cc) != 2 or not all(_is_int(v) for v in cc):
                raise HostFactsError(
                    f"{_show(cc)} is not [major, minor] in '{where}.compute_capability'"
                )
            cc = (int(cc[0]), int(cc[1]))
        return cls(
            index=_int(data.get("index"), f"{where}.index"),
            name=_str(data.get("name"), f"{where}.name"),
            compute_capability=cc,
            memory_total_bytes=_opt_int(
                data.get("memory_total_bytes"), f"{where}.memory_total_bytes"
            ),
            uuid=_opt_str(data.get("uuid"), f"{where}.uuid"),
            mig_enabled=_opt_bool(data.get("mig_enabled"), f"{where}.mig_enabled"),
        )


@dataclass(frozen=True)
class DriverFacts:
    status: str  # one of DRIVER_STATUSES
    source: str  # one of DRIVER_SOURCES
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
    def from_dict(cls, data: Any, where: str = "driver") -> DriverFacts:
        data = _table(data, where)
        status = data.get("status")
        if status not in DRIVER_STATUSES:
            raise HostFactsError(f"unknown status {_show(status)} in '{where}.status'")
        source = data.get("source")
        if source not in DRIVER_SOURCES:
            raise HostFactsError(f"unknown source {_show(source)} in '{where}.source'")
        gpus = data.get("gpus", [])
        if not isinstance(gpus, list):
            raise HostFactsError(f"'{where}.gpus' must be a list")
        return cls(
            status=str(status),
            source=str(source),
            driver_version=_opt_version(
                data.get("driver_version"), f"{where}.driver_version", _DRIVER_VERSION_RE
            ),
            cuda_driver_version=_opt_version(
                data.get("cuda_driver_version"), f"{where}.cuda_driver_version", _CUDA_VERSION_RE
            ),
            gpus=tuple(
                GpuDevice.from_dict(gpu, f"{where}.gpus[{i}]") for i, gpu in enumerate(gpus)
            ),
            detail=_opt_str(data.get("detail"), f"{where}.detail"),
        )


@dataclass(frozen=True)
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
    def from_dict(cls, data: Any, where: str = "engine") -> EngineFacts:
        data = _table(data, where)
        return cls(
            reachable=_bool(data.get("reachable"), f"{where}.reachable"),
            where=_str(data.get("where"), f"{where}.where"),
            version=_opt_str(data.get("version"), f"{where}.version"),
            runtimes=_strs(data.get("runtimes", []), f"{where}.runtimes"),
            default_runtime=_opt_str(data.get("default_runtime"), f"{where}.default_runtime"),
            cdi_specs=_strs(data.get("cdi_specs", []), f"{where}.cdi_specs"),
            cdi_kinds=_strs(data.get("cdi_kinds", []), f"{where}.cdi_kinds"),
            nvidia_ctk_version=_opt_str(
                data.get("nvidia_ctk_version"), f"{where}.nvidia_ctk_version"
            ),
            nvidia_hook_on_path=_bool(
                data.get("nvidia_hook_on_path", False), f"{where}.nvidia_hook_on_path"
            ),
            detail=_opt_str(data.get("detail"), f"{where}.detail"),
        )


@dataclass(frozen=True)
class HostFacts:
    driver: DriverFacts
    engine: EngineFacts

    def to_dict(self) -> dict[str, Any]:
        return {"driver": self.driver.to_dict(), "engine": self.engine.to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> HostFacts:
        data = _table(data, "host")
        return cls(
            driver=DriverFacts.from_dict(data.get("driver")),
            engine=EngineFacts.from_dict(data.get("engine")),
        )


_DRIVER_VERSION_RE = re.compile(r"\d{1,4}(\.\d{1,4}){0,3}")  # 580.159.04
_CUDA_VERSION_RE = re.compile(r"\d{1,3}\.\d{1,3}")  # 13.0


def _show(value: Any) -> str:
    """A value for a message: its repr, cut short (a hostile file may hold anything)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int of 5000 digits, a list 10000 deep
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _opt_version(value: Any, where: str, pattern: re.Pattern[str]) -> str | None:
    text = _opt_str(value, where)
    if text is not None and not pattern.fullmatch(text):
        raise HostFactsError(f"{_show(text)} is not a version number in '{where}'")
    return text


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise HostFactsError(f"'{where}' must be a table")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, where: str) -> int:
    if not _is_int(value):
        raise HostFactsError(f"{_show(value)} is not an integer in '{where}'")
    return int(value)


def _opt_int(value: Any, where: str) -> int | None:
    return None if value is None else _int(value, where)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise HostFactsError(f"{_show(value)} is not a string in '{where}'")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise HostFactsError(f"{_show(value)} is not true or false in '{where}'")
    return value


def _opt_bool(value: Any, where: str) -> bool | None:
    return None if value is None else _bool(value, where)


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise HostFactsError(f"'{where}' must be a list")
    return tuple(_str(v, f"{where}[{i}]") for i, v in enumerate(value))
