"""The image's command and the console scripts that need more (image/command.py)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from envforge.image.options import BuildOptions
from envforge.project.facts import ProjectFacts
from tests.unit.conftest import LOCK_FIXTURES, read_toml
from tests.unit.image.planning import (
    FACTS,
    LOCK_HASH,
    plan,
    sklearn,
    with_tool,
)

# --- entrypoint ---------------------------------------------------------------------


def entrypoint_of(
    data: dict[str, Any], top_level: set[str] | None = None, mains: set[str] | None = None
) -> tuple[str, ...]:
    return command_of(data, top_level, mains)[0]


def command_of(
    data: dict[str, Any], top_level: set[str] | None = None, mains: set[str] | None = None
) -> tuple[tuple[str, ...], str]:
    facts = FACTS if top_level is None else replace(FACTS, top_level=frozenset(top_level))
    if mains is not None:
        facts = replace(facts, main_modules=frozenset(mains), packages=frozenset(mains))
    p = plan(data, facts)
    return p.entrypoint, next(d.reason for d in p.decisions if d.topic == "command")


def scripts(*names: str) -> dict[str, Any]:
    return sklearn(project={"scripts": {n: "cpu_sklearn.experiment:main" for n in names}})


def test_one_console_script() -> None:
    assert entrypoint_of(sklearn()) == ("cpu-sklearn",)


def test_settings_command_wins() -> None:
    data = with_tool(sklearn(), envforge={"command": "python -m cpu_sklearn --seed 1"})
    assert entrypoint_of(data) == ("python", "-m", "cpu_sklearn", "--seed", "1")


def test_several_scripts_take_the_one_named_like_the_project() -> None:
    argv, why = command_of(scripts("cpu_sklearn", "sk-train", "sk-eval"), mains=set())
    assert argv == ("cpu_sklearn",)  # cpu_sklearn normalises to the project's cpu-sklearn
    assert "(cpu_sklearn, sk-eval, sk-train)" in why
    assert "[tool.envforge] command" in why and "--entrypoint" in why


def test_several_scripts_none_named_like_the_project_run_its_main() -> None:
    argv, why = command_of(scripts("a", "b"))
    assert argv == ("python", "-m", "cpu_sklearn")
    assert why.startswith("2 console scripts in [project.scripts] (a, b), none named like")


def test_several_scripts_without_a_main_start_python() -> None:
    argv, why = command_of(scripts("a", "b"), mains=set())
    assert argv == ("python",)
    assert "2 console scripts in [project.scripts] (a, b)" in why
    assert "the image starts python" in why


def test_no_scripts_run_the_packages_main() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    argv, why = command_of(data)
    assert argv == ("python", "-m", "cpu_sklearn")
    assert "runs cpu_sklearn/__main__.py" in why


def test_the_main_of_a_package_named_otherwise() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    assert entrypoint_of(data, mains={"sklab"}) == ("python", "-m", "sklab")


def test_several_mains_take_the_one_named_like_the_project() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    assert entrypoint_of(data, mains={"other", "cpu_sklearn"}) == ("python", "-m", "cpu_sklearn")
    argv, why = command_of(data, mains={"one", "two"})
    assert argv == ("python",)
    assert "2 modules with a __main__.py (one, two)" in why


def test_a_library_with_nothing_to_run_starts_python() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    argv, why = command_of(data, mains=set())
    assert argv == ("python",)
    assert why.startswith("nothing to run: no console script, no __main__.py in its packages")
    assert "envforge run PATH -- -m MODULE" in why


def test_non_package_with_main_py() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    assert entrypoint_of(data, {"pyproject.toml", "uv.lock", "main.py"}) == ("python", "main.py")
    assert plan(data).install_project is False


def test_non_package_with_a_main_module() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    top = {"pyproject.toml", "uv.lock", "app"}
    assert entrypoint_of(data, top, {"app"}) == ("python", "-m", "app")


def test_non_package_with_nothing_to_run_starts_python() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    argv, why = command_of(data, {"pyproject.toml", "uv.lock", "app.py"}, set())
    assert argv == ("python",)
    # uv installs no entry point of a project that is not a package
    assert why.startswith("[project.scripts] are not installed: the project is not a package")


def test_package_with_main_py_still_uses_its_script() -> None:
    assert entrypoint_of(sklearn(), {"pyproject.toml", "main.py"}) == ("cpu-sklearn",)


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("lib-only", ("python",)),  # a library: nothing to run
        ("main-module", ("python", "-m", "runme")),  # runme/__main__.py; gui-scripts ignored
        ("with-local-lib", ("with-local-lib",)),
        ("script-needs-extra", ("python",)),  # its script imports click: the cli extra's
    ],
)
def test_fixture_projects_commands(name: str, command: tuple[str, ...]) -> None:
    from tests.unit.helpers import plan_for

    assert plan_for(LOCK_FIXTURES.parent / "projects" / name).entrypoint == command


NEEDS_EXTRA = LOCK_FIXTURES.parent / "projects" / "script-needs-extra"
NEEDS_PYPROJECT = read_toml(NEEDS_EXTRA / "pyproject.toml")
NEEDS_LOCK = read_toml(NEEDS_EXTRA / "uv.lock")


def needs_command(
    imports: set[str],
    *,
    project: dict[str, Any] | None = None,
    mains: set[str] | None = None,
    **options: Any,
) -> tuple[tuple[str, ...], str]:
    """The command for the script-needs-extra fixture whose script imports `imports`."""
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"].update(project or {})
    facts = ProjectFacts(
        lock_hash=LOCK_HASH,
        packages=frozenset({"script_needs_extra"}),
        main_modules=frozenset(mains or ()),
        script_imports={s: frozenset(imports) for s in data["project"]["scripts"]},
    )
    p = plan(data, facts, NEEDS_LOCK, **options)
    return p.entrypoint, next(d.reason for d in p.decisions if d.topic == "command")


NEEDS_CLI = "script-needs-extra needs the extra 'cli' (imports click): add --extra cli to use it"


def test_fixture_script_that_needs_an_extra() -> None:
    from tests.unit.helpers import plan_for

    p = plan_for(NEEDS_EXTRA)
    decision = next(d for d in p.decisions if d.topic == "command")
    assert p.entrypoint == ("python",)
    assert decision.reason.startswith(NEEDS_CLI + ": the image starts python")
    assert plan_for(NEEDS_EXTRA, BuildOptions(extras=("cli",))).entrypoint == (
        "script-needs-extra",
    )
    assert plan_for(NEEDS_EXTRA, BuildOptions(all_extras=True)).entrypoint == (
        "script-needs-extra",
    )


def test_a_script_whose_module_lives_in_an_extras_package_needs_that_extra() -> None:
    # No import of its own to read: the entry point itself names click's module.
    argv, why = needs_command(
        set(), project={"scripts": {"script-needs-extra": "click.testing:main"}}
    )
    assert argv == ("python",)
    assert why.startswith(NEEDS_CLI)


def test_a_script_that_needs_an_extra_falls_back_to_the_main_module() -> None:
    argv, why = needs_command({"click", "six", "os"}, mains={"script_needs_extra"})
    assert argv == ("python", "-m", "script_needs_extra")
    assert why.startswith(NEEDS_CLI + "; runs script_needs_extra/__main__.py")


@pytest.mark.parametrize(
    "imports",
    [
        set(),
        {"six", "os", "sys"},  # installed, or the stdlib
        {"clickx", "yaml"},  # no locked package of that name
        {"script_needs_extra"},  # its own package
    ],
)
def test_imports_that_need_no_extra_keep_the_script(imports: set[str]) -> None:
    argv, why = needs_command(imports)
    assert argv == ("script-needs-extra",), why


def test_a_locked_package_from_a_group_names_the_group() -> None:
    argv, why = needs_command({"iniconfig"})
    assert argv == ("python",)
    assert why.startswith(
        "script-needs-extra needs the group 'dev' (imports iniconfig): add --group dev to use it"
    )
    assert needs_command({"iniconfig"}, groups=("dev",))[0] == ("script-needs-extra",)


def test_import_names_are_compared_canonicalised() -> None:
    assert needs_command({"Click"})[0] == ("python",)


def test_an_entry_point_that_names_an_extra() -> None:
    value = {"scripts": {"script-needs-extra": "script_needs_extra.cli:main [cli]"}}
    argv, why = needs_command(set(), project=value)
    assert argv == ("python",)
    assert "needs the extra 'cli' (its entry point names [cli]): add --extra cli" in why
    assert needs_command(set(), project=value, extras=("cli",))[0] == ("script-needs-extra",)
    # An extra it names that is not the project's says nothing.
    other = {"scripts": {"script-needs-extra": "script_needs_extra.cli:main [nope]"}}
    assert needs_command(set(), project=other)[0] == ("script-needs-extra",)


def test_of_several_scripts_the_one_named_like_the_project_needs_an_extra() -> None:
    several = {
        "scripts": {
            "script-needs-extra": "script_needs_extra.cli:main",
            "other": "script_needs_extra:other",
        }
    }
    argv, why = needs_command({"click"}, project=several)
    assert argv == ("python",)
    assert why.startswith(
        "2 console scripts in [project.scripts] (other, script-needs-extra); " + NEEDS_CLI
    )
    assert needs_command({"click"}, project=several, extras=("cli",))[0] == ("script-needs-extra",)


def test_the_command_setting_wins_over_a_script_that_needs_an_extra() -> None:
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["tool"] = {"envforge": {"command": ["script-needs-extra"]}}
    facts = ProjectFacts(
        lock_hash=LOCK_HASH, script_imports={"script-needs-extra": frozenset({"click"})}
    )
    assert plan(data, facts, NEEDS_LOCK).entrypoint == ("script-needs-extra",)


def test_a_broken_entry_only_an_extra_reaches_tells_nothing() -> None:
    lock = copy.deepcopy(NEEDS_LOCK)
    root = next(p for p in lock["package"] if p["name"] == "script-needs-extra")
    root["optional-dependencies"]["broken"] = [{"name": "missing-package"}]
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"]["optional-dependencies"]["broken"] = ["missing-package"]
    facts = ProjectFacts(
        lock_hash=LOCK_HASH, script_imports={"script-needs-extra": frozenset({"click"})}
    )
    p = plan(data, facts, lock)
    assert p.entrypoint == ("python",)


def test_the_plan_lists_every_script_that_needs_more() -> None:
    several = {
        "scripts": {
            "script-needs-extra": "script_needs_extra.cli:main",
            "other": "script_needs_extra:other",
        }
    }
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"].update(several)
    facts = ProjectFacts(
        lock_hash=LOCK_HASH,
        script_imports={"script-needs-extra": frozenset(), "other": frozenset({"iniconfig"})},
    )
    p = plan(data, facts, NEEDS_LOCK)
    assert p.entrypoint == ("script-needs-extra",)
    assert p.scripts_needing == {
        "other": "the group 'dev' (imports iniconfig): add --group dev to use it"
    }
    decision = next(d for d in p.decisions if d.topic == "scripts")
    assert decision.choice == "1 of 2 need more than the image installs"
    assert decision.reason == (
        "other needs the group 'dev' (imports iniconfig): add --group dev to use it: "
        "the smoke check expects them not to load"
    )
    assert plan(data, facts, NEEDS_LOCK, groups=("dev",)).scripts_needing == {}


def test_the_extra_that_brings_least_is_named() -> None:
    data = copy.deepcopy(NEEDS_PYPROJECT)
    data["project"]["optional-dependencies"]["all"] = ["click>=8.1", "iniconfig>=2"]
    lock = copy.deepcopy(NEEDS_LOCK)
    root = next(p for p in lock["package"] if p["name"] == "script-needs-extra")
    root["optional-dependencies"]["all"] = [{"name": "click"}, {"name": "iniconfig"}]
    facts = ProjectFacts(
        lock_hash=LOCK_HASH, script_imports={"script-needs-extra": frozenset({"click"})}
    )
    assert (
        plan(data, facts, lock)
        .scripts_needing["script-needs-extra"]
        .startswith("the extra 'cli' (imports click)")
    )


# --- the command in the image: absolute paths ----------------------------------------


@pytest.mark.parametrize(
    ("chosen", "written"),
    [
        (("cpu-sklearn",), ("/app/.venv/bin/cpu-sklearn",)),
        (("cpu-sklearn", "--seed", "1"), ("/app/.venv/bin/cpu-sklearn", "--seed", "1")),
        (("python",), ("/app/.venv/bin/python",)),
        (("python3.11", "-m", "pkg.run"), ("/app/.venv/bin/python3.11", "-m", "pkg.run")),
        (("python", "main.py", "--serve"), ("/app/.venv/bin/python", "/app/main.py", "--serve")),
        (("python", "-u", "-X", "dev", "runs/./t.py"), ("/app/.venv/bin/python", "-u", "-X", "dev", "/app/runs/t.py")),
        (("python", "-c", "print(1)"), ("/app/.venv/bin/python", "-c", "print(1)")),
        (("python", "/opt/x.py"), ("/app/.venv/bin/python", "/opt/x.py")),
        (("gunicorn", "app:app"), ("gunicorn", "app:app")),  # on the PATH: not the project's
        (("/usr/bin/env", "x"), ("/usr/bin/env", "x")),
    ],
)  # fmt: skip
def test_the_image_runs_the_command_by_absolute_paths(
    chosen: tuple[str, ...], written: tuple[str, ...]
) -> None:
    from envforge.image.command import in_image
    from envforge.project.pyproject import Project

    assert in_image(chosen, Project.from_dict(sklearn())) == written


def test_the_plan_says_why_the_command_is_absolute() -> None:
    p = plan(sklearn(), FACTS)
    decision = next(d for d in p.decisions if d.topic == "command")
    assert (p.entrypoint, p.image_entrypoint) == (("cpu-sklearn",), ("/app/.venv/bin/cpu-sklearn",))
    assert decision.choice == "/app/.venv/bin/cpu-sklearn"
    assert decision.reason.endswith(
        "written into the image by absolute path, so that it starts from any working "
        "directory, as Apptainer and Pyxis run it (from the host's, not /app)"
    )
