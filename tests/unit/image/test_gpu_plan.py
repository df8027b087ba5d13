"""GPU decisions in the plan: the variant, the base, the NVIDIA settings."""

from __future__ import annotations

import pytest

from envforge.errors import PlanError
from envforge.image.options import BuildOptions
from tests.conftest import EXAMPLES, REPO
from tests.unit.helpers import plan_for

GPU_TORCH = EXAMPLES / "gpu-torch"
ONNX = REPO / "tests/fixtures/projects/onnx-gpu"


def test_cuda_from_wheels_keeps_the_slim_base() -> None:
    plan = plan_for(GPU_TORCH)
    assert plan.gpu.mode == "wheels"
    assert plan.base_ref.startswith("python:3.11-slim-trixie@sha256:")
    assert dict(plan.gpu.env) == {
        "NVIDIA_VISIBLE_DEVICES": "all",
        "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
        "NVIDIA_REQUIRE_CUDA": "cuda>=13.0",
    }
    assert plan.labels["dev.envforge.cuda"] == "13.2"
    assert plan.labels["dev.envforge.cudnn"] == "9.26.0"
    assert plan.python_source == "base"


def test_cpu_flag_drops_the_gpu_setup() -> None:
    plan = plan_for(GPU_TORCH, BuildOptions(cpu=True))
    assert plan.gpu.mode == "cpu"
    assert plan.gpu.env == ()
    assert "dev.envforge.cuda" not in plan.labels
    assert any(d.topic == "gpu" and d.choice == "none (--cpu)" for d in plan.decisions)


def test_system_cuda_from_onnxruntime_takes_the_newest_12x_cudnn_runtime() -> None:
    plan = plan_for(ONNX)
    assert plan.gpu.mode == "system"
    assert plan.base_ref == "nvidia/cuda:12.9.1-cudnn-runtime-ubuntu24.04"
    assert plan.base_digest is None
    assert plan.python_source == "uv"
    assert plan.labels["dev.envforge.cuda"] == "12.9.1"
    assert plan.labels["dev.envforge.cudnn"] == "9.10.2"  # the image's, from the catalog


def test_forced_cuda_uses_the_newest_patch_and_says_two_cudas() -> None:
    plan = plan_for(GPU_TORCH, BuildOptions(cuda="12.4"))
    assert plan.base_ref == "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"
    assert any(d.topic == "note" and d.choice == "two CUDAs" for d in plan.decisions)


def test_a_registry_mirror_applies_to_nvidia_cuda_too() -> None:
    plan = plan_for(ONNX, BuildOptions(registry_mirror="mirror.example:5000"))
    assert plan.base_ref == "mirror.example:5000/nvidia/cuda:12.9.1-cudnn-runtime-ubuntu24.04"


def test_a_named_base_keeps_its_own_python() -> None:
    plan = plan_for(ONNX, BuildOptions(base_image="registry.corp/cuda-py:12.9"))
    assert plan.base_ref == "registry.corp/cuda-py:12.9"
    assert plan.python_source == "base"


def test_pip_uv_needs_a_python_in_the_base() -> None:
    with pytest.raises(PlanError, match="--uv-source pip needs a Python"):
        plan_for(ONNX, BuildOptions(uv_source="pip"))


def test_unknown_cuda_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match=r"CUDA 10\.2 is not in envforge's CUDA catalog"):
        plan_for(GPU_TORCH, BuildOptions(cuda="10.2"))


def test_cuda_devel_only_in_the_builder(example_copy) -> None:
    from envforge.image.render import render_dockerfile

    root = example_copy("gpu-torch")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.envforge]\ncuda = "12.4"\ncuda-devel = true\n'
    )
    plan = plan_for(root)
    assert plan.builder_ref == "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04"
    assert plan.base_ref == "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"
    froms = [line for line in render_dockerfile(plan).splitlines() if line.startswith("FROM ")]
    assert froms[1] == "FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04 AS deps"
    assert froms[-1] == "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"


# CPU and CUDA torch variants behind extras: the plan picks by flag, else by the host.


def _variant(**kw):
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.cuda.needs import FrameworkNeed, GpuNeeds
    from envforge.image.gpu import plan_gpu

    torch = FrameworkNeed(
        name="torch", version="2.5.1+cu124", build="cuda", cuda="12.4", cudnn="9.1.0",
        runtime_from="wheels", arch_list=("9.0",),
    )  # fmt: skip
    cuda = GpuNeeds(frameworks=(torch,), cuda="12.4", cudnn="9.1.0", runtime_from="wheels")
    cpu = GpuNeeds(frameworks=(FrameworkNeed(name="torch", version="2.5.1+cpu", build="cpu"),))
    table = {("cpu",): cpu, ("cu124",): cuda, (): GpuNeeds()}
    return plan_gpu(
        extras_asked=False,
        project_extras=["cpu", "cu124"],
        needs_for=lambda extras: table[extras],
        catalog=load_cuda_catalog(),
        **kw,
    )


@pytest.mark.parametrize(
    ("kw", "extra", "mode"),
    [
        ({"host_gpu": True}, "cu124", "wheels"),
        ({"host_gpu": False}, "cpu", "cpu"),
        ({"host_gpu": None}, "cpu", "cpu"),
        ({"host_gpu": True, "cpu": True}, "cpu", "cpu"),
    ],
)
def test_variant_follows_flag_then_host(kw, extra, mode) -> None:
    plan = _variant(**kw)
    assert plan.variant_extras == (extra,)
    assert plan.mode == mode
    first = plan.decisions[0]
    assert (first.topic, first.choice) == ("variant", f"extra {extra}")
    assert "CPU (cpu) and CUDA (cu124) builds of torch" in first.reason


# A named base image's own Python: used when it fits, else uv's managed Python.


@pytest.mark.parametrize(
    ("base_python", "python", "source"),
    [
        ("", "3.12", "uv"),  # no Python in the base (an nvidia/cuda image, say)
        ("3.12.7", "3.12", "base"),  # the pinned minor
        ("3.11.2", "3.12", "uv"),  # another minor than .python-version asks for
        (None, "3.12", "base"),  # not probed: the base is taken to hold it
    ],
)
def test_named_base_python(base_python, python, source) -> None:
    plan = plan_for(ONNX, BuildOptions(base_image="local/cuda:12.9", base_python=base_python))
    assert (plan.python, plan.python_source) == (python, source)


def test_an_unpinned_project_takes_the_named_bases_python(example_copy) -> None:
    root = example_copy("cpu-sklearn")
    (root / ".python-version").unlink()
    assert plan_for(root).python == "3.14"  # the catalog's newest that requires-python allows
    plan = plan_for(root, BuildOptions(base_image="local/py", base_python="3.11.2"))
    assert (plan.python, plan.python_source) == ("3.11", "base")
    assert (
        plan.decisions[0].reason
        == "the named base image's own Python (3.11.2) satisfies requires-python"
    )
