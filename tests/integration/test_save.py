"""`envforge save`: a docker-archive that Apptainer (`apptainer build x.sif
docker-archive:x.tar`) and skopeo read, from the real engine.

Apptainer is not installable here; skopeo reads the archive with the same library
(containers/image) as Apptainer's docker-archive: source. In CI skopeo is installed
(tests/lab/prepare.sh), so there a missing skopeo fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import LAB_UV, Lab, envforge


@pytest.fixture
def small_image(lab: Lab, docker_client, unique_tag) -> Iterator[str]:
    """The lab's uv image (FROM scratch, ~40 MB) under a tag of this test's own."""
    tag = f"{unique_tag}/save-small:1.0"
    docker_client.images.get(LAB_UV).tag(tag)
    yield tag
    docker_client.images.remove(tag)


def test_saves_a_docker_archive_with_its_tag(
    small_image: str, lab: Lab, docker_client, tmp_path: Path
) -> None:
    target = tmp_path / "small.tar"
    done = envforge("save", small_image, "-o", str(target), env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    image = docker_client.images.get(small_image)
    lines = done.stdout.splitlines()
    assert lines[:2] == [
        f"saved     {target}",
        f"image     {small_image} ({image.id.removeprefix('sha256:')[:12]})",
    ]
    assert lines[2] == f"size      {target.stat().st_size / 1e6:.1f} MB"
    assert (
        lines[3] == "next      on the cluster: apptainer build small.sif docker-archive:small.tar"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.tar"]  # no temporary left

    with tarfile.open(target) as tar:
        names = set(tar.getnames())
        (manifest,) = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile(manifest["Config"]))  # type: ignore[arg-type]
    assert manifest["RepoTags"] == [small_image]
    assert manifest["Config"] in names
    assert manifest["Layers"] and all(layer in names for layer in manifest["Layers"])
    assert len(manifest["Layers"]) == len(image.attrs["RootFS"]["Layers"])
    assert config["rootfs"]["diff_ids"] == image.attrs["RootFS"]["Layers"]

    again = envforge("save", small_image, "-o", str(target), env=lab.cli_env())
    assert again.returncode == 2
    assert again.stderr.startswith(f"error: Refusing to overwrite '{target}': the file exists")


def test_skopeo_reads_the_archive(
    small_image: str, lab: Lab, docker_client, tmp_path: Path
) -> None:
    if shutil.which("skopeo") is None:
        message = "skopeo is not installed (tests/lab/prepare.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    target = tmp_path / "small.tar"
    done = envforge("save", small_image, "-o", str(target), env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    inspected = subprocess.run(
        ["skopeo", "inspect", f"docker-archive:{target}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert inspected.returncode == 0, inspected.stderr
    data = json.loads(inspected.stdout)
    image = docker_client.images.get(small_image)
    assert data["Digest"].startswith("sha256:")
    assert len(data["Layers"]) == len(image.attrs["RootFS"]["Layers"])
    assert data["Os"] == image.attrs["Os"] and data["Architecture"] == image.attrs["Architecture"]


def test_an_unknown_image_is_one_clear_error(lab: Lab, tmp_path: Path, unique_tag: str) -> None:
    done = envforge(
        "save", f"{unique_tag}/absent:1", "-o", str(tmp_path / "x.tar"), env=lab.cli_env()
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: No image '{unique_tag}/absent:1' in the Docker engine",
        "hint: Build it first with 'envforge build', or name an existing image.",
    ]
    assert list(tmp_path.iterdir()) == []
