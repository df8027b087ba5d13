"""Build backends and sources in the lab: a compiled backend's own error reaches the user,
and git is installed in the builder stages only."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from tests.conftest import REPO
from tests.integration.conftest import HOST_CA, Lab, envforge

FIXTURES = REPO / "tests/fixtures/projects"


def test_cmake_error_reaches_the_build_output(lab: Lab, tmp_path: Path, unique_tag: str) -> None:
    """scikit-build-core gets cmake from PyPI (get_requires_for_build_wheel), and CMake's
    own message is shown, not uv's summary."""
    root = tmp_path / "skbuild-cmake-error"
    shutil.copytree(FIXTURES / "skbuild-cmake-error", root)
    tag = f"{unique_tag}/backends-skbuild:0.1.0"
    done = envforge("build", str(root), "--tag", tag, env=lab.cli_env(), timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "envforge-fixture: CMake stops here on purpose" in out, out[-3000:]
    assert "building the project failed; the backend's log is above" in out
    # cmake came from PyPI through the backend's dynamic build requirements (the base has
    # none; the deps stage may come from the cache, so its own output may not show).
    assert re.search(r"scikit-build-core [\d.]+ using CMake [\d.]+", out), out[-3000:]
    assert "Could not find CMake" not in out


def test_compiled_extension_builds_and_runs(
    docker_client, lab: Lab, tmp_path: Path, unique_tag: str
) -> None:
    """scikit-build-core with a C extension: cmake and ninja from the backend's dynamic
    build requirements, gcc from build-apt-packages, and no compiler in the final image."""
    root = tmp_path / "skbuild-c-ext"
    shutil.copytree(FIXTURES / "skbuild-c-ext", root)
    # The lab's python stand-in is Debian's python3, without the headers python:3.11-slim has.
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('["build-essential"]', '["build-essential", "python3-dev"]')
    )
    tag = f"{unique_tag}/backends-c-ext:0.1.0"
    done = envforge("build", str(root), "--tag", tag, env=lab.cli_env(), timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    try:
        run = envforge("run", tag, "--no-tty", env=lab.cli_env())
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.strip() == "2 + 3 = 5"
        out = docker_client.containers.run(
            tag,
            ["sh", "-c", "command -v gcc cc cmake git || echo none"],
            entrypoint=[],
            remove=True,
        )
        assert out.decode().strip() == "none"
    finally:
        docker_client.images.remove(tag, force=True)


def test_git_is_in_the_builder_only(docker_client, lab: Lab, tmp_path: Path) -> None:
    """The git-source fixture cannot be synced here (GitHub is unreachable): build its
    dependency stage up to `uv sync` and check git is there; the final stage installs none."""
    root = tmp_path / "git-source"
    shutil.copytree(FIXTURES / "git-source", root)
    # The classic Dockerfile: its deps stage is what the SDK's classic build takes here.
    done = envforge("dockerize", str(root), "--builder", "classic", env=lab.cli_env())
    assert done.returncode == 0, done.stdout + done.stderr
    text = (root / "Dockerfile").read_text()
    deps, _, final = text.partition("\nRUN uv sync ")
    assert "apt-get install -y --no-install-recommends git" in deps
    assert "install -y --no-install-recommends git" not in final
    if "COPY .envforge/ca-bundle.crt" in deps:
        (root / ".envforge").mkdir()
        shutil.copy(HOST_CA, root / ".envforge/ca-bundle.crt")
    (root / "Dockerfile.deps").write_text(deps + "\nRUN git --version\n")
    tag = f"envforge-backends-git-{uuid.uuid4().hex[:8]}:deps"
    try:
        docker_client.images.build(
            path=str(root), dockerfile="Dockerfile.deps", tag=tag, pull=False, rm=True
        )
        out = docker_client.containers.run(tag, ["git", "--version"], remove=True)
        assert out.decode().startswith("git version")
    finally:
        docker_client.images.remove(tag, force=True)
