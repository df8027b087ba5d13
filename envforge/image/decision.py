"""One line of `envforge plan`: a topic, what was chosen, and why. Every chooser returns its own."""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    topic: str
    choice: str
    reason: str


def shell_join(argv: tuple[str, ...] | list[str]) -> str:
    """A command as a plan line shows it: each word shell-quoted when it needs it."""
    return " ".join(shlex.quote(a) for a in argv)
