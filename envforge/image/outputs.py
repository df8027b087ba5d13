"""Writes the generated files beside pyproject.toml, never over a file someone else owns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from envforge import safeio
from envforge.errors import FileConflictError
from envforge.image import ownership

# What writing a file would do: a conflict is a file someone else owns (edited, or not
# envforge's), replaced only with --force.
Intent = Literal["create", "update", "unchanged", "conflict"]
# What writing it did (the CLI prints it beside the path).
Action = Literal["created", "updated", "unchanged", "replaced"]
_DONE: dict[Intent, Action] = {
    "create": "created",
    "update": "updated",
    "unchanged": "unchanged",
    "conflict": "replaced",
}


@dataclass(frozen=True)
class Written:
    name: str
    action: Action


def classify(path: Path, text: str) -> Intent:
    """What writing text to path would do: create, unchanged, update, or conflict.

    A link, a directory or a FIFO in path's place is refused (InputError), --force or not:
    envforge never writes through a link, and never reads a FIFO. Bytes are compared as
    stored: no newline translation, so a carriage return in a value keeps the checksum.
    """
    safeio.check_writable_target(path)
    if not path.exists():
        return "create"
    current = safeio.read_bytes(path).decode("utf-8", errors="replace")
    if current == text:
        return "unchanged"
    return "update" if ownership.is_pristine(current) else "conflict"


def write_outputs(root: Path, files: Mapping[str, str], *, force: bool = False) -> list[Written]:
    """Write every file or none: conflicts are found before anything is written."""
    actions = {name: classify(root / name, text) for name, text in files.items()}
    conflicts = [name for name, action in actions.items() if action == "conflict"]
    if conflicts and not force:
        raise FileConflictError(str(root / conflicts[0]))
    done = []
    for name, text in files.items():
        action = actions[name]
        if action != "unchanged":
            safeio.write_text_atomic(
                root / name,
                text,
                hint="Make the project folder writable (and check free space), "
                "or print the Dockerfile with --stdout.",
            )
        done.append(Written(name, _DONE[action]))
    return done
