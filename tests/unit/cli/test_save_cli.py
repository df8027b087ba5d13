"""`envforge save`: an image as a docker-archive tar (engine/save.py), against a fake engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.engine import client as engine

runner = CliRunner()
ARCHIVE = [b"manifest" * 1000, b"layer" * 200_000]  # 1.008 MB in two chunks
IMAGE_ID = "sha256:" + "cd" * 32


class FakeImage:
    id = IMAGE_ID
    attrs: dict[str, Any] = {"Id": IMAGE_ID, "Config": {"Labels": {}}}  # noqa: RUF012

    def __init__(self, tags: list[str], fail_after: int | None = None) -> None:
        self.tags = tags
        self.fail_after = fail_after
        self.saved_as: list[object] = []

    def save(self, chunk_size: int, named: object) -> Any:
        import requests.exceptions

        self.saved_as.append(named)
        for i, chunk in enumerate(ARCHIVE):
            if self.fail_after is not None and i >= self.fail_after:
                raise requests.exceptions.ChunkedEncodingError("Connection broken")
            yield chunk


class FakeClient:
    def __init__(self, images: dict[str, FakeImage]) -> None:
        self._images = images
        self.images = self

    def get(self, ref: str) -> FakeImage:
        import docker.errors

        if ref not in self._images:
            raise docker.errors.ImageNotFound(ref)
        return self._images[ref]


@pytest.fixture
def image(monkeypatch: pytest.MonkeyPatch) -> FakeImage:
    found = FakeImage(["cpu-sklearn:0.1.0", "other:1"])
    client = FakeClient({"cpu-sklearn:0.1.0": found, "cpu-sklearn": found, IMAGE_ID: found})
    monkeypatch.setattr(engine, "connect", lambda: client)
    return found


def save(*args: str) -> Any:
    return runner.invoke(app, ["save", *args])


def test_saves_prints_path_size_and_the_sif_command(image: FakeImage, tmp_path: Path) -> None:
    target = tmp_path / "cpu sklearn.tar"
    done = save("cpu-sklearn:0.1.0", "-o", str(target))
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        f"saved     {target}",
        "image     cpu-sklearn:0.1.0 (cdcdcdcdcdcd)",
        "size      1.0 MB",
        "next      on the cluster: apptainer build 'cpu sklearn.sif' 'docker-archive:cpu sklearn.tar'",
    ]
    assert target.read_bytes() == b"".join(ARCHIVE)
    assert image.saved_as == ["cpu-sklearn:0.1.0"]  # the archive records the tag asked for
    assert os.stat(target).st_mode & 0o044 == 0o044  # not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu sklearn.tar"]


def test_an_untagged_name_is_its_latest_and_an_id_its_first_tag(
    image: FakeImage, tmp_path: Path
) -> None:
    image.tags.append("cpu-sklearn:latest")
    assert save("cpu-sklearn", "-o", str(tmp_path / "a.tar")).exit_code == 0
    done = save(IMAGE_ID, "-o", str(tmp_path / "b.tar"))
    assert done.exit_code == 0, done.output
    assert image.saved_as == ["cpu-sklearn:latest", True]
    assert done.stdout.splitlines()[1] == "image     cpu-sklearn:0.1.0 (cdcdcdcdcdcd)"


def test_a_project_folder_saves_its_default_tag(
    image: FakeImage, example_copy: Any, tmp_path: Path
) -> None:
    project: Path = example_copy("cpu-sklearn")
    done = save(str(project), "-o", str(tmp_path / "x.tar"))
    assert done.exit_code == 0, done.output
    assert image.saved_as == ["cpu-sklearn:0.1.0"]


def test_refuses_to_overwrite_unless_forced(image: FakeImage, tmp_path: Path) -> None:
    target = tmp_path / "x.tar"
    target.write_bytes(b"mine")
    done = save("cpu-sklearn:0.1.0", "-o", str(target))
    assert done.exit_code == 2
    assert done.stderr.splitlines() == [
        f"error: Refusing to overwrite '{target}': the file exists",
        "hint: Name another file with -o, or replace it with --force.",
    ]
    assert target.read_bytes() == b"mine" and image.saved_as == []
    done = save("cpu-sklearn:0.1.0", "-o", str(target), "--force")
    assert done.exit_code == 0, done.output
    assert target.read_bytes() == b"".join(ARCHIVE)


def test_never_writes_through_a_link(image: FakeImage, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_bytes(b"keep")
    (tmp_path / "x.tar").symlink_to(tmp_path / "elsewhere")
    done = save("cpu-sklearn:0.1.0", "-o", str(tmp_path / "x.tar"), "--force")
    assert done.exit_code == 2
    assert "it is a symbolic link" in done.stderr.splitlines()[0]
    assert (tmp_path / "elsewhere").read_bytes() == b"keep"


def test_an_unknown_image_is_one_error_and_no_file(image: FakeImage, tmp_path: Path) -> None:
    done = save("nope:1", "-o", str(tmp_path / "x.tar"))
    assert done.exit_code == 2
    assert done.stderr.splitlines() == [
        "error: No image 'nope:1' in the Docker engine",
        "hint: Build it first with 'envforge build', or name an existing image.",
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_missing_or_unwritable_folder_is_one_error(image: FakeImage, tmp_path: Path) -> None:
    done = save("cpu-sklearn:0.1.0", "-o", str(tmp_path / "no" / "x.tar"))
    assert done.exit_code == 2
    assert done.stderr.splitlines() == [
        f"error: Cannot write '{tmp_path / 'no' / 'x.tar'}': there is no folder '{tmp_path / 'no'}'",
        "hint: Create the folder, or name a file in an existing one with -o.",
    ]
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: a read-only place instead
        locked = Path("/proc")
    done = save("cpu-sklearn:0.1.0", "-o", str(locked / "x.tar"))
    assert done.exit_code == 2
    first, hint = done.stderr.splitlines()
    assert first.startswith(f"error: Cannot write '{locked / 'x.tar'}': ")
    assert hint == "hint: Name a file in a folder you can write with -o."


def test_a_stream_that_breaks_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = FakeImage(["cpu-sklearn:0.1.0"], fail_after=1)
    monkeypatch.setattr(engine, "connect", lambda: FakeClient({"cpu-sklearn:0.1.0": broken}))
    done = save("cpu-sklearn:0.1.0", "-o", str(tmp_path / "x.tar"))
    assert done.exit_code != 0
    assert done.stderr.startswith(
        "error: The Docker engine failed to save the image 'cpu-sklearn:0.1.0': "
    )
    assert list(tmp_path.iterdir()) == []
