"""The four ways compare_builders.py builds a project: envforge on each builder, the course's
single-stage recipe, and uv's own multi-stage guide recipe; each prepares a copy of the project
and gives the command a user types, cold or warm."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from _common import CA, COURSE_RECIPE, DOCKER_CLI, LAB_PYTHON, LAB_UV

RecipeName = Literal["envforge-buildkit", "envforge-classic", "course", "uv-multistage"]
RECIPES: tuple[RecipeName, ...] = (
    "envforge-buildkit",
    "envforge-classic",
    "course",
    "uv-multistage",
)

# envforge as a user types it: the console script of the environment running the bench.
ENVFORGE = str(Path(sys.executable).parent / "envforge")

# uv's guide recipe is read from a local copy of astral-sh/uv-docker-example (the `fetch` of it
# in this lab), not kept in this repository; --uv-recipe FILE gives another copy.
UV_EXAMPLE_GIT = Path("/work/.mirror/astral-sh+uv-docker-example/repo")
UV_EXAMPLE_COMMIT = "fa761744819c05f4ce207bde1f0a396f6be3915f"  # 2025-12-09, "Use UV_NO_DEV"


def lab_env() -> dict[str, str]:
    """The lab's images and CA for envforge; bytecode writing on, so that envforge's own start-up
    is timed as a user's machine runs it (the lab sets PYTHONDONTWRITEBYTECODE=1)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(ENVFORGE_BASE_IMAGE=LAB_PYTHON, ENVFORGE_UV_IMAGE=LAB_UV, ENVFORGE_CA_BUNDLE=str(CA))
    env.pop("ENVFORGE_BUILDER", None)
    return env


def uv_guide_text(path: Path | None) -> str:
    if path is not None:
        return path.read_text()
    if not UV_EXAMPLE_GIT.is_dir():
        raise FileNotFoundError(
            f"no copy of astral-sh/uv-docker-example at {UV_EXAMPLE_GIT}: fetch it, or pass "
            "--uv-recipe FILE (its multistage.Dockerfile)"
        )
    show = [
        "git",
        f"--git-dir={UV_EXAMPLE_GIT}",
        "show",
        f"{UV_EXAMPLE_COMMIT}:multistage.Dockerfile",
    ]
    return subprocess.run(show, capture_output=True, text=True, check=True).stdout


def uv_guide_recipe(text: str, script: str) -> str:
    """uv's multistage.Dockerfile, verbatim but for these lines, each replaced whole:
    - the builder's `FROM ghcr.io/astral-sh/uv:python3.12-bookworm-slim`: the lab's Python
      3.11 base (the examples' locks and envforge's images use 3.11) plus uv copied from the
      lab's uv image the way uv's docs install it (`COPY --from=<uv image> /uv /uvx /bin/`),
      then the CA lines (the builder reaches PyPI through TLS interception here; the final
      stage has no CA, though `COPY . /app` carries ca.crt along with the project);
    - the final `FROM python:3.12-slim-bookworm`: the same lab base;
    - CMD (a FastAPI app in the guide): the project's console script."""
    replacements = {
        "FROM ghcr.io/astral-sh/uv:python3.12-bookworm-slim AS builder": (
            f"FROM {LAB_PYTHON} AS builder\n"
            f"COPY --from={LAB_UV} /uv /uvx /bin/\n"
            "COPY ca.crt /etc/ca.crt\n"
            "ENV SSL_CERT_FILE=/etc/ca.crt"
        ),
        "FROM python:3.12-slim-bookworm": f"FROM {LAB_PYTHON}",
    }
    lines = text.splitlines()
    out: list[str] = []
    for line in lines:
        if line in replacements:
            out.append(replacements.pop(line))
        elif line.startswith("CMD "):
            out.append(f'CMD ["{script}"]')
        else:
            out.append(line)
    if replacements or not any(line.startswith("CMD ") for line in lines):
        raise ValueError(f"uv's recipe changed upstream: {sorted(replacements)} not found")
    header = (
        f"# bench: uv-docker-example multistage.Dockerfile ({UV_EXAMPLE_COMMIT[:12]}), verbatim but\n"
        "# for the lab's base and uv images, the builder's CA lines and CMD (bench/_recipes.py).\n"
    )
    return header + "\n".join(out) + "\n"


@dataclass(frozen=True, kw_only=True)
class Recipe:
    name: RecipeName
    uv_guide: str = ""  # uv's multistage.Dockerfile as read (uv-multistage only)

    @property
    def buildkit(self) -> bool:
        """Whether it builds with BuildKit (its cold build then needs the uv cache mount gone)."""
        return self.name in ("envforge-buildkit", "uv-multistage")

    @property
    def envforge(self) -> bool:
        return self.name.startswith("envforge")

    def prepare(self, root: Path, script: str) -> None:
        """Write what the recipe's user keeps in the project (envforge writes its own)."""
        if self.name == "course":
            (root / "Dockerfile").write_text(COURSE_RECIPE.format(base=LAB_PYTHON, script=script))
        elif self.name == "uv-multistage":
            (root / "Dockerfile").write_text(uv_guide_recipe(self.uv_guide, script))
            # uv-docker-example's .dockerignore: the project's virtual environment.
            (root / ".dockerignore").write_text(".venv\n")
        if not self.envforge:
            shutil.copyfile(CA, root / "ca.crt")

    def build(self, root: Path, tag: str, *, cold: bool) -> tuple[list[str], dict[str, str]]:
        """The command a user types, and its environment. envforge: `envforge build`, its smoke
        check left out (--no-check; it is timed apart)."""
        if self.envforge:
            builder = self.name.removeprefix("envforge-")
            cmd = [ENVFORGE, "build", str(root), "--tag", tag, "--builder", builder, "--no-check"]
            return [*cmd, *(["--no-cache"] if cold else [])], lab_env()
        env = {**os.environ, "DOCKER_BUILDKIT": "1" if self.buildkit else "0"}
        cmd = [DOCKER_CLI, "build", "-q", *(["--no-cache"] if cold else []), "-t", tag, str(root)]
        return cmd, env
