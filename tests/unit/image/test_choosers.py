"""The per-topic choosers on their own: plain values in, a value and its Decision out."""

from __future__ import annotations

from typing import get_args

import pytest

from envforge.image.options import BuildOptions, PythonSource, UvSource
from envforge.image.python import choose_python_source
from envforge.image.selection import Selection
from envforge.project.pyproject import Project
from envforge.project.settings import PYTHON_SOURCES, UV_SOURCES


def test_the_literals_name_the_values_settings_accept() -> None:
    assert get_args(PythonSource) == PYTHON_SOURCES
    assert get_args(UvSource) == UV_SOURCES


@pytest.mark.parametrize(
    ("asked", "system", "base_python", "source", "why"),
    [
        (None, False, None, "base", None),
        (None, True, None, "uv", "the base image carries no Python (nvidia/cuda)"),
        (None, False, "", "uv", "the named base image has no Python"),
        (None, False, "3.12.7", "base", None),
        (None, False, "3.11.2", "uv", "the named base image holds Python 3.11.2"),
        ("base", False, "", "base", None),  # asked wins over what the base holds
        ("uv", False, "3.12.7", "uv", "the base image carries no Python (nvidia/cuda)"),
    ],
)
def test_python_source(asked, system, base_python, source, why) -> None:
    project = Project.from_dict({"project": {"name": "app", "version": "1.0"}})
    named = {} if system or base_python is None else {"base_image": "local/py"}
    options = BuildOptions(python_source=asked, base_python=base_python, **named)
    gpu = "system" if system else "cpu"
    chosen, decision = choose_python_source(project, options, "3.12", gpu)
    assert chosen == source
    if why is None:
        assert decision is None
    else:
        assert decision is not None and decision.choice == "uv python install 3.12"
        assert decision.reason.startswith(why)


def test_a_member_is_synced_with_package_after_locked() -> None:
    selection = Selection((), (), ("--locked", "--no-dev", "--no-editable"))
    assert selection.for_member("api").sync_flags == (
        "--locked",
        "--package",
        "api",
        "--no-dev",
        "--no-editable",
    )
