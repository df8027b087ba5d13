"""The compatibility rules, pure: GpuNeeds and HostFacts built directly, on a matrix of
drivers x needed CUDA x GPUs; then the real H100 host (driver 580) with examples/gpu-torch."""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import pytest

from envforge.cuda.catalog import CudaCatalog, load_cuda_catalog
from envforge.cuda.needs import FrameworkNeed, GpuNeeds, infer_needs
from envforge.cuda.versions import arch_list_runs_on
from envforge.host.compat import Finding, host_findings, project_findings, verdict
from envforge.host.facts import DriverFacts, DriverStatus, EngineFacts, GpuDevice, HostFacts
from envforge.host.nvidia import driver_from_nvml
from envforge.project.installset import Target, installed_packages
from envforge.project.lockfile import Lock
from tests.conftest import EXAMPLES, REPO

H100_NVML = REPO / "tests" / "fixtures" / "gpu" / "h100-driver580" / "nvml.json"
SOCKET = "unix:///var/run/docker.sock"


@pytest.fixture(scope="module")
def catalog() -> CudaCatalog:
    return load_cuda_catalog()


# --- builders -----------------------------------------------------------------------------

# The arch lists of real builds (cuda.yaml): torch 2.5.1 [BLD], 2.8.0 [PT-CI], 2.14.1 [PT-REL].
TORCH_251 = ("5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0")
TORCH_280 = ("7.0", "7.5", "8.0", "8.6", "9.0", "10.0", "12.0")
TORCH_2141 = ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0")


def needs(
    cuda: str,
    arch_list: tuple[str, ...] | None = TORCH_251,
    ptx: bool = False,
    *,
    torch: str = "2.5.1",
    catalog: CudaCatalog | None = None,
) -> GpuNeeds:
    """What infer_needs makes of a torch build for `cuda`: the drivers from the catalog."""
    catalog = catalog or load_cuda_catalog()
    build = FrameworkNeed(
        name="torch",
        version=torch,
        build="cuda",
        cuda=cuda,
        cudnn="9.1.0",
        runtime_from="wheels",
        arch_list=arch_list,
        ptx=ptx,
        evidence=(f"torch=={torch}", f"nvidia-cuda-runtime-cu{cuda.split('.')[0]} -> CUDA {cuda}"),
    )
    return GpuNeeds(
        frameworks=(build,),
        cuda=cuda,
        cudnn="9.1.0",
        runtime_from="wheels",
        driver_floor=catalog.minor_compat_floor(int(cuda.split(".")[0])),
        driver_toolkit=catalog.toolkit_driver(cuda),
        arch_list=arch_list,
        ptx=ptx,
    )


CPU_ONLY = GpuNeeds(frameworks=(FrameworkNeed(name="torch", version="2.5.1+cpu", build="cpu"),))

GPUS = {
    "7.0": ("Tesla V100-SXM2-32GB", 32),
    "8.6": ("NVIDIA GeForce RTX 3090", 24),
    "8.9": ("NVIDIA GeForce RTX 4090", 24),
    "9.0": ("NVIDIA H100 80GB HBM3", 80),
    "12.0": ("NVIDIA GeForce RTX 5090", 32),
}


def gpu(sm: str, *, index: int = 0, mig: bool | None = False) -> GpuDevice:
    name, gib = GPUS[sm]
    major, minor = sm.split(".")
    return GpuDevice(
        index=index,
        name=name,
        compute_capability=(int(major), int(minor)),
        memory_total_bytes=gib << 30,
        uuid=f"GPU-{index}",
        mig_enabled=mig,
    )


TOOLKIT_ENGINE = EngineFacts(
    reachable=True,
    where=SOCKET,
    version="27.3.1",
    runtimes=("io.containerd.runc.v2", "nvidia", "runc"),
    default_runtime="runc",
    nvidia_ctk_version="1.17.8",
)
BARE_ENGINE = EngineFacts(reachable=True, where=SOCKET, version="27.3.1", runtimes=("runc",))
NO_ENGINE = EngineFacts(reachable=False, where=SOCKET, detail="connection refused")


def host(
    driver: str = "580.159.04",
    api: str | None = "13.0",
    gpus: tuple[GpuDevice, ...] = (gpu("9.0"),),
    engine: EngineFacts = TOOLKIT_ENGINE,
) -> HostFacts:
    return HostFacts(
        driver=DriverFacts(
            status="ok", source="nvml", driver_version=driver, cuda_driver_version=api, gpus=gpus
        ),
        engine=engine,
    )


def no_driver(
    status: DriverStatus = "no-driver", engine: EngineFacts = TOOLKIT_ENGINE
) -> HostFacts:
    detail = {"no-driver": "NVML Shared Library Not Found"}.get(status)
    driver = DriverFacts(
        status=status, source="none", driver_version=None, cuda_driver_version=None, detail=detail
    )
    return HostFacts(driver=driver, engine=engine)


def check(findings: list[Finding], name: str) -> Finding:
    (found,) = [f for f in findings if f.check == name]
    return found


def checks(findings: list[Finding], name: str) -> list[Finding]:
    return [f for f in findings if f.check == name]


def arch_on(need: GpuNeeds, device: GpuDevice, catalog: CudaCatalog) -> Finding:
    """The arch finding for one GPU on an otherwise ordinary host."""
    return check(project_findings(need, host(gpus=(device,)), catalog, subject="p"), "arch")


# --- the driver: drivers x needed CUDA ------------------------------------------------------

# (driver, the CUDA driver API it reports). Each is the driver of a CUDA release (Table 3).
DRIVERS = [
    ("470.82.01", "11.4"),
    ("525.60.13", "12.0"),
    ("550.54.15", "12.4"),
    ("570.124.06", "12.8"),
    ("580.159.04", "13.0"),
]
# The CUDA a lock needs, written as infer_needs writes it (the update when the runtime
# wheel's is in the catalog: 12.4.127 -> 12.4.1, 12.8.90 -> 12.8.1, 13.0.96 -> 13.0.2).
CUDAS = ["11.8", "12.4.1", "12.8.1", "13.0.2", "13.2"]
# ok: the driver API is at least the CUDA needed. warn: same major, driver at least the
# minor-version compatibility floor (11: 450.80.02, 12: 525.60.13, 13: 580). fail: else.
DRIVER_LEVELS = {
    #              11.8    12.4.1  12.8.1  13.0.2  13.2
    "470.82.01": ("warn", "fail", "fail", "fail", "fail"),
    "525.60.13": ("ok", "warn", "warn", "fail", "fail"),
    "550.54.15": ("ok", "ok", "warn", "fail", "fail"),
    "570.124.06": ("ok", "ok", "ok", "fail", "fail"),
    "580.159.04": ("ok", "ok", "ok", "ok", "warn"),
}
DRIVER_MATRIX = [
    pytest.param(driver, api, cuda, DRIVER_LEVELS[driver][i], id=f"{driver}-cuda{cuda}")
    for (driver, api), (i, cuda) in itertools.product(DRIVERS, enumerate(CUDAS))
]


@pytest.mark.parametrize(("driver", "api", "cuda", "level"), DRIVER_MATRIX)
def test_driver_matrix(catalog: CudaCatalog, driver: str, api: str, cuda: str, level: str) -> None:
    need = needs(cuda, catalog=catalog)
    found = check(project_findings(need, host(driver, api), catalog, subject="p"), "cuda")
    assert found.level == level
    if level == "ok":
        assert found.what == f"CUDA {cuda} fully supported by driver {driver} (CUDA {api})"
    elif level == "warn":
        assert "minor-version compatibility" in found.what
        assert "features that need the newer driver are unavailable" in found.why
        assert need.driver_toolkit is not None
        assert need.driver_toolkit in found.fix
    else:
        assert found.what == f"driver {driver} (CUDA {api}) is too old for CUDA {cuda}"
        assert "CUDA driver version is insufficient" in found.why
        # The fix names the driver to install: the toolkit's own, and the floor.
        assert f"driver >= {need.driver_toolkit}" in found.fix
        assert f"at least {need.driver_floor}" in found.fix


@pytest.mark.parametrize(("driver", "api", "cuda", "level"), DRIVER_MATRIX)
def test_the_verdict_on_an_h100_is_the_driver_s(
    catalog: CudaCatalog, driver: str, api: str, cuda: str, level: str
) -> None:
    # Every build here has kernels for 9.0 and the engine has the toolkit: only the
    # driver can fail or warn.
    arch = TORCH_2141 if cuda.startswith("13.") else TORCH_251
    findings = project_findings(
        needs(cuda, arch, cuda.startswith("13."), catalog=catalog),
        host(driver, api),
        catalog,
        subject="p",
    )
    assert check(findings, "arch").level == "ok"
    assert verdict(findings) == level


def test_fail_and_warn_fixes_name_the_drivers_of_the_release(catalog: CudaCatalog) -> None:
    fail = check(
        project_findings(
            needs("13.2", catalog=catalog), host("570.124.06", "12.8"), catalog, subject="p"
        ),
        "cuda",
    )
    assert fail.fix.startswith("Install an NVIDIA driver >= 595.45.04 (at least 580 under")
    warn = check(
        project_findings(
            needs("12.8.1", catalog=catalog), host("550.54.15", "12.4"), catalog, subject="p"
        ),
        "cuda",
    )
    assert warn.fix == "For full support, install an NVIDIA driver >= 570.124.06."


def test_below_the_floor_of_the_same_major_fails(catalog: CudaCatalog) -> None:
    # 450.51.06 (CUDA 11.0 Update 1) is older than 450.80.02, the floor of 11.x.
    found = check(
        project_findings(
            needs("11.8", catalog=catalog), host("450.51.06", "11.0"), catalog, subject="p"
        ),
        "cuda",
    )
    assert found.level == "fail"
    assert "at least 450.80.02" in found.fix


@pytest.mark.parametrize(
    ("driver", "cuda", "level"),
    [
        ("550.54.15", "12.4.1", "ok"),  # 12.4 Update 1's own driver
        ("550.54.14", "12.4.1", "warn"),  # 12.4 GA's: above the 12.x floor only
        ("550.54.14", "12.4", "ok"),
        ("580.159.04", "13.2", "warn"),
        ("550.54.15", "13.0.2", "fail"),  # below 580, the floor of 13.x
        ("470.82.01", "12.4.1", "fail"),  # below 525.60.13
    ],
)
def test_without_the_driver_api_version_the_drivers_decide(
    catalog: CudaCatalog, driver: str, cuda: str, level: str
) -> None:
    # nvidia-smi's CSV says no CUDA version: the driver is compared with the catalog's.
    found = check(
        project_findings(needs(cuda, catalog=catalog), host(driver, None), catalog, subject="p"),
        "cuda",
    )
    assert found.level == level


# --- the GPU: builds x compute capabilities ------------------------------------------------

# (build, needed CUDA, arch list, PTX) x the GPUs' SMs.
BUILDS = {
    "torch-2.5.1": ("12.4.1", TORCH_251, False),
    "torch-2.8.0": ("12.8.1", TORCH_280, False),
    "torch-2.14.1": ("13.0.2", TORCH_2141, True),
    "ampere-only": ("12.4.1", ("8.0", "8.6"), False),
    "hopper-ptx": ("12.8.1", ("8.0", "9.0"), True),
}
SMS = ["7.0", "8.6", "8.9", "9.0", "12.0"]
ARCH_LEVELS = {
    #                 7.0     8.6     8.9     9.0     12.0
    "torch-2.5.1": ("ok", "ok", "ok", "ok", "fail"),  # no Blackwell, no PTX
    "torch-2.8.0": ("ok", "ok", "ok", "ok", "ok"),
    "torch-2.14.1": ("fail", "ok", "ok", "ok", "ok"),  # CUDA 13 dropped Volta
    "ampere-only": ("fail", "ok", "ok", "fail", "fail"),  # 8.9 runs 8.6 cubins
    "hopper-ptx": ("fail", "ok", "ok", "ok", "warn"),  # 12.0 JIT-compiles the 9.0 PTX
}


@pytest.mark.parametrize(
    ("build", "sm", "level"),
    [
        pytest.param(b, sm, ARCH_LEVELS[b][i], id=f"{b}-sm{sm}")
        for b, (i, sm) in itertools.product(BUILDS, enumerate(SMS))
    ],
)
def test_arch_matrix(catalog: CudaCatalog, build: str, sm: str, level: str) -> None:
    cuda, arch_list, ptx = BUILDS[build]
    # A driver new enough for every CUDA here: only the GPU decides.
    findings = project_findings(
        needs(cuda, arch_list, ptx, catalog=catalog), host(gpus=(gpu(sm),)), catalog, subject="p"
    )
    assert check(findings, "cuda").level in ("ok", "warn")
    assert check(findings, "arch").level == level
    assert verdict(findings) == level


def test_torch_2_5_1_on_an_rtx_5090_fails_and_names_cuda_12_8(catalog: CudaCatalog) -> None:
    # The issue's own example: the PyPI 2.5.1 build stops at sm_90, without PTX.
    found = arch_on(needs("12.4.1", TORCH_251, catalog=catalog), gpu("12.0"), catalog)
    assert found.level == "fail"
    assert "sm_120" in found.what
    assert "no kernel image is available for execution on the device" in found.why
    assert "torch 2.5.1" in found.why
    assert "CUDA >= 12.8" in found.fix
    assert "torch >= 2.8.0" in found.fix  # the first PyPI build with sm_120 (catalog)


def test_an_unknown_arch_list_on_a_gpu_newer_than_the_cuda_names_the_cuda_too(
    catalog: CudaCatalog,
) -> None:
    # CUDA 12.4 cannot generate sm_120 code; with no arch list there is nothing to JIT from.
    found = arch_on(needs("12.4", None, catalog=catalog), gpu("12.0"), catalog)
    assert found.level == "fail"
    assert "CUDA >= 12.8" in found.fix


def test_an_8_9_gpu_runs_a_build_for_8_6(catalog: CudaCatalog) -> None:
    found = arch_on(needs("12.4.1", ("8.6",), catalog=catalog), gpu("8.9"), catalog)
    assert found.level == "ok"
    assert "earlier 8.x" in found.what


def test_a_ptx_build_on_a_newer_major_warns(catalog: CudaCatalog) -> None:
    found = arch_on(needs("12.8.1", ("8.0", "9.0"), True, catalog=catalog), gpu("12.0"), catalog)
    assert found.level == "warn"
    assert "PTX JIT" in found.what
    assert "sm_90" in found.what


def test_a_ptx_build_whose_cuda_predates_the_gpu_warns(catalog: CudaCatalog) -> None:
    # CUDA 12.4 cannot make sm_120 cubins, but the driver JIT-compiles its sm_90 PTX.
    found = arch_on(needs("12.4.1", ("8.0", "9.0"), True, catalog=catalog), gpu("12.0"), catalog)
    assert found.level == "warn"
    assert "PTX JIT" in found.what


@pytest.mark.parametrize("cuda", ["13.0.2", "13.2"])
def test_a_v100_with_cuda_13_fails(catalog: CudaCatalog, cuda: str) -> None:
    found = arch_on(needs(cuda, TORCH_2141, True, catalog=catalog), gpu("7.0"), catalog)
    assert found.level == "fail"
    assert "dropped in CUDA 13.0" in found.why
    assert "before 13.0" in found.fix


def test_an_unknown_arch_list_warns(catalog: CudaCatalog) -> None:
    found = check(
        project_findings(needs("13.2", None, catalog=catalog), host(), catalog, subject="p"), "arch"
    )
    assert found.level == "warn"
    assert "unknown to envforge" in found.what


def test_a_gpu_without_a_compute_capability_warns(catalog: CudaCatalog) -> None:
    blind = GpuDevice(
        index=0,
        name="NVIDIA H100 80GB HBM3",
        compute_capability=None,
        memory_total_bytes=None,
        uuid=None,
        mig_enabled=None,
    )
    found = arch_on(needs("12.4.1", catalog=catalog), blind, catalog)
    assert found.level == "warn"
    assert "compute capability unknown" in found.what


def test_every_gpu_gets_its_own_arch_finding(catalog: CudaCatalog) -> None:
    gpus = (gpu("9.0", index=0), gpu("12.0", index=1))
    findings = project_findings(
        needs("12.4.1", catalog=catalog), host(gpus=gpus), catalog, subject="p"
    )
    assert [f.level for f in checks(findings, "arch")] == ["ok", "fail"]
    assert verdict(findings) == "fail"


# --- MIG, engine and toolkit ---------------------------------------------------------------


def test_mig_mode_warns(catalog: CudaCatalog) -> None:
    mig_host = host(gpus=(gpu("9.0", mig=True),))
    for findings in (
        host_findings(mig_host, catalog),
        project_findings(needs("12.4.1", catalog=catalog), mig_host, catalog, subject="p"),
    ):
        found = check(findings, "mig")
        assert found.level == "warn"
        assert "MIG-<uuid>" in found.fix
        assert verdict(findings) == "warn"
    assert not checks(host_findings(host(gpus=(gpu("9.0", mig=None),)), catalog), "mig")


def test_an_engine_without_the_toolkit_on_a_gpu_host(catalog: CudaCatalog) -> None:
    bare = host(engine=BARE_ENGINE)
    need = needs("12.4.1", catalog=catalog)
    doctor = check(host_findings(bare, catalog), "toolkit")
    assert doctor.level == "warn"
    assert 'could not select device driver ""' in doctor.why
    assert "nvidia-ctk runtime configure" in doctor.fix
    assert check(project_findings(need, bare, catalog, subject="p"), "toolkit").level == "warn"
    gate = project_findings(need, bare, catalog, subject="p", gpus_requested=True)
    assert check(gate, "toolkit").level == "fail"
    assert verdict(gate) == "fail"


@pytest.mark.parametrize(
    "engine",
    [
        TOOLKIT_ENGINE,
        EngineFacts(
            reachable=True,
            where=SOCKET,
            version="27.3.1",
            runtimes=("runc",),
            cdi_specs=("/etc/cdi/nvidia.yaml",),
            cdi_kinds=("nvidia.com/gpu",),
        ),
        EngineFacts(
            reachable=True,
            where=SOCKET,
            version="27.3.1",
            runtimes=("runc",),
            nvidia_hook_on_path=True,
        ),
    ],
    ids=["nvidia-runtime", "cdi", "hook"],
)
def test_any_way_of_wiring_the_toolkit_is_ok(catalog: CudaCatalog, engine: EngineFacts) -> None:
    findings = project_findings(
        needs("12.4.1", catalog=catalog),
        host(engine=engine),
        catalog,
        subject="p",
        gpus_requested=True,
    )
    assert check(findings, "toolkit").level == "ok"
    assert verdict(findings) == "ok"


def test_a_host_without_gpus_needs_no_toolkit(catalog: CudaCatalog) -> None:
    findings = host_findings(no_driver(engine=BARE_ENGINE), catalog)
    assert not checks(findings, "toolkit")
    assert verdict(findings) == "ok"


def test_an_unreachable_engine_warns(catalog: CudaCatalog) -> None:
    found = check(host_findings(host(engine=NO_ENGINE), catalog), "engine")
    assert found.level == "warn"
    assert "not reachable" in found.what
    assert "DOCKER_HOST" in found.fix


# --- no driver, and projects without CUDA ---------------------------------------------------


@pytest.mark.parametrize("status", ["no-driver", "driver-not-loaded", "version-mismatch", "no-gpu"])
def test_no_usable_driver_warns_for_doctor_and_fails_a_gpu_run(
    catalog: CudaCatalog, status: str
) -> None:
    need = needs("12.4.1", catalog=catalog)
    doctor = project_findings(need, no_driver(status), catalog, subject="p")
    found = check(doctor, "driver")
    assert found.level == "warn"
    assert ">= 525.60.13 (>= 550.54.15 for full support)" in found.why
    assert found.fix
    assert verdict(doctor) == "warn"
    gate = project_findings(need, no_driver(status), catalog, subject="p", gpus_requested=True)
    assert check(gate, "driver").level == "fail"
    assert verdict(gate) == "fail"


def test_a_host_without_a_driver_is_a_normal_state(catalog: CudaCatalog) -> None:
    findings = host_findings(no_driver(), catalog)
    assert check(findings, "driver").level == "ok"
    assert "no NVIDIA driver on this host" in check(findings, "driver").what
    assert verdict(findings) == "ok"


@pytest.mark.parametrize(
    "where",
    [no_driver(), host(), host(engine=BARE_ENGINE), host(gpus=(gpu("7.0", mig=True),))],
    ids=["no-driver", "h100", "no-toolkit", "mig"],
)
@pytest.mark.parametrize("gpus_requested", [False, True])
def test_a_cpu_only_project_is_a_single_ok(
    catalog: CudaCatalog, where: HostFacts, gpus_requested: bool
) -> None:
    findings = project_findings(
        CPU_ONLY, where, catalog, subject="p", gpus_requested=gpus_requested
    )
    assert len(findings) == 1
    (found,) = findings
    assert (found.level, found.check) == ("ok", "project")
    assert found.what == "p needs no CUDA: torch 2.5.1+cpu (CPU build)"


def test_the_project_finding_carries_the_evidence(catalog: CudaCatalog) -> None:
    found = project_findings(needs("12.4.1", catalog=catalog), host(), catalog, subject="p")[0]
    assert (found.level, found.check) == ("ok", "project")
    assert found.what == "p needs CUDA 12.4.1 and cuDNN 9.1.0 (from nvidia-* wheels in the lock)"
    assert "torch==2.5.1" in found.why


# --- the real H100 host (driver 580.159.04, CUDA 13.0) with examples/gpu-torch --------------


@pytest.fixture(scope="module")
def h100() -> HostFacts:
    driver = driver_from_nvml(json.loads(H100_NVML.read_text("utf-8")))
    # That host has no Docker engine (see the fixture's README).
    engine = EngineFacts(reachable=False, where=SOCKET, detail="no such file")
    return HostFacts(driver=driver, engine=engine)


def gpu_torch_needs(python: str, catalog: CudaCatalog) -> GpuNeeds:
    data = tomllib.loads(Path(EXAMPLES / "gpu-torch" / "uv.lock").read_text("utf-8"))
    lock = Lock.from_dict(data, project_name="gpu-torch")
    return infer_needs(installed_packages(lock, Target(python)), catalog)


def test_the_h100_fixture_reads_as_one_hopper_gpu(h100: HostFacts, catalog: CudaCatalog) -> None:
    assert (h100.driver.driver_version, h100.driver.cuda_driver_version) == ("580.159.04", "13.0")
    findings = host_findings(h100, catalog)
    assert check(findings, "gpu").what == "GPU 0: NVIDIA H100 80GB HBM3, sm_90 (Hopper), 80 GiB"
    assert not checks(findings, "mig")  # MIG mode [0, 0]: off
    assert not checks(findings, "toolkit")  # no engine to wire it into
    assert verdict(findings) == "warn"  # the engine is unreachable, nothing else


def test_gpu_torch_for_python_3_11_on_the_h100(h100: HostFacts, catalog: CudaCatalog) -> None:
    need = gpu_torch_needs("3.11.16", catalog)
    assert need.cuda == "13.2"
    findings = project_findings(need, h100, catalog, subject="gpu-torch")
    # CUDA 13.2 wheels on a 13.0 driver: same major, driver 580.159.04 >= 580, the 13.x floor.
    cuda = check(findings, "cuda")
    assert cuda.level == "warn"
    assert "minor-version compatibility" in cuda.what
    assert cuda.fix == "For full support, install an NVIDIA driver >= 595.45.04."
    # The arch finding is what the catalog makes true of torch 2.15.0's PyPI build. Today
    # its row has no arch list (the reference marks it unverified), so envforge cannot
    # confirm sm_90 kernels and says so (warn). Once a verified list lands there, sm_90 is
    # in it and the finding is ok.
    build = catalog.torch_build("2.15.0")
    assert build is not None
    arch = check(findings, "arch")
    if build.arch_list is None:
        assert arch.level == "warn"
        assert "unknown to envforge" in arch.what
    else:
        assert arch_list_runs_on(build.arch_list, build.ptx, "9.0")
        assert arch.level == "ok"
    assert verdict(findings) == "warn"


def test_gpu_torch_for_python_3_10_on_the_h100(h100: HostFacts, catalog: CudaCatalog) -> None:
    # torch 2.14.1: CUDA 13.0.2 on the 13.0 driver is fully supported; sm_90 is in its list.
    findings = project_findings(
        gpu_torch_needs("3.10.21", catalog), h100, catalog, subject="gpu-torch"
    )
    assert check(findings, "cuda").level == "ok"
    assert (
        check(findings, "cuda").what
        == "CUDA 13.0.2 fully supported by driver 580.159.04 (CUDA 13.0)"
    )
    assert check(findings, "arch").level == "ok"
    assert "native kernels" in check(findings, "arch").what
    assert verdict(findings) == "warn"  # only the missing engine


def test_gpu_torch_as_a_gpu_run_on_the_h100_is_not_refused_by_the_rules(
    h100: HostFacts, catalog: CudaCatalog
) -> None:
    findings = project_findings(
        gpu_torch_needs("3.11.16", catalog), h100, catalog, subject="gpu-torch", gpus_requested=True
    )
    assert verdict(findings) != "fail"


# --- verdict ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((), "ok"),
        (("ok",), "ok"),
        (("ok", "warn"), "warn"),
        (("warn", "ok"), "warn"),
        (("ok", "fail", "warn"), "fail"),
        (("fail", "ok"), "fail"),
        (("warn", "warn"), "warn"),
    ],
)
def test_verdict_is_the_worst_level(levels: tuple[str, ...], expected: str) -> None:
    assert verdict([Finding(level=level, check="driver", what="x") for level in levels]) == expected


def test_finding_to_dict_has_a_stable_shape() -> None:
    found = Finding(level="warn", check="mig", what="what", why="why", fix="fix")
    assert found.to_dict() == {
        "level": "warn",
        "check": "mig",
        "what": "what",
        "why": "why",
        "fix": "fix",
    }
