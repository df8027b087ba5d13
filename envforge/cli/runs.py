"""`envforge runs`: the recorded runs, newest first."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from envforge.records import DEFAULT_DIR


def runs(
    directory: Annotated[
        Path, typer.Argument(help="Where `envforge run --record` wrote its records.")
    ] = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")] = False,
) -> None:
    """List the recorded runs, newest first."""
    from envforge.records import format_table, list_runs, records_json

    found, warnings = list_runs(directory)
    for warning in warnings:
        print(warning, file=sys.stderr)
    if not found:
        message = f"no runs recorded in {directory}"
        if as_json:
            print("[]")
            print(message, file=sys.stderr)
        else:
            print(message)
        return
    if as_json:
        print(records_json(found))
    else:
        sys.stdout.write(format_table(found))
