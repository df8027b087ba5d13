"""`envforge run --record` against the real engine, and `envforge runs` over what it wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from envforge.host.facts import DRIVER_STATUSES
from tests.integration.conftest import LAB_PYTHON, Lab, envforge

RECORD_TO = ("--record", "--runs-dir")  # `envforge run` options: record, into this folder
# The header of `envforge runs` for one run of LAB_PYTHON (38 characters) at a git commit.
HEADER = "STARTED               EXIT  DURATION  IMAGE" + " " * 35 + "COMMIT        GPU"


def git_folder(path: Path) -> str:
    """A git repository with one commit, clean: the folder the runs start from. Its HEAD."""
    git = shutil.which("git")
    assert git, "git is needed on PATH"
    path.mkdir()

    def sh(*args: str) -> str:
        done = subprocess.run(
            [git, "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@e", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    sh("init", "-q")
    (path / "train.py").write_text("print('hi')\n")
    sh("add", "train.py")
    sh("commit", "-q", "-m", "first")
    return sh("rev-parse", "HEAD")


def only_record(directory: Path) -> tuple[Path, dict[str, Any]]:
    (path,) = sorted(directory.iterdir())
    return path, json.loads(path.read_text("utf-8"))


def test_a_recorded_run_and_its_listing(lab: Lab, docker_client, tmp_path: Path) -> None:
    work = tmp_path / "work"
    head = git_folder(work)
    runs = tmp_path / "runs"
    before = time.time()
    done = envforge(
        "run", "--no-tty", *RECORD_TO, str(runs), "--entrypoint", "sh -c", LAB_PYTHON,
        "--", "exit 3",
        env=lab.cli_env(), cwd=work, timeout=300,
    )  # fmt: skip
    elapsed = time.time() - before
    assert done.returncode == 3, done.stderr
    path, record = only_record(runs)
    assert done.stderr == f"recorded  {path}\n"

    image = docker_client.images.get(LAB_PYTHON)
    assert record["schema"] == 1
    assert record["image"] == {
        "ref": LAB_PYTHON,
        "id": image.id,
        "digest": image.attrs["RepoDigests"][0] if image.attrs.get("RepoDigests") else None,
    }
    assert record["exit_code"] == 3
    assert record["error"] is None
    assert record["command"] == {"entrypoint": ["sh", "-c"], "args": ["exit 3"]}
    assert record["git"] == {"commit": head, "dirty": False}
    assert record["gpus"] is None
    assert (record["lock_hash"], record["project"]) == (None, {"name": None, "version": None})
    assert record["host"]["status"] in DRIVER_STATUSES
    started = datetime.fromisoformat(record["started"])
    assert record["started"].endswith("Z")
    assert before - 1 <= started.timestamp() <= before + elapsed
    assert 0 < record["duration_s"] < elapsed
    assert path.name.startswith(started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ-python-"))

    listed = envforge("runs", str(runs), env=lab.cli_env())
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    header, row = listed.stdout.splitlines()
    assert len(LAB_PYTHON) == 38
    assert header == HEADER
    duration = f"{record['duration_s']:.1f}s"
    assert row == (
        f"{started.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}  3     {duration:<8}  {LAB_PYTHON}  "
        f"{head[:12]}  -"
    )

    as_json = envforge("runs", str(runs), "--json", env=lab.cli_env())
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [record]


@pytest.fixture
def no_gpu_here(docker_client) -> None:
    from envforge.engine.probe import probe_engine
    from envforge.host.nvidia import probe_driver

    if probe_driver().ok or probe_engine().gpu_capable:
        pytest.skip("this machine can run GPU containers: the engine would not refuse")


def test_a_run_the_engine_refuses_is_recorded(lab: Lab, no_gpu_here: None, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = envforge(
        "run", "--no-tty", *RECORD_TO, str(runs), "--gpus", "all", "--skip-checks",
        LAB_PYTHON, "--", "true",
        env=lab.cli_env(), cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    error = (
        f"Cannot run '{LAB_PYTHON}': could not select device driver \"\" with capabilities: [[gpu]]"
    )
    assert f"error: {error}" in done.stderr.splitlines()
    path, record = only_record(runs)
    assert f"recorded  {path}" in done.stderr.splitlines()
    assert record["exit_code"] is None
    assert record["error"] == error
    assert record["gpus"] == "all"
    assert record["git"] is None  # tmp_path is no git repository
    assert record["host"]["status"] != "ok"
    assert record["command"] == {"entrypoint": [], "args": ["true"]}

    listed = envforge("runs", str(runs), env=lab.cli_env())
    assert listed.returncode == 0
    row = listed.stdout.splitlines()[1]
    assert row.split()[1] == "error"
    assert row.endswith(f"  {LAB_PYTHON}  -       all (no GPU)")  # no commit: COMMIT is 6 wide


def test_no_runs_yet(lab: Lab, tmp_path: Path) -> None:
    done = envforge("runs", str(tmp_path / "none"), env=lab.cli_env())
    assert (done.returncode, done.stdout) == (0, f"no runs recorded in {tmp_path / 'none'}\n")
