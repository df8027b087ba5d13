"""The BuildKit Dockerfile, built by Debian's docker CLI (20.10) under DOCKER_BUILDKIT=1 (its
built-in client, no buildx), beside the classic one of the same project in the same run.

The final image must hold no uv and no CA bundle, run as uid 10001 and carry compiled
bytecode. The cold, code-edit and lock-touched build times of both are printed (run with -s
to see them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from envforge.image.layout import CA_IN_CONTEXT
from envforge.image.options import BuildOptions
from envforge.image.render import render_dockerfile, render_dockerignore
from tests.conftest import EXAMPLES
from tests.integration.conftest import HOST_CA, LAB_PYTHON, LAB_UV, Lab
from tests.unit.helpers import plan_for

# Debian's own client: it builds with BuildKit under DOCKER_BUILDKIT=1 with no buildx (a newer
# docker CLI earlier on PATH refuses to without its buildx plugin).
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").is_file() else shutil.which("docker")
pytestmark = pytest.mark.skipif(DOCKER is None, reason="no docker CLI")


def _project(lab: Lab, dest: Path, builder: str) -> Path:
    """A copy of examples/cpu-sklearn with the Dockerfile of `builder`, on the lab's images."""
    del lab  # the lab fixture makes sure its images exist
    shutil.copytree(
        EXAMPLES / "cpu-sklearn", dest, ignore=shutil.ignore_patterns(".venv", "__pycache__")
    )
    ca = HOST_CA.is_file()
    options = BuildOptions(base_image=LAB_PYTHON, uv_image=LAB_UV, ca_bundle=ca)
    plan = plan_for(
        dest, replace(options, builder="buildkit" if builder == "buildkit" else "classic")
    )
    (dest / "Dockerfile").write_text(render_dockerfile(plan))
    (dest / ".dockerignore").write_text(render_dockerignore(plan))
    if ca:
        (dest / CA_IN_CONTEXT).parent.mkdir(exist_ok=True)
        shutil.copyfile(HOST_CA, dest / CA_IN_CONTEXT)
    return dest


def _build(root: Path, tag: str, builder: str, *, cold: bool = False) -> float:
    """docker build, timed; BuildKit only for "buildkit". cold: no layer cache (--no-cache;
    BuildKit's uv cache mount stays, as it does on a developer's machine)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1" if builder == "buildkit" else "0"}
    start = time.monotonic()
    done = subprocess.run(
        [str(DOCKER), "build", "-q", *(["--no-cache"] if cold else []), "-t", tag, str(root)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    took = time.monotonic() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return took


def _sh(tag: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DOCKER), "run", "--rm", "--entrypoint", "sh", tag, "-c", script],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _edit_code(root: Path) -> None:
    source = root / "src/cpu_sklearn/__init__.py"
    source.write_text(source.read_text() + f"\n# edited {time.time_ns()}\n")


def _touch_lock(root: Path) -> None:
    """uv.lock's bytes change, its pins do not: the sync reruns (a lock change's cost but the
    downloads of what changed), with no network needed to relock."""
    lock = root / "uv.lock"
    lock.write_text(lock.read_text() + f"# touched {time.time_ns()}\n")


def test_buildkit_dockerfile_builds_runs_and_leaves_no_tooling(lab, unique_tag, tmp_path):
    times: dict[str, tuple[float, float, float]] = {}
    tags = {b: f"bkdf-{b}-{unique_tag}" for b in ("buildkit", "classic")}
    try:
        for builder, tag in tags.items():
            root = _project(lab, tmp_path / builder, builder)
            cold = _build(root, tag, builder, cold=True)
            _edit_code(root)
            edit = _build(root, tag, builder)
            _touch_lock(root)
            relock = _build(root, tag, builder)
            times[builder] = (cold, edit, relock)
        tag = tags["buildkit"]
        ran = subprocess.run(
            [str(DOCKER), "run", "--rm", tag], capture_output=True, text=True, timeout=300
        )
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
        assert _sh(tag, "command -v uv").returncode != 0
        assert _sh(tag, "command -v pip").returncode != 0
        found = _sh(tag, "find / -xdev -name 'ca-bundle.crt' 2>/dev/null; ls /etc/envforge 2>&1")
        assert "ca-bundle.crt" not in found.stdout, found.stdout
        assert _sh(tag, "id -u").stdout.strip() == "10001"
        pyc = _sh(tag, "find /app/.venv -name '*.pyc' | head -n 1")
        assert pyc.stdout.strip().endswith(".pyc"), pyc.stdout + pyc.stderr
        # The uv cache mount leaves only its empty target folder (Docker 20.10), under /tmp.
        assert _sh(tag, "find /tmp/uv-cache /root -mindepth 1 2>/dev/null").stdout.strip() == ""
    finally:
        for tag in tags.values():
            subprocess.run([str(DOCKER), "image", "rm", "-f", tag], capture_output=True)
        for builder, (cold, edit, relock) in times.items():
            print(
                f"\n{builder}: cold {cold:.1f} s, code edit {edit:.1f} s, "
                f"uv.lock touched {relock:.1f} s"
            )
