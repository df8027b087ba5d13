"""infer_needs on install sets: what a locked project needs from the host's GPU stack.

Small synthetic locks (built by `make_lock` from (name, version, deps) rows) go through the
same path as a real project: Lock.from_dict -> installed_packages -> infer_needs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from envforge.cuda.catalog import CudaCatalog, load_cuda_catalog
from envforge.cuda.needs import FrameworkNeed, GpuNeeds, infer_needs
from envforge.project.installset import Target, installed_packages
from envforge.project.lockfile import Lock
from tests.conftest import EXAMPLES

PROJECT = "proj"
LINUX = Target("3.11.16")
PYPI = {"registry": "https://pypi.org/simple"}

# An edge: "name", "name==version" (the entry of a forked package), "name[extra1,extra2]",
# or the uv.lock table itself (for markers).
Dep = str | Mapping[str, Any]
# (name, version, deps), or (name, version, deps, {"optional-dependencies": {extra: deps},
# "resolution-markers": [...], "source": {...}}).
Row = tuple[Any, ...]


def edge(dep: Dep) -> dict[str, Any]:
    if not isinstance(dep, str):
        return dict(dep)
    name, _, version = dep.partition("==")
    name, _, extras = name.partition("[")
    out: dict[str, Any] = {"name": name}
    if version:
        out["version"] = version
    if extras:
        out["extra"] = extras.rstrip("]").split(",")
    return out


def lock_dict(
    rows: Sequence[Row],
    *,
    direct: Sequence[Dep] | None = None,
    optional: Mapping[str, Sequence[Dep]] | None = None,
) -> dict[str, Any]:
    """The uv.lock dict of a project `proj` that depends on `direct` (by default the first
    row) and, per extra, on `optional`; `rows` are the other locked packages."""
    root: dict[str, Any] = {
        "name": PROJECT,
        "version": "0.1.0",
        "source": {"virtual": "."},
        "dependencies": [edge(d) for d in (direct if direct is not None else [rows[0][0]])],
    }
    if optional:
        root["optional-dependencies"] = {x: [edge(d) for d in ds] for x, ds in optional.items()}
    packages = [root]
    for row in rows:
        name, version, deps = row[0], row[1], row[2]
        fields = dict(row[3]) if len(row) > 3 else {}
        pkg: dict[str, Any] = {
            "name": name,
            "version": version,
            "source": fields.pop("source", PYPI),
            "dependencies": [edge(d) for d in deps],
        }
        if "optional-dependencies" in fields:
            pkg["optional-dependencies"] = {
                x: [edge(d) for d in ds] for x, ds in fields.pop("optional-dependencies").items()
            }
        pkg.update(fields)
        packages.append(pkg)
    return {"version": 1, "revision": 2, "requires-python": ">=3.10", "package": packages}


def make_lock(rows: Sequence[Row], **kw: Any) -> Lock:
    return Lock.from_dict(lock_dict(rows, **kw), project_name=PROJECT)


@pytest.fixture(scope="module")
def catalog() -> CudaCatalog:
    return load_cuda_catalog()


def needs_of(lock: Lock, catalog: CudaCatalog, target: Target = LINUX, **kw: Any) -> GpuNeeds:
    return infer_needs(installed_packages(lock, target, **kw), catalog)


def framework(needs: GpuNeeds, name: str) -> FrameworkNeed:
    return next(f for f in needs.frameworks if f.name == name)


def evidence(needs: GpuNeeds) -> str:
    return "\n".join(e for f in needs.frameworks for e in f.evidence)


# --- torch from PyPI: CUDA from the nvidia-* wheels it pins -----------------------------

LINUX_ONLY = "platform_machine == 'x86_64' and sys_platform == 'linux'"


def torch_251(nvjitlink: str = "12.9.86") -> list[Row]:
    """torch 2.5.1 from PyPI as uv locks it: cudart and cuDNN pinned, nvjitlink not (it
    resolves to the newest), every nvidia-* wheel behind a Linux x86_64 marker."""
    return [
        (
            "torch",
            "2.5.1",
            [
                "filelock",
                {"name": "nvidia-cuda-runtime-cu12", "marker": LINUX_ONLY},
                {"name": "nvidia-cudnn-cu12", "marker": LINUX_ONLY},
                {"name": "nvidia-cublas-cu12", "marker": LINUX_ONLY},
                {"name": "nvidia-nvjitlink-cu12", "marker": LINUX_ONLY},
            ],
        ),
        ("filelock", "3.16.1", []),
        ("nvidia-cuda-runtime-cu12", "12.4.127", []),
        ("nvidia-cudnn-cu12", "9.1.0.70", ["nvidia-cublas-cu12"]),
        ("nvidia-cublas-cu12", "12.4.5.8", []),
        ("nvidia-nvjitlink-cu12", nvjitlink, []),
    ]


def test_pypi_torch_2_5_1_needs_cuda_12_4_1_from_wheels(catalog: CudaCatalog) -> None:
    needs = needs_of(make_lock(torch_251()), catalog)
    assert needs.needs_cuda
    assert (needs.cuda, needs.cudnn, needs.runtime_from) == ("12.4.1", "9.1.0", "wheels")
    # The PyPI 2.5.1 build [BLD]: 5.0 ... 9.0, no Blackwell, no PTX to JIT onto one.
    assert needs.arch_list is not None
    assert needs.arch_list[-1] == "9.0"
    assert "12.0" not in needs.arch_list
    assert not needs.ptx
    torch = framework(needs, "torch")
    assert (torch.version, torch.build, torch.cuda) == ("2.5.1", "cuda", "12.4.1")


def test_driver_floor_and_toolkit_driver_come_from_the_catalog(catalog: CudaCatalog) -> None:
    needs = needs_of(make_lock(torch_251()), catalog)
    # 12.x runs on >= 525.60.13 under minor-version compatibility; 12.4 Update 1 itself
    # wants 550.54.15 (the GA 12.4 would be 550.54.14).
    assert needs.driver_floor == "525.60.13" == catalog.minor_compat_floor(12)
    assert needs.driver_toolkit == "550.54.15" == catalog.toolkit_driver("12.4.1")


def test_evidence_names_the_packages_it_came_from(catalog: CudaCatalog) -> None:
    text = evidence(needs_of(make_lock(torch_251()), catalog))
    assert "torch==2.5.1" in text
    assert "nvidia-cuda-runtime-cu12==12.4.127 -> CUDA 12.4.1" in text
    assert "nvidia-cudnn-cu12==9.1.0.70 -> cuDNN 9.1.0" in text
    assert "arch list 5.0 6.0 7.0 7.5 8.0 8.6 9.0" in text


@pytest.mark.parametrize("nvjitlink", ["12.4.127", "12.6.85", "12.9.86"])
def test_an_unpinned_nvjitlink_does_not_change_the_cuda(
    catalog: CudaCatalog, nvjitlink: str
) -> None:
    needs = needs_of(make_lock(torch_251(nvjitlink)), catalog)
    assert needs.cuda == "12.4.1"
    assert needs.driver_toolkit == "550.54.15"
    assert "nvjitlink" not in evidence(needs)


def test_nvjitlink_alone_says_nothing_about_cuda(catalog: CudaCatalog) -> None:
    lock = make_lock(
        [("somelib", "1.0", ["nvidia-nvjitlink-cu12"]), ("nvidia-nvjitlink-cu12", "12.9.86", [])]
    )
    needs = needs_of(lock, catalog)
    assert not needs.needs_cuda
    assert needs.driver_floor is None


# --- torch from the PyTorch index: +cuNNN and +cpu ----------------------------------------


def test_a_cu124_build_needs_cuda_12_4(catalog: CudaCatalog) -> None:
    # No runtime wheel to say which update: the local version alone gives 12.4.
    needs = needs_of(
        make_lock([("torch", "2.5.1+cu124", ["filelock"]), ("filelock", "3.16.1", [])]), catalog
    )
    assert needs.cuda == "12.4"
    assert needs.driver_toolkit == "550.54.14"  # 12.4 GA
    assert "+cu124: a PyTorch-index build for CUDA 12.4" in evidence(needs)
    # 2.5.1+cu124 is the same build as PyPI's 2.5.1 (its runtime is 12.4 too).
    assert needs.arch_list == ("5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0")


def test_a_cu124_build_takes_the_update_from_an_agreeing_runtime_wheel(
    catalog: CudaCatalog,
) -> None:
    lock = make_lock(
        [
            ("torch", "2.5.1+cu124", ["nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12"]),
            ("nvidia-cuda-runtime-cu12", "12.4.127", []),
            ("nvidia-cudnn-cu12", "9.1.0.70", []),
        ]
    )
    needs = needs_of(lock, catalog)
    assert (needs.cuda, needs.cudnn, needs.runtime_from) == ("12.4.1", "9.1.0", "wheels")
    assert needs.driver_toolkit == "550.54.15"


def test_a_cuda_build_without_a_cudnn_wheel_writes_cudnn_as_the_lock_does(
    catalog: CudaCatalog,
) -> None:
    # cuDNN then comes from the catalog's pin (9.1.0.70), written like a wheel's: 9.1.0.
    lock = make_lock(
        [
            ("torch", "2.5.1+cu124", ["nvidia-cuda-runtime-cu12"]),
            ("nvidia-cuda-runtime-cu12", "12.4.127", []),
        ]
    )
    assert needs_of(lock, catalog).cudnn == "9.1.0"


def test_a_cu124_build_keeps_its_cuda_when_the_runtime_wheel_disagrees(
    catalog: CudaCatalog,
) -> None:
    lock = make_lock(
        [
            ("torch", "2.5.1+cu124", ["nvidia-cuda-runtime-cu12"]),
            ("nvidia-cuda-runtime-cu12", "12.6.77", []),
        ]
    )
    assert framework(needs_of(lock, catalog), "torch").cuda == "12.4"


def test_a_cpu_build_needs_no_cuda(catalog: CudaCatalog) -> None:
    needs = needs_of(
        make_lock([("torch", "2.5.1+cpu", ["filelock"]), ("filelock", "3.16.1", [])]), catalog
    )
    assert not needs.needs_cuda
    assert (needs.cuda, needs.cudnn, needs.runtime_from, needs.driver_floor) == (None,) * 4
    torch = framework(needs, "torch")
    assert torch.build == "cpu"
    assert "a +cpu build" in " ".join(torch.evidence)


def test_torch_without_nvidia_wheels_for_the_target_is_a_cpu_build(catalog: CudaCatalog) -> None:
    # The same lock as on Linux, for macOS: the nvidia-* edges' markers leave them out.
    needs = needs_of(make_lock(torch_251()), catalog, Target("3.11.16", "darwin", "arm64"))
    assert not needs.needs_cuda
    torch = framework(needs, "torch")
    assert torch.build == "cpu"
    assert "no nvidia-cuda-runtime wheel for this target" in " ".join(torch.evidence)


# --- CUDA 13: unsuffixed runtime wheels through cuda-toolkit[...] -------------------------


def torch_2141() -> list[Row]:
    """torch 2.14.1 as uv locks it: cudart only through the cudart extra of cuda-toolkit."""
    linux = "sys_platform == 'linux'"
    return [
        (
            "torch",
            "2.14.1",
            [
                {
                    "name": "cuda-toolkit",
                    "extra": ["cudart", "cublas", "nvjitlink"],
                    "marker": linux,
                },
                {"name": "nvidia-cudnn-cu13", "marker": linux},
            ],
        ),
        (
            "cuda-toolkit",
            "13.0.3.0",
            [],
            {
                "optional-dependencies": {
                    "cudart": ["nvidia-cuda-runtime"],
                    "cublas": ["nvidia-cublas"],
                    "nvjitlink": ["nvidia-nvjitlink"],
                }
            },
        ),
        ("nvidia-cuda-runtime", "13.0.96", []),
        ("nvidia-cublas", "13.1.1.3", []),
        ("nvidia-nvjitlink", "13.2.78", []),  # newer than the runtime: says nothing
        ("nvidia-cudnn-cu13", "9.24.0.43", []),
    ]


def test_cuda_13_runtime_without_suffix_through_cuda_toolkit(catalog: CudaCatalog) -> None:
    needs = needs_of(make_lock(torch_2141()), catalog)
    assert (needs.cuda, needs.cudnn, needs.runtime_from) == ("13.0.2", "9.24.0", "wheels")
    assert (needs.driver_floor, needs.driver_toolkit) == ("580", "580.95.05")
    # torch 2.12.1-2.14.1 [PT-REL]: 7.5 ... 12.0 + PTX.
    assert needs.arch_list == ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0")
    assert needs.ptx
    text = evidence(needs)
    assert "nvidia-cuda-runtime==13.0.96 -> CUDA 13.0.2" in text
    assert "nvidia-cudnn-cu13==9.24.0.43 -> cuDNN 9.24.0" in text


def test_cuda_toolkit_without_its_cudart_extra_brings_no_runtime(catalog: CudaCatalog) -> None:
    rows = torch_2141()
    rows[0] = ("torch", "2.14.1", ["cuda-toolkit[cublas]"])
    needs = needs_of(make_lock(rows), catalog)
    assert framework(needs, "torch").build == "cpu"
    assert not needs.needs_cuda


# --- the example projects -----------------------------------------------------------------


def example_lock(name: str) -> Lock:
    data = tomllib.loads((EXAMPLES / name / "uv.lock").read_text("utf-8"))
    return Lock.from_dict(data, project_name=name)


def test_gpu_torch_for_python_3_11_needs_cuda_13_2(catalog: CudaCatalog) -> None:
    needs = needs_of(example_lock("gpu-torch"), catalog, Target("3.11.16"))
    torch = framework(needs, "torch")
    assert (torch.version, torch.build) == ("2.15.0", "cuda")
    # 13.2.86 is not in the catalog's runtime table: only major.minor is known.
    assert (needs.cuda, needs.cudnn, needs.runtime_from) == ("13.2", "9.26.0", "wheels")
    assert (needs.driver_floor, needs.driver_toolkit) == ("580", "595.45.04")
    # 2.15.0's arch list was read from the wheel itself: no PTX.
    assert needs.arch_list == ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0")
    assert needs.ptx is False
    text = evidence(needs)
    assert "nvidia-cuda-runtime==13.2.86 -> CUDA 13.2" in text
    assert "nvidia-cudnn-cu13==9.26.0.51 -> cuDNN 9.26.0" in text
    assert "arch list 7.5 8.0 8.6 9.0 10.0 12.0 (verified: WHEEL)" in text


def test_gpu_torch_for_python_3_10_needs_cuda_13_0_2(catalog: CudaCatalog) -> None:
    needs = needs_of(example_lock("gpu-torch"), catalog, Target("3.10.21"))
    assert framework(needs, "torch").version == "2.14.1"
    assert (needs.cuda, needs.cudnn) == ("13.0.2", "9.24.0")
    assert (needs.driver_floor, needs.driver_toolkit) == ("580", "580.95.05")
    assert needs.arch_list == ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0")
    assert needs.ptx


def test_gpu_torch_on_macos_is_a_cpu_build(catalog: CudaCatalog) -> None:
    needs = needs_of(example_lock("gpu-torch"), catalog, Target("3.11.16", "darwin", "arm64"))
    assert not needs.needs_cuda
    assert framework(needs, "torch").build == "cpu"


def test_cpu_sklearn_needs_no_cuda(catalog: CudaCatalog) -> None:
    needs = needs_of(example_lock("cpu-sklearn"), catalog, Target("3.11.16"))
    assert not needs.needs_cuda
    assert needs.frameworks == ()
    assert needs.to_dict()["cuda"] is None


# --- other frameworks -------------------------------------------------------------------


def test_jax_with_the_cuda12_plugin_and_runtime_wheel(catalog: CudaCatalog) -> None:
    lock = make_lock(
        [
            ("jax", "0.4.35", ["jaxlib"]),
            ("jaxlib", "0.4.35", []),
            (
                "jax-cuda12-plugin",
                "0.4.35",
                ["jax-cuda12-pjrt", "nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12"],
            ),
            ("jax-cuda12-pjrt", "0.4.35", []),
            ("nvidia-cuda-runtime-cu12", "12.6.77", []),
            ("nvidia-cudnn-cu12", "9.5.1.17", []),
        ],
        direct=["jax", "jax-cuda12-plugin"],
    )
    needs = needs_of(lock, catalog)
    jax = framework(needs, "jax")
    assert (jax.version, jax.build, jax.runtime_from) == ("0.4.35", "cuda", "wheels")
    assert (needs.cuda, needs.cudnn) == ("12.6.3", "9.5.1")
    assert needs.driver_toolkit == "560.35.05"
    assert needs.arch_list is None  # the catalog knows no jax arch lists
    text = evidence(needs)
    assert "jax==0.4.35" in text
    assert "the CUDA 12 plugin" in text
    assert "nvidia-cuda-runtime-cu12==12.6.77 -> CUDA 12.6.3" in text
    assert len([f for f in needs.frameworks if f.name == "jax"]) == 1  # plugin + pjrt: one jax


def test_jax_plugin_without_runtime_wheels_needs_a_system_cuda(catalog: CudaCatalog) -> None:
    # jax[cuda12-local]: the plugin, no nvidia-* wheels; the image must carry CUDA 12.
    lock = make_lock(
        [("jax", "0.4.35", []), ("jax-cuda12-plugin", "0.4.35", [])],
        direct=["jax", "jax-cuda12-plugin"],
    )
    needs = needs_of(lock, catalog)
    assert needs.cuda == "12.0"
    assert needs.runtime_from == "system"
    assert framework(needs, "jax").runtime_from == "system"
    assert any("assuming CUDA 12.0" in n for n in needs.notes)


def test_tensorflow_and_cuda(catalog: CudaCatalog) -> None:
    lock = make_lock(
        [
            (
                "tensorflow",
                "2.18.1",
                ["nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12", "nvidia-cublas-cu12"],
            ),
            ("nvidia-cuda-runtime-cu12", "12.5.82", []),
            ("nvidia-cudnn-cu12", "9.3.0.75", []),
            ("nvidia-cublas-cu12", "12.5.3.2", []),
        ]
    )
    needs = needs_of(lock, catalog)
    tf = framework(needs, "tensorflow")
    assert (tf.version, tf.build, tf.runtime_from) == ("2.18.1", "cuda", "wheels")
    # The CUDA and cuDNN of tensorflow[and-cuda] are those of the nvidia-* wheels it pulls.
    assert (needs.cuda, needs.cudnn) == ("12.5", "9.3.0")
    assert needs.driver_toolkit == "555.42.02"
    assert "tensorflow==2.18.1" in evidence(needs)


def test_tensorflow_without_nvidia_wheels_needs_no_cuda(catalog: CudaCatalog) -> None:
    needs = needs_of(
        make_lock([("tensorflow", "2.18.1", ["numpy"]), ("numpy", "2.1.3", [])]), catalog
    )
    assert not needs.needs_cuda


def test_cupy_without_its_ctk_extra_needs_a_system_cuda_12(catalog: CudaCatalog) -> None:
    lock = make_lock(
        [
            ("cupy-cuda12x", "13.3.0", ["numpy", "fastrlock"]),
            ("numpy", "2.1.3", []),
            ("fastrlock", "0.8.2", []),
        ]
    )
    needs = needs_of(lock, catalog)
    cupy = framework(needs, "cupy-cuda12x")
    assert (cupy.build, cupy.runtime_from) == ("cuda", "system")
    # "CUDA 12.x": any 12 runs it, so the need is written as the lowest, 12.0.
    assert needs.cuda == "12.0"
    assert needs.runtime_from == "system"
    assert needs.driver_floor == "525.60.13"
    assert "cupy-cuda12x==13.3.0: CUDA 12.x from the system" in evidence(needs)


def test_cupy_with_its_ctk_extra_takes_cuda_from_the_wheels(catalog: CudaCatalog) -> None:
    lock = make_lock(
        [
            (
                "cupy-cuda12x",
                "13.3.0",
                [],
                {"optional-dependencies": {"ctk": ["nvidia-cuda-runtime-cu12"]}},
            ),
            ("nvidia-cuda-runtime-cu12", "12.8.90", []),
        ],
        direct=["cupy-cuda12x[ctk]"],
    )
    needs = needs_of(lock, catalog)
    assert (needs.cuda, needs.runtime_from) == ("12.8.1", "wheels")
    assert framework(needs, "cupy-cuda12x").runtime_from == "wheels"


def test_onnxruntime_gpu_needs_system_cuda_12_and_cudnn_9(catalog: CudaCatalog) -> None:
    lock = make_lock([("onnxruntime-gpu", "1.20.1", ["numpy"]), ("numpy", "2.1.3", [])])
    needs = needs_of(lock, catalog)
    ort = framework(needs, "onnxruntime-gpu")
    assert (ort.build, ort.runtime_from) == ("cuda", "system")
    assert (needs.cuda, needs.cudnn, needs.runtime_from) == ("12.0", "9.0", "system")
    assert needs.driver_floor == "525.60.13"
    assert "onnxruntime-gpu==1.20.1" in evidence(needs)


def test_nvidia_wheels_pulled_by_another_package_are_a_need(catalog: CudaCatalog) -> None:
    lock = make_lock(
        [
            ("somelib", "1.0", ["nvidia-cuda-runtime-cu12", "nvidia-cublas-cu12"]),
            ("nvidia-cuda-runtime-cu12", "12.8.90", []),
            ("nvidia-cublas-cu12", "12.8.4.1", []),
        ]
    )
    needs = needs_of(lock, catalog)
    assert (needs.cuda, needs.runtime_from) == ("12.8.1", "wheels")
    assert needs.driver_toolkit == "570.124.06"
    text = evidence(needs)
    assert "nvidia-cuda-runtime-cu12==12.8.90" in text
    assert "nvidia-cublas-cu12==12.8.4.1" in text


def test_torch_and_a_system_cuda_framework_need_the_system_runtime(catalog: CudaCatalog) -> None:
    rows = [*torch_251(), ("cupy-cuda12x", "13.3.0", [])]
    needs = needs_of(make_lock(rows, direct=["torch", "cupy-cuda12x"]), catalog)
    assert needs.cuda == "12.4.1"  # the newest of 12.4.1 (torch) and 12.x (cupy: wheels)
    # cupy finds torch's runtime wheel in the same environment.
    assert framework(needs, "cupy-cuda12x").runtime_from == "wheels"
    # No arch list for cupy: the build's combined list is unknown.
    assert needs.arch_list is None


@pytest.mark.parametrize(
    ("package", "framework_name"),
    [
        ("onnxruntime-gpu", "onnxruntime-gpu"),
        ("cupy-cuda12x", "cupy-cuda12x"),
        ("jax-cuda12-plugin", "jax"),
    ],
)
def test_a_cuda_12_framework_does_not_take_cuda_13_wheels(
    catalog: CudaCatalog, package: str, framework_name: str
) -> None:
    # torch 2.14.1 brings the CUDA 13 runtime; a cuda12 build cannot load it.
    rows = [*torch_2141(), (package, "1.20.1", [])]
    needs = needs_of(make_lock(rows, direct=["torch", package]), catalog)
    other = framework(needs, framework_name)
    assert (other.cuda, other.runtime_from) == ("12.0", "system")
    assert framework(needs, "torch").cuda == "13.0.2"
    assert needs.cuda == "13.0.2"
    assert needs.runtime_from == "system"
    assert any("different CUDA majors (12, 13)" in n for n in needs.notes)


# --- a lock that forks torch cpu / cu124 behind conflicting extras -----------------------

# Markers as uv 0.5 writes them for `[tool.uv] conflicts = [[{extra = "cpu"}, {extra =
# "cu124"}]]`: each extra is encoded as 'extra-<len>-<project>-<extra>'; the PyPI torch is
# what a sync with neither extra gets.
CPU = "extra == 'extra-4-proj-cpu'"
CU124 = "extra == 'extra-4-proj-cu124'"
NEITHER = (
    "(extra == 'extra-4-proj-cpu' and extra == 'extra-4-proj-cu124') "
    "or (extra != 'extra-4-proj-cpu' and extra != 'extra-4-proj-cu124')"
)


def forked_lock() -> Lock:
    cuda_deps: list[Dep] = [
        {"name": "nvidia-cuda-runtime-cu12", "marker": LINUX_ONLY},
        {"name": "nvidia-cudnn-cu12", "marker": LINUX_ONLY},
    ]
    index = "https://download.pytorch.org/whl/"
    rows: list[Row] = [
        (
            "lib",
            "1.0",
            [
                {"name": "torch", "version": "2.5.1", "source": PYPI, "marker": NEITHER},
                {"name": "torch", "version": "2.5.1+cpu", "marker": CPU},
                {
                    "name": "torch",
                    "version": "2.5.1+cu124",
                    "marker": f"(platform_machine != 'aarch64' and {CU124}) or ({CPU} and {CU124})",
                },
            ],
        ),
        (
            "torch",
            "2.5.1",
            cuda_deps,
            {
                "resolution-markers": [
                    "extra != 'extra-4-proj-cpu' and extra != 'extra-4-proj-cu124'"
                ]
            },
        ),
        (
            "torch",
            "2.5.1+cpu",
            ["filelock"],
            {"source": {"registry": index + "cpu"}, "resolution-markers": [CPU]},
        ),
        (
            "torch",
            "2.5.1+cu124",
            cuda_deps,
            {"source": {"registry": index + "cu124"}, "resolution-markers": [CU124]},
        ),
        ("filelock", "3.16.1", []),
        ("nvidia-cuda-runtime-cu12", "12.4.127", []),
        ("nvidia-cudnn-cu12", "9.1.0.70", []),
    ]
    data = lock_dict(
        rows,
        direct=["lib"],
        optional={
            "cpu": [
                {"name": "torch", "version": "2.5.1+cpu", "marker": "sys_platform != 'darwin'"}
            ],
            "cu124": [{"name": "torch", "version": "2.5.1+cu124"}],
        },
    )
    data["conflicts"] = [
        [{"package": PROJECT, "extra": "cpu"}, {"package": PROJECT, "extra": "cu124"}]
    ]
    return Lock.from_dict(data, project_name=PROJECT)


def test_the_cpu_extra_of_a_forked_lock_is_a_cpu_build(catalog: CudaCatalog) -> None:
    installed = installed_packages(forked_lock(), LINUX, extras=("cpu",))
    assert installed["torch"].version == "2.5.1+cpu"
    assert not [n for n in installed if n.startswith("nvidia-")]
    needs = infer_needs(installed, catalog)
    assert not needs.needs_cuda
    assert framework(needs, "torch").build == "cpu"


def test_the_cu124_extra_of_a_forked_lock_needs_cuda_12_4(catalog: CudaCatalog) -> None:
    installed = installed_packages(forked_lock(), LINUX, extras=("cu124",))
    assert installed["torch"].version == "2.5.1+cu124"
    needs = infer_needs(installed, catalog)
    assert (needs.cuda, needs.cudnn) == ("12.4.1", "9.1.0")
    assert framework(needs, "torch").version == "2.5.1+cu124"


def test_neither_extra_of_a_forked_lock_gets_the_pypi_torch(catalog: CudaCatalog) -> None:
    installed = installed_packages(forked_lock(), LINUX)
    assert installed["torch"].version == "2.5.1"
    assert infer_needs(installed, catalog).cuda == "12.4.1"


# --- the stored form ----------------------------------------------------------------------


def test_to_dict_carries_every_inferred_field(catalog: CudaCatalog) -> None:
    data = needs_of(make_lock(torch_251()), catalog).to_dict()
    assert data["cuda"] == "12.4.1"
    assert data["driver_floor"] == "525.60.13"
    assert data["arch_list"] == ["5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0"]
    frameworks = data["frameworks"]
    assert isinstance(frameworks, list)
    (torch,) = frameworks
    assert torch["name"] == "torch"
    assert torch["runtime_from"] == "wheels"
    assert isinstance(torch["evidence"], list)


def test_rocm_torch_is_not_mistaken_for_cuda_or_cpu() -> None:
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.cuda.needs import infer_needs
    from envforge.project.lockfile import LockedPackage

    torch = LockedPackage(
        name="torch",
        version="2.5.1+rocm6.2",
        source={"registry": "https://download.pytorch.org/whl/rocm6.2"},
    )
    needs = infer_needs({"torch": torch}, load_cuda_catalog())
    assert not needs.needs_cuda
    assert [(f.name, f.build) for f in needs.frameworks] == [("torch", "rocm")]
