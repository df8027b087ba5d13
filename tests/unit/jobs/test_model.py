"""What a job is made of: the image by digest, the command written out, the options checked."""

from __future__ import annotations

from typing import Any

import pytest

from envforge import labels as keys
from envforge.cuda.catalog import load_cuda_catalog
from envforge.doctor import needs_from_image_config
from envforge.errors import InputError
from envforge.host.gate import image_labels_and_env
from envforge.jobs import model
from tests.unit.jobs.common import DIGEST, REF, gpu_torch, spec

OTHER = "sha256:" + "0f" * 32


def attrs(**config: Any) -> dict[str, Any]:
    repo_digests = config.pop("RepoDigests", [])
    return {"Id": "sha256:" + "ab" * 32, "Config": config, "RepoDigests": repo_digests}


def facts(ref: str, image: dict[str, Any]) -> model.ImageFacts:
    labels, env = image_labels_and_env(image)
    return model.facts_from_attrs(
        ref, image, needs_from_image_config(labels, env, load_cuda_catalog())
    )


@pytest.mark.parametrize(
    ("given", "digests", "expected"),
    [
        (f"app@{DIGEST}", [f"reg.example/app@{OTHER}"], (f"app@{DIGEST}", True)),
        (
            "reg.example/team/app:1",
            [f"reg.example/team/app@{DIGEST}"],
            (f"reg.example/team/app@{DIGEST}", True),
        ),
        (
            "reg.example:5000/team/app:1",
            [f"other.example/app@{OTHER}", f"reg.example:5000/team/app@{DIGEST}"],
            (f"reg.example:5000/team/app@{DIGEST}", True),
        ),
        ("app:1", [f"other.example/app@{OTHER}"], (f"other.example/app@{OTHER}", True)),
        ("app:1", [], ("app:1", False)),
    ],
)
def test_pinned_ref(given: str, digests: list[str], expected: tuple[str, bool]) -> None:
    assert model.pinned_ref(given, digests) == expected


def test_a_repo_digest_is_checked_like_any_reference() -> None:
    with pytest.raises(InputError, match="RepoDigests"):
        model.pinned_ref("app:1", ["evil$(id)@" + DIGEST])


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("gpu-torch", "gpu-torch"),
        ("reg.example:5000/Team/My_App.v2:1", "my-app-v2"),
        ("___", "job"),
    ],
)
def test_default_name(text: str, name: str) -> None:
    assert model.default_name(text) == name


def test_a_plan_gives_the_absolute_command_and_the_needs() -> None:
    image = gpu_torch()
    assert image.ref == REF and image.pinned
    assert image.command == ("/app/.venv/bin/gpu-torch",)
    assert (image.workdir, image.uid, image.gid) == ("/app", 10001, 10001)
    assert (image.needs.cuda, image.needs.driver_floor, image.needs.driver_toolkit) == (
        "13.2", "580", "595.45.04",
    )  # fmt: skip
    assert image.require_cuda == "cuda>=13.0"
    assert spec("kubernetes").min_driver == "580"


def test_an_envforge_image() -> None:
    image = facts(
        "gpu-torch:0.1.0",
        attrs(
            Entrypoint=["gpu-torch"], Cmd=None, WorkingDir="/app", User="app",
            Labels={keys.ENVFORGE_VERSION: "0.1.0", keys.CUDA: "13.2"},
            Env=["NVIDIA_REQUIRE_CUDA=cuda>=13.0", "PATH=/app/.venv/bin:/usr/bin"],
            RepoDigests=[f"registry.example/team/gpu-torch@{DIGEST}"],
        ),
    )  # fmt: skip
    assert image.ref == f"registry.example/team/gpu-torch@{DIGEST}" and image.pinned
    assert image.command == ("gpu-torch",)  # found through the image's PATH
    assert (image.uid, image.gid, image.workdir) == (10001, 10001, "/app")
    assert image.needs.cuda == "13.2" and image.needs.driver_floor == "580"
    assert image.require_cuda == "cuda>=13.0"


def test_a_foreign_image_without_entrypoint() -> None:
    image = facts(
        "nvcr.example/cuda-app:1",
        attrs(Cmd=["python", "-m", "app"], User="", Env=["CUDA_VERSION=12.4.1"]),
    )
    assert image.command == () and image.default_args == ("python", "-m", "app")
    assert image.uid is None and not image.pinned
    assert image.needs.cuda == "12.4.1" and image.require_cuda == "cuda>=12.0"
    checked = model.check_options(model.JobOptions(target="slurm-pyxis"), image)
    assert checked.argv == ("python", "-m", "app")
    replaced = model.check_options(
        model.JobOptions(target="slurm-pyxis", args=("bash", "-c", "x")), image
    )
    assert replaced.argv == ("bash", "-c", "x")  # no ENTRYPOINT: the arguments are all of it


def test_numeric_users() -> None:
    assert facts("a:1", attrs(Cmd=["x"], User="1000:100")).uid == 1000
    assert facts("a:1", attrs(Cmd=["x"], User="1000:100")).gid == 100
    assert facts("a:1", attrs(Cmd=["x"], User="0")).uid is None  # root: no runAsNonRoot
    assert facts("a:1", attrs(Cmd=["x"], User="app")).uid is None  # not envforge's app


def test_an_image_with_no_command_needs_one() -> None:
    image = facts("a:1", attrs())
    with pytest.raises(InputError, match="names no command"):
        model.check_options(model.JobOptions(target="kubernetes"), image)


def test_a_config_value_with_a_line_break_is_refused() -> None:
    with pytest.raises(InputError):
        facts("a:1", attrs(Entrypoint=["x\n#SBATCH --uid=0"]))


@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        ("slurm-pyxis", {"namespace": "x"}, "--namespace goes with --target kubernetes"),
        ("slurm-apptainer", {"node_selector": ("a=b",)}, "--node-selector goes with"),
        ("slurm-pyxis", {"shm_size": "1g"}, "--shm-size goes with --target kubernetes"),
        ("kubernetes", {"time": "10"}, "--time goes with the Slurm targets"),
        ("kubernetes", {"partition": "gpu"}, "--partition goes with the Slurm targets"),
        ("slurm-pyxis", {"sif": "x.sif"}, "--sif goes with --target slurm-apptainer"),
        ("slurm-pyxis", {"archive": "x.tar"}, "--archive goes with --target slurm-apptainer"),
        ("slurm-apptainer", {"archive": "x.tgz"}, "not a .tar file"),
        ("slurm", {}, "Invalid target 'slurm'"),
        ("kubernetes", {"gpus": -1}, "Invalid --gpus -1"),
        ("kubernetes", {"cpus": 0}, "Invalid --cpus 0"),
        ("kubernetes", {"name": "Train_1"}, "Invalid job name"),
        ("kubernetes", {"namespace": "a.b"}, "Invalid namespace"),
        ("kubernetes", {"node_selector": ("novalue",)}, "Invalid node selector"),
        ("kubernetes", {"mem": "64GB"}, "Invalid memory size"),
        ("kubernetes", {"shm_size": "0"}, "Invalid --shm-size"),
        ("slurm-pyxis", {"time": "2h"}, "Invalid time limit"),
        ("slurm-pyxis", {"partition": "gpu debug"}, "Invalid partition"),
        ("slurm-apptainer", {"sif": "-rf"}, "Invalid path"),
    ],
)
def test_options_are_checked(target: str, options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        spec(target, **options)


def test_warnings() -> None:
    assert spec("kubernetes").warnings == ()
    (cpu_only,) = spec("kubernetes", gpus=0).warnings
    assert cpu_only.startswith("--gpus 0: gpu-torch needs CUDA 13.2")
    unpinned = model.check_options(
        model.JobOptions(target="kubernetes"), gpu_torch("gpu-torch:0.1.0")
    )
    assert unpinned.warnings[0].startswith(
        "the job names gpu-torch:0.1.0, a tag that is not pinned"
    )


def test_kubernetes_warns_of_a_user_it_cannot_run_as_non_root() -> None:
    image = facts("nvcr.example/cuda-app:1", attrs(Cmd=["python"], User=""))
    (warning,) = model.check_options(model.JobOptions(target="kubernetes"), image).warnings[1:]
    assert warning.startswith("nvcr.example/cuda-app:1 runs as root, not a numeric uid")
    assert len(model.check_options(model.JobOptions(target="slurm-pyxis"), image).warnings) == 1
