"""`envforge doctor --image`: needs read from a real image's config in the engine."""

from __future__ import annotations

import io
import json

import pytest

from tests.integration.conftest import LAB_PYTHON, Lab, envforge

H100 = "tests/fixtures/gpu/h100-device-run/doctor-host.json"


@pytest.fixture(scope="module")
def foreign_cuda_image(lab: Lab, docker_client, unique_tag):
    """A stand-in for an nvidia/cuda image: only its config matters to doctor."""
    tag = f"{unique_tag}/cuda-standin:12.8.1"
    dockerfile = (
        f"FROM {LAB_PYTHON}\n"
        "ENV CUDA_VERSION=12.8.1\n"
        'ENV NVIDIA_REQUIRE_CUDA="cuda>=12.8 brand=tesla,driver>=535,driver<536"\n'
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_foreign_image_is_judged_from_its_cuda_variables(foreign_cuda_image: str, lab: Lab) -> None:
    done = envforge(
        "doctor", "--image", foreign_cuda_image, "--host-facts", H100, "--json", env=lab.cli_env()
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["needs"]["cuda"] == "12.8.1"
    assert report["needs"]["runtime_from"] == "system"
    cuda = next(f for f in report["findings"] if f["check"] == "cuda")
    # Driver 580 speaks CUDA 13.0: a 12.8 image is fully supported there.
    assert cuda["level"] == "ok"
    assert cuda["what"] == "CUDA 12.8.1 fully supported by driver 580.159.04 (CUDA 13.0)"


def test_cpu_image_needs_no_cuda(lab: Lab) -> None:
    done = envforge("doctor", "--image", LAB_PYTHON, env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"envforge doctor: {LAB_PYTHON}"
    assert lines[2] == f"ok    project  {LAB_PYTHON} needs no CUDA"


def test_the_python_of_a_local_image_is_probed(
    lab: Lab, docker_client, tmp_path, monkeypatch
) -> None:
    from envforge.engine import client as engine
    from tests.integration.conftest import LAB_UV

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert engine.image_python(docker_client, LAB_PYTHON).startswith("3.11.")
    assert engine.image_python(docker_client, LAB_UV) == ""  # FROM scratch: no Python
    assert engine.image_python(docker_client, "envforge-test/absent:0") is None
    # Cached by image id: a second answer needs no container.
    assert (tmp_path / "envforge/image-python.json").is_file()
