"""The modelled corpus in the lab: the CPU projects of tests/fixtures/modelled/ that the lab
can build on Python 3.11 with small downloads (`lab_python` in EXPECTED.toml), each built
with the smoke check on (the build must pass it), its default command run, and `envforge
verify` proving the image holds the lock's packages.

The lab's only base is Python 3.11 (envforge-lab/python:3.11-slim-bookworm): a project whose
default Python is another (flask-like and itsdangerous-like: 3.14; uv-docker-example-like:
3.13) is built with `--python 3.11`, which its requires-python and its lock allow. The
ep-stats-like one pins 3.11 in .python-version and is built by default.
"""

from __future__ import annotations

import contextlib
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO, as_chosen
from tests.integration.conftest import Lab, envforge

MODELLED = REPO / "tests/fixtures/modelled"
EXPECTED = tomllib.loads((MODELLED / "EXPECTED.toml").read_text("utf-8"))

# name: (arguments for `envforge run ... --`, a line its output must hold)
RUNS: dict[str, tuple[tuple[str, ...], str]] = {
    "ep-stats-fresh": ((), "abtally: share(3, 4) = 0.75"),
    "flask": ((), "beaker: / -> index"),
    "uv-docker-example": ((), "Hello from hello-api!"),
    # A library: the image starts `python`; the default (no stdin) exits 0, and a -c
    # after `--` proves the package is there.
    "itsdangerous-py38": (("-c", "import sealmark; print(sealmark.sign(b'k', 'v'))"), "v."),
}
NAMES = sorted(n for n, e in EXPECTED.items() if e.get("lab_python"))


def test_the_lab_builds_are_the_ones_expected() -> None:
    assert sorted(RUNS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_modelled_project_builds_passes_the_check_runs_and_verifies(
    name: str, lab: Lab, docker_client, tmp_path: Path, unique_tag: str
) -> None:
    expected = EXPECTED[name]
    root = tmp_path / name
    shutil.copytree(MODELLED / name, root)
    (root / "MODELLED_ON.toml").unlink()
    tag = f"{unique_tag}/shapes-{name}:lab"
    python = expected["lab_python"]
    flags = [] if expected["python"] == python else ["--python", python]
    try:
        built = envforge("build", str(root), "--tag", tag, *flags, env=lab.cli_env(), timeout=600)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr
        checks = [line for line in built.stdout.splitlines() if line.startswith("check ")]
        assert checks and all(line.endswith(" ok") for line in checks), checks
        assert f"check     imports {expected['smoke'].split()[-1]} ok" in checks
        for script in expected["scripts"]:
            assert f"check     console script {script} ok" in checks

        image = docker_client.images.get(tag)
        command = (image.attrs["Config"].get("Entrypoint") or []) + (
            image.attrs["Config"].get("Cmd") or []
        )
        assert as_chosen(command) in [expected["command"], *expected.get("command_also", [])], (
            command
        )

        default = envforge("run", tag, "--no-tty", env=lab.cli_env(), timeout=120)
        assert default.returncode == 0, default.stdout + default.stderr
        args, line = RUNS[name]
        done = (
            envforge("run", tag, "--no-tty", "--", *args, env=lab.cli_env(), timeout=120)
            if args
            else default
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert line in done.stdout, done.stdout + done.stderr

        verified = envforge("verify", tag, str(root), env=lab.cli_env(), timeout=300)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        import docker.errors

        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)
