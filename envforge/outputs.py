"""Writes the generated files beside pyproject.toml, never over a file someone else owns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from envforge import ownership
from envforge.errors import FileConflictError


@dataclass(frozen=True)
class Written:
    name: str
    action: str  # created, updated, unchanged, replaced, kept


def classify(path: Path, text: str) -> str:
    """What writing text to path would do: create, unchanged, update, or conflict."""
    if not path.exists():
        return "create"
    current = path.read_text("utf-8", errors="replace")
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
            (root / name).write_text(text, "utf-8")
        past = {
            "create": "created",
            "update": "updated",
            "unchanged": "unchanged",
            "conflict": "replaced",
        }
        done.append(Written(name, past[action]))
    return done
