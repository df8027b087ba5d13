"""`envforge plan` output, for people and as JSON. Pure."""

from __future__ import annotations

import textwrap
from typing import Any

from envforge.image.plan import Plan
from envforge.labels import LOCK_HASH
from envforge.validate import one_line

PLAN_SCHEMA = 1
WIDTH = 96  # of `envforge plan`'s lines: a reason wraps below its topic within it


def plan_text(plan: Plan, freshness: str, where: str) -> str:
    project = plan.project
    lines = [
        one_line(f"envforge plan for {project.name} {project.version or ''} ({where})").replace(
            "  ", " "
        ),
        "",
    ]
    # One line per value: a newline or escape code in a project string is shown, not acted on.
    rows = [(d.topic, one_line(d.choice), one_line(d.reason)) for d in plan.decisions]
    # "up to date" only when uv said so: envforge's own comparison says what it compared.
    checked = f"up to date ({freshness})" if freshness.startswith("uv lock") else freshness
    rows.append(("lock", plan.labels[LOCK_HASH], one_line(checked)))
    rows.append(
        ("tag", one_line(plan.default_tag), "default for envforge build and run (--tag to change)")
    )
    width = max(len(topic) for topic, _, _ in rows) + 2
    pad = " " * width
    for topic, choice, reason in rows:
        lines.append(f"{topic:<{width}}{choice}")
        lines += textwrap.wrap(reason, WIDTH - width, initial_indent=pad, subsequent_indent=pad)
    return "\n".join(lines) + "\n"


def plan_json(plan: Plan, freshness: str) -> dict[str, Any]:
    """The plan as data. `schema` changes only when a field changes meaning or goes away."""
    project = plan.project
    return {
        "schema": PLAN_SCHEMA,
        "project": {
            "name": project.name,
            "version": project.version,
            "package": project.is_package,
        },
        "lock": {"hash": plan.labels[LOCK_HASH], "freshness": freshness},
        "python": plan.python,
        "base_image": {"ref": plan.base_ref, "name": plan.base_name, "digest": plan.base_digest},
        "uv": {"source": plan.uv_source, "ref": plan.uv_ref, "version": plan.uv_version},
        "sync_flags": list(plan.sync_flags),
        "extras": list(plan.extras),
        "groups": list(plan.groups),
        "entrypoint": list(plan.entrypoint),
        "image_entrypoint": list(plan.image_entrypoint),
        "tag": plan.default_tag,
        "builder": plan.builder,
        "environment_stage": plan.sync_stage,
        "heavy": [
            {
                "name": p.name,
                "version": p.version,
                "index": p.index,
                "size": p.size,
                "hashes": list(p.hashes),
                "needed_by_heavy": not p.heavy,
            }
            for p in plan.heavy
        ],
        "labels": dict(plan.labels),
        "decisions": [
            {"topic": d.topic, "choice": d.choice, "reason": d.reason} for d in plan.decisions
        ],
    }
