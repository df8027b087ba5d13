"""Timeouts against the real engine: a silent build step is never cut by the request
timeout, and run_captured's timeout kills a probe that hangs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from envforge.engine import client as engine
from envforge.errors import RunError
from tests.integration.conftest import LAB_PYTHON, Lab


def test_a_silent_build_step_outlives_the_request_timeout(lab: Lab, tmp_path: Path) -> None:
    # Each ordinary request may wait 2 s here; the build's RUN prints nothing for 6 s.
    client = engine.connect(request_timeout=2)
    (tmp_path / "Dockerfile").write_text(f"FROM {LAB_PYTHON}\nRUN sleep 6\n")
    tag = f"envforge-robust-silent:{uuid.uuid4().hex[:8]}"
    try:
        built = engine.build_image(client, tmp_path, tag, nocache=True, out=lambda line: None)
        assert built.id.startswith("sha256:")
    finally:
        client.images.remove(tag, force=True)


def test_run_captured_kills_a_probe_that_hangs(lab: Lab) -> None:
    client = engine.connect()
    marker = f"import time; time.sleep(120)  # {uuid.uuid4().hex}"
    start = time.monotonic()
    with pytest.raises(RunError, match="timed out after 3 s"):
        engine.run_captured(client, LAB_PYTHON, ["-c", marker], entrypoint=["python3"], timeout=3)
    assert time.monotonic() - start < 15
    left = [
        c for c in client.containers.list(all=True) if marker in (c.attrs["Config"]["Cmd"] or [])
    ]
    assert not left, "the probe's container was not removed"


def test_run_captured_runs_as_the_user_given(lab: Lab) -> None:
    status, out, _ = engine.run_captured(
        engine.connect(), LAB_PYTHON, ["-c", "import os; print(os.getuid())"],
        entrypoint=["python3"], timeout=60, user="65534",
    )  # fmt: skip
    assert (status, out) == (0, "65534\n")
