"""A dynamic version, built for real: tagged and labelled with the git revision, the source
label an https URL, and `envforge run PATH` finds the image by that tag."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO
from tests.integration.conftest import Lab, envforge, git, git_checkout


def test_a_dynamic_version_is_tagged_with_the_revision(
    lab: Lab, docker_client, tmp_path: Path
) -> None:
    root = git_checkout(
        REPO / "tests/fixtures/projects/dynamic-version", tmp_path / "dynamic-version"
    )
    git(root, "remote", "add", "origin", "git@github.com:octo/dynamic-version.git")
    head = git(root, "rev-parse", "HEAD")
    tag = f"envforge-dynamic-version:git-{head[:7]}"

    done = envforge("build", str(root), env=lab.cli_env())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    try:
        assert f"built     {tag}" in done.stdout.splitlines()
        labels = docker_client.images.get(tag).attrs["Config"]["Labels"]
        assert labels["org.opencontainers.image.version"] == head
        assert labels["org.opencontainers.image.revision"] == head
        assert (
            labels["org.opencontainers.image.source"] == "https://github.com/octo/dynamic-version"
        )
        # The Dockerfile the build wrote leaves the tree clean: run finds the same tag.
        ran = envforge("run", str(root), "--no-tty", env=lab.cli_env())
        assert (ran.returncode, ran.stdout.strip()) == (0, "dynamic-version 0.4.0"), ran.stderr
    finally:
        docker_client.images.remove(tag, force=True)
