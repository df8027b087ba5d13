"""`envforge run PATH`: the project's default tag, read without a plan; its run record."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.engine import client as engine
from envforge.errors import RunError
from envforge.host import nvidia
from envforge.host.facts import DriverFacts
from envforge.project import loader

runner = CliRunner()


class FakeImage:
    id = "sha256:" + "ab" * 32
    attrs: ClassVar[dict[str, Any]] = {"Id": id, "Config": {"Labels": {}}, "RepoDigests": []}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An engine that has every image and runs it to exit 0; the images run."""
    ran: list[str] = []

    def run_container(client: object, spec: engine.RunSpec) -> int:
        ran.append(spec.image)
        return 0

    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(engine, "get_image", lambda client, ref: FakeImage())
    monkeypatch.setattr(engine, "run_container", run_container)
    return ran


def test_a_project_whose_plan_fails_still_runs_its_built_image(
    example_copy: Any, started: list[str]
) -> None:
    project: Path = example_copy("cpu-sklearn")
    pyproject = project / "pyproject.toml"
    # A Python that requires-python (>=3.10) refuses: no plan can be made ...
    pyproject.write_text(pyproject.read_text() + '\n[tool.envforge]\npython = "3.9"\n')
    refused = runner.invoke(app, ["plan", str(project)])
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: Python 3.9 from [tool.envforge] python")
    # ... yet the image built before the edit runs: its tag is name:version.
    done = runner.invoke(app, ["run", "--no-tty", str(project)])
    assert done.exit_code == 0, done.output
    assert started == ["cpu-sklearn:0.1.0"]


def test_a_run_that_fails_says_where_its_record_went_before_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[str]
) -> None:
    def refuse(client: object, spec: engine.RunSpec) -> int:
        raise RunError(spec.image, "no such device")

    monkeypatch.setattr(engine, "run_container", refuse)
    monkeypatch.setattr(loader, "git_revision", lambda root: None)
    monkeypatch.setattr(
        nvidia,
        "probe_driver",
        lambda: DriverFacts(
            status="no-driver", source="nvml", driver_version=None, cuda_driver_version=None
        ),
    )
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    done = runner.invoke(app, ["run", "--no-tty", "--record", "--runs-dir", str(runs), "img:1"])
    assert done.exit_code == 1
    (path,) = runs.iterdir()
    assert done.stderr.splitlines()[:2] == [
        f"recorded  {path}",
        "error: Cannot run 'img:1': no such device",
    ]
