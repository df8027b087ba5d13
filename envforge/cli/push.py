"""`envforge push`: tag a project's image (or a local one) as a registry reference, push it,
print the digest reference that names exactly what was pushed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envforge.cli.console import err, out
from envforge.cli.options import PackageOpt

if TYPE_CHECKING:
    from envforge.engine.push import LayerEvent


def push(
    target: Annotated[
        str, typer.Argument(help="A project folder (pushes its default tag) or a local image.")
    ],
    ref: Annotated[
        str,
        typer.Argument(
            help="Where to push: registry[:port]/path[:tag] (the tag defaults to latest)."
        ),
    ],
    username: Annotated[
        str | None,
        typer.Option("--username", "-u", help="Log in as this user (with --password-stdin)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password (or token) from stdin."),
    ] = False,
    package: PackageOpt = None,
) -> None:
    """Push an image to a registry; print its digest reference (REF@sha256:...) on stdout.

    Progress goes to stderr, one line per layer change; the last line of stdout is the
    reference alone: REF=$(envforge push . registry.example/team/app:1.0 | tail -1).
    Without --username, the credentials are those of your docker config (docker login).
    """
    from envforge.engine import client as engine
    from envforge.engine.push import push_image
    from envforge.errors import InputError
    from envforge.validate import push_ref, registry_host

    where = registry_host(push_ref(ref, "the REF argument"))
    if (username is None) != (not password_stdin):
        raise InputError(
            "--username and --password-stdin go together",
            hint=f'echo "$TOKEN" | envforge push {target} {ref} --username USER --password-stdin',
        )
    if package and not Path(target).is_dir():
        raise InputError("--package goes with a project folder (a uv workspace root), not an image")
    image = target
    if Path(target).is_dir():
        from envforge.pipeline import default_tag

        image = default_tag(Path(target), package or None)
    auth = None
    if username is not None:
        auth = {"username": _username(username), "password": _password(), "serveraddress": where}
    client = engine.connect()
    err(f"pushing   {image} to {ref}")
    pushed = push_image(client, image, ref, auth=auth, on_event=_show)
    err(f"digest    {pushed.digest}")
    out(pushed.pinned)


def _show(event: LayerEvent) -> None:
    extra = ""
    if event.detail:
        extra = f" from {event.detail}"
    elif event.size is not None:
        extra = f" {_size(event.size)}"
    err(f"layer     {event.layer} {event.state}{extra}")


def _size(size: int) -> str:
    """Bytes as the engine's progress shows them: 512 B, 2.0 kB, 161.4 MB, 1.2 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _username(value: str) -> str:
    from envforge.errors import InputError
    from envforge.validate import has_control

    if not value or ":" in value or has_control(value) or len(value) > 255:
        raise InputError(
            "Invalid --username: give the registry's user name (no ':', one line)",
            hint="The password or token goes on stdin, with --password-stdin.",
        )
    return value


def _password() -> str:
    """The password from stdin, as `docker login --password-stdin` reads it (one trailing
    newline dropped); from a terminal, read without echo. Never in argv, never printed."""
    from envforge.errors import InputError

    if sys.stdin is None:
        raise InputError("--password-stdin: there is no stdin to read the password from")
    if sys.stdin.isatty():
        import getpass

        text = getpass.getpass("password: ")
    else:
        text = sys.stdin.read()
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise InputError(
            "--password-stdin: stdin held no password",
            hint='Pipe it in: echo "$TOKEN" | envforge push ... --password-stdin',
        )
    return text
