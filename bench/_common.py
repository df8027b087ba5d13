"""What the bench scripts share: the lab's images, the course recipe, timing and project copies."""

from __future__ import annotations

import os
import secrets
import shutil
import statistics
import subprocess
import time
import tomllib
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parent.parent
LAB_PYTHON = os.environ.get("ENVFORGE_BASE_IMAGE", "envforge-lab/python:3.11-slim-bookworm")
LAB_UV = os.environ.get("ENVFORGE_UV_IMAGE", "envforge-lab/uv:0.13.9")
CA = Path(os.environ.get("ENVFORGE_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
# Debian's own client: it builds with BuildKit under DOCKER_BUILDKIT=1 with no buildx plugin.
DOCKER_CLI = shutil.which("docker", path="/usr/bin") or "docker"

# The course recipe, verbatim but for the base image (the lab's stand-in for
# python:3.11-slim), the CA lines both builds need here, and --no-install-project:
# as quoted, `uv sync` builds a packaged project before its sources are copied and
# fails (hatchling: "Readme file does not exist"), so this is the smallest change
# that builds. `uv run` then installs the project when the container starts. CMD runs
# the project's own script (the recipe's predict.py stands for it).
COURSE_RECIPE = """\
FROM {base}
COPY ca.crt /etc/ca.crt
ENV PIP_CERT=/etc/ca.crt SSL_CERT_FILE=/etc/ca.crt
WORKDIR /app
RUN pip install uv
COPY pyproject.toml uv.lock ./
RUN uv sync --no-cache --no-install-project
COPY . .
CMD ["uv", "run", "{script}"]
"""

# What a copy of an example leaves out: a uv user's .venv and what envforge wrote there.
COPY_IGNORE = (".venv", "__pycache__", "Dockerfile", ".dockerignore", ".envforge")


class CommandFailed(RuntimeError):
    """A timed command exited non-zero; the message holds its output's tail."""


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall-clock seconds of one command; CommandFailed when it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise CommandFailed(
            f"failed: {' '.join(cmd)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def copy_project(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    return dest


def script_name(project: Path) -> str:
    """The project's console script (the examples carry one, named after the project)."""
    scripts = tomllib.loads((project / "pyproject.toml").read_text())["project"]["scripts"]
    return str(next(iter(scripts)))


def script_module(project: Path) -> Path:
    """The source file of the console script's module, relative to the project: what a code
    edit touches."""
    scripts = tomllib.loads((project / "pyproject.toml").read_text())["project"]["scripts"]
    module = str(next(iter(scripts.values()))).split(":")[0]
    relative = Path(*module.split(".")).with_suffix(".py")
    for root in (Path("src"), Path()):
        if (project / root / relative).is_file():
            return root / relative
    raise FileNotFoundError(f"{project.name}: no source file for {module}")


# This run's own mark, in every edit: an edit the engine's build cache has seen (the same
# edit of an earlier run, on the same engine) would rebuild nothing and time a cache hit.
RUN_MARK = secrets.token_hex(8)


def edit_code(root: Path, module: str, n: int) -> None:
    path = root / module
    path.write_text(path.read_text() + f"\n# benchmark edit {n} ({RUN_MARK})\n")


def mark_pyproject(text: str) -> str:
    """pyproject.toml with this run's mark in a comment: the lock stage's files are new to
    the build cache, as after a real `uv add`, even when an earlier run built this lock."""
    return text + f"\n# benchmark run {RUN_MARK}\n"


def venv_size(client: docker.DockerClient, tag: str, path: str) -> int:
    out = client.containers.run(tag, entrypoint=["du", "-sb", path], remove=True)
    return int(out.split()[0])
