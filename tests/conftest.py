from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture
def example_copy(tmp_path: Path):
    """A fresh copy of an example project, so tests may write into it."""
    import shutil

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(
            EXAMPLES / name,
            dest,
            ignore=shutil.ignore_patterns(".venv", "__pycache__", "Dockerfile", ".dockerignore"),
        )
        return dest

    return copy
