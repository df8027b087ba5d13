"""Extras, dependency groups and the uv sync flags for them (image/selection.py)."""

from __future__ import annotations

from tests.unit.image.planning import (
    plan,
    plan_error,
    sklearn,
    with_tool,
)

# --- dependencies: uv sync flags ----------------------------------------------------


def test_default_sync_flags() -> None:
    p = plan()
    assert p.sync_flags == ("--locked", "--no-dev", "--no-editable")
    assert (p.extras, p.groups) == ((), ())


def test_groups_switch_off_default_groups() -> None:
    p = plan(groups=("dev",))
    assert p.sync_flags == ("--locked", "--no-default-groups", "--group", "dev", "--no-editable")
    assert p.groups == ("dev",)


def test_groups_from_settings_and_deduplicated() -> None:
    data = with_tool(sklearn(), envforge={"groups": ["dev", "dev"]})
    assert plan(data).groups == ("dev",)


def test_other_default_groups_are_all_left_out() -> None:
    data = with_tool(
        sklearn(**{"dependency-groups": {"lint": ["ruff>=0.6"]}}),
        uv={"default-groups": ["dev", "lint"]},
    )
    p = plan(data)
    assert p.sync_flags == ("--locked", "--no-default-groups", "--no-editable")


def test_extras() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    p = plan(data, extras=("plots",))
    assert p.extras == ("plots",)
    assert p.sync_flags == ("--locked", "--no-dev", "--extra", "plots", "--no-editable")


def test_all_extras() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    p = plan(data, all_extras=True)
    assert p.extras == ("gpu", "plots")
    assert p.sync_flags == ("--locked", "--no-dev", "--all-extras", "--no-editable")
    assert p.labels["dev.envforge.extras"] == "gpu,plots"


def test_unknown_extra_names_the_known_ones() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    error = plan_error(data, extras=("cuda",))
    assert error.message == "Unknown extra 'cuda'"
    assert error.hint == "The project's extras: gpu, plots."


def test_unknown_extra_when_there_are_none() -> None:
    assert plan_error(extras=("cuda",)).hint == "The project's extras: none."


def test_unknown_group_names_the_known_ones() -> None:
    error = plan_error(groups=("docs",))
    assert error.message == "Unknown dependency group 'docs'"
    assert error.hint == "The project's groups: dev."


def test_sync_flags_are_argv_words() -> None:
    p = plan(sklearn(), groups=("dev",))
    assert "--group" in p.sync_flags and "dev" in p.sync_flags
