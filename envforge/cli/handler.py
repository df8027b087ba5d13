"""The one place an exception becomes what the user sees: `error: ...`, `hint: ...` on
stderr and an exit code, never a traceback (unless ENVFORGE_DEBUG=1)."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from envforge.cli.console import err

P = ParamSpec("P")
R = TypeVar("R")

INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE (sysexits.h): a bug in envforge
DEBUG_ENV = "ENVFORGE_DEBUG"

# errno -> (exit code, hint): the host's state, not a bug; 2 when the user's files or
# folders are at fault, 1 when the machine is (a full disk, an I/O error).
_OS_ERRORS = {
    errno.EACCES: (2, "Check the permissions of that file or folder."),
    errno.EPERM: (2, "Check the permissions of that file or folder."),
    errno.EROFS: (2, "The file system is read-only: work in a writable copy of the project."),
    errno.EISDIR: (2, "A directory stands where a file should be: remove or rename it."),
    errno.ENOTDIR: (2, "A file stands where a folder should be: remove or rename it."),
    errno.ELOOP: (2, "A symbolic link points to itself, or loops: fix or remove it."),
    errno.ENAMETOOLONG: (2, "Use a shorter path."),
    errno.ENOENT: (2, "Check that the path exists."),
    errno.ENOSPC: (1, "The disk is full: free some space, then retry."),
    errno.EDQUOT: (1, "The disk quota is exhausted: free some space, then retry."),
}


def _os_error(exc: OSError) -> tuple[str, str, int]:
    code, hint = _OS_ERRORS.get(exc.errno or 0, (1, "Check the file system, then retry."))
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f": '{exc.filename}'" if exc.filename is not None else ""
    return f"{what}{where}", hint, code


def report(exc: Exception) -> int | None:
    """Print an expected failure as the user sees it, and return its exit code; None for
    anything else (a bug). EnvforgeError: its message, the log tail it carries, its hint.
    An OSError (permissions, a read-only or full disk, a directory where a file should
    be) is the host's state, not a bug: one line and a hint."""
    from envforge.errors import EnvforgeError
    from envforge.validate import one_line

    if isinstance(exc, EnvforgeError):
        err(f"error: {one_line(exc.message)}")
        for line in getattr(exc, "log_tail", []) or []:
            err(f"  | {one_line(line)}")
        if exc.hint:
            err(f"hint: {one_line(exc.hint)}")
        return exc.exit_code
    if isinstance(exc, OSError):
        message, hint, code = _os_error(exc)
        err(f"error: {message}")
        err(f"hint: {hint}")
        return code
    if isinstance(exc, RecursionError):
        err("error: An input is nested too deep for envforge to read")
        err("hint: Flatten the nested arrays or tables of the project's files.")
        return 2
    return None


def report_bug(exc: Exception) -> int:
    """An unexpected exception: "internal error" (exit 70), with a hint to report it."""
    detail = " ".join(str(exc).split())[:200]
    err(f"error: internal error: {type(exc).__name__}" + (f": {detail}" if detail else ""))
    err(
        f"hint: This is a bug in envforge: run again with {DEBUG_ENV}=1 for the "
        "traceback, and report it with the command that failed."
    )
    return INTERNAL_ERROR_EXIT


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """A command whose exceptions end in typer.Exit(code): expected ones as `report` says,
    any other as a bug (its traceback only with ENVFORGE_DEBUG=1). typer's own exits and
    usage errors pass: typer reports them. Every line printed has its control characters
    escaped. envforge/cli/__init__.py registers every command through it."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import os

        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            code = report(exc)
            if code is None:
                if os.environ.get(DEBUG_ENV) == "1":
                    raise
                code = report_bug(exc)
            raise typer.Exit(code) from None

    return wrapper
