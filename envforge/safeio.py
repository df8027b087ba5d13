"""Reading and writing the project's files without hanging, and without leaving the project.

Every file envforge reads from a project (pyproject.toml, uv.lock, README.md, a Dockerfile)
is opened without blocking and read only when it is a regular file: a FIFO in its place
would otherwise hang the read forever, and a directory gives a confusing error.

Every file envforge writes is written whole, as bytes (no newline translation), to a
temporary file beside it that then replaces it (os.replace): a reader never sees half a
file, and a symbolic link in the file's place is never followed (it could point outside
the project). A link, a directory or a FIFO where the file should be is refused.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from envforge.errors import InputError

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFLNK: "a symbolic link",
}


def kind_of(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def os_reason(exc: OSError) -> str:
    """An OSError as a short phrase: 'Permission denied', 'Read-only file system'..."""
    return exc.strerror or str(exc) or type(exc).__name__


def real_dir(path: Path) -> bool:
    """A folder that is no symlink: what a bounded scan of the project may enter."""
    try:
        return not path.is_symlink() and path.is_dir()
    except OSError:
        return False


def real_file(path: Path) -> bool:
    """A regular file that is no symlink: what a scan of the project may read."""
    try:
        return not path.is_symlink() and path.is_file()
    except OSError:
        return False


def read_bytes(path: Path, *, what: str | None = None) -> bytes:
    """The bytes of a regular file; InputError (one sentence) for anything else.

    Opened with O_NONBLOCK so that a FIFO does not block the open, then checked with fstat
    before any read.
    """
    name = what or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(
            f"Cannot read '{name}': {os_reason(exc)}",
            hint="Make it a readable regular file.",
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(
                f"Cannot read '{name}': it is {kind_of(mode)}, not a regular file",
                hint="Put a regular file there, or remove what is in its place.",
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            return handle.read()
    except OSError as exc:
        raise InputError(
            f"Cannot read '{name}': {os_reason(exc)}", hint="Make it a readable regular file."
        ) from None
    finally:
        if fd >= 0:
            os.close(fd)


def read_text(path: Path, *, what: str | None = None) -> str:
    """A regular file's text, UTF-8, exactly as stored (no newline translation)."""
    data = read_bytes(path, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"Cannot read '{what or path}': not UTF-8 text ({exc.reason} at byte {exc.start})",
            hint="Save the file as UTF-8.",
        ) from None


def check_writable_target(path: Path) -> None:
    """Refuse to write where a link, a directory or a FIFO stands; an absent file is fine."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(
            f"Cannot write '{path}': {os_reason(exc)}", hint="Check the folder's permissions."
        ) from None
    if stat.S_ISLNK(info.st_mode):
        try:
            points = os.readlink(path)
        except OSError:
            points = "?"
        raise InputError(
            f"Refusing to write '{path}': it is a symbolic link (to '{points}'), "
            "and envforge never writes through a link",
            hint="Remove the link (or replace it with a regular file), then retry.",
        )
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"Refusing to write '{path}': it is {kind_of(info.st_mode)}, not a regular file",
            hint="Remove what is in its place, then retry.",
        )


def write_bytes_atomic(
    path: Path, data: bytes, *, hint: str = "Make the folder writable (and check free space)."
) -> None:
    """Replace path with data: a temporary file in the same folder, then os.replace.

    A symbolic link, a directory or a FIFO at path is refused (InputError), and so is
    a folder envforge cannot write to; the link's target is never touched.
    """
    check_writable_target(path)
    folder = path.parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError:
        mode = 0o644
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise InputError(
            f"Cannot write '{path}': {os_reason(exc)}",
            hint=hint,
        ) from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def write_text_atomic(
    path: Path, text: str, *, hint: str = "Make the folder writable (and check free space)."
) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), hint=hint)


def cache_dir() -> Path:
    """envforge's own cache folder: $XDG_CACHE_HOME/envforge, else ~/.cache/envforge."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "envforge"
