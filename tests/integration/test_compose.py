"""compose.yaml from `envforge dockerize --compose`, checked by Compose itself: Debian's
docker-compose (v1, installed by tests/lab/prepare.sh) validates it against the compose
specification (`config`) and runs it against the lab's engine.

The services run the lab's Python image in place of the project's (an override file): what is
checked is the service's wiring (environment, the data volume, the GPU reservation), not the
project's image, which other tests build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.conftest import LAB_PYTHON, Lab, envforge

NO_GPU_RUNTIME = 'could not select device driver "nvidia" with capabilities: [[gpu]]'


@pytest.fixture(scope="module")
def docker_compose(lab: Lab) -> str:
    found = shutil.which("docker-compose")
    if found is None:  # a lab prepared before prepare.sh installed it
        done = subprocess.run(
            ["bash", str(REPO / "tests/lab/prepare.sh")], capture_output=True, text=True
        )
        found = shutil.which("docker-compose")
        if found is None:
            message = (
                "no docker-compose on PATH and tests/lab/prepare.sh did not install it:\n"
                f"{done.stdout}\n{done.stderr}"
            )
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
    return found


Compose = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def compose(docker_compose: str, lab: Lab) -> Iterator[Compose]:
    """docker-compose in a folder, under a project name of its own; `down` at the end."""
    project = f"envforgetest{uuid.uuid4().hex[:8]}"
    used: list[tuple[Path, tuple[str, ...]]] = []  # the last call's folder and files: `down`

    def run(root: Path, *args: str, files: tuple[str, ...] = ("compose.yaml",)) -> Any:
        flags = tuple(x for name in files for x in ("-f", name))
        used.append((root, flags))
        return subprocess.run(
            [docker_compose, "-p", project, *flags, *args],
            cwd=root,
            capture_output=True,
            text=True,
            env=lab.cli_env(),
            timeout=300,
        )

    yield run
    for root, flags in used[-1:]:
        subprocess.run(
            [docker_compose, "-p", project, *flags, "down", "--remove-orphans"],
            cwd=root,
            capture_output=True,
            env=lab.cli_env(),
            timeout=120,
        )


def dockerized(example_copy: Callable[[str], Path], lab: Lab, name: str, tool: str = "") -> Path:
    root = example_copy(name)
    if tool:
        with (root / "pyproject.toml").open("a") as pyproject:
            pyproject.write(f"\n[tool.envforge]\n{tool}")
    done = envforge("dockerize", "--compose", str(root), env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    assert f"created   {root / 'compose.yaml'}" in done.stdout.splitlines()
    return root


def use_lab_image(root: Path, service: str) -> tuple[str, str]:
    (root / "lab.yaml").write_text(f"services:\n  {service}:\n    image: {LAB_PYTHON}\n")
    return ("compose.yaml", "lab.yaml")


# --- docker-compose config: the compose specification's validation ------------------------------

ENV_AND_PORTS = 'env = { MODE = "a$b c" }\nports = [8000]\n'


def test_compose_accepts_the_cpu_example(example_copy, lab: Lab, compose: Compose) -> None:
    root = dockerized(example_copy, lab, "cpu-sklearn", ENV_AND_PORTS)
    done = compose(root, "config")
    assert done.returncode == 0, done.stderr
    service = yaml.safe_load(done.stdout)["services"]["cpu-sklearn"]
    assert "deploy" not in service and "shm_size" not in service
    assert service["image"] == "cpu-sklearn:0.1.0"
    assert service["build"]["args"] == {"ENVFORGE_REVISION": ""}  # nothing in the shell
    # Compose v1 writes the short syntax, v2 the long one.
    (volume,) = service["volumes"]
    if isinstance(volume, str):
        assert volume == f"{root}/data:/app/data:rw"
    else:
        assert (volume["type"], volume["source"], volume["target"]) == (
            "bind",
            f"{root}/data",
            "/app/data",
        )
    assert [(str(p["published"]), int(p["target"])) for p in service["ports"]] == [("8000", 8000)]

    # Deterministic: a second dockerize leaves it as it is.
    again = envforge("dockerize", "--compose", str(root), env=lab.cli_env())
    assert f"unchanged {root / 'compose.yaml'}" in again.stdout.splitlines()


def test_compose_accepts_the_gpu_reservation(example_copy, lab: Lab, compose: Compose) -> None:
    root = dockerized(example_copy, lab, "gpu-torch")
    done = compose(root, "config")
    assert done.returncode == 0, done.stderr
    service = yaml.safe_load(done.stdout)["services"]["gpu-torch"]
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert device["count"] in ("all", -1)  # Compose v2 writes "all" as -1
    assert service["shm_size"] in ("1gb", 1 << 30, str(1 << 30))


def test_compose_refuses_a_broken_reservation(example_copy, lab: Lab, compose: Compose) -> None:
    """So the two tests above mean something: the devices block is validated."""
    root = dockerized(example_copy, lab, "gpu-torch")
    text = (root / "compose.yaml").read_text()
    good = "              capabilities:\n                - gpu\n"
    assert good in text
    (root / "compose.yaml").write_text(text.replace(good, "              capabilities: gpu\n"))
    done = compose(root, "config")
    assert done.returncode != 0
    assert "capabilities" in done.stderr


# --- docker-compose run: the wiring reaches the engine -------------------------------------------


def test_the_service_gets_its_environment_and_data(
    example_copy, lab: Lab, compose: Compose
) -> None:
    root = dockerized(example_copy, lab, "cpu-sklearn", ENV_AND_PORTS)
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("x,y\n1,2\n")
    files = use_lab_image(root, "cpu-sklearn")
    script = 'echo "MODE=$MODE"; cat /app/data/train.csv; exit 5'
    done = compose(
        root, "run", "--rm", "--no-deps", "-T", "cpu-sklearn", "sh", "-c", script, files=files
    )
    assert done.returncode == 5, done.stderr
    assert done.stdout.splitlines() == ["MODE=a$b c", "x,y", "1,2"]


@pytest.fixture
def no_gpu_here(docker_client) -> None:
    from envforge.engine.probe import probe_engine

    if probe_engine().gpu_capable:
        pytest.skip("this engine hands out GPUs: it would not refuse the reservation")


def test_the_gpu_reservation_reaches_the_engine(
    example_copy, lab: Lab, compose: Compose, no_gpu_here: None
) -> None:
    """This engine has no NVIDIA runtime: its refusal shows the reservation became a device
    request for the nvidia driver with the gpu capability, as `docker run --gpus all` makes."""
    root = dockerized(example_copy, lab, "gpu-torch")
    files = use_lab_image(root, "gpu-torch")
    done = compose(root, "run", "--rm", "--no-deps", "-T", "gpu-torch", "true", files=files)
    assert done.returncode != 0
    assert NO_GPU_RUNTIME in done.stdout + done.stderr
