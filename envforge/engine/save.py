"""`envforge save`: an image as a docker-archive tar, for a cluster that cannot pull it.

Apptainer turns the file into a SIF on the cluster (`apptainer build x.sif
docker-archive:x.tar`); `docker load` and `skopeo` read it too. The engine's export (GET
/images/NAME/get) is streamed in chunks into a temporary file in the target's folder, which
then takes the target's name: a failed or interrupted save leaves no half archive under it,
and an existing file is replaced only when asked (force).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envforge.engine.images import get_image
from envforge.engine.reasons import api_message, short
from envforge.errors import EngineError, InputError
from envforge.safeio import check_writable_target, os_reason

if TYPE_CHECKING:
    from collections.abc import Iterable

    import docker

CHUNK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class SavedImage:
    path: Path  # absolute
    ref: str  # the name the archive records (RepoTags), or the image id when it has none
    image_id: str
    size: int  # bytes written


def check_target(target: Path, *, force: bool) -> Path:
    """The absolute path to write, or an InputError: an existing file without force, a
    link, a folder or a FIFO in its place, a folder that does not exist."""
    path = Path(os.path.abspath(target))
    folder = path.parent
    if not folder.is_dir():
        raise InputError(
            f"Cannot write '{path}': there is no folder '{folder}'",
            hint="Create the folder, or name a file in an existing one with -o.",
        )
    check_writable_target(path)  # no link, folder or FIFO in its place
    if path.exists() and not force:
        raise InputError(
            f"Refusing to overwrite '{path}': the file exists",
            hint="Name another file with -o, or replace it with --force.",
        )
    return path


def archive_name(image: Any, ref: str) -> str | bool:
    """What docker-py's Image.save(named=...) gets: the tag asked for when the image has it
    (`cpu-sklearn` is `cpu-sklearn:latest`), else True (its first tag, or its id)."""
    tags = list(getattr(image, "tags", None) or [])
    for name in (ref, f"{ref}:latest"):
        if name in tags:
            return name
    return True


def save_image(
    client: docker.DockerClient, ref: str, target: Path, *, force: bool = False
) -> SavedImage:
    """Save the image ref (a name or an id) to target as a docker-archive tar."""
    path = check_target(target, force=force)
    image = get_image(client, ref)
    named = archive_name(image, ref)
    recorded = named if isinstance(named, str) else (image.tags[0] if image.tags else image.id)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise InputError(
            f"Cannot write '{path}': {os_reason(exc)}",
            hint="Name a file in a folder you can write with -o.",
        ) from None
    try:
        with os.fdopen(fd, "wb") as out:
            size = _copy(_chunks(image, named, ref), out, path)
        # mkstemp makes the file 0600: an archive is as readable as any file the user makes.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, stat.S_IMODE(0o666 & ~umask))
        _place(temp, path, force=force)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return SavedImage(path=path, ref=recorded, image_id=str(image.id), size=size)


def _chunks(image: Any, named: str | bool, ref: str) -> Iterable[bytes]:
    """The archive's bytes from the engine, its failures as EngineError."""
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    what = f"to save the image '{ref}'"
    try:
        yield from image.save(chunk_size=CHUNK_BYTES, named=named)
    except docker.errors.APIError as exc:
        raise EngineError(what, api_message(exc)) from None
    except (
        docker.errors.DockerException,
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,  # the stream broken or stalled mid-way
    ) as exc:
        raise EngineError(what, short(exc)) from None


def _copy(chunks: Iterable[bytes], out: Any, path: Path) -> int:
    size = 0
    try:
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    except OSError as exc:  # a full disk, a quota
        raise InputError(
            f"Cannot write '{path}': {os_reason(exc)}",
            hint="Free some space there, or name a file elsewhere with -o.",
        ) from None
    return size


def _place(temp: str, path: Path, *, force: bool) -> None:
    """The finished archive under its name: replacing a file only with force; without it, a
    file that appeared there meanwhile is kept (a hard link fails where a name exists)."""
    if force:
        check_writable_target(path)
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)
    except FileExistsError:
        raise InputError(
            f"Refusing to overwrite '{path}': the file exists",
            hint="Name another file with -o, or replace it with --force.",
        ) from None
    except OSError:  # a filesystem without hard links: the name was free a moment ago
        if path.exists():
            raise InputError(
                f"Refusing to overwrite '{path}': the file exists",
                hint="Name another file with -o, or replace it with --force.",
            ) from None
        os.replace(temp, path)
        return
    os.unlink(temp)
