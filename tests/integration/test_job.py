"""`envforge job IMAGE`: a real image's config, read through the engine, made a job."""

from __future__ import annotations

import io
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.integration.conftest import LAB_PYTHON, Lab, envforge
from tests.unit.jobs.fakes import recorded_driver, run_on_node

PROGRAM = "import sys; print(sys.argv)"


@pytest.fixture(scope="module")
def standin(lab: Lab, docker_client, unique_tag):
    """A foreign CUDA image's stand-in: CUDA_VERSION, a numeric USER, ENTRYPOINT and CMD."""
    tag = f"{unique_tag}/job-standin:1"
    dockerfile = (
        f"FROM {LAB_PYTHON}\n"
        f"LABEL test.run={unique_tag}\n"  # an image of its own: no other's RepoDigests
        "ENV CUDA_VERSION=12.8.1\n"
        "USER 10001\n"
        "WORKDIR /work\n"
        f'ENTRYPOINT ["python3", "-c", "{PROGRAM}"]\n'
        'CMD ["default-arg"]\n'
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_a_kubernetes_job_from_the_images_config(standin: str, lab: Lab) -> None:
    done = envforge("job", standin, "--target", "kubernetes", env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    # Built here and never pushed: no registry digest to pin it by.
    assert done.stderr.startswith(f"warning: the job names {standin}, a tag that is not pinned")
    doc = yaml.safe_load(done.stdout)
    kubernetes_validate.validate(doc, "1.33.0", strict=True)
    pod = doc["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == standin
    assert container["command"] == ["python3"]
    assert container["args"] == ["-c", PROGRAM, "default-arg"]
    assert container["workingDir"] == "/work"
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001}
    assert {"name": "NVIDIA_REQUIRE_CUDA", "value": "cuda>=12.0"} in container["env"]
    assert doc["metadata"]["annotations"]["dev.envforge/min-driver"] == "525.60.13"


def test_a_pyxis_script_replaces_cmd_with_the_arguments(
    standin: str, lab: Lab, tmp_path: Path
) -> None:
    done = envforge("job", standin, "--target", "slurm-pyxis", "--", "x", "y z", env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    ran = run_on_node(done.stdout, tmp_path, driver=recorded_driver())
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""  # driver 580 fully supports CUDA 12.8
    assert ran.calls == [
        [
            "srun",
            f"--container-image={standin}",
            "--container-workdir=/work",
            "python3",
            "-c",
            PROGRAM,
            "x",
            "y z",
        ]
    ]
