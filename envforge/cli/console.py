"""The CLI's two output channels: what holds project strings is printed with its control
characters shown escaped, never acted on by the terminal."""

from __future__ import annotations

import typer


def out(text: str, *, nl: bool = True) -> None:
    """A line on stdout (project strings escaped)."""
    from envforge.validate import for_terminal

    typer.echo(for_terminal(text), nl=nl)


def err(text: str) -> None:
    """A line on stderr (project strings escaped): errors, hints, warnings."""
    from envforge.validate import for_terminal

    typer.echo(for_terminal(text), err=True)
