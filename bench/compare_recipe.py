"""envforge against the single-stage recipe that reproducibility courses teach, on one project.

Both are built on the same Docker engine, from the same base image, with the classic
builder, in one run, and timed end to end as a user would type them (`envforge build`
against `docker build`). Prints a table and writes JSON under bench/results/.

    uv run python bench/compare_recipe.py [--project examples/cpu-sklearn]

Offline lab: the base image and uv come from the lab's stand-ins (tests/lab/prepare.sh),
and both builds trust the host's CA bundle to reach PyPI through TLS interception.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import docker
from _common import (
    CA,
    COURSE_RECIPE,
    DOCKER_CLI,
    LAB_PYTHON,
    LAB_UV,
    REPO,
    CommandFailed,
    edit_code,
    venv_size,
)
from _common import timed as _timed


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    try:
        return _timed(cmd, env, cwd)
    except CommandFailed as exc:
        sys.exit(str(exc))


def change_lock(root: Path) -> None:
    """A real lock change: a new direct dependency (already in the tree), re-locked by uv."""
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "threadpoolctl>=3",\n', 1)
    )
    subprocess.run(["uv", "lock", "--quiet", "--directory", str(root)], check=True)


SCENARIOS = {
    "clean": "a clean checkout (no .venv)",
    "worktree": "the folder as a uv user has it: after `uv sync`, with its .venv",
}


def measure(project: Path, runs: int, scenario: str) -> dict[str, object]:
    client = docker.from_env()
    module = next(
        p.relative_to(project)
        for p in project.rglob("*.py")
        if "experiment" in p.name or "main" in p.name
    )
    work = Path(tempfile.mkdtemp(prefix="envforge-bench-"))
    ours, theirs = work / "envforge" / project.name, work / "recipe" / project.name
    for dest in (ours, theirs):
        shutil.copytree(
            project,
            dest,
            ignore=shutil.ignore_patterns(".venv", "__pycache__", "Dockerfile", ".dockerignore"),
        )
        if scenario == "worktree":
            # What `uv run` leaves in every uv project: the recipe has no .dockerignore.
            subprocess.run(["uv", "sync", "--quiet", "--directory", str(dest)], check=True)
    script = project.name  # the examples' console script carries the project's name
    (theirs / "Dockerfile").write_text(COURSE_RECIPE.format(base=LAB_PYTHON, script=script))
    shutil.copy(CA, theirs / "ca.crt")

    env = {
        **os.environ,
        "ENVFORGE_BASE_IMAGE": LAB_PYTHON,
        "ENVFORGE_UV_IMAGE": LAB_UV,
        "ENVFORGE_CA_BUNDLE": str(CA),
    }
    tag_ours, tag_theirs = "envforge-bench/ours:latest", "envforge-bench/recipe:latest"
    envforge = [sys.executable, "-m", "envforge", "build", str(ours), "--tag", tag_ours]
    recipe = [DOCKER_CLI, "build", "-q", "-t", tag_theirs, str(theirs)]
    recipe_env = {**os.environ, "DOCKER_BUILDKIT": "0"}

    results: dict[str, dict[str, float]] = {"envforge": {}, "recipe": {}}
    results["envforge"]["cold_build_s"] = timed([*envforge, "--no-cache"], env)
    results["recipe"]["cold_build_s"] = timed([*recipe[:2], "--no-cache", *recipe[2:]], recipe_env)

    code_ours, code_theirs = [], []
    for n in range(runs):
        edit_code(ours, str(module), n)
        code_ours.append(timed(envforge, env))
        edit_code(theirs, str(module), n)
        code_theirs.append(timed(recipe, recipe_env))
    results["envforge"]["code_change_rebuild_s"] = sorted(code_ours)[len(code_ours) // 2]
    results["recipe"]["code_change_rebuild_s"] = sorted(code_theirs)[len(code_theirs) // 2]

    # What a user waits for: from a code edit to the program's output. The recipe's
    # `uv run` builds and installs the project when the container starts, every time.
    out_ours, out_theirs = [], []
    run = [DOCKER_CLI, "run", "--rm"]
    for n in range(max(1, runs // 2)):
        edit_code(ours, str(module), 100 + n)
        out_ours.append(timed(envforge, env) + timed([*run, tag_ours]))
        edit_code(theirs, str(module), 100 + n)
        out_theirs.append(timed(recipe, recipe_env) + timed([*run, tag_theirs]))
    results["envforge"]["code_edit_to_output_s"] = sorted(out_ours)[len(out_ours) // 2]
    results["recipe"]["code_edit_to_output_s"] = sorted(out_theirs)[len(out_theirs) // 2]

    change_lock(ours)
    results["envforge"]["lock_change_rebuild_s"] = timed(envforge, env)
    change_lock(theirs)
    results["recipe"]["lock_change_rebuild_s"] = timed(recipe, recipe_env)

    base = int(client.images.get(LAB_PYTHON).attrs["Size"])
    for side, tag in (("envforge", tag_ours), ("recipe", tag_theirs)):
        results[side]["image_bytes"] = int(client.images.get(tag).attrs["Size"])
        results[side]["base_bytes"] = base
        results[side]["environment_bytes"] = venv_size(client, tag, "/app/.venv")
        results[side]["overhead_pct"] = round(
            100 * (results[side]["image_bytes"] / (base + results[side]["environment_bytes"]) - 1),
            2,
        )
    for tag in (tag_ours, tag_theirs):
        client.images.remove(tag, force=True)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "scenario": SCENARIOS[scenario],
        "code_change_samples_s": {"envforge": code_ours, "recipe": code_theirs},
        "results": results,
    }


def table(report: dict[str, Any]) -> str:
    results = report["results"]
    assert isinstance(results, dict)
    ours, theirs = results["envforge"], results["recipe"]
    rows = [
        ("cold build (s)", "cold_build_s", "{:.1f}"),
        ("rebuild after code edit (s, median)", "code_change_rebuild_s", "{:.2f}"),
        ("code edit to program output (s, median)", "code_edit_to_output_s", "{:.2f}"),
        ("rebuild after lock change (s)", "lock_change_rebuild_s", "{:.1f}"),
        ("final image (MB)", "image_bytes", "mb"),
        ("base image (MB)", "base_bytes", "mb"),
        ("environment /app/.venv (MB)", "environment_bytes", "mb"),
        ("image over base + environment (%)", "overhead_pct", "{:.2f}"),
    ]

    def fmt(spec: str, value: float) -> str:
        return f"{value / 1e6:.1f}" if spec == "mb" else spec.format(value)

    lines = [f"{report['scenario']}", f"{'':38}{'envforge':>12}{'recipe':>12}"]
    lines += [
        f"{label:38}{fmt(spec, ours[key]):>12}{fmt(spec, theirs[key]):>12}"
        for label, key, spec in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO / "examples/cpu-sklearn")
    parser.add_argument(
        "--runs", type=int, default=5, help="code-edit rebuilds per side (median reported)"
    )
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    args = parser.parse_args()
    project = args.project.resolve()
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    client = docker.from_env()
    report: dict[str, Any] = {
        "project": project.name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "docker": client.version()["Version"],
        },
        "base_image": LAB_PYTHON,
        "code_change_runs": args.runs,
        "scenarios": {},
    }
    for scenario in scenarios:
        report["scenarios"][scenario] = measure(project, args.runs, scenario)
        print(table(report["scenarios"][scenario]) + "\n", flush=True)
    out = REPO / "bench/results" / f"{report['project']}-{str(report['date'])[:10]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
