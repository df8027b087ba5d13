"""Image size of examples/gpu-torch: envforge (slim base + CUDA wheels) against the common
recipe `FROM nvidia/cuda:<matching>-cudnn-runtime` plus the same wheels.

No registry is reachable here, so nvidia/cuda cannot be pulled, and no published size of
its cudnn-runtime tags could be found in the stored copies of Docker Hub, NGC or NVIDIA's
repository (see the issue note). The recipe's figure is therefore a LOWER BOUND, measured,
not pulled: the same environment, plus the second copy of the CUDA and cuDNN libraries that
an nvidia/cuda cudnn-runtime base carries (sized from the identical libraries in the
wheels), leaving out that base's Ubuntu and the Python the recipe must add.

    uv run python bench/gpu_image_size.py    # builds the image in the lab when missing
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parent.parent
TAG = "envforge-lab-cache/gpu-torch:lab"  # what tests/integration/test_gpu_images.py builds
LAB_ENV = {
    "ENVFORGE_BASE_IMAGE": os.environ.get(
        "ENVFORGE_BASE_IMAGE", "envforge-lab/python:3.11-slim-bookworm"
    ),
    "ENVFORGE_UV_IMAGE": os.environ.get("ENVFORGE_UV_IMAGE", "envforge-lab/uv:0.13.9"),
    "ENVFORGE_CA_BUNDLE": os.environ.get(
        "ENVFORGE_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"
    ),
}
SITE = "/app/.venv/lib/python3.11/site-packages"
# What nvidia/cuda's runtime image installs (cuda-libraries, libnccl2) and its cudnn
# flavour adds (libcudnn9): the wheels carry the same shared libraries.
DUPLICATED = (
    "nvidia/cu13/lib/libcudart.so*", "nvidia/cu13/lib/libcublas*.so*", "nvidia/cu13/lib/libcufft.so*",
    "nvidia/cu13/lib/libcurand.so*", "nvidia/cu13/lib/libcusolver.so*", "nvidia/cu13/lib/libcusparse.so*",
    "nvidia/cu13/lib/libnvrtc*.so*", "nvidia/cu13/lib/libnvJitLink.so*", "nvidia/nccl/lib/*.so*",
    "nvidia/cudnn/lib/*.so*",
)  # fmt: skip


def sizes_inside(client: docker.DockerClient) -> tuple[int, int]:
    script = f"du -sb /app/.venv | cut -f1; cd {SITE} && du -cbL {' '.join(DUPLICATED)} | tail -1 | cut -f1"
    out = client.containers.run(TAG, entrypoint=["sh", "-c", script], remove=True).decode().split()
    return int(out[0]), int(out[1])


def main() -> None:
    client = docker.from_env()
    try:
        client.images.get(TAG)
    except docker.errors.ImageNotFound:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "envforge",
                "build",
                str(REPO / "examples/gpu-torch"),
                "--tag",
                TAG,
            ],
            env={**os.environ, **LAB_ENV},
            check=True,
        )
    image = client.images.get(TAG)
    base_name = image.labels["org.opencontainers.image.base.name"]
    base = int(client.images.get(base_name).attrs["Size"])
    total = int(image.attrs["Size"])
    venv, cuda_libs = sizes_inside(client)
    recipe_floor = venv + cuda_libs
    report = {
        "project": "gpu-torch",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cuda": image.labels.get("dev.envforge.cuda"),
        "envforge": {
            "image_bytes": total,
            "base": base_name,
            "base_bytes": base,
            "environment_bytes": venv,
        },
        "recipe": {
            "base": f"nvidia/cuda:{image.labels.get('dev.envforge.cuda')}.x-cudnn-runtime-ubuntu24.04",
            "base_pulled": False,
            "base_published_size": None,
            "lower_bound_bytes": recipe_floor,
            "second_copy_of_cuda_bytes": cuda_libs,
            "how": "environment + the CUDA/cuDNN libraries its base would carry again; Ubuntu and Python left out",
        },
    }
    gb = 1e9
    print(f"{'':44}{'envforge':>12}{'recipe':>14}")
    print(
        f"{'final image (GB)':44}{total / gb:>12.2f}{'>= ' + format(recipe_floor / gb, '.2f'):>14}"
    )
    print(f"{'base image (GB)':44}{base / gb:>12.2f}{'not pulled':>14}")
    print(f"{'environment /app/.venv (GB)':44}{venv / gb:>12.2f}{venv / gb:>14.2f}")
    print(f"{'second copy of CUDA + cuDNN libraries (GB)':44}{0:>12.2f}{cuda_libs / gb:>14.2f}")
    print(
        "\nrecipe: nvidia/cuda cannot be pulled here and no published size of its cudnn-runtime "
        "tags was found;\nits figure is a measured lower bound (Ubuntu and Python layers not counted)."
    )
    out = REPO / "bench/results" / f"gpu-torch-size-{report['date'][:10]}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
