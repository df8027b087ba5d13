"""The offline Docker lab: a real engine and locally made stand-ins for registry images.

Outside CI a missing engine skips these tests; with CI=true it fails them, so CI can
never pass by skipping what it exists to check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

LAB_PYTHON = "envforge-lab/python:3.11-slim-bookworm"
LAB_UV = "envforge-lab/uv:0.13.9"
HOST_CA = Path(os.environ.get("ENVFORGE_TEST_CA", "/etc/ssl/certs/ca-certificates.crt"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class Lab:
    env: dict[str, str]  # what makes envforge build offline here

    def cli_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # any failure to reach the engine
        message = f"no Docker engine reachable ({exc}); run tests/lab/prepare.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return client


@pytest.fixture(scope="session")
def lab(docker_client) -> Lab:
    """Stand-in base images, made by tests/lab/prepare.sh when they are missing."""
    import docker.errors

    missing = []
    for ref in (LAB_PYTHON, LAB_UV):
        try:
            docker_client.images.get(ref)
        except docker.errors.ImageNotFound:
            missing.append(ref)
    if missing:
        done = subprocess.run(
            ["bash", str(REPO / "tests/lab/prepare.sh")], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.fail(f"tests/lab/prepare.sh failed:\n{done.stdout}\n{done.stderr}")
    env = {"ENVFORGE_BASE_IMAGE": LAB_PYTHON, "ENVFORGE_UV_IMAGE": LAB_UV}
    if HOST_CA.is_file():
        # PyPI is reached through TLS interception here: the builder must trust the host's CA.
        env["ENVFORGE_CA_BUNDLE"] = str(HOST_CA)
    return Lab(env)


def envforge(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """The real console script, as a user runs it."""
    return subprocess.run(
        ["envforge", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


@pytest.fixture(scope="session")
def unique_tag() -> Iterator[str]:
    yield f"envforge-test-{uuid.uuid4().hex[:8]}"


def build_copy(lab: Lab, source: Path, dest: Path, tag: str, *, timeout: int = 900) -> str:
    """Copy a project (an example or fixture) to dest, `envforge build` it as tag; its stdout."""
    import shutil

    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    done = envforge("build", str(dest), "--tag", tag, env=lab.cli_env(), timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    return done.stdout


def git(root: Path, *args: str) -> str:
    """git in root, as a throwaway identity; its stdout, stripped."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(root), *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def git_checkout(fixture: Path, dest: Path) -> Path:
    """A copy of fixture at dest, made a git repository with one commit. Without git on
    PATH: skipped outside CI, failed in CI (like a missing engine)."""
    if shutil.which("git") is None:
        message = "git is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    shutil.copytree(fixture, dest)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "init")
    return dest
