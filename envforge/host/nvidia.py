"""The NVIDIA driver and GPUs of this host: NVML first, nvidia-smi when NVML is unusable.

The parsers are pure: they read what NVML returned (a dict shaped like
tests/fixtures/gpu/h100-driver580/nvml.json) or what nvidia-smi printed (its CSV query and
its ``-q -x`` XML). ``read_nvml`` and ``probe_driver`` are the thin live part that
feeds them. No driver, no GPU, a driver that is not loaded or does not match its library:
these are states of a host, reported in ``DriverFacts.status``, never raised.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from envforge.errors import ProbeOutputError
from envforge.host.facts import DriverFacts, DriverStatus, GpuDevice

QUERY_FIELDS = ("name", "driver_version", "memory.total", "compute_cap", "uuid")
SMI_QUERY = (f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv")
SMI_XML = ("-q", "-x")
SMI_TIMEOUT_S = 15.0

_NVML_MIG_ENABLE = 1  # pynvml.NVML_DEVICE_MIG_ENABLE
_CC_RE = re.compile(r"^(\d+)\.(\d+)\Z")
_MEM_RE = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB)?\Z")
_MEM_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
_HEADER_RE = re.compile(r"^(?P<key>[^\[]+?)\s*(?:\[(?P<unit>[^\]]+)\])?\Z")
_HEADER_ALIASES = {"gpu_name": "name", "gpu_uuid": "uuid", "mig.mode.current": "mig"}
_VERSION_RE = re.compile(r"^\d+\.\d+")

T = TypeVar("T")


# ---------------------------------------------------------------- pure: NVML


def cuda_version_from_int(value: int) -> str | None:
    """NVML's CUDA driver API version as people write it: 13000 -> "13.0", 12040 -> "12.4"."""
    if value <= 0:
        return None
    return f"{value // 1000}.{value % 1000 // 10}"


def driver_from_nvml(raw: Mapping[str, Any]) -> DriverFacts:
    """Facts from what ``read_nvml`` collected (the shape of nvml.json)."""
    cuda = raw.get("cuda_driver_version_int")
    if cuda is not None and not _is_int(cuda):
        raise ProbeOutputError(f"NVML CUDA driver version {cuda!r} is not an integer")
    rows = raw.get("gpus", [])
    if not isinstance(rows, list):
        raise ProbeOutputError("NVML 'gpus' is not a list")
    gpus = tuple(_nvml_gpu(i, row) for i, row in enumerate(rows))
    return DriverFacts(
        status="ok" if gpus else "no-gpu",
        source="nvml",
        driver_version=_opt_text(raw.get("driver")),
        cuda_driver_version=cuda_version_from_int(cuda) if cuda is not None else None,
        gpus=gpus,
    )


def _nvml_gpu(index: int, row: Any) -> GpuDevice:
    if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
        raise ProbeOutputError(f"NVML GPU {index} has no name")
    cc = row.get("cc")
    if cc is not None and not (
        isinstance(cc, Sequence) and len(cc) == 2 and all(_is_int(v) for v in cc)
    ):
        raise ProbeOutputError(f"NVML GPU {index} compute capability {cc!r} is not [major, minor]")
    mem = row.get("mem")
    if mem is not None and not _is_int(mem):
        raise ProbeOutputError(f"NVML GPU {index} memory {mem!r} is not an integer")
    mig = row.get("mig")  # [current, pending], or None where MIG is not supported
    if mig is not None and not (isinstance(mig, Sequence) and len(mig) == 2):
        raise ProbeOutputError(f"NVML GPU {index} MIG mode {mig!r} is not [current, pending]")
    return GpuDevice(
        index=index,
        name=row["name"],
        compute_capability=(int(cc[0]), int(cc[1])) if cc is not None else None,
        memory_total_bytes=int(mem) if mem is not None else None,
        uuid=_opt_text(row.get("uuid")),
        mig_enabled=mig[0] == _NVML_MIG_ENABLE if mig is not None else None,
    )


# ---------------------------------------------------------------- pure: nvidia-smi


def driver_from_smi_csv(text: str, cuda_version: str | None) -> DriverFacts:
    """Facts from ``nvidia-smi --query-gpu=... --format=csv``; columns found by their header.

    The CSV has no CUDA version: pass the one read from ``-q -x`` or the banner.
    Without a header (``noheader``), the columns are taken to be QUERY_FIELDS in order.
    """
    rows = [row for row in csv.reader(_lines(text), skipinitialspace=True) if row]
    columns: list[tuple[str, str | None]] = [(key, None) for key in QUERY_FIELDS]
    if rows and _is_header(rows[0]):
        columns = [_header_column(cell) for cell in rows.pop(0)]
    gpus: list[GpuDevice] = []
    driver: str | None = None
    for position, row in enumerate(rows):
        if len(row) != len(columns):
            raise ProbeOutputError(
                f"nvidia-smi CSV row {position + 1} has {len(row)} fields, "
                f"the header {len(columns)}"
            )
        values = {key: _smi_value(cell) for (key, _), cell in zip(columns, row, strict=True)}
        units = dict(columns)
        name = values.get("name")
        if name is None:
            raise ProbeOutputError(f"nvidia-smi CSV row {position + 1} has no GPU name")
        driver = driver or values.get("driver_version")
        index = values.get("index")
        gpus.append(
            GpuDevice(
                index=int(index) if index is not None and index.isdigit() else position,
                name=name,
                compute_capability=_compute_capability(values.get("compute_cap")),
                memory_total_bytes=_memory(values.get("memory.total"), units.get("memory.total")),
                uuid=values.get("uuid"),
                mig_enabled=_enabled(values.get("mig")),
            )
        )
    return DriverFacts(
        status="ok" if gpus else "no-gpu",
        source="nvidia-smi",
        driver_version=driver,
        cuda_driver_version=cuda_version,
        gpus=tuple(gpus),
    )


def driver_from_smi_xml(text: str) -> DriverFacts:
    """Facts from ``nvidia-smi -q -x``. That XML has no compute capability: it stays None."""
    root = _xml_root(text)
    gpus: list[GpuDevice] = []
    for index, gpu in enumerate(root.findall("gpu")):
        name = _smi_value(gpu.findtext("product_name"))
        if name is None:
            raise ProbeOutputError(f"nvidia-smi XML GPU {index} has no product_name")
        gpus.append(
            GpuDevice(
                index=index,
                name=name,
                compute_capability=None,
                memory_total_bytes=_memory(_smi_value(gpu.findtext("fb_memory_usage/total"))),
                uuid=_smi_value(gpu.findtext("uuid")),
                mig_enabled=_enabled(_smi_value(gpu.findtext("mig_mode/current_mig"))),
            )
        )
    return DriverFacts(
        status="ok" if gpus else "no-gpu",
        source="nvidia-smi",
        driver_version=_smi_value(root.findtext("driver_version")),
        cuda_driver_version=_version(_smi_value(root.findtext("cuda_version"))),
        gpus=tuple(gpus),
    )


def driver_from_smi(csv_text: str, xml_text: str | None = None) -> DriverFacts:
    """The CSV query's facts, with the CUDA version (and MIG mode, where the CSV lacks it)
    from ``-q -x``. This is what the live fallback reads.
    """
    if xml_text is None:
        return driver_from_smi_csv(csv_text, None)
    xml = driver_from_smi_xml(xml_text)
    facts = driver_from_smi_csv(csv_text, xml.cuda_driver_version)
    by_uuid = {gpu.uuid: gpu for gpu in xml.gpus if gpu.uuid}
    gpus = []
    for gpu in facts.gpus:
        other = by_uuid.get(gpu.uuid) if gpu.uuid else None
        if other is not None:
            gpu = dataclasses.replace(
                gpu,
                mig_enabled=_first(gpu.mig_enabled, other.mig_enabled),
                memory_total_bytes=_first(gpu.memory_total_bytes, other.memory_total_bytes),
            )
        gpus.append(gpu)
    return dataclasses.replace(
        facts,
        driver_version=facts.driver_version or xml.driver_version,
        gpus=tuple(gpus),
    )


def status_from_smi_failure(output: str) -> DriverStatus:
    """The driver status that a failing nvidia-smi's message means."""
    lowered = output.lower()
    if "no devices were found" in lowered:
        return "no-gpu"
    if "version mismatch" in lowered:
        return "version-mismatch"
    if "couldn't communicate with the nvidia driver" in lowered:
        return "driver-not-loaded"
    if "shared library not found" in lowered or "libnvidia-ml.so" in lowered:
        return "no-driver"
    return "error"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _is_header(row: list[str]) -> bool:
    keys = {_header_column(cell)[0] for cell in row}
    return bool(keys & {"name", "uuid", "driver_version", "index"})


def _header_column(cell: str) -> tuple[str, str | None]:
    match = _HEADER_RE.match(cell.strip())
    if match is None:
        return cell.strip(), None
    key = match.group("key").strip()
    return _HEADER_ALIASES.get(key, key), match.group("unit")


def _smi_value(value: str | None) -> str | None:
    """A value as nvidia-smi prints it; "[N/A]", "N/A", "[Not Supported]"... mean unknown."""
    if value is None:
        return None
    value = value.strip()
    if not value or value == "N/A" or (value.startswith("[") and value.endswith("]")):
        return None
    return value


def _compute_capability(value: str | None) -> tuple[int, int] | None:
    match = _CC_RE.match(value) if value else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _memory(value: str | None, unit: str | None = None) -> int | None:
    """Bytes from "81559 MiB", or from "81559" under a "[MiB]" header (``nounits``)."""
    match = _MEM_RE.match(value) if value else None
    if match is None:
        return None
    factor = _MEM_UNITS.get(match.group(2) or unit or "B")
    return int(match.group(1)) * factor if factor is not None else None


def _enabled(value: str | None) -> bool | None:
    if value == "Enabled":
        return True
    if value == "Disabled":
        return False
    return None


def _version(value: str | None) -> str | None:
    return value if value is not None and _VERSION_RE.match(value) else None


def _xml_root(text: str) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ProbeOutputError(f"nvidia-smi XML does not parse: {exc}") from None
    if root.tag != "nvidia_smi_log":
        raise ProbeOutputError(f"nvidia-smi XML has root <{root.tag}>, not <nvidia_smi_log>")
    return root


def _first(a: T | None, b: T | None) -> T | None:
    return a if a is not None else b


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------- live


def read_nvml() -> dict[str, Any]:
    """What NVML says of the driver and each GPU, in the shape of nvml.json (the fields
    ``driver_from_nvml`` reads: the fixture holds a few more, recorded for the record).

    Raises pynvml.NVMLError when NVML is unusable (``probe_driver`` turns that into a status).
    Values a GPU does not support (MIG mode on a GeForce, say) are None.
    """
    import pynvml

    pynvml.nvmlInit()
    try:
        count = int(pynvml.nvmlDeviceGetCount())
        return {
            "driver": _opt_text(pynvml.nvmlSystemGetDriverVersion()),
            "cuda_driver_version_int": int(pynvml.nvmlSystemGetCudaDriverVersion()),
            "gpus": [_read_nvml_device(pynvml, index) for index in range(count)],
        }
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _read_nvml_device(pynvml: Any, index: int) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    return {
        "name": _opt_text(pynvml.nvmlDeviceGetName(handle)),
        "cc": _nvml_optional(lambda: list(pynvml.nvmlDeviceGetCudaComputeCapability(handle))),
        "mem": _nvml_optional(lambda: int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)),
        "uuid": _nvml_optional(lambda: _opt_text(pynvml.nvmlDeviceGetUUID(handle))),
        "mig": _nvml_optional(lambda: list(pynvml.nvmlDeviceGetMigMode(handle))),
    }


def _nvml_optional(read: Callable[[], T]) -> T | None:
    import pynvml

    try:
        return read()
    except pynvml.NVMLError:  # NotSupported, FunctionNotFound (older driver), NoPermission
        return None


def status_from_nvml_error(exc: BaseException) -> DriverStatus:
    """The driver status an NVML error means: the library missing is no driver at all."""
    import pynvml

    if isinstance(exc, pynvml.NVMLError_LibraryNotFound):
        return "no-driver"
    if isinstance(exc, pynvml.NVMLError_DriverNotLoaded):
        return "driver-not-loaded"
    if isinstance(exc, pynvml.NVMLError_LibRmVersionMismatch):
        return "version-mismatch"
    return "error"


def probe_driver(*, timeout: float = SMI_TIMEOUT_S) -> DriverFacts:
    """This host's driver and GPUs: NVML, else nvidia-smi when it is on PATH. Never raises
    for a host without a (working) driver or GPU: the status says so.
    """
    import pynvml

    try:
        return driver_from_nvml(read_nvml())
    except pynvml.NVMLError as exc:
        status, why = status_from_nvml_error(exc), str(exc)
    except ProbeOutputError as exc:
        status, why = "error", str(exc)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return _unread(status, why)
    return _probe_smi(smi, status, why, timeout)


def _unread(status: DriverStatus, why: str) -> DriverFacts:
    """A driver neither NVML nor nvidia-smi could read: its status, and why."""
    return DriverFacts(
        status=status, source="none", driver_version=None, cuda_driver_version=None, detail=why
    )


def _probe_smi(smi: str, nvml_status: DriverStatus, nvml_why: str, timeout: float) -> DriverFacts:
    unusable = f"NVML unusable ({nvml_status}: {nvml_why})"
    ok, csv_text = _run(smi, SMI_QUERY, timeout)
    if not ok:
        smi_status = status_from_smi_failure(csv_text)
        said = f"nvidia-smi: {_first_line(csv_text)}"
        if smi_status == "no-gpu":
            return DriverFacts(
                status="no-gpu",
                source="nvidia-smi",
                driver_version=None,
                cuda_driver_version=None,
                detail=f"{unusable}; {said}",
            )
        return _unread(nvml_status if nvml_status != "error" else smi_status, f"{nvml_why}; {said}")
    xml_ok, xml_text = _run(smi, SMI_XML, timeout)
    try:
        facts = driver_from_smi(csv_text, xml_text if xml_ok else None)
    except ProbeOutputError as exc:
        return _unread("error", f"{nvml_why}; {exc}")
    return dataclasses.replace(facts, detail=f"{unusable}; read through nvidia-smi")


def _run(program: str, args: Sequence[str], timeout: float) -> tuple[bool, str]:
    """(succeeded, output): stdout when it succeeded, else what it said on both streams."""
    try:
        done = subprocess.run(
            [program, *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout:g} s"
    except OSError as exc:
        return False, exc.strerror or str(exc)
    if done.returncode != 0:
        said = (done.stdout + "\n" + done.stderr).strip()
        return False, said or f"exit status {done.returncode}"
    return True, done.stdout


def _first_line(text: str) -> str:
    lines = _lines(text)
    return lines[0].strip()[:200] if lines else ""
