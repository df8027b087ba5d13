"""The Kubernetes Job: valid against the 1.33 schema (kubernetes-validate, strict, offline),
and what it asks of the cluster."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from envforge.jobs import render_job
from envforge.jobs.kubernetes import memory_quantity, size_quantity
from tests.unit.jobs.common import REF, spec

K8S = "1.33.0"


def job(*args: str, **options: object) -> dict[str, Any]:
    doc = yaml.safe_load(render_job(spec("kubernetes", *args, **options)))
    kubernetes_validate.validate(doc, K8S, strict=True)
    return doc


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (only,) = doc["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"gpus": 0},
        {"gpus": 8, "cpus": 32, "mem": "256G", "shm_size": "16g"},
        {
            "namespace": "ml-jobs",
            "node_selector": ("nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3",),
        },
        {"name": "x"},
    ],
)
def test_every_job_is_valid(options: dict) -> None:
    job("--seed", "1", **options)


def test_a_gpu_job() -> None:
    doc = job("--seed", "1")
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "Job"
    assert doc["spec"]["backoffLimit"] == 0
    pod = doc["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001}
    c = container(doc)
    assert c["image"] == REF
    assert c["command"] == ["/app/.venv/bin/gpu-torch"] and c["args"] == ["--seed", "1"]
    assert c["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert c["env"] == [
        {"name": "HOME", "value": "/tmp"},  # the root is read-only: ~/.cache in the pod's /tmp
        {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"},
        {"name": "NVIDIA_REQUIRE_CUDA", "value": "cuda>=13.0"},
    ]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v["emptyDir"] for v in pod["volumes"]}
    assert volumes[mounts["/dev/shm"]] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert volumes[mounts["/tmp"]] == {}
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"dev.envforge/cuda": "13.2", "dev.envforge/min-driver": "580"}
    assert doc["metadata"]["annotations"] == annotations


def test_no_gpu_hides_the_nodes_gpus() -> None:
    doc = job(gpus=0)
    c = container(doc)
    # The image's NVIDIA_VISIBLE_DEVICES=all would otherwise hand over every GPU of the node.
    assert c["env"] == [
        {"name": "HOME", "value": "/tmp"},
        {"name": "NVIDIA_VISIBLE_DEVICES", "value": "none"},
    ]
    assert "resources" not in c and "tolerations" not in doc["spec"]["template"]["spec"]


def test_sizes_namespace_and_node_selector() -> None:
    doc = job(
        gpus=2, cpus=8, mem="64G", shm_size="8g", namespace="ml",
        node_selector=("cloud.google.com/gke-accelerator=nvidia-h100-80gb", "pool=a"),
    )  # fmt: skip
    c = container(doc)
    assert c["resources"]["limits"] == {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": 2}
    assert doc["metadata"]["namespace"] == "ml"
    pod = doc["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-accelerator": "nvidia-h100-80gb",
        "pool": "a",
    }
    assert pod["volumes"][0]["emptyDir"]["sizeLimit"] == "8Gi"


def test_dollar_references_are_not_expanded() -> None:
    c = container(job("--out", "$(HOME)/x", "$$"))
    assert c["args"] == ["--out", "$$(HOME)/x", "$$$$"]


@pytest.mark.parametrize(
    ("size", "quantity"),
    [(2**30, "1Gi"), (3 * 2**20, "3Mi"), (2**40, "1Ti"), (3072, "3Ki"), (1536, "1536")],
)
def test_size_quantity(size: int, quantity: str) -> None:
    assert size_quantity(size) == quantity


@pytest.mark.parametrize(("mem", "quantity"), [("64G", "64Gi"), ("512", "512Mi"), ("2T", "2Ti")])
def test_memory_quantity(mem: str, quantity: str) -> None:
    assert memory_quantity(mem) == quantity
