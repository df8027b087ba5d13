"""The .dockerignore and the default-ignored folders that hold code (image/dockerignore.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from envforge.image.dockerignore import dockerignore_patterns
from envforge.image.plan import Plan
from tests.unit.image.planning import (
    FACTS,
    plan,
    sklearn,
    with_tool,
)

# --- .dockerignore ------------------------------------------------------------------


def test_default_dockerignore() -> None:
    lines = dockerignore_patterns((), ())
    for pattern in (
        ".venv",
        ".git",
        "**/*.pem",
        "**/*.key",
        ".env",
        "data",
        "models",
        "**/__pycache__",
    ):
        assert pattern in lines
    assert not any(line.startswith("!") for line in lines)
    assert plan().dockerignore == lines


def test_include_removes_a_default() -> None:
    lines = dockerignore_patterns((), ("data",))
    assert "data" not in lines
    assert "!data" not in lines
    assert "models" in lines


def test_include_under_a_default_is_reincluded() -> None:
    lines = dockerignore_patterns((), ("data/keep.csv",))
    assert "data" in lines
    assert lines[-2:] == ("# From [tool.envforge] include", "!data/keep.csv")
    assert lines.index("data") < lines.index("!data/keep.csv")  # later lines win in Docker


def test_exclude_adds_lines() -> None:
    lines = dockerignore_patterns(("notebooks", "*.parquet"), ())
    assert lines[-3:] == ("# From [tool.envforge] exclude", "notebooks", "*.parquet")


def test_including_a_whole_section_drops_its_comment() -> None:
    lines = dockerignore_patterns((), (".git", ".hg", ".svn"))
    assert not any("Version control" in line for line in lines)


def test_settings_reach_the_plans_dockerignore() -> None:
    data = with_tool(sklearn(), envforge={"include": ["models"], "exclude": ["scratch"]})
    lines = plan(data).dockerignore
    assert "models" not in lines and "scratch" in lines


# --- default-ignored folders that exist here: said in the plan, kept when they hold code ---


def _context(pyproject: dict[str, Any] | None = None, **folders: bool) -> tuple[Plan, Any]:
    facts = replace(FACTS, ignored_folders=tuple(sorted(folders.items())))
    p = plan(pyproject, facts=facts)
    return p, next((d for d in p.decisions if d.topic == "context"), None)


def test_existing_ignored_folders_are_named() -> None:
    p, decision = _context(**{".venv": False, ".git": False, "data": False, "outputs": False})
    assert decision.choice == "leaves out .git, .venv, data, outputs"
    assert decision.reason.startswith(
        "of the folders envforge's default .dockerignore names, .git, .venv, data, outputs exist "
        "here and stay out of the build context (list one under [tool.envforge] include to ship it)"
    )
    assert {"data", "outputs", ".venv"} <= set(p.dockerignore)


def test_a_folder_with_python_files_is_kept() -> None:
    p, decision = _context(data=False, models=True)
    assert decision.choice == "leaves out data; keeps models"
    assert "models holds .py files (the project's own code)" in decision.reason
    assert "models" not in p.dockerignore and "data" in p.dockerignore
    assert "!models" not in p.dockerignore


def test_caches_and_venvs_are_never_kept_for_their_python() -> None:
    p, decision = _context(**{"venv": True, ".venv": True, ".cache": True})
    assert decision.choice == "leaves out .cache, .venv, venv"
    assert {"venv", ".venv", ".cache"} <= set(p.dockerignore)


@pytest.mark.parametrize(
    ("envforge", "scripts", "kept"),
    [
        ({"command": ["python", "runs/train.py"]}, {}, "runs"),
        ({"command": ["python", "/app/outputs/serve.py"]}, {}, "outputs"),
        ({"command": ["python", "-m", "build.tool"]}, {}, "build"),
        ({"command": ["train", "--config=checkpoints/last.yaml"]}, {}, "checkpoints"),
        ({}, {"cpu-sklearn": "data.cli:main"}, "data"),
    ],
)
def test_a_folder_the_command_names_is_kept(envforge, scripts, kept) -> None:
    data = with_tool(sklearn(project={"scripts": scripts} if scripts else {}), envforge=envforge)
    p, decision = _context(data, **{kept: False})
    assert decision.choice == f"keeps {kept}"
    assert f"{kept} is named by the command or [project.scripts]" in decision.reason
    assert kept not in p.dockerignore


def test_exclude_wins_over_code_and_include_is_not_repeated() -> None:
    data = with_tool(sklearn(), envforge={"exclude": ["models"], "include": ["data"]})
    p, decision = _context(data, models=True, data=False)
    assert decision.choice == "leaves out models"
    assert "models" in p.dockerignore and "data" not in p.dockerignore


def test_no_ignored_folder_no_line() -> None:
    assert _context()[1] is None
