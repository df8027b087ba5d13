"""The templates' compiled code, cached under XDG_CACHE_HOME: the same Dockerfile from a
warm, a corrupt or an unwritable cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envforge.image import render
from envforge.image.options import BuildOptions
from envforge.image.render import render_dockerfile, render_dockerignore
from tests.conftest import EXAMPLES
from tests.unit.helpers import plan_for


@pytest.fixture
def fresh_environment() -> Iterator[None]:
    """A jinja2 environment made in this test (with this test's XDG_CACHE_HOME)."""
    render._environment.cache_clear()
    yield
    render._environment.cache_clear()


def _both(builder: str) -> tuple[str, str]:
    plan = plan_for(EXAMPLES / "cpu-sklearn", BuildOptions(builder=builder))  # type: ignore[arg-type]
    return render_dockerfile(plan), render_dockerignore(plan)


def _jinja_cache() -> Path:
    return Path(render._environment().bytecode_cache.directory)  # type: ignore[union-attr]


@pytest.mark.usefixtures("fresh_environment")
@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_warm_and_corrupt_caches_render_the_same(builder: str, tmp_path: Path) -> None:
    cold = _both(builder)
    folder = _jinja_cache()
    entries = sorted(folder.iterdir())
    assert entries  # compiled code was stored
    render._environment.cache_clear()
    assert _both(builder) == cold  # from the stored code
    for entry in entries:
        entry.write_bytes(b"\x00garbage")
    render._environment.cache_clear()
    assert _both(builder) == cold  # compiled afresh


@pytest.mark.usefixtures("fresh_environment")
def test_an_unwritable_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _both("classic")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    render._environment.cache_clear()
    assert _both("classic") == expected
