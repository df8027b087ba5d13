"""envforge on BuildKit and on the classic builder, beside the course's single-stage recipe and
uv's own multi-stage guide recipe, on the same engine in one run (issue 10's benchmark).

    uv run python bench/compare_builders.py [--project examples/cpu-sklearn ...]
        [--recipes envforge-buildkit,uv-multistage] [--skip-heavy-bump] [--repeat N] [--resume]

Per project and recipe, on a fresh copy of the project, timed end to end as a user types them
(`envforge build`, console script and start-up included; `docker build` with Debian's CLI,
DOCKER_BUILDKIT=1 for uv's recipe, 0 for the course's):
  cold         no layer cache (--no-cache) and, for the BuildKit recipes, the uv cache mount
               removed first (--cold-prune all: `docker builder prune -af` instead)
  unchanged    the same build again, nothing changed
  code edit    a comment appended to the console script's module
  small lock   `uv add` of one tiny pure-Python package (a new one on each repeat)
  heavy lock   a heavy package moved to another release (`uv lock -P`): scikit-learn on
               cpu-sklearn, torch on gpu-torch (GBs of wheels); --skip-heavy-bump leaves it out
  image size   of the image the cold build made.
Each edit, and each lock change's pyproject.toml, carries a mark of the run (a comment), so
that a run never times a layer that an earlier run on the same engine left in the build cache.
envforge's builds run with --no-check; its smoke check is timed apart, twice: `envforge build`
with the check on an unchanged project, and `envforge verify`. Each scenario's failure is
printed and recorded, and the others go on. Prints one table per project with issue 10's targets
on the same lines, and writes bench/results/builders-<project>-<date>.json after each recipe
(-<date>T<HHMM>.json when today's file exists; --resume adds to today's file, keeping its
recipes that measured without error). Removes the images it made; the
build-cache records that appeared while a recipe ran go too when its image is over 2 GB
(--prune-cache yes|no|auto): they may be other builds' on the same engine, and cpu-sklearn's
are small enough to leave. The 1-minute load average is recorded beside each figure.
envforge builds on the network ENVFORGE_BUILD_NETWORK names (default: the bridge, as the
other recipes), recorded as envforge_network.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from _common import (
    REPO,
    RUN_MARK,
    CommandFailed,
    copy_project,
    edit_code,
    mark_pyproject,
    median,
    script_module,
    script_name,
    timed,
)
from _recipes import ENVFORGE, RECIPES, Recipe, lab_env, uv_guide_text
from _targets import table, verdicts

# A new pure-Python package for each small lock change; those the lock already has are skipped.
SMALL_PACKAGES = ("toml", "appdirs", "tomli-w", "termcolor", "wcwidth", "pyfiglet")
# The heavy package bumped, one release per repeat (the images' Python is 3.11).
HEAVY_BUMPS = {
    "cpu-sklearn": ("scikit-learn==1.9.0", "scikit-learn==1.8.0"),
    "gpu-torch": ("torch==2.14.1", "torch==2.14.0"),
}
PY311 = " ; python_full_version >= '3.11'"
IMAGE_GB = {"gpu-torch": 6.0}  # the image's size before the first build has measured it
DEFAULT_PROJECTS = ("examples/cpu-sklearn", "examples/gpu-torch")
# What each figure includes, written into the JSON beside them.
NOTES = {
    "cold": "no layer cache (--no-cache); BuildKit recipes: the uv cache mount removed first",
    "unchanged": "rebuild with nothing changed",
    "unchanged_checked": "envforge build with its smoke check (the default), nothing changed",
    "code_edit": "rebuild after a comment (with the run's mark) is appended to the console "
    "script's module",
    "lock_small": "rebuild after `uv add` of one tiny pure-Python package (pyproject.toml "
    "marked with the run's mark)",
    "lock_heavy": "rebuild after `uv lock -P` moves the heavy package to another release "
    "(pyproject.toml marked likewise)",
    "verify": "envforge verify of the cold build's image (the check timed apart)",
    "image_bytes": "Size of the image the cold build made",
    "envforge": "the console script, start-up included, PYTHONDONTWRITEBYTECODE unset, --no-check",
}


@dataclass(frozen=True, kw_only=True)
class LockState:
    """pyproject.toml and uv.lock after one lock change, copied into each recipe's project."""

    label: str
    pyproject: str
    lock: str


def lock_states(project: Path, repeat: int, heavy: bool) -> dict[str, list[LockState]]:
    """The lock changes, made once per project on a scratch copy so that every recipe builds the
    same ones: cumulative (each on top of the last), small ones first."""
    scratch = copy_project(project, Path(tempfile.mkdtemp(prefix="bench-lock-")) / project.name)
    states: dict[str, list[LockState]] = {"lock_small": [], "lock_heavy": []}

    def snapshot(label: str) -> LockState:
        return LockState(
            label=label,
            pyproject=(scratch / "pyproject.toml").read_text(),
            lock=(scratch / "uv.lock").read_text(),
        )

    uv = ["uv", "--quiet", "--directory", str(scratch)]
    try:
        fresh = [
            p for p in SMALL_PACKAGES if f'name = "{p}"' not in (scratch / "uv.lock").read_text()
        ]
        for package in fresh[:repeat]:
            subprocess.run([*uv, "add", "--no-sync", package], check=True, capture_output=True)
            states["lock_small"].append(snapshot(f"+{package}"))
        for spec in HEAVY_BUMPS.get(project.name, ())[: repeat if heavy else 0]:
            before = (scratch / "uv.lock").read_text()
            subprocess.run([*uv, "lock", "-P", spec + PY311], check=True, capture_output=True)
            if (scratch / "uv.lock").read_text() == before:
                raise RuntimeError(f"`uv lock -P {spec}` left uv.lock as it was")
            states["lock_heavy"].append(snapshot(spec))
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)
    return states


def cache_ids(client: docker.DockerClient) -> set[str]:
    return {str(r["ID"]) for r in client.api.df().get("BuildCache") or []}


def prune_ids(client: docker.DockerClient, ids: set[str]) -> int:
    """Remove these build-cache records, leaves first: the engine keeps a record while another
    has it as parent (the layers of one image chain up), and takes one id a filter. A record
    that is the parent of one not in `ids` (another build's) stays."""
    freed, left = 0, set(ids)
    while left:
        records = client.api.df().get("BuildCache") or []
        left &= {str(r["ID"]) for r in records}
        leaves = left - {str(r.get("Parent") or "") for r in records}
        if not leaves:
            break
        for record in leaves:
            # The SDK's stubs know only `dangling` and `until`; the engine takes `id` too.
            only: Any = {"id": record}
            try:
                done = client.api.prune_builds(filters=only, all=True)
            except docker.errors.APIError as exc:
                print(f"  could not remove build cache {record}: {exc}", flush=True)
                continue
            freed += int(done.get("SpaceReclaimed") or 0)
        left -= leaves
    return freed


def forget_uv_cache(client: docker.DockerClient, how: str) -> str:
    """Before a BuildKit cold build: the uv cache mount gone (what "fresh uv cache" means to a
    cache mount), or the whole build cache (--cold-prune all)."""
    if how == "all":
        subprocess.run(["docker", "builder", "prune", "-af"], check=True, capture_output=True)
        return "docker builder prune -af"
    mounts = {
        str(r["ID"])
        for r in client.api.df().get("BuildCache") or []
        if r["Type"] == "exec.cachemount"
        and any(t in str(r.get("Description")) for t in ("/root/.cache/uv", "/tmp/uv-cache"))
    }
    prune_ids(client, mounts)
    left = mounts & cache_ids(client)
    return f"uv cache mount removed ({len(mounts) - len(left)} records, {len(left)} in use)"


class Run:
    """One recipe on one project: its copy, its tag, the images it made, its figures."""

    def __init__(
        self, recipe: Recipe, project: Path, work: Path, *, min_free_gb: float,
        save: Callable[[], None],
    ) -> None:  # fmt: skip
        self.recipe = recipe
        self.client = docker.from_env()
        self.docker_root = str(self.client.info().get("DockerRootDir") or "/var/lib/docker")
        self.min_free_gb = min_free_gb
        self.save = save  # writes the JSON: after each scenario, so that a stopped run keeps it
        self.root = copy_project(project, work / recipe.name / project.name)
        self.script = script_name(project)
        self.module = str(script_module(project))
        self.tag = f"bench/{project.name}-{recipe.name}:latest"
        self.images: set[str] = set()
        self.figures: dict[str, Any] = {}
        recipe.prepare(self.root, self.script)

    def build(self, *, cold: bool = False) -> float:
        # A build can add about twice its image (a new stage snapshot and the layers copied
        # from it), and the engine's disk is shared: stop before it fills.
        image_gb = self.figures.get("image_bytes", 0) / 1e9 or IMAGE_GB.get(self.root.name, 1.0)
        free, need = (
            shutil.disk_usage(self.docker_root).free / 1e9,
            max(self.min_free_gb, 2.5 * image_gb),
        )
        if free < need:
            raise RuntimeError(f"{free:.1f} GB free for the engine, {need:.1f} GB needed to build")
        cmd, env = self.recipe.build(self.root, self.tag, cold=cold)
        took = timed(cmd, env)
        self.images.add(str(self.client.images.get(self.tag).id))
        return took

    def scenario(self, key: str, samples: Callable[[], list[float]]) -> None:
        """Measure one scenario; a failure is printed and recorded, and the run goes on."""
        load = os.getloadavg()[0]
        try:
            values = samples()
        except Exception as exc:
            known = isinstance(exc, CommandFailed | RuntimeError)
            message = str(exc) if known else traceback.format_exc()
            self.figures[key] = {"error": message[-3000:], "load_1min": load}
            print(f"  {self.recipe.name:18} {key:18} FAILED\n{message[-1500:]}", flush=True)
            self.save()
            return
        self.figures[key] = {"median": median(values), "samples": values, "load_1min": load}
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(
            f"  {self.recipe.name:18} {key:18} {median(values):8.2f}   [{shown}]  load {load:.1f}",
            flush=True,
        )
        self.save()


def measure(
    run: Run, states: dict[str, list[LockState]], *, repeat: int, cold_prune: str
) -> dict[str, Any]:
    recipe, client = run.recipe, run.client

    def cold() -> list[float]:
        samples = []
        for _ in range(repeat):
            if recipe.buildkit:
                run.figures["cold_prune"] = forget_uv_cache(client, cold_prune)
            samples.append(run.build(cold=True))
        run.figures["image_bytes"] = int(client.images.get(run.tag).attrs["Size"])
        return samples

    run.scenario("cold", cold)
    if recipe.envforge:
        verify = [ENVFORGE, "verify", run.tag, str(run.root)]
        run.scenario("verify", lambda: [timed(verify, lab_env())])
    run.scenario("unchanged", lambda: [run.build() for _ in range(repeat)])
    if recipe.envforge:
        checked = [c for c in recipe.build(run.root, run.tag, cold=False)[0] if c != "--no-check"]
        run.scenario("unchanged_checked", lambda: [timed(checked, lab_env())])

    def code_edit() -> list[float]:
        samples = []
        for n in range(repeat):
            edit_code(run.root, run.module, n)
            samples.append(run.build())
        return samples

    run.scenario("code_edit", code_edit)
    for key in ("lock_small", "lock_heavy"):

        def lock_change(key: str = key) -> list[float]:
            if not states[key]:
                raise RuntimeError(f"no {key} lock change prepared")
            samples = []
            for state in states[key]:
                (run.root / "pyproject.toml").write_text(mark_pyproject(state.pyproject))
                (run.root / "uv.lock").write_text(state.lock)
                samples.append(run.build())
            run.figures[f"{key}_changes"] = [s.label for s in states[key]]
            return samples

        if key == "lock_small" or states["lock_heavy"]:
            run.scenario(key, lock_change)
    return run.figures


def cleanup(run: Run, cache_before: set[str], prune_cache: str) -> None:
    """Remove this recipe's images, then (per --prune-cache) the build-cache records made since
    it began."""
    for image in run.images:
        try:
            run.client.images.remove(image, force=True)
        except docker.errors.APIError as exc:
            print(f"  could not remove {image}: {exc}", flush=True)
    big = int(run.figures.get("image_bytes", 0)) > 2e9
    prune = prune_cache == "yes" or (prune_cache == "auto" and big)
    freed, left = 0, set()
    if prune:
        freed = prune_ids(run.client, cache_ids(run.client) - cache_before)
        left = cache_ids(run.client) - cache_before
    print(
        f"  {run.recipe.name}: removed {len(run.images)} images, {freed / 1e9:.1f} GB of cache"
        + (f" ({len(left)} new cache records the engine kept)" if left else ""),
        flush=True,
    )
    shutil.rmtree(run.root.parent.parent, ignore_errors=True)


def host() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "docker": docker.from_env().version()["Version"],
    }


def revision() -> str:
    """The envforge commit measured (its templates), "+dirty" when the tree has edits."""
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run([*git, "status", "--porcelain", "envforge"], capture_output=True).stdout
    return head.strip() + ("+dirty" if dirty else "")


def bench_project(project: Path, args: argparse.Namespace) -> None:
    date = dt.datetime.now(dt.UTC)
    out = args.results / f"builders-{project.name}-{date.date().isoformat()}.json"
    if not args.resume and out.exists():  # another run of today's: kept, this one beside it
        out = out.with_name(f"builders-{project.name}-{date:%Y-%m-%dT%H%M}.json")
    report: dict[str, Any] = {}
    if args.resume and out.is_file():
        report = json.loads(out.read_text())
    report.update(
        project=project.name, date=date.isoformat(timespec="seconds"), host=host(),
        repeat=args.repeat, cold_prune=args.cold_prune, notes=NOTES, envforge_revision=revision(),
        run_mark=RUN_MARK, envforge_network=os.environ.get("ENVFORGE_BUILD_NETWORK") or "bridge",
    )  # fmt: skip
    results: dict[str, Any] = report.setdefault("recipes", {})
    print(f"{project.name}: preparing the lock changes", flush=True)
    try:
        states = lock_states(project, args.repeat, not args.skip_heavy_bump)
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        print(f"  lock changes failed: {exc}", flush=True)
        states = {"lock_small": [], "lock_heavy": []}
    guide = ""
    if "uv-multistage" in args.recipes:
        try:
            guide = uv_guide_text(args.uv_recipe)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"  uv's recipe: {exc}", flush=True)
    for name in args.recipes:
        done = results.get(name, {})
        if (
            args.resume
            and done
            and not any("error" in v for v in done.values() if isinstance(v, dict))
        ):
            print(f"  {name}: kept from {out.name}", flush=True)
            continue
        if name == "uv-multistage" and not guide:
            results[name] = {"cold": {"error": "uv's recipe not found"}}
            continue
        cache_before = cache_ids(docker.from_env())
        work = Path(tempfile.mkdtemp(prefix="bench-builders-"))

        def save() -> None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")

        try:
            recipe = Recipe(name=name, uv_guide=guide)
            run = Run(recipe, project, work, min_free_gb=args.min_free_gb, save=save)
        except Exception:
            results[name] = {"setup": {"error": traceback.format_exc()[-3000:]}}
            print(f"  {name}: setting up failed\n{traceback.format_exc()[-1500:]}", flush=True)
            continue
        results[name] = run.figures  # filled in (and saved) scenario by scenario
        try:
            measure(run, states, repeat=args.repeat, cold_prune=args.cold_prune)
        finally:
            if not args.keep:
                cleanup(run, cache_before, args.prune_cache)
            save()
    report["targets"] = verdicts(project.name, results)
    print("\n" + table(project.name, results, args.repeat) + "\n", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--project", type=Path, action="append", help="repeatable; default: both")
    parser.add_argument(
        "--recipes", default=",".join(RECIPES), help=f"comma-separated, of {', '.join(RECIPES)}"
    )
    parser.add_argument("--skip-heavy-bump", action="store_true", help="no heavy-package bump")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (median shown)")
    parser.add_argument("--cold-prune", choices=("uv-cache", "all"), default="uv-cache")
    parser.add_argument("--uv-recipe", type=Path, help="uv's multistage.Dockerfile, as upstream")
    parser.add_argument("--resume", action="store_true", help="keep today's error-free recipes")
    parser.add_argument("--keep", action="store_true", help="keep the images and build cache")
    parser.add_argument(
        "--min-free-gb",
        type=float,
        default=5.0,
        help="no build below this much free disk (or 2.5x the image, if more)",
    )
    parser.add_argument("--results", type=Path, default=REPO / "bench/results", help="JSON folder")
    parser.add_argument(
        "--prune-cache", choices=("auto", "yes", "no"), default="auto",
        help="remove the build cache made while a recipe ran (auto: when its image is over 2 GB)",
    )  # fmt: skip
    args = parser.parse_args()
    args.recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = set(args.recipes) - set(RECIPES)
    if unknown:
        parser.error(f"unknown recipes: {', '.join(sorted(unknown))}")
    # A stop (SIGTERM, or SIGINT where a background shell ignores it) still cleans up: the
    # recipe's `finally` removes its images, and the build under way is killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Compile envforge's bytecode once, as a user's first run would, before any timing.
    subprocess.run([ENVFORGE, "--help"], env=lab_env(), capture_output=True, check=True)
    for project in args.project or [REPO / p for p in DEFAULT_PROJECTS]:
        bench_project(project.resolve(), args)


if __name__ == "__main__":
    main()
