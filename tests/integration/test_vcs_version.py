"""A version from git (hatchling + hatch-vcs), built for real: .git stays out of the build
context, the project stage tells the backend the plan's version, and the image's installed
distribution has exactly that version (its label too); the smoke check runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO
from tests.integration.conftest import Lab, envforge, git, git_checkout


def test_a_version_from_git_reaches_the_wheel(lab: Lab, docker_client, tmp_path: Path) -> None:
    root = git_checkout(REPO / "tests/fixtures/projects/vcs-version", tmp_path / "vcs-version")
    head = git(root, "rev-parse", "HEAD")

    planned = envforge("plan", str(root), "--json", env=lab.cli_env())
    assert planned.returncode == 0, planned.stderr
    decision = next(
        d for d in json.loads(planned.stdout)["decisions"] if d["topic"] == "version from git"
    )
    version = f"0.0.0+g{head[:7]}"
    assert decision["choice"] == f"hatch-vcs: {version}"

    tag = f"envforge-vcs-version:git-{head[:7]}"
    done = envforge("build", str(root), env=lab.cli_env())  # the smoke check is on
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    try:
        assert f"built     {tag}" in done.stdout.splitlines()
        checks = [line for line in done.stdout.splitlines() if line.startswith("check ")]
        assert checks and not any("FAILED" in line for line in checks), done.stdout[-2000:]
        labels = docker_client.images.get(tag).attrs["Config"]["Labels"]
        assert labels["org.opencontainers.image.version"] == version
        assert labels["org.opencontainers.image.revision"] == head
        out = docker_client.containers.run(
            tag,
            [
                "python",
                "-c",
                "import importlib.metadata as m; print(m.version('envforge-vcs-version'))",
            ],
            entrypoint=[],
            remove=True,
            network_disabled=True,
        )
        assert out.decode().strip() == version
    finally:
        docker_client.images.remove(tag, force=True)
