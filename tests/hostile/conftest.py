from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_host: Path) -> None:
    """The hostile corpus runs on the recorded host of tests/conftest.py: its fake engines
    are the only ones it may reach (a case that sets none sees a dead DOCKER_HOST)."""
