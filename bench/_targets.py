"""Issue 10's targets for envforge on BuildKit, and the table that shows them beside the figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _recipes import RECIPES

SUBJECT = "envforge-buildkit"  # what the targets are for: envforge's default builder to be
ROWS = (
    ("cold", "cold build"),
    ("unchanged", "rebuild, nothing changed"),
    ("unchanged_checked", "  the same, smoke check included"),
    ("code_edit", "rebuild after a code edit"),
    ("lock_small", "lock change: one small package added"),
    ("lock_heavy", "lock change: heavy package bumped"),
    ("image_bytes", "final image (MB)"),
    ("verify", "envforge verify, timed apart"),
)

Figures = dict[str, float | None]  # one row: recipe -> its median (None: failed or not run)
Target = Callable[[Figures], tuple[str, bool | None]]  # the anchor's text, and pass/fail


def at_most(limit: float) -> Target:
    def check(row: Figures) -> tuple[str, bool | None]:
        ours = row.get(SUBJECT)
        return f"<= {limit:g} s", None if ours is None else ours <= limit

    return check


def no_slower_than(other: str, factor: float = 1.0) -> Target:
    def check(row: Figures) -> tuple[str, bool | None]:
        ours, theirs = row.get(SUBJECT), row.get(other)
        scale = "" if factor == 1.0 else f"{factor:g}x "
        anchor = "?" if theirs is None else f"{factor * theirs:.2f}"
        text = f"<= {scale}{other} ({anchor})"
        return text, None if ours is None or theirs is None else ours <= factor * theirs

    return check


def both(*targets: Target) -> Target:
    def check(row: Figures) -> tuple[str, bool | None]:
        results = [t(row) for t in targets]
        marks = [ok for _, ok in results]
        verdict = None if None in marks else all(marks)
        return ", ".join(text for text, _ in results), verdict

    return check


TARGETS: dict[str, dict[str, Target]] = {
    "cpu-sklearn": {
        "cold": both(no_slower_than("uv-multistage"), no_slower_than("course", 1.5)),
        "code_edit": at_most(1.0),
        "lock_small": no_slower_than("uv-multistage"),
        "lock_heavy": no_slower_than("uv-multistage"),
    },
    "gpu-torch": {
        "unchanged": at_most(5.0),
        "code_edit": at_most(1.5),
        "lock_small": at_most(15.0),
    },
}


def row_of(results: dict[str, Any], key: str) -> Figures:
    row: Figures = {}
    for recipe, figures in results.items():
        value = figures.get(key)
        if key == "image_bytes":
            row[recipe] = None if value is None else value / 1e6
        else:
            row[recipe] = value.get("median") if isinstance(value, dict) else None
    return row


def verdicts(project: str, results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target's anchor and verdict (None: a figure it needs is missing)."""
    out = {}
    for key, target in TARGETS.get(project, {}).items():
        text, ok = target(row_of(results, key))
        out[key] = {"target": text, "pass": ok}
    return out


def table(project: str, results: dict[str, Any], repeat: int) -> str:
    recipes = [r for r in RECIPES if r in results]
    head = f"{project} (s, median of {repeat})"
    lines = [f"{head:40}" + "".join(f"{r:>19}" for r in recipes) + f"   target ({SUBJECT})"]
    checks = verdicts(project, results)
    for key, label in ROWS:
        cells = []
        for recipe in recipes:
            value = results[recipe].get(key)
            if value is None:
                cells.append("-")
            elif key == "image_bytes":
                cells.append(f"{value / 1e6:.0f}")
            elif "error" in value:
                cells.append("FAILED")
            else:
                cells.append(f"{value['median']:.2f}")
        if all(c == "-" for c in cells):
            continue
        line = f"{label:40}" + "".join(f"{c:>19}" for c in cells)
        if key in checks:
            ok = checks[key]["pass"]
            mark = "n/a" if ok is None else "PASS" if ok else "FAIL"
            line += f"   {checks[key]['target']}: {mark}"
        lines.append(line)
    return "\n".join(lines)
