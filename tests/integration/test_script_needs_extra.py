"""A console script that imports what only an extra installs, built in the lab: without the
extra the image starts `python` and the smoke check expects the script not to load; with
--extra cli the script is the command and runs."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from tests.conftest import REPO
from tests.integration.conftest import Lab, envforge

FIXTURE = REPO / "tests/fixtures/projects/script-needs-extra"


def test_without_and_with_the_extra(lab: Lab, docker_client, tmp_path: Path, unique_tag) -> None:
    tags = {
        "default": f"{unique_tag}/scripts-needs-extra:0.1.0",
        "cli": f"{unique_tag}/scripts-needs-extra-cli:0.1.0",
    }
    try:
        root = tmp_path / "default"
        shutil.copytree(FIXTURE, root)
        done = envforge("build", str(root), "--tag", tags["default"], env=lab.cli_env())
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert (
            "check     console script script-needs-extra does not load, as planned: needs the "
            "extra 'cli' (imports click): add --extra cli to use it"
        ) in done.stdout.splitlines()
        image = docker_client.images.get(tags["default"])
        assert image.attrs["Config"]["Entrypoint"] == ["/app/.venv/bin/python"]

        root = tmp_path / "cli"
        shutil.copytree(FIXTURE, root)
        done = envforge(
            "build", str(root), "--extra", "cli", "--tag", tags["cli"], env=lab.cli_env()
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert "check     console script script-needs-extra ok" in done.stdout.splitlines()
        image = docker_client.images.get(tags["cli"])
        assert image.attrs["Config"]["Entrypoint"] == ["/app/.venv/bin/script-needs-extra"]
        ran = envforge("run", tags["cli"], "--no-tty", env=lab.cli_env())
        assert (ran.returncode, ran.stdout.strip()) == (0, "hello"), ran.stderr
    finally:
        import docker.errors

        for tag in tags.values():
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag, force=True)
