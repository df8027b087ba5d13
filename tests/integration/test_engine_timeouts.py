"""Timeouts against the real engine: a silent build step is never cut by the request
timeout, and run_captured's timeout kills a probe that hangs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from envforge.engine import client as engine
from envforge.errors import RunError
from tests.integration.conftest import LAB_PYTHON, Lab


def test_a_silent_build_step_outlives_the_request_timeout(lab: Lab, tmp_path: Path) -> None:
    # Each ordinary request may wait 2 s here; the build's RUN prints nothing for 6 s.
    client = engine.connect(request_timeout=2)
    (tmp_path / "Dockerfile").write_text(f"FROM {LAB_PYTHON}\nRUN sleep 6\n")
    tag = f"labels-silent:{uuid.uuid4().hex[:8]}"
    try:
        built = engine.build_image(client, tmp_path, tag, nocache=True, out=lambda line: None)
        assert built.id.startswith("sha256:")
    finally:
        client.images.remove(tag, force=True)


@pytest.mark.parametrize(
    "script",
    ["sleep 3600", "while true; do echo still here; sleep 0.2; done"],
    ids=["silent", "chatty"],
)
def test_run_captured_kills_a_probe_that_hangs(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, script: str
) -> None:
    """A probe that never ends (silent, or printing forever so that its output stream
    never closes) is killed at its timeout: the call raises soon after, and the container
    is gone."""
    from docker.models.containers import ContainerCollection

    created: list[str] = []
    create = ContainerCollection.create

    def spy(self: ContainerCollection, *args: Any, **kwargs: Any) -> Any:
        container = create(self, *args, **kwargs)
        created.append(container.id)
        return container

    monkeypatch.setattr(ContainerCollection, "create", spy)
    client = engine.connect()
    start = time.monotonic()
    with pytest.raises(RunError, match="timed out after 3 s"):
        engine.run_captured(
            client, LAB_PYTHON, ["-c", script, f"envforge-labels-hang-{uuid.uuid4().hex[:8]}"],
            entrypoint=["sh"], timeout=3,
        )  # fmt: skip
    elapsed = time.monotonic() - start
    assert 3 <= elapsed < 10, f"run_captured returned after {elapsed:.1f} s"
    (container_id,) = created
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container_id)


def test_run_captured_runs_as_the_user_given(lab: Lab) -> None:
    status, out, _ = engine.run_captured(
        engine.connect(), LAB_PYTHON, ["-c", "import os; print(os.getuid())"],
        entrypoint=["python3"], timeout=60, user="65534",
    )  # fmt: skip
    assert (status, out) == (0, "65534\n")
