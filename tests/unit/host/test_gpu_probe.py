"""The driver probe: real H100 outputs through the same parsers that read a live host,
NVML's errors as statuses, the nvidia-smi fallback, and the recorded hosts of
tests/conftest.py (a host without a driver; the H100, replayed by a fake nvidia-smi).

tests/fixtures/gpu/h100-driver580 is a verbatim copy of what one H100 host printed
(its README says how); these tests never edit it.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pynvml
import pytest

from envforge.errors import ProbeOutputError
from envforge.host import nvidia as gpu_probe
from envforge.host.facts import DRIVER_STATUSES, DriverFacts, GpuDevice
from envforge.host.nvidia import (
    cuda_version_from_int,
    driver_from_nvml,
    driver_from_smi,
    driver_from_smi_csv,
    driver_from_smi_xml,
    probe_driver,
    read_nvml,
    status_from_smi_failure,
)
from tests.conftest import FAKE_NVIDIA_SMI, NO_DRIVER_DETAIL, h100_driver, no_gpu_driver

H100 = Path(__file__).resolve().parents[2] / "fixtures" / "gpu" / "h100-driver580"
UUID = "GPU-3291a77b-57cd-f039-3078-1914ff26eb38"
NAME = "NVIDIA H100 80GB HBM3"
MIB = 1 << 20


def device(
    index: int,
    name: str,
    cc: tuple[int, int] | None,
    mem: int | None,
    uuid: str | None,
    mig: bool | None,
) -> GpuDevice:
    return GpuDevice(
        index=index,
        name=name,
        compute_capability=cc,
        memory_total_bytes=mem,
        uuid=uuid,
        mig_enabled=mig,
    )


def fixture(name: str) -> str:
    return (H100 / name).read_text("utf-8")


def nvml_raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture("nvml.json"))
    return data


# ---------------------------------------------------------------- the H100 fixtures


def test_nvml_fixture() -> None:
    facts = driver_from_nvml(nvml_raw())
    assert facts == DriverFacts(
        status="ok",
        source="nvml",
        driver_version="580.159.04",
        cuda_driver_version="13.0",
        gpus=(
            GpuDevice(
                index=0,
                name=NAME,
                compute_capability=(9, 0),
                memory_total_bytes=85520809984,
                uuid=UUID,
                mig_enabled=False,
            ),
        ),
    )
    assert facts.gpus[0].sm == "9.0"
    assert facts.ok


def test_csv_fixture() -> None:
    facts = driver_from_smi_csv(fixture("query.csv"), "13.0")
    assert facts.status == "ok"
    assert facts.source == "nvidia-smi"
    assert facts.driver_version == "580.159.04"
    assert facts.cuda_driver_version == "13.0"
    (gpu,) = facts.gpus
    assert gpu == device(0, NAME, (9, 0), 81559 * MIB, UUID, None)  # no MIG column


def test_csv_without_cuda_version() -> None:
    assert driver_from_smi_csv(fixture("query.csv"), None).cuda_driver_version is None


def test_nvml_and_csv_agree_on_memory() -> None:
    """NVML's bytes are exactly nvidia-smi's MiB: 85520809984 == 81559 MiB."""
    nvml = driver_from_nvml(nvml_raw()).gpus[0]
    smi = driver_from_smi_csv(fixture("query.csv"), None).gpus[0]
    assert nvml.memory_total_bytes == smi.memory_total_bytes == 81559 * MIB


def test_xml_fixture() -> None:
    facts = driver_from_smi_xml(fixture("nvidia-smi-q.xml"))
    assert facts == DriverFacts(
        status="ok",
        source="nvidia-smi",
        driver_version="580.159.04",
        cuda_driver_version="13.0",
        gpus=(device(0, NAME, None, 81559 * MIB, UUID, False),),  # no compute capability
    )
    assert facts.gpus[0].sm is None


def test_csv_and_xml_combined_as_the_fallback_reads_them() -> None:
    facts = driver_from_smi(fixture("query.csv"), fixture("nvidia-smi-q.xml"))
    assert facts.cuda_driver_version == "13.0"
    # compute capability from the CSV, MIG mode from the XML
    assert facts.gpus == (device(0, NAME, (9, 0), 81559 * MIB, UUID, False),)
    assert driver_from_smi(fixture("query.csv")).cuda_driver_version is None


# ---------------------------------------------------------------- parsers, beyond the fixtures


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (13000, "13.0"),
        (12040, "12.4"),
        (12090, "12.9"),
        (11080, "11.8"),
        (13010, "13.1"),
        (0, None),
    ],
)
def test_cuda_version_from_int(value: int, text: str | None) -> None:
    assert cuda_version_from_int(value) == text


def test_csv_columns_found_by_header_in_any_order() -> None:
    header, row = (line.split(", ") for line in fixture("query.csv").splitlines())
    order = [4, 3, 0, 2, 1]
    text = ", ".join(header[i] for i in order) + "\n" + ", ".join(row[i] for i in order) + "\n"
    assert driver_from_smi_csv(text, "13.0") == driver_from_smi_csv(fixture("query.csv"), "13.0")


def test_csv_nounits_and_noheader() -> None:
    nounits = (
        "name, driver_version, memory.total [MiB], compute_cap, uuid\n"
        f"{NAME}, 580.159.04, 81559, 9.0, {UUID}\n"
    )
    noheader = f"{NAME}, 580.159.04, 81559 MiB, 9.0, {UUID}\n"
    expected = driver_from_smi_csv(fixture("query.csv"), None)
    assert driver_from_smi_csv(nounits, None) == expected
    assert driver_from_smi_csv(noheader, None) == expected


def test_csv_unknown_values_and_extra_columns() -> None:
    text = (
        "index, name, driver_version, memory.total [MiB], compute_cap, uuid, mig.mode.current\n"
        "0, NVIDIA A100-SXM4-40GB, 550.54.15, 40960 MiB, 8.0, GPU-a, Enabled\n"
        "1, Some GPU, 550.54.15, [N/A], [N/A], [Not Supported], [N/A]\n"
    )
    facts = driver_from_smi_csv(text, "12.4")
    assert facts.gpus == (
        device(0, "NVIDIA A100-SXM4-40GB", (8, 0), 40960 * MIB, "GPU-a", True),
        device(1, "Some GPU", None, None, None, None),
    )


def test_csv_header_only_is_no_gpu() -> None:
    header = fixture("query.csv").splitlines()[0]
    facts = driver_from_smi_csv(header + "\n", "13.0")
    assert (facts.status, facts.gpus) == ("no-gpu", ())


def test_csv_ragged_row_is_an_output_error() -> None:
    with pytest.raises(ProbeOutputError, match="fields"):
        driver_from_smi_csv("name, uuid\nA, B, C\n", None)


@pytest.mark.parametrize("text", ["<not xml", "<other/>"])
def test_bad_xml_is_an_output_error(text: str) -> None:
    with pytest.raises(ProbeOutputError):
        driver_from_smi_xml(text)


def test_nvml_mig_enabled_and_unsupported_fields() -> None:
    raw = nvml_raw()
    raw["gpus"].append(
        {"name": "NVIDIA GeForce RTX 5090", "cc": None, "mem": None, "uuid": None, "mig": None}
    )
    raw["gpus"][0]["mig"] = [1, 1]
    facts = driver_from_nvml(raw)
    assert facts.gpus[0].mig_enabled is True
    assert facts.gpus[1] == device(1, "NVIDIA GeForce RTX 5090", None, None, None, None)
    assert facts.gpus[1].sm is None


def test_nvml_without_gpus_is_no_gpu() -> None:
    raw = nvml_raw() | {"count": 0, "gpus": []}
    facts = driver_from_nvml(raw)
    assert (facts.status, facts.driver_version, facts.gpus) == ("no-gpu", "580.159.04", ())


@pytest.mark.parametrize(
    "gpu",
    [
        {"cc": [9, 0]},
        {"name": "X", "cc": [9]},
        {"name": "X", "mem": "80GB"},
        {"name": "X", "mig": 0},
    ],
)
def test_malformed_nvml_is_an_output_error(gpu: dict[str, Any]) -> None:
    with pytest.raises(ProbeOutputError):
        driver_from_nvml(nvml_raw() | {"gpus": [gpu]})


@pytest.mark.parametrize(
    ("said", "status"),
    [
        ("No devices were found", "no-gpu"),
        (
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
            "Make sure that the latest NVIDIA driver is installed and running.",
            "driver-not-loaded",
        ),
        ("Failed to initialize NVML: Driver/library version mismatch", "version-mismatch"),
        ("NVIDIA-SMI couldn't find libnvidia-ml.so library in your system.", "no-driver"),
        ("Unable to determine the device handle for GPU0000:00:06.0: Unknown Error", "error"),
    ],
)
def test_status_from_smi_failure(said: str, status: str) -> None:
    assert status_from_smi_failure(said) == status


# ---------------------------------------------------------------- read_nvml with a fake NVML


class FakeMemory:
    total = 85520809984


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """pynvml answering what the H100 host answered (strings as bytes, as older pynvml did)."""
    calls: list[str] = []
    answers: dict[str, Any] = {
        "nvmlInit": lambda: calls.append("init"),
        "nvmlShutdown": lambda: calls.append("shutdown"),
        "nvmlSystemGetDriverVersion": lambda: b"580.159.04",
        "nvmlSystemGetCudaDriverVersion": lambda: 13000,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: f"handle{i}",
        "nvmlDeviceGetName": lambda h: b"NVIDIA H100 80GB HBM3",
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "nvmlDeviceGetMemoryInfo": lambda h: FakeMemory(),
        "nvmlDeviceGetUUID": lambda h: UUID,
        "nvmlDeviceGetMigMode": lambda h: [0, 0],
    }
    for name, answer in answers.items():
        monkeypatch.setattr(pynvml, name, answer)
    return calls


def raiser(code: int) -> Any:
    def fail(*args: Any) -> Any:
        raise pynvml.NVMLError(code)

    return fail


def test_read_nvml_collects_the_shape_of_the_fixture(fake_nvml: list[str]) -> None:
    # The fixture also holds what the H100 host said that envforge does not read.
    raw = nvml_raw()
    read = ("driver", "cuda_driver_version_int", "gpus")
    gpu_keys = ("name", "cc", "mem", "uuid", "mig")
    expected = {key: raw[key] for key in read}
    expected["gpus"] = [{key: gpu[key] for key in gpu_keys} for gpu in raw["gpus"]]
    assert read_nvml() == expected
    assert fake_nvml == ["init", "shutdown"]


def test_read_nvml_unsupported_mig_is_none(
    fake_nvml: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pynvml, "nvmlDeviceGetMigMode", raiser(pynvml.NVML_ERROR_NOT_SUPPORTED))
    raw = read_nvml()
    assert raw["gpus"][0]["mig"] is None
    assert driver_from_nvml(raw).gpus[0].mig_enabled is None


def test_read_nvml_shuts_down_after_an_error(
    fake_nvml: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", raiser(pynvml.NVML_ERROR_GPU_IS_LOST))
    monkeypatch.setattr(pynvml, "nvmlShutdown", raiser(pynvml.NVML_ERROR_UNINITIALIZED))
    with pytest.raises(pynvml.NVMLError_GpuIsLost):  # not the shutdown's error
        read_nvml()


def test_probe_driver_with_working_nvml(
    fake_nvml: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert probe_driver() == driver_from_nvml(nvml_raw())


# ---------------------------------------------------------------- NVML errors as statuses


NVML_ERRORS = [
    (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "no-driver"),
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver-not-loaded"),
    (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "version-mismatch"),
    (pynvml.NVML_ERROR_NO_PERMISSION, "error"),
]


@pytest.mark.parametrize(("code", "status"), NVML_ERRORS)
def test_nvml_errors_without_nvidia_smi(
    code: int, status: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    error = pynvml.NVMLError(code)
    assert type(error) is not pynvml.NVMLError  # pynvml hands back its subclass
    monkeypatch.setattr(pynvml, "nvmlInit", raiser(code))
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    assert probe_driver() == DriverFacts(
        status=status,
        source="none",
        driver_version=None,
        cuda_driver_version=None,
        detail=str(error),
    )


def fake_smi(folder: Path, body: str) -> None:
    folder.mkdir(exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_fallback_to_nvidia_smi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The fixtures, printed by a stand-in nvidia-smi that only answers the exact commands."""
    query = " ".join(gpu_probe.SMI_QUERY)
    assert query == (
        "--query-gpu=name,driver_version,memory.total,compute_cap,uuid --format=csv"
    )  # the command in the fixture's README
    fake_smi(
        tmp_path / "bin",
        f'if [ "$*" = "{query}" ]; then exec cat "{H100}/query.csv"; fi\n'
        f'if [ "$*" = "-q -x" ]; then exec cat "{H100}/nvidia-smi-q.xml"; fi\n'
        "exit 2\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setattr(pynvml, "nvmlInit", raiser(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    facts = probe_driver()
    assert (facts.status, facts.source) == ("ok", "nvidia-smi")
    assert (facts.driver_version, facts.cuda_driver_version) == ("580.159.04", "13.0")
    assert facts.gpus == (device(0, NAME, (9, 0), 81559 * MIB, UUID, False),)
    assert facts.detail is not None
    assert "NVML unusable (no-driver: NVML Shared Library Not Found)" in facts.detail


def test_fallback_with_no_devices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_smi(tmp_path, "echo 'No devices were found'\nexit 6\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pynvml, "nvmlInit", raiser(pynvml.NVML_ERROR_UNKNOWN))
    facts = probe_driver()
    assert (facts.status, facts.source, facts.gpus) == ("no-gpu", "nvidia-smi", ())


def test_fallback_that_fails_keeps_the_nvml_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_smi(
        tmp_path,
        'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\n'
        "exit 9\n",
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pynvml, "nvmlInit", raiser(pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    facts = probe_driver()
    assert (facts.status, facts.source) == ("driver-not-loaded", "none")
    assert facts.detail is not None and "couldn't communicate" in facts.detail


def test_fallback_with_garbage_output(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_smi(tmp_path, "echo 'name, uuid'\necho 'a, b, c'\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pynvml, "nvmlInit", raiser(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    facts = probe_driver()
    assert (facts.status, facts.source) == ("error", "none")


# ---------------------------------------------------------------- the recorded hosts


def test_probe_on_a_host_without_a_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No NVML (the isolated host refuses to load it) and no nvidia-smi: a clean status,
    not an exception."""
    monkeypatch.setenv("PATH", str(tmp_path))
    facts = probe_driver()
    assert facts.status in DRIVER_STATUSES
    assert facts == DriverFacts(
        status="no-driver",
        source="none",
        driver_version=None,
        cuda_driver_version=None,
        detail=NO_DRIVER_DETAIL,
    )
    assert facts == no_gpu_driver()  # what the isolated host's probe answers


def test_the_fake_nvidia_smi_replays_the_h100(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/fixtures/fake-nvidia-smi (first on PATH in .ci/run) answers as the H100 host's
    nvidia-smi did: the live probe reads from it what that host's NVML said."""
    monkeypatch.setenv("PATH", f"{FAKE_NVIDIA_SMI}:/usr/bin:/bin")
    facts = probe_driver()
    nvml = h100_driver()
    assert (facts.status, facts.source) == ("ok", "nvidia-smi")
    assert (facts.driver_version, facts.cuda_driver_version) == (
        nvml.driver_version,
        nvml.cuda_driver_version,
    )
    assert [(g.name, g.compute_capability, g.uuid) for g in facts.gpus] == [
        (g.name, g.compute_capability, g.uuid) for g in nvml.gpus
    ]
    assert facts.gpus[0].memory_total_bytes == 81559 * MIB  # nvidia-smi rounds to MiB


def test_a_cpu_plan_never_loads_nvml() -> None:
    """The host's GPU can only choose between CPU and CUDA torch extras: a CPU project's
    plan skips the probe, and NVML's import with it (hundreds of ms at every start)."""
    project = Path(__file__).resolve().parents[3] / "examples" / "cpu-sklearn"
    code = (
        "import sys; from pathlib import Path\n"
        "from envforge.image.plan import BuildOptions\n"
        "from envforge.pipeline import plan_project\n"
        f"plan_project(Path({str(project)!r}), BuildOptions())\n"
        "assert 'pynvml' not in sys.modules, 'pynvml imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
