"""The `envforge run --gpus` gate. Pure.

Parses --gpus and --shm-size into what the Docker SDK takes, and decides from an image's
needs (``doctor.needs_from_image_config``) and the host's facts whether a GPU container can
start: the rules are compat's, under ``gpus_requested=True``, applied to the GPUs that
--gpus selects. The CLI prints the findings in doctor's format and refuses on a fail,
before any container exists.

Parsing stays light to import (every `envforge run` parses); the rules load only for --gpus.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from envforge.errors import InputError
from envforge.labels import CUDA as CUDA_LABEL

if TYPE_CHECKING:
    from envforge.cuda.catalog import CudaCatalog
    from envforge.cuda.needs import GpuNeeds
    from envforge.host.compat import Finding
    from envforge.host.facts import GpuDevice, HostFacts

ALL = -1  # DeviceRequest(count=-1): every GPU
_GPUS_HINT = (
    "Use all, a number of GPUs (--gpus 2), or device= with GPU indexes or UUIDs "
    "(--gpus device=0,1 or --gpus device=GPU-<uuid>)."
)
_DEVICE_RE = re.compile(r"^(?:\d+|GPU-[0-9A-Fa-f-]+|MIG-[0-9A-Za-z/-]+)\Z", re.ASCII)
_SIZE_RE = re.compile(r"^(\d+)(?:([kmg])b?|b)?\Z", re.IGNORECASE | re.ASCII)
_UNITS = {None: 1, "k": 2**10, "m": 2**20, "g": 2**30}
_NO_DRIVER_WHY = (
    "--gpus hands the host's NVIDIA GPUs to the container: without a usable driver the engine "
    "cannot start it."
)
_NO_CUDA_WHY = (
    f"Its config declares no CUDA (no {CUDA_LABEL} label, no CUDA_VERSION or "
    "NVIDIA_REQUIRE_CUDA): it uses no GPU that envforge knows of."
)
_NO_CUDA_FIX = "Leave --gpus out, unless the image uses GPUs in a way its config does not say."


@dataclass(frozen=True)
class GpuRequest:
    """One --gpus value: a count (ALL for every GPU) or device ids (indexes or UUIDs)."""

    value: str  # as given, for messages
    count: int | None = None
    device_ids: tuple[str, ...] = ()

    def sdk_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for docker.types.DeviceRequest."""
        if self.device_ids:
            return {"device_ids": list(self.device_ids), "capabilities": [["gpu"]]}
        return {"count": self.count, "capabilities": [["gpu"]]}


def parse_gpus(value: str) -> GpuRequest:
    """--gpus all | N | device=ID[,ID...], as docker takes it (quotes around it allowed)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()  # docker's own CSV form: --gpus '"device=0,1"'
    if text == "all":
        return GpuRequest(value, count=ALL)
    if text.isdigit():
        count = int(text)
        if count == 0:
            raise InputError(
                f"Invalid --gpus {value!r}: it asks for no GPU",
                hint="Leave --gpus out to run without GPUs.",
            )
        return GpuRequest(value, count=count)
    key, sep, ids = text.partition("=")
    if not sep or key.strip() != "device":
        raise InputError(f"Invalid --gpus {value!r}", hint=_GPUS_HINT)
    devices = tuple(d.strip() for d in ids.split(","))
    for device in devices:
        if not device:
            raise InputError(f"Invalid --gpus {value!r}: an empty device id", hint=_GPUS_HINT)
        if not _DEVICE_RE.match(device):
            raise InputError(
                f"Invalid --gpus {value!r}: {device!r} is not a GPU index, GPU-<uuid> or MIG-<uuid>",
                hint=_GPUS_HINT,
            )
    if len(set(devices)) != len(devices):
        raise InputError(f"Invalid --gpus {value!r}: a device is named twice")
    return GpuRequest(value, device_ids=devices)


def parse_shm_size(value: str) -> int:
    """--shm-size 256m, 8g, 1048576 (bytes): the size of /dev/shm, in bytes."""
    match = _SIZE_RE.match(value.strip())
    size = int(match.group(1)) * _UNITS[(match.group(2) or "").lower() or None] if match else 0
    if size <= 0:
        raise InputError(
            f"Invalid --shm-size {value!r}",
            hint="Give a size above zero such as 256m or 8g (units b, k, m, g).",
        )
    return size


def image_labels_and_env(attrs: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Labels and environment of an image, from its inspect data (``image.attrs``)."""
    config = attrs.get("Config") or {}
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return dict(config.get("Labels") or {}), env


@dataclass(frozen=True, kw_only=True)
class Preflight:
    """The gate's verdict on one `run --gpus`: the findings, and whether to refuse."""

    image: str
    request: GpuRequest
    needs: GpuNeeds
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "fail")

    @property
    def refused(self) -> bool:
        return bool(self.failed)


def preflight(
    image: str, needs: GpuNeeds, host: HostFacts, request: GpuRequest, catalog: CudaCatalog
) -> Preflight:
    """Whether `image` can start with `request` on `host`: compat's rules for a GPU run,
    judged on the GPUs the request selects."""
    from envforge.host.compat import project_findings

    selected, missing = _select(host, request)
    if needs.needs_cuda:
        findings = project_findings(needs, selected, catalog, subject=image, gpus_requested=True)
    else:
        # The image needs no GPU, but the device request still needs a driver and the toolkit.
        (project,) = project_findings(needs, host, catalog, subject=image, gpus_requested=True)
        findings = [
            replace(project, level="warn", why=_NO_CUDA_WHY, fix=_NO_CUDA_FIX),
            *_device_findings(selected, catalog),
        ]
    return Preflight(
        image=image, request=request, needs=needs, findings=tuple([*findings, *missing])
    )


def _device_findings(host: HostFacts, catalog: CudaCatalog) -> list[Finding]:
    """What --gpus needs of the host whatever the image: a usable driver, the toolkit."""
    from envforge.host.compat import host_findings

    out = []
    for found in host_findings(host, catalog):
        if found.check == "driver" and not host.driver.ok:
            found = replace(found, level="fail", why=_NO_DRIVER_WHY)
        elif found.check == "toolkit" and found.level == "warn":
            found = replace(found, level="fail")
        out.append(found)
    return out


def _select(host: HostFacts, request: GpuRequest) -> tuple[HostFacts, list[Finding]]:
    """The host as the container sees it (only the GPUs --gpus names), and a fail for each
    device it names that the host does not have. Docker gives `--gpus N` GPUs 0..N-1."""
    from envforge.host.compat import Finding

    gpus = host.driver.gpus
    if not host.driver.ok or not gpus or request.count == ALL:
        return host, []
    have = ", ".join(f"{g.index} ({g.uuid})" if g.uuid else str(g.index) for g in gpus)
    fix = f"Name GPUs this host has: {have}; `envforge doctor` lists them."
    if request.count is not None:
        if request.count > len(gpus):
            return host, [
                Finding(
                    level="fail",
                    check="gpu",
                    what=f"--gpus {request.count} asks for {request.count} GPUs; this host has {len(gpus)}",
                    why="The engine would refuse to start the container.",
                    fix=f"Ask for at most {len(gpus)}, or pass --gpus all.",
                )
            ]
        chosen: Sequence[GpuDevice] = gpus[: request.count]
        return _with_gpus(host, chosen), []
    if any(d.startswith("MIG-") for d in request.device_ids):
        return host, []  # MIG instances are not in the host facts: judge every GPU
    chosen, missing = [], []
    for device in request.device_ids:
        gpu = next((g for g in gpus if device in (str(g.index), g.uuid)), None)
        if gpu is None:
            missing.append(
                Finding(
                    level="fail",
                    check="gpu",
                    what=f"--gpus {request.value}: no GPU {device} on this host",
                    why="The engine would refuse to start the container.",
                    fix=fix,
                )
            )
        elif gpu not in chosen:
            chosen.append(gpu)
    return _with_gpus(host, chosen), missing


def _with_gpus(host: HostFacts, gpus: Sequence[GpuDevice]) -> HostFacts:
    return replace(host, driver=replace(host.driver, gpus=tuple(gpus)))


def render_findings(findings: Sequence[Finding], *, color: bool = False) -> str:
    """Findings as `envforge doctor` prints them: level, check, what; then why and fix."""
    import typer

    paint = {"ok": "green", "warn": "yellow", "fail": "red"}
    lines = []
    for f in findings:
        level = f"{f.level:<5}"
        if color:
            level = typer.style(level, fg=paint[f.level], bold=f.level == "fail")
        lines.append(f"{level} {f.check:<8} {f.what}")
        for label, text in (("why", f.why), ("fix", f.fix)):
            if text and f.level != "ok":
                lines += textwrap.wrap(
                    f"{label}: {text}", 92, initial_indent=" " * 15, subsequent_indent=" " * 20
                )
    return "".join(line + "\n" for line in lines)
