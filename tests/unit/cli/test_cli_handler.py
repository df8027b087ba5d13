"""The CLI's error printer: the last resort for the unexpected, and no raw control character."""

from __future__ import annotations

import errno
import os

import pytest
import typer
from typer.testing import CliRunner

from envforge.cli.handler import INTERNAL_ERROR_EXIT, handled
from envforge.errors import InputError
from envforge.validate import for_terminal

runner = CliRunner()


def app_raising(exc: BaseException) -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.command()
    @handled
    def boom() -> None:
        raise exc

    return app


def lines(result: object) -> list[str]:
    return result.stderr.splitlines()  # type: ignore[attr-defined]


def test_an_unknown_exception_is_an_internal_error_with_a_hint() -> None:
    result = runner.invoke(app_raising(TypeError("bad\x1b[2J")), [], env={"ENVFORGE_DEBUG": None})
    assert result.exit_code == INTERNAL_ERROR_EXIT == 70
    assert lines(result)[0] == "error: internal error: TypeError: bad\\x1b[2J"
    assert lines(result)[1].startswith(
        "hint: This is a bug in envforge: run again with ENVFORGE_DEBUG=1"
    )
    assert "Traceback" not in result.output


def test_envforge_debug_shows_the_traceback() -> None:
    result = runner.invoke(app_raising(TypeError("bad")), [], env={"ENVFORGE_DEBUG": "1"})
    assert isinstance(result.exception, TypeError)


@pytest.mark.parametrize(
    ("code", "exit_code", "hint"),
    [
        (errno.EACCES, 2, "permissions"),
        (errno.EROFS, 2, "read-only"),
        (errno.EISDIR, 2, "directory"),
        (errno.ELOOP, 2, "loops"),
        (errno.ENOSPC, 1, "disk is full"),
    ],
)
def test_an_os_error_is_one_line_and_a_hint(code: int, exit_code: int, hint: str) -> None:
    exc = OSError(code, os.strerror(code), "/p/Dockerfile")
    result = runner.invoke(app_raising(exc), [])
    assert result.exit_code == exit_code
    assert lines(result) == [
        f"error: {os.strerror(code)}: '/p/Dockerfile'",
        lines(result)[1],
    ]
    assert lines(result)[1].startswith("hint: ") and hint in lines(result)[1]


def test_recursion_is_an_input_error() -> None:
    result = runner.invoke(app_raising(RecursionError()), [])
    assert result.exit_code == 2
    assert lines(result)[0] == "error: An input is nested too deep for envforge to read"


def test_control_characters_are_escaped_in_every_line() -> None:
    exc = InputError("name '\x1b]0;pwned\x07' \r\x9b", hint="tab\tand\x00nul")
    result = runner.invoke(app_raising(exc), [])
    assert lines(result) == [
        "error: name '\\x1b]0;pwned\\x07' \\x0d\\x9b",
        "hint: tab and\\x00nul",  # one line: a tab is a space
    ]


def test_clean_keeps_text_tabs_and_newlines() -> None:
    assert for_terminal("a\tb\nc é ✓") == "a\tb\nc é ✓"
