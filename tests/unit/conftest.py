"""Shared data for the unit tests: the shipped example and the uv-made fixture locks.

Every fixture parses the files afresh, so a test may mutate what it gets.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CPU_SKLEARN = REPO / "examples" / "cpu-sklearn"
LOCK_FIXTURES = REPO / "tests" / "fixtures" / "locks"

# (pyproject.toml, uv.lock) of a fixture project, as tomllib dicts.
Loaded = tuple[dict[str, Any], dict[str, Any]]


def read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text("utf-8"))


@pytest.fixture
def sklearn_pyproject() -> dict[str, Any]:
    return read_toml(CPU_SKLEARN / "pyproject.toml")


@pytest.fixture
def sklearn_lock_data() -> dict[str, Any]:
    return read_toml(CPU_SKLEARN / "uv.lock")


@pytest.fixture
def fixture_project() -> Callable[[str], Loaded]:
    """(pyproject, uv.lock) of a project under tests/fixtures/locks/, as dicts."""

    def load(name: str) -> Loaded:
        folder = LOCK_FIXTURES / name
        return read_toml(folder / "pyproject.toml"), read_toml(folder / "uv.lock")

    return load


@pytest.fixture(autouse=True)
def _isolated(isolated_host: Path) -> None:
    """Every unit test runs on the recorded host of tests/conftest.py, never this machine."""
