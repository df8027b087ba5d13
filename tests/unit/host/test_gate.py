"""The `envforge run --gpus` gate: --gpus and --shm-size parsing, the preflight on recorded
and made-up hosts (pure), and the run command end to end with the engine faked."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge import doctor
from envforge.cli import app
from envforge.cuda.catalog import CudaCatalog, load_cuda_catalog
from envforge.doctor import Report, needs_from_image_config, render_text
from envforge.engine import client as engine
from envforge.engine import run as engine_run
from envforge.errors import InputError, RunError
from envforge.host import gate
from envforge.host.compat import Finding, verdict
from envforge.host.facts import HostFacts
from envforge.host.gate import ALL, GpuRequest, parse_gpus, parse_shm_size, preflight
from tests.conftest import EXAMPLES, REPO
from tests.unit.helpers import plan_for

H100_FILE = REPO / "tests/fixtures/gpu/h100-device-run/doctor-host.json"
# The recorded machine's own GPU (each lent H100 has another UUID): read, not written down.
H100_UUID = json.loads(H100_FILE.read_text())["host"]["driver"]["gpus"][0]["uuid"]
# What `envforge dockerize` labels a GPU image with; torch 2.5.1's list, "5.0..9.0".
ARCH_50_90 = "5.0,6.0,7.0,7.5,8.0,8.6,9.0"
CUDA_128 = {"dev.envforge.cuda": "12.8", "dev.envforge.arch-list": ARCH_50_90}
FOREIGN_128 = {"CUDA_VERSION": "12.8.1", "NVIDIA_REQUIRE_CUDA": "cuda>=12.8 brand=tesla"}
TOOLKIT_ENGINE = {
    "reachable": True,
    "where": "unix:///var/run/docker.sock",
    "version": "27.3.1",
    "runtimes": ["nvidia", "runc"],
    "default_runtime": "runc",
    "nvidia_ctk_version": "1.17.8",
}
BARE_ENGINE = {**TOOLKIT_ENGINE, "runtimes": ["runc"], "nvidia_ctk_version": None}


@pytest.fixture(scope="module")
def catalog() -> CudaCatalog:
    return load_cuda_catalog()


# --- hosts: the recorded H100, and hosts made from it ---------------------------------------


def h100_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(H100_FILE.read_text("utf-8"))["host"]
    return data


def made_host(
    *,
    engine: dict[str, Any] | None = None,
    driver: tuple[str, str] | None = None,
    gpus: list[dict[str, Any]] | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The recorded H100 with parts replaced: a host dict as `doctor --json` writes it."""
    data = h100_data()
    if engine is not None:
        data["engine"] = {**data["engine"], **engine}
    if driver is not None:
        data["driver"]["driver_version"], data["driver"]["cuda_driver_version"] = driver
    if gpus is not None:
        data["driver"]["gpus"] = gpus
    if status is not None:
        data["driver"].update(
            status=status, source="none", driver_version=None, cuda_driver_version=None, gpus=[]
        )
        data["driver"]["detail"] = "NVML Shared Library Not Found"
    return data


def rtx5090(index: int = 0) -> dict[str, Any]:
    return {
        "index": index,
        "name": "NVIDIA GeForce RTX 5090",
        "compute_capability": [12, 0],
        "memory_total_bytes": 34190917632,
        "uuid": f"GPU-5090000{index}-0000-0000-0000-000000000000",
        "mig_enabled": False,
    }


H100_DATA = h100_data()
HOSTS = {
    "h100-recorded": H100_DATA,
    "h100-toolkit": made_host(engine=TOOLKIT_ENGINE),
    "h100-no-toolkit": made_host(engine=BARE_ENGINE),
    "old-driver-470": made_host(engine=TOOLKIT_ENGINE, driver=("470.82.01", "11.4")),
    "rtx5090": made_host(engine=TOOLKIT_ENGINE, driver=("570.124.06", "12.8"), gpus=[rtx5090()]),
    "no-driver": made_host(engine=BARE_ENGINE, status="no-driver"),
    "h100+rtx5090": made_host(
        engine=TOOLKIT_ENGINE,
        driver=("570.124.06", "12.8"),
        gpus=[H100_DATA["driver"]["gpus"][0], rtx5090(index=1)],
    ),
}


def host(name: str) -> HostFacts:
    return HostFacts.from_dict(copy.deepcopy(HOSTS[name]))


def gate_for(
    catalog: CudaCatalog,
    where: str,
    labels: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    gpus: str = "all",
) -> gate.Preflight:
    needs = needs_from_image_config(labels or {}, env or {}, catalog)
    return preflight("img:1", needs, host(where), parse_gpus(gpus), catalog)


def only(findings: tuple[Finding, ...], check: str) -> Finding:
    (found,) = [f for f in findings if f.check == check]
    return found


# --- --gpus ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        ("all", {"count": -1, "capabilities": [["gpu"]]}),
        (" all ", {"count": -1, "capabilities": [["gpu"]]}),
        ("1", {"count": 1, "capabilities": [["gpu"]]}),
        ("4", {"count": 4, "capabilities": [["gpu"]]}),
        ("device=0", {"device_ids": ["0"], "capabilities": [["gpu"]]}),
        ("device=0,1", {"device_ids": ["0", "1"], "capabilities": [["gpu"]]}),
        ('"device=0,1"', {"device_ids": ["0", "1"], "capabilities": [["gpu"]]}),
        (f"device={H100_UUID}", {"device_ids": [H100_UUID], "capabilities": [["gpu"]]}),
        (
            "device=MIG-4c2a7e55-5f5d-5b0e-9a2c-1d3e4f5a6b7c",
            {"device_ids": ["MIG-4c2a7e55-5f5d-5b0e-9a2c-1d3e4f5a6b7c"], "capabilities": [["gpu"]]},
        ),
    ],
)
def test_gpus_values_become_device_requests(value: str, kwargs: dict[str, Any]) -> None:
    request = parse_gpus(value)
    assert request.value == value
    assert request.sdk_kwargs() == kwargs


def test_all_is_count_minus_one() -> None:
    assert parse_gpus("all") == GpuRequest("all", count=ALL)
    assert ALL == -1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Invalid --gpus '0': it asks for no GPU"),
        ("", "Invalid --gpus ''"),
        ("two", "Invalid --gpus 'two'"),
        ("-1", "Invalid --gpus '-1'"),
        ("count=2", "Invalid --gpus 'count=2'"),
        ("devices=0", "Invalid --gpus 'devices=0'"),
        ("device=", "Invalid --gpus 'device=': an empty device id"),
        ("device=0,,1", "Invalid --gpus 'device=0,,1': an empty device id"),
        ("device=gpu0", "Invalid --gpus 'device=gpu0': 'gpu0' is not a GPU index, GPU-<uuid> or MIG-<uuid>"),
        ("device=GPU-xyz", "Invalid --gpus 'device=GPU-xyz': 'GPU-xyz' is not a GPU index, GPU-<uuid> or MIG-<uuid>"),
        ("device=0,0", "Invalid --gpus 'device=0,0': a device is named twice"),
    ],
)  # fmt: skip
def test_bad_gpus_values_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_gpus(value)
    assert caught.value.message == message
    assert caught.value.exit_code == 2
    if message == f"Invalid --gpus {value!r}":
        assert caught.value.hint and "device=0,1" in caught.value.hint


# --- --shm-size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("256m", 256 * 2**20),
        ("8g", 8 * 2**30),
        ("8G", 8 * 2**30),
        ("8gb", 8 * 2**30),
        ("64k", 64 * 2**10),
        ("1048576", 2**20),
        ("512b", 512),
    ],
)
def test_shm_sizes(value: str, size: int) -> None:
    assert parse_shm_size(value) == size


@pytest.mark.parametrize("value", ["", "0", "0m", "8x", "-1g", "1.5g", "g", "8 g b", "8tb"])
def test_bad_shm_sizes_are_usage_errors(value: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_shm_size(value)
    assert caught.value.message == f"Invalid --shm-size {value!r}"
    assert caught.value.hint and "256m" in caught.value.hint


# --- image config ---------------------------------------------------------------------------


def test_labels_and_env_from_image_attrs() -> None:
    attrs = {"Config": {"Labels": CUDA_128, "Env": ["PATH=/usr/bin", "A=b=c", "JUNK"]}}
    assert gate.image_labels_and_env(attrs) == (CUDA_128, {"PATH": "/usr/bin", "A": "b=c"})
    assert gate.image_labels_and_env({"Config": {"Labels": None, "Env": None}}) == ({}, {})
    assert gate.image_labels_and_env({}) == ({}, {})


# --- the preflight on recorded and made-up hosts --------------------------------------------


def test_the_recorded_h100_has_no_engine_so_the_rules_only_warn(catalog: CudaCatalog) -> None:
    # Recorded where no dockerd ran: the rules judge no toolkit without a reachable engine
    # (compat: an unreachable engine is a warning), so the gate does not refuse there.
    pre = gate_for(catalog, "h100-recorded", CUDA_128)
    assert not pre.refused
    assert only(pre.findings, "cuda").what == (
        "CUDA 12.8 fully supported by driver 580.159.04 (CUDA 13.0)"
    )
    assert only(pre.findings, "arch").level == "ok"
    assert only(pre.findings, "engine").level == "warn"
    assert not [f for f in pre.findings if f.check == "toolkit"]
    assert [f.check for f in pre.findings if f.level == "warn"] == ["engine"]


def test_the_h100_without_the_toolkit_refuses(catalog: CudaCatalog) -> None:
    pre = gate_for(catalog, "h100-no-toolkit", CUDA_128)
    assert pre.refused
    (failed,) = pre.failed
    assert failed.check == "toolkit"
    assert failed.what == "NVIDIA Container Toolkit not set up for this Docker engine"
    assert 'could not select device driver ""' in failed.why
    assert "nvidia-ctk runtime configure --runtime=docker" in failed.fix


def test_the_h100_with_the_nvidia_runtime_passes_a_cuda_12_8_image(catalog: CudaCatalog) -> None:
    pre = gate_for(catalog, "h100-toolkit", CUDA_128)
    assert not pre.refused
    assert verdict(list(pre.findings)) == "ok"
    assert only(pre.findings, "toolkit").what == "NVIDIA Container Toolkit 1.17.8: nvidia runtime"
    assert only(pre.findings, "arch").what == (
        f"GPU 0 (NVIDIA H100 80GB HBM3, sm_90) has native kernels in the build "
        f"({ARCH_50_90.replace(',', ' ')})"
    )


def test_a_foreign_cuda_12_8_image_passes_with_a_warning(catalog: CudaCatalog) -> None:
    # nvidia/cuda-style config: no arch list, so the GPU's kernels cannot be confirmed.
    pre = gate_for(catalog, "h100-toolkit", env=FOREIGN_128)
    assert not pre.refused
    assert pre.needs.cuda == "12.8.1"
    assert [f.check for f in pre.findings if f.level == "warn"] == ["arch"]


def test_an_old_driver_refuses_a_cuda_12_8_image(catalog: CudaCatalog) -> None:
    for config in ({"labels": CUDA_128}, {"env": FOREIGN_128}):
        pre = gate_for(catalog, "old-driver-470", **config)
        assert pre.refused
        (failed,) = pre.failed
        assert failed.check == "cuda"
        assert failed.what.startswith("driver 470.82.01 (CUDA 11.4) is too old for CUDA 12.8")
        assert "CUDA driver version is insufficient" in failed.why
        assert failed.fix.startswith("Install an NVIDIA driver >= 570.")


def test_an_rtx_5090_refuses_an_image_built_for_5_0_to_9_0(catalog: CudaCatalog) -> None:
    pre = gate_for(catalog, "rtx5090", CUDA_128)
    assert pre.refused
    (failed,) = pre.failed
    assert failed.check == "arch"
    assert failed.what == (
        f"GPU 0 (NVIDIA GeForce RTX 5090, sm_120) is not in the build's arch list "
        f"({ARCH_50_90.replace(',', ' ')})"
    )
    assert "no kernel image is available for execution on the device" in failed.why
    # The same GPU is fine for a build that lists it.
    listed = {**CUDA_128, "dev.envforge.arch-list": "7.5,8.0,8.6,9.0,10.0,12.0"}
    assert not gate_for(catalog, "rtx5090", listed).refused


def test_a_host_without_a_driver_refuses(catalog: CudaCatalog) -> None:
    pre = gate_for(catalog, "no-driver", CUDA_128)
    assert pre.refused
    (failed,) = pre.failed
    assert failed.check == "driver"
    assert failed.what == "no NVIDIA driver on this host (NVML Shared Library Not Found)"
    assert (
        failed.why == "CUDA 12.8 needs an NVIDIA driver >= 525.60.13 (>= 570.26 for full support)"
    )


@pytest.mark.parametrize("where", ["h100-toolkit", "h100-recorded"])
def test_an_image_without_cuda_warns_and_proceeds(catalog: CudaCatalog, where: str) -> None:
    pre = gate_for(catalog, where)
    assert not pre.refused
    project = only(pre.findings, "project")
    assert project.level == "warn"
    assert project.what == "img:1 needs no CUDA"
    assert "uses no GPU" in project.why


@pytest.mark.parametrize(
    ("where", "check"), [("no-driver", "driver"), ("h100-no-toolkit", "toolkit")]
)
def test_an_image_without_cuda_still_needs_a_host_that_can_give_gpus(
    catalog: CudaCatalog, where: str, check: str
) -> None:
    # The device request itself needs a driver and the toolkit, whatever the image.
    pre = gate_for(catalog, where)
    assert pre.refused
    (failed,) = pre.failed
    assert failed.check == check
    if check == "driver":
        assert failed.what == "no NVIDIA driver on this host (NVML Shared Library Not Found)"
        assert failed.why.startswith("--gpus hands the host's NVIDIA GPUs to the container")
        assert failed.fix == "Install the NVIDIA driver (libnvidia-ml.so.1 is not found)."


# --- only the GPUs --gpus selects are judged ------------------------------------------------


@pytest.mark.parametrize(
    ("gpus", "refused", "arch_checked"),
    [
        ("all", True, ["GPU 0", "GPU 1"]),
        ("1", False, ["GPU 0"]),  # docker gives --gpus N the GPUs 0..N-1
        ("2", True, ["GPU 0", "GPU 1"]),
        ("device=0", False, ["GPU 0"]),
        ("device=1", True, ["GPU 1"]),
        (f"device={H100_UUID}", False, ["GPU 0"]),
        ("device=1,0", True, ["GPU 1", "GPU 0"]),
        ("device=MIG-4c2a7e55-5f5d-5b0e-9a2c-1d3e4f5a6b7c", True, ["GPU 0", "GPU 1"]),
    ],
)
def test_only_the_selected_gpus_are_judged(
    catalog: CudaCatalog, gpus: str, refused: bool, arch_checked: list[str]
) -> None:
    pre = gate_for(catalog, "h100+rtx5090", CUDA_128, gpus=gpus)
    assert pre.refused is refused
    archs = [f.what.split(" (")[0] for f in pre.findings if f.check == "arch"]
    assert archs == arch_checked
    assert [f.check for f in pre.failed] == (["arch"] if refused else [])


def test_a_gpu_the_host_lacks_is_a_fail(catalog: CudaCatalog) -> None:
    pre = gate_for(catalog, "h100-toolkit", CUDA_128, gpus="device=0,3")
    (failed,) = pre.failed
    assert (failed.check, failed.what) == ("gpu", "--gpus device=0,3: no GPU 3 on this host")
    assert failed.fix == f"Name GPUs this host has: 0 ({H100_UUID}); `envforge doctor` lists them."
    more = gate_for(catalog, "h100-toolkit", CUDA_128, gpus="2")
    (failed,) = more.failed
    assert (failed.check, failed.what) == ("gpu", "--gpus 2 asks for 2 GPUs; this host has 1")


# --- doctor's format ------------------------------------------------------------------------


def test_findings_are_printed_as_doctor_prints_them(catalog: CudaCatalog) -> None:
    pre = gate_for(catalog, "old-driver-470", CUDA_128)
    report = Report(
        subject="img:1", host=host("old-driver-470"), needs=pre.needs, findings=pre.findings
    )
    doctor_lines = render_text(report).splitlines()[2:-2]  # less the header and the verdict
    assert gate.render_findings(pre.findings).splitlines() == doctor_lines


# --- the engine side: device requests, shm size, the engine's refusal -----------------------


def test_run_spec_becomes_device_requests_and_shm_size() -> None:
    from docker.types import DeviceRequest

    spec = engine.RunSpec(image="img:1", gpus=parse_gpus("device=0,1"), shm_size=2**30)
    extra = engine_run._host_config(spec)
    assert extra["shm_size"] == 2**30
    (request,) = extra["device_requests"]
    assert isinstance(request, DeviceRequest)
    assert (request.device_ids, request.capabilities, request.count) == (
        ["0", "1"],
        [["gpu"]],
        0,
    )
    every = engine_run._host_config(engine.RunSpec(image="img:1", gpus=parse_gpus("all")))
    assert every["device_requests"][0].count == -1
    assert engine_run._host_config(engine.RunSpec(image="img:1")) == {}


class _Refusing:
    """A client whose engine refuses to start the container, as dockerd without an nvidia
    runtime does."""

    def __init__(self) -> None:
        self.removed = False
        outer = self

        class Container:
            id = "c0ffee"

            def start(self) -> None:
                import docker.errors

                raise docker.errors.APIError(
                    "500 Server Error",
                    explanation='could not select device driver "" with capabilities: [[gpu]]',
                )

            def remove(self, force: bool = False) -> None:
                outer.removed = True

        class Containers:
            def create(self, image: str, **kwargs: Any) -> Container:
                self.kwargs = kwargs
                return Container()

        class Api:
            def attach(self, *args: Any, **kwargs: Any) -> Any:
                return iter(())

        self.containers = Containers()
        self.api = Api()


def test_the_engines_refusal_of_gpus_is_a_clean_error() -> None:
    client = _Refusing()
    with pytest.raises(RunError) as caught:
        engine.run_container(client, engine.RunSpec(image="img:1", gpus=parse_gpus("all")))  # type: ignore[arg-type]
    assert caught.value.message == (
        "Cannot run 'img:1': could not select device driver \"\" with capabilities: [[gpu]]"
    )
    assert caught.value.hint and "NVIDIA Container Toolkit" in caught.value.hint
    assert client.removed


# --- `envforge run` with the engine faked ---------------------------------------------------


@dataclass
class FakeEngine:
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0
    images: list[str] = field(default_factory=list)
    runs: list[engine.RunSpec] = field(default_factory=list)
    probed: int = 0


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    state = FakeEngine()

    class Image:
        @property
        def attrs(self) -> dict[str, Any]:
            env = [f"{k}={v}" for k, v in state.env.items()]
            return {"Config": {"Labels": state.labels, "Env": env}}

    def get_image(client: Any, ref: str) -> Image:
        state.images.append(ref)
        return Image()

    def run_container(client: Any, spec: engine.RunSpec) -> int:
        state.runs.append(spec)
        return state.exit_code

    def probe_host() -> HostFacts:
        state.probed += 1
        return host("no-driver")

    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(engine, "get_image", get_image)
    monkeypatch.setattr(engine, "run_container", run_container)
    monkeypatch.setattr(doctor, "probe_host", probe_host)
    return state


runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["run", "--no-tty", *args])


def recorded(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"host": HOSTS[name]}))
    return str(path)


def test_a_refusal_prints_doctors_findings_and_starts_nothing(
    fake: FakeEngine, tmp_path: Path
) -> None:
    fake.labels = CUDA_128
    result = run("--gpus", "all", "--host-facts", recorded(tmp_path, "old-driver-470"), "img:1")
    assert result.exit_code == 1
    assert fake.runs == []
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "fail  cuda     driver 470.82.01 (CUDA 11.4) is too old for CUDA 12.8",
        "               why: The container would fail with \"CUDA driver version is insufficient for",
        "                    CUDA runtime version\".",
        "               fix: Install an NVIDIA driver >= 570.26 (at least 525.60.13 under minor-",
        "                    version compatibility). Or lock a build for an older CUDA that this",
        "                    driver supports.",
        "error: refusing to start img:1 with --gpus: 1 check(s) failed",
        "hint: Fix what failed above (`envforge doctor --image img:1` shows the whole report), "
        "or pass --skip-checks to start it anyway.",
    ]  # fmt: skip


def test_this_host_is_probed_when_no_facts_are_given(fake: FakeEngine) -> None:
    fake.env = FOREIGN_128
    result = run("--gpus", "all", "img:1")
    assert fake.probed == 1
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "fail  driver   no NVIDIA driver on this host (NVML Shared Library Not Found)"
    )
    assert "error: refusing to start img:1 with --gpus: 1 check(s) failed" in result.stderr


def test_skip_checks_starts_anyway_with_a_warning(fake: FakeEngine, tmp_path: Path) -> None:
    fake.labels = CUDA_128
    fake.exit_code = 3
    result = run(
        "--gpus", "device=0", "--skip-checks", "--host-facts", recorded(tmp_path, "rtx5090"),
        "--shm-size", "8g", "-e", "A=1", "img:1", "--", "train", "--fast",
    )  # fmt: skip
    assert result.exit_code == 3  # the container's
    assert result.stderr.splitlines()[-1] == (
        "warning: --skip-checks: starting despite 1 failed check(s)"
    )
    (spec,) = fake.runs
    assert spec.gpus == GpuRequest("device=0", device_ids=("0",))
    assert spec.shm_size == 8 * 2**30
    assert dict(spec.env) == {"A": "1"}
    assert list(spec.args) == ["train", "--fast"]


def test_a_passing_gate_is_quiet_and_runs(fake: FakeEngine, tmp_path: Path) -> None:
    fake.labels = CUDA_128
    result = run("--gpus", "all", "--host-facts", recorded(tmp_path, "h100-toolkit"), "img:1")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    (spec,) = fake.runs
    assert spec.gpus is not None and spec.gpus.count == ALL


def test_warnings_are_printed_and_the_run_goes_on(fake: FakeEngine, tmp_path: Path) -> None:
    result = run("--gpus", "all", "--host-facts", recorded(tmp_path, "h100-toolkit"), "img:1")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == "warn  project  img:1 needs no CUDA"
    assert len(fake.runs) == 1


def test_without_gpus_nothing_is_probed(fake: FakeEngine) -> None:
    fake.labels = CUDA_128
    result = run("--shm-size", "256m", "img:1")
    assert result.exit_code == 0
    assert fake.probed == 0
    (spec,) = fake.runs
    assert (spec.gpus, spec.shm_size) == (None, 256 * 2**20)


def test_a_project_folder_is_judged_from_its_images_config(fake: FakeEngine) -> None:
    fake.labels = CUDA_128
    result = run("--gpus", "all", str(EXAMPLES / "cpu-sklearn"))
    assert fake.images == [plan_for(EXAMPLES / "cpu-sklearn").default_tag]
    assert result.exit_code == 1  # the image's labels say CUDA 12.8; no driver here
    assert fake.runs == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "none"], "error: Invalid --gpus 'none'"),
        (["--gpus", "all", "--shm-size", "lots"], "error: Invalid --shm-size 'lots'"),
        (["--skip-checks"], "error: --skip-checks and --host-facts go with --gpus"),
        (["--host-facts", "h.json"], "error: --skip-checks and --host-facts go with --gpus"),
    ],
)
def test_usage_errors_come_before_the_engine(
    fake: FakeEngine, args: list[str], message: str
) -> None:
    result = run(*args, "img:1")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == message
    assert fake.images == [] and fake.runs == []
