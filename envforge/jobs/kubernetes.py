"""A batch/v1 Job for one run of the image on a Kubernetes cluster. Pure.

Built as a dict and written by ``yaml.safe_dump``: one quoting mechanism, no template.

- The image by digest when known; the command and its arguments written out
  (``command``/``args``), each ``$`` doubled, since Kubernetes expands ``$(VAR)`` there.
- GPUs: ``resources.limits: {nvidia.com/gpu: N}`` (limits only) and the toleration of the
  ``nvidia.com/gpu`` taint (AKS and many clusters taint GPU nodes; nothing adds it for
  you). NVIDIA_VISIBLE_DEVICES is left to the device plugin, which sets it to the GPUs it
  allocates: "all" in the Job would hand the container every GPU of the node where the
  plugin passes devices by that variable. A Job without GPUs sets it to "none", so that a
  CUDA image's own ``NVIDIA_VISIBLE_DEVICES=all`` does not do the same.
- NVIDIA_DRIVER_CAPABILITIES=compute,utility, NVIDIA_REQUIRE_CUDA (the toolkit refuses a
  node whose driver is below it), and the minimum driver as an annotation
  (``dev.envforge/min-driver``), which the toolkit does not read: for people and tools.
- /dev/shm as a memory-backed emptyDir (a container gets 64 MB otherwise: too small for
  PyTorch's DataLoader workers and NCCL); sizeLimit from --shm-size, 1Gi by default.
- Runs as the image's non-root uid (10001 for envforge's images), with no privilege
  escalation, no capabilities and a read-only root filesystem, /tmp an emptyDir.
- ``backoffLimit: 0`` and ``restartPolicy: Never``: a failed run is reported, not retried.
"""

from __future__ import annotations

from typing import Any

import yaml

from envforge.jobs.model import JobSpec
from envforge.labels import ENVFORGE

MIN_DRIVER_ANNOTATION = f"{ENVFORGE}/min-driver"
CUDA_ANNOTATION = f"{ENVFORGE}/cuda"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
DEFAULT_SHM = "1Gi"
_UNITS = (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_SLURM_MEM_UNITS = {"K": "Ki", "M": "Mi", "G": "Gi", "T": "Ti"}


def job_dict(spec: JobSpec) -> dict[str, Any]:
    """The Job as data, keys in writing order."""
    image = spec.image
    metadata: dict[str, Any] = {"name": spec.name}
    if spec.namespace:
        metadata["namespace"] = spec.namespace
    metadata["labels"] = {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/managed-by": "envforge",
    }
    annotations = {}
    if image.needs.needs_cuda and image.needs.cuda:
        annotations[CUDA_ANNOTATION] = image.needs.cuda
    if spec.min_driver and image.needs.needs_cuda:
        annotations[MIN_DRIVER_ANNOTATION] = spec.min_driver
    if annotations:
        metadata["annotations"] = annotations

    container: dict[str, Any] = {"name": spec.name, "image": image.ref}
    argv = [_literal(word) for word in spec.argv]
    container["command"] = argv[:1]
    if argv[1:]:
        container["args"] = argv[1:]
    if image.workdir:
        container["workingDir"] = image.workdir
    container["env"] = [{"name": k, "value": _literal(v)} for k, v in _env(spec)]
    limits: dict[str, Any] = {}
    if spec.cpus:
        limits["cpu"] = str(spec.cpus)
    if spec.mem:
        limits["memory"] = memory_quantity(spec.mem)
    if spec.gpus:
        limits[GPU_RESOURCE] = spec.gpus
    if limits:
        container["resources"] = {"limits": limits}
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    container["volumeMounts"] = [
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]

    pod: dict[str, Any] = {"restartPolicy": "Never"}
    if image.uid is not None:
        security: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": image.uid}
        if image.gid is not None:
            security["runAsGroup"] = image.gid
        pod["securityContext"] = security
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    if spec.gpus:
        pod["tolerations"] = [dict(GPU_TOLERATION)]
    pod["containers"] = [container]
    shm = size_quantity(spec.shm_bytes) if spec.shm_bytes is not None else DEFAULT_SHM
    pod["volumes"] = [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}},
        {"name": "tmp", "emptyDir": {}},
    ]
    template: dict[str, Any] = {"metadata": {"labels": dict(metadata["labels"])}, "spec": pod}
    if annotations:
        template["metadata"]["annotations"] = dict(annotations)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {"backoffLimit": 0, "template": template},
    }


def _env(spec: JobSpec) -> list[tuple[str, str]]:
    # The root filesystem is read-only: HOME (and so ~/.cache, ~/.config) in the pod's own
    # /tmp volume, which no other pod shares.
    env = [("HOME", "/tmp")]
    if not spec.gpus:
        return [*env, ("NVIDIA_VISIBLE_DEVICES", "none")]
    env.append(("NVIDIA_DRIVER_CAPABILITIES", "compute,utility"))
    if spec.image.require_cuda:
        env.append(("NVIDIA_REQUIRE_CUDA", spec.image.require_cuda))
    return env


def render_kubernetes(spec: JobSpec) -> str:
    header = [
        f"# envforge job --target kubernetes: {spec.image.subject}, one run of {spec.image.ref}",
        "# Submit it with: kubectl apply -f job.yaml (this file); follow it with:",
        f"# kubectl logs -f job/{spec.name}" + (f" -n {spec.namespace}" if spec.namespace else ""),
    ]
    if spec.gpus and spec.min_driver and spec.needs.needs_cuda:
        header.append(
            f"# CUDA {spec.needs.cuda}: the nodes need an NVIDIA driver >= {spec.min_driver}"
            + (
                f" (>= {spec.needs.driver_toolkit} for full support)"
                if spec.needs.driver_toolkit and spec.needs.driver_toolkit != spec.min_driver
                else ""
            )
        )
    body = yaml.safe_dump(
        job_dict(spec), sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )
    return "\n".join(header) + "\n" + body


def _literal(text: str) -> str:
    """A value Kubernetes must not expand: $(VAR) references are, `$$` is a `$`."""
    return text.replace("$", "$$")


def size_quantity(size: int) -> str:
    """Bytes as a Kubernetes quantity: 1073741824 -> 1Gi, 1000 -> 1000."""
    for unit, factor in _UNITS:
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def memory_quantity(mem: str) -> str:
    """sbatch --mem's form (megabytes, or a K/M/G/T suffix, binary) as a quantity: 16G -> 16Gi."""
    unit = mem[-1]
    if unit in _SLURM_MEM_UNITS:
        return mem[:-1] + _SLURM_MEM_UNITS[unit]
    return f"{mem}Mi"
