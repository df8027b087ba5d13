"""Reading and writing the project's files: no FIFO hang, no write through a link, bytes exact."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from envforge import safeio
from envforge.errors import InputError
from envforge.image import ownership
from envforge.image.outputs import classify, write_outputs


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pyproject.toml"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(InputError, match="it is a FIFO"):
        safeio.read_bytes(fifo)
    assert time.monotonic() - start < 2


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").mkdir()
    with pytest.raises(InputError, match="it is a directory, not a regular file"):
        safeio.read_bytes(tmp_path / "uv.lock")


def test_a_link_loop_is_one_message(tmp_path: Path) -> None:
    loop = tmp_path / "uv.lock"
    loop.symlink_to("uv.lock")
    with pytest.raises(InputError, match="Cannot read") as info:
        safeio.read_bytes(loop)
    assert info.value.hint


def test_reading_keeps_carriage_returns(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"a\r\nb\rc\n")
    assert safeio.read_text(tmp_path / "f") == "a\r\nb\rc\n"


@pytest.mark.parametrize("force", [False, True])
def test_a_link_out_of_the_project_is_never_written_through(tmp_path: Path, force: bool) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("theirs\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").symlink_to(outside)
    with pytest.raises(InputError, match="is a symbolic link"):
        write_outputs(project, {"Dockerfile": "FROM scratch\n"}, force=force)
    assert outside.read_text() == "theirs\n"
    assert (project / "Dockerfile").is_symlink()


def test_a_fifo_in_place_of_the_dockerfile_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Dockerfile")
    with pytest.raises(InputError, match="it is a FIFO"):
        classify(tmp_path / "Dockerfile", "FROM scratch\n")


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "Dockerfile"
    target.write_text("old\n")
    target.chmod(0o640)
    safeio.write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile"]


def test_a_write_that_fails_is_one_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import tempfile

    def denied(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(InputError, match="Read-only file system") as info:
        safeio.write_text_atomic(tmp_path / "Dockerfile", "x\n")
    assert info.value.hint


def test_a_carriage_return_in_a_value_keeps_the_file_envforges(tmp_path: Path) -> None:
    # Written in text mode and read back with newline translation, "\r" became "\n" and
    # the checksum no longer matched: envforge then took its own file for the user's.
    text = ownership.stamp('LABEL description="a\rb"\n', what="Dockerfile")
    write_outputs(tmp_path, {"Dockerfile": text})
    assert (tmp_path / "Dockerfile").read_bytes() == text.encode()
    assert classify(tmp_path / "Dockerfile", text) == "unchanged"
    newer = ownership.stamp('LABEL description="a\rc"\n', what="Dockerfile")
    assert classify(tmp_path / "Dockerfile", newer) == "update"
