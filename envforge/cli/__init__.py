"""The `envforge` command line: one module per command, each a thin layer over the domain.

Only this package prints. Every command is registered through `handled`, the one place an
exception becomes `error: ...`/`hint: ...` and an exit code. Command modules import the
domain inside the command, so that `envforge --help` imports neither docker, pynvml,
jinja2 nor yaml.
"""

from __future__ import annotations

from typing import Any

import typer

# Each command, in --help's order, by its module (envforge/cli/<name>.py, function <name>),
# with its click settings.
COMMANDS: dict[str, dict[str, Any]] = {
    "dockerize": {},
    "plan": {},
    "build": {},
    # Arguments after `--` (and unknown ones) go to the image's command.
    "run": {"allow_extra_args": True, "ignore_unknown_options": True},
    "runs": {},
    "push": {},
    "readme": {},
    "verify": {},
    "doctor": {},
    "save": {},
    # Arguments after `--` go to the image's command; an unknown option stays an error.
    "job": {"allow_extra_args": True},
}


def make_app(names: tuple[str, ...] = tuple(COMMANDS)) -> typer.Typer:
    """The `envforge` group with these commands, each registered through `handled`."""
    import importlib

    from envforge.cli.handler import handled

    made = typer.Typer(
        name="envforge",
        help="Turn a uv project (pyproject.toml + uv.lock) into a small, reproducible container "
        "image.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    for name in names:
        command = getattr(importlib.import_module(f"envforge.cli.{name}"), name)
        made.command(context_settings=COMMANDS[name] or None)(handled(command))
    if len(names) == 1:
        # A group still, as with every command: `envforge build ...`, not `envforge ...`.
        made.callback()(_group)
    return made


def _group() -> None:
    pass  # no option of its own: the group's help is make_app's


_MADE: list[typer.Typer] = []


def full_app() -> typer.Typer:
    """The group of every command (`--help`, the tests), made once, on first use."""
    if not _MADE:
        _MADE.append(make_app())
    return _MADE[0]


def __getattr__(name: str) -> typer.Typer:
    """`envforge.cli.app` is full_app(): `main` makes only the command it runs."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return full_app()


def main() -> None:
    """The console script. Once the command is done, with its output flushed, no other thread
    left and the exit handlers run, the process ends at once (os._exit): the interpreter's
    own teardown of what a build imported (docker-py, requests, urllib3...) would add
    ~50 ms to every command, a rebuild after a code edit included."""
    import atexit
    import os
    import sys
    import threading

    # The command named is the only one built: typer inspects each command's signature and
    # imports its module, ~25 ms for the ten others on every `envforge build`. The same
    # group, help and errors as `app` (tests/unit/cli/test_cli.py compares them).
    named = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        (make_app((named,)) if named in COMMANDS else full_app())(prog_name="envforge")
        code: str | int | None = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int) or threading.active_count() > 1:
        sys.exit(code)  # a message to print, or a thread to wait for: Python's own exit
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: what Python's exit would report
        sys.exit(code)
    os._exit(code)
