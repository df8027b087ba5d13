"""How planning scales with the lock: `plan`'s work on a real 549-package uv.lock.

Runs the planning as envforge/pipeline.py does (load_project, then make_plan; no engine,
no GPU probe: the host's GPU is given, False and True) on NVIDIA-NeMo/RL's lock, whose
conflicting extras (vllm, sglang, mcore, automodel) put a marker on nearly every edge.
Each run starts with cold marker caches, as one CLI process does. Prints the median time
and the count of markers parsed (packaging's Marker built) and tokenizer calls, with the
marker caches of envforge/project/markers.py off (each occurrence parsed, as before) and
on, beside the target; then the CLI's wall time for `envforge plan`. Writes JSON under
bench/results/.

    uv run python tests/fixtures/real/materialise.py nemo-rl   # the lock, never committed
    uv run python bench/plan_scale.py [--project shared/real/nemo-rl] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import packaging._tokenizer
import packaging.markers

from envforge.cuda.catalog import load_cuda_catalog
from envforge.image.bases import load_catalog
from envforge.image.plan import BuildOptions, make_plan
from envforge.project import markers
from envforge.project.loader import load_project

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROJECT = REPO / "shared/real/nemo-rl"
TARGET_PLAN_S = 0.300  # the issue's target for a ~500-package lock


class _Counts:
    markers = 0
    tokens = 0


def _counting() -> None:
    """Count every Marker packaging parses and every token its tokenizer checks for
    (Tokenizer.check: the issue's "tokenizer calls"), wherever they come from."""
    marker_init = packaging.markers.Marker.__init__
    check = packaging._tokenizer.Tokenizer.check

    def counted_marker(self: packaging.markers.Marker, *args: Any, **kwargs: Any) -> None:
        _Counts.markers += 1
        marker_init(self, *args, **kwargs)

    def counted_check(self: packaging._tokenizer.Tokenizer, *a: Any, **k: Any) -> bool:
        _Counts.tokens += 1
        return check(self, *a, **k)

    packaging.markers.Marker.__init__ = counted_marker  # type: ignore[method-assign]
    packaging._tokenizer.Tokenizer.check = counted_check  # type: ignore[method-assign]


@contextmanager
def _caches(enabled: bool) -> Iterator[None]:
    """markers.py as it is (enabled) or with its caches bypassed: every call parses."""
    parse, holds = markers.parse, markers.holds
    if not enabled:
        markers.parse = parse.__wrapped__  # type: ignore[assignment]
        markers.holds = holds.__wrapped__  # type: ignore[assignment]
    try:
        yield
    finally:
        markers.parse, markers.holds = parse, holds


def measure(project: Path, runs: int, *, cached: bool, host_gpu: bool) -> dict[str, float]:
    catalog, cuda = load_catalog(), load_cuda_catalog()
    options = BuildOptions(host_gpu=host_gpu)
    loads, plans, parsed, tokens = [], [], [], []
    with _caches(cached):
        for _ in range(runs):
            if cached:
                markers.clear()
            _Counts.markers = _Counts.tokens = 0
            start = time.perf_counter()
            loaded = load_project(project, check_lock=False)
            planned = time.perf_counter()
            make_plan(loaded.project, loaded.lock, loaded.facts, catalog, options, cuda)
            load_s, plan_s = planned - start, time.perf_counter() - planned
            loads.append(load_s)
            plans.append(plan_s)
            parsed.append(_Counts.markers)
            tokens.append(_Counts.tokens)
    return {
        "load_s": statistics.median(loads),
        "plan_s": statistics.median(plans),
        "markers_parsed": statistics.median(parsed),
        "tokenizer_calls": statistics.median(tokens),
    }


def cli_wall_s(project: Path, runs: int) -> float:
    """`envforge plan PROJECT --cpu` as a user types it, lock check included."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "envforge", "plan", str(project), "--cpu"],
            capture_output=True,
            text=True,
            check=False,
        )
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"envforge plan failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return statistics.median(samples)


def table(report: dict[str, Any]) -> str:
    rows = report["results"]
    head = f"{'':34}{'cache off':>12}{'cache on':>12}{'target':>10}"
    lines = [f"{report['project']}: {report['packages']} packages, {report['runs']} runs", head]
    for gpu in ("cpu host", "gpu host"):
        off, on = rows[gpu]["off"], rows[gpu]["on"]
        lines.append(f"{gpu}")
        lines.append(
            f"{'  make_plan (s, median)':34}{off['plan_s']:>12.3f}{on['plan_s']:>12.3f}"
            f"{TARGET_PLAN_S:>10.3f}"
        )
        lines.append(
            f"{'  load_project (s, median)':34}{off['load_s']:>12.3f}{on['load_s']:>12.3f}"
        )
        for key, label in (
            ("markers_parsed", "markers parsed"),
            ("tokenizer_calls", "tokenizer checks"),
        ):
            lines.append(f"{'  ' + label:34}{off[key]:>12,.0f}{on[key]:>12,.0f}")
    lines.append(f"{'envforge plan --cpu, wall (s)':34}{'':>12}{report['cli_wall_s']:>12.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=DEFAULT_PROJECT)
    parser.add_argument("--runs", type=int, default=5, help="runs per cell (median reported)")
    args = parser.parse_args()
    project = args.project.resolve()
    if not (project / "uv.lock").is_file():
        sys.exit(
            f"no uv.lock in {project}: materialise the real lock first (it is never committed):\n"
            "    uv run python tests/fixtures/real/materialise.py nemo-rl"
        )
    _counting()
    lock_text = (project / "uv.lock").read_text("utf-8")
    report: dict[str, Any] = {
        "project": project.name,
        "packages": lock_text.count("\n[[package]]\n"),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": args.runs,
        "target_plan_s": TARGET_PLAN_S,
        "results": {
            gpu: {
                state: measure(project, args.runs, cached=state == "on", host_gpu=host_gpu)
                for state in ("off", "on")
            }
            for gpu, host_gpu in (("cpu host", False), ("gpu host", True))
        },
    }
    report["cli_wall_s"] = cli_wall_s(project, args.runs)
    print(table(report))
    out = REPO / "bench/results" / f"plan-scale-{report['project']}-{report['date'][:10]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
