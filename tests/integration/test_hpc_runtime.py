"""Images that run where Docker does not: Apptainer and Pyxis run an image read-only, as the
calling user (not the image's uid 10001), from the host's working directory, with the host's
HOME. Neither is installable here, so this approximates them with Docker itself:
`docker run --read-only --tmpfs /tmp --user 4242:4242 --workdir /tmp -e HOME=/nonexistent`.

Built from copies whose files are 0600 and folders 0700 (a umask 077 checkout): COPY keeps
those modes, so the images must make them readable themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from envforge.engine import smoke
from tests.conftest import EXAMPLES, REPO
from tests.integration.conftest import Lab, envforge
from tests.integration.test_cpu_example import KNOWN_LINE

DOCKER = "/usr/bin/docker"
# What Apptainer does to a container, as near as Docker comes.
AS_APPTAINER = [
    "--read-only", "--tmpfs", "/tmp", "--user", "4242:4242", "--workdir", "/tmp",
    "-e", "HOME=/nonexistent", "--network", "none",
]  # fmt: skip
SCRIPT_APP = REPO / "tests/fixtures/projects/script-app"
HELPER = 'print("hpc-helper imported from", __import__("os").getcwd())\n'


@dataclass(frozen=True)
class Built:
    tag: str
    root: Path


def _private(root: Path) -> None:
    """Every file of the copy 0600 and every folder 0700, as a umask 077 checkout makes them."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)


def _build(lab: Lab, source: Path, root: Path, tag: str, builder: str, extra: str = "") -> str:
    shutil.copytree(source, root, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    if extra:
        (root / "hpc_helper.py").write_text(extra)
        (root / "notes").mkdir()
        (root / "notes" / "private.txt").write_text("kept readable\n")
    _private(root)
    done = envforge("build", str(root), "--tag", tag, "--builder", builder, env=lab.cli_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    return done.stdout


def docker_run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER, "run", "--rm", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module", params=["buildkit", "classic"])
def script_app(request, lab: Lab, docker_client, tmp_path_factory, unique_tag) -> Iterator[Built]:
    """tests/fixtures/projects/script-app (not a package: its source is copied into /app)."""
    builder = request.param
    root = tmp_path_factory.mktemp(f"hpc-{builder}") / "script-app"
    tag = f"{unique_tag}/hpc-script-{builder}:0.3.0"
    _build(lab, SCRIPT_APP, root, tag, builder, extra=HELPER)
    yield Built(tag, root)
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def cpu_sklearn(lab: Lab, docker_client, tmp_path_factory, unique_tag) -> Iterator[Built]:
    """examples/cpu-sklearn (a package: built as a wheel, installed into the environment)."""
    root = tmp_path_factory.mktemp("hpc-cpu") / "cpu-sklearn"
    tag = f"{unique_tag}/hpc-cpu-sklearn:0.1.0"
    _build(lab, EXAMPLES / "cpu-sklearn", root, tag, "buildkit")
    yield Built(tag, root)
    docker_client.images.remove(tag, force=True)


def _unreadable(tag: str) -> list[str]:
    """What in /app (the environment is /app/.venv) a user other than its owner cannot read,
    or, for a folder or an executable, cannot enter or run."""
    done = docker_run(
        "--user", "0", "--entrypoint", "find", tag, "/app", "-xdev",
        "(", "!", "-perm", "-o+r", "-o", "-perm", "-u+x", "!", "-perm", "-o+x", ")", "-print",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _smoke_as_apptainer(docker_client, tag: str, dist: str | None) -> smoke.Report:
    """envforge build's smoke check (engine/smoke.py: the probe, on the image's command, run
    by the environment's Python), run as Apptainer would run it."""
    command = smoke.image_command(docker_client.images.get(tag).attrs)
    assert command is not None
    spec = smoke.spec_for(dist, command)
    done = docker_run(*AS_APPTAINER, "--entrypoint", smoke.PYTHON, tag, *smoke.probe_command(spec))
    return smoke.parse_report(done.stdout, done.stderr, done.returncode)


def test_the_package_runs_as_any_user_from_any_folder_read_only(cpu_sklearn: Built) -> None:
    done = docker_run(*AS_APPTAINER, cpu_sklearn.tag)
    assert (done.returncode, done.stdout.strip()) == (0, KNOWN_LINE), done.stderr
    # No warning either: nothing tried to write under the image or the missing HOME.
    assert done.stderr == ""


def test_the_package_image_has_nothing_unreadable(cpu_sklearn: Built) -> None:
    assert _unreadable(cpu_sklearn.tag) == []


def test_the_package_passes_the_smoke_check_as_apptainer_runs_it(
    cpu_sklearn: Built, docker_client
) -> None:
    report = _smoke_as_apptainer(docker_client, cpu_sklearn.tag, "cpu-sklearn")
    assert report.ok, report
    assert [(c.kind, c.name) for c in report.checks] == [
        ("dist", "cpu-sklearn"),
        ("import", "cpu_sklearn"),
        ("script", "cpu-sklearn"),
        ("program", "/app/.venv/bin/cpu-sklearn"),
    ]


def test_the_image_sets_what_a_cluster_runtime_needs(cpu_sklearn: Built, docker_client) -> None:
    config = docker_client.images.get(cpu_sklearn.tag).attrs["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONNOUSERSITE"] == "1"
    # Caches follow HOME (bound by Apptainer): no fixed path that a shared /tmp would give to
    # the node's first user, and that would beat the user's own setting.
    assert "XDG_CACHE_HOME" not in env and "MPLCONFIGDIR" not in env
    assert config["Entrypoint"] == ["/app/.venv/bin/cpu-sklearn"]
    # The caller's value reaches the program.
    done = docker_run(
        *AS_APPTAINER, "-e", "XDG_CACHE_HOME=/tmp/mine", "--entrypoint", smoke.PYTHON,
        cpu_sklearn.tag, "-c", "import os; print(os.environ['XDG_CACHE_HOME'])",
    )  # fmt: skip
    assert done.stdout.strip() == "/tmp/mine", done.stderr


def test_the_script_project_runs_as_any_user_from_any_folder(script_app: Built) -> None:
    done = docker_run(*AS_APPTAINER, script_app.tag, "a")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("script-app six=1.17.0 greeting=hello from $HOME args=['a']"), (
        done.stderr
    )
    # Its own modules import from another folder too (python -m, as the plan may choose).
    done = docker_run(
        *AS_APPTAINER, "--entrypoint", smoke.PYTHON, script_app.tag, "-m", "hpc_helper"
    )
    assert (done.returncode, done.stdout.strip()) == (0, "hpc-helper imported from /tmp"), (
        done.stderr
    )


def test_the_script_projects_0600_files_end_up_readable(script_app: Built) -> None:
    assert os.stat(script_app.root / "notes" / "private.txt").st_mode & 0o777 == 0o600
    assert _unreadable(script_app.tag) == []
    done = docker_run(
        *AS_APPTAINER, "--entrypoint", "cat", script_app.tag, "/app/notes/private.txt"
    )
    assert (done.returncode, done.stdout) == (0, "kept readable\n"), done.stderr


def test_the_script_project_passes_the_smoke_check_as_apptainer_runs_it(
    script_app: Built, docker_client
) -> None:
    report = _smoke_as_apptainer(docker_client, script_app.tag, None)
    assert report.ok, report
    assert [(c.kind, c.name) for c in report.checks] == [("file", "/app/main.py")]


def test_the_plan_says_why(script_app: Built, lab: Lab) -> None:
    done = envforge("plan", str(script_app.root), "--json", env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["image_entrypoint"] == ["/app/.venv/bin/python", "/app/main.py"]
    command = next(d for d in data["decisions"] if d["topic"] == "command")
    assert "Apptainer and Pyxis" in command["reason"]
