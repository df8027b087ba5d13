"""uv workspaces: a member is built from the workspace root's lock (--package), a member's
own folder and a virtual root without --package are refused with the way to build them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envforge import loader
from envforge.catalog import load_catalog
from envforge.errors import InvalidProjectError, LockError, PlanError
from envforge.loader import enclosing_workspace, load_project, workspace_members
from envforge.plan import BuildOptions, make_plan
from envforge.render import render_dockerfile
from tests.conftest import REPO

WORKSPACE = REPO / "tests/fixtures/projects/workspace"
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(WORKSPACE, root, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    return root


def test_members_from_globs() -> None:
    table = {"members": ["packages/*"]}
    assert workspace_members(WORKSPACE, table) == {
        "ws-app": "packages/ws-app",
        "ws-lib": "packages/ws-lib",
    }
    table = {"members": ["packages/*"], "exclude": ["packages/ws-lib"]}
    assert workspace_members(WORKSPACE, table) == {"ws-app": "packages/ws-app"}


@pytest.mark.parametrize("pattern", ["../*", "/etc", "packages/../../x", " "])
def test_member_patterns_stay_inside(pattern: str) -> None:
    with pytest.raises(InvalidProjectError):
        workspace_members(WORKSPACE, {"members": [pattern]})


def test_member_folder_with_odd_characters_is_refused(ws: Path) -> None:
    odd = ws / "packages" / "bad name"
    shutil.copytree(ws / "packages/ws-lib", odd)
    (odd / "pyproject.toml").write_text(
        (odd / "pyproject.toml").read_text().replace('"ws-lib"', '"ws-odd"')
    )
    with pytest.raises(InvalidProjectError, match="characters envforge does not copy"):
        workspace_members(ws, {"members": ["packages/*"]})


def test_virtual_root_without_package_is_refused_with_members() -> None:
    with pytest.raises(PlanError) as info:
        load_project(WORKSPACE, check_lock=False)
    assert "virtual uv workspace root" in str(info.value)
    assert "--package NAME (members: ws-app, ws-lib)" in (info.value.hint or "")


def test_member_folder_is_refused_with_the_root_and_package() -> None:
    with pytest.raises(LockError) as info:
        load_project(WORKSPACE / "packages/ws-app", check_lock=False)
    assert "member ws-app of the uv workspace" in str(info.value)
    assert f"envforge build {WORKSPACE} --package ws-app" in (info.value.hint or "")
    assert enclosing_workspace(WORKSPACE / "packages/ws-lib") == WORKSPACE
    assert enclosing_workspace(REPO / "examples/cpu-sklearn") is None


def test_unknown_package_and_package_outside_a_workspace() -> None:
    with pytest.raises(PlanError, match="No member 'nope'"):
        load_project(WORKSPACE, check_lock=False, package="nope")
    with pytest.raises(PlanError, match="not a uv workspace root"):
        load_project(REPO / "examples/cpu-sklearn", check_lock=False, package="x")


def test_member_loads_with_the_roots_lock() -> None:
    loaded = load_project(WORKSPACE, check_lock=False, package="WS_App")
    assert loaded.root == WORKSPACE
    assert loaded.project.name == "ws-app"
    assert loaded.lock.root is not None and loaded.lock.root.name == "ws-app"
    assert [r.name for r in loaded.lock.root_metadata.requires_dist] == ["ws-lib"]
    assert loaded.facts.workspace_member == "packages/ws-app"
    assert loaded.facts.python_version_file == "3.11\n"  # the root's


def plan_member(package: str = "ws-app"):
    loaded = load_project(WORKSPACE, check_lock=False, package=package)
    return make_plan(loaded.project, loaded.lock, loaded.facts, load_catalog(), BuildOptions())


def test_plan_syncs_the_member_and_says_so() -> None:
    plan = plan_member()
    assert plan.sync_flags[:3] == ("--locked", "--package", "ws-app")
    assert plan.local_paths == ("packages/ws-lib",)
    assert plan.member_manifests == ("packages/ws-app",)
    assert plan.member_dir == "packages/ws-app"
    assert plan.entrypoint == ("ws-app",)
    assert plan.default_tag == "ws-app:0.1.0"
    workspace = next(d for d in plan.decisions if d.topic == "workspace")
    assert workspace.choice == "member ws-app (packages/ws-app)"
    assert "uv sync --package" in workspace.reason


def test_render_copies_the_members_pyproject_and_builds_its_folder() -> None:
    text = render_dockerfile(plan_member())
    deps, project = text.split("\nFROM deps AS project\n")
    assert 'COPY ["packages/ws-lib", "packages/ws-lib"]\n' in deps
    assert 'COPY ["packages/ws-app/pyproject.toml", "packages/ws-app/pyproject.toml"]\n' in deps
    assert (
        "RUN uv sync --locked --package ws-app --no-dev --no-editable --no-install-project" in deps
    )
    assert "--out-dir /tmp/dist /src/packages/ws-app > /tmp/build.log" in project


def test_the_library_member_plans_too() -> None:
    plan = plan_member("ws-lib")
    # ws-lib installs no member: ws-app (and ws-lib itself) come by their pyproject.toml alone.
    assert plan.local_paths == ()
    assert plan.member_manifests == ("packages/ws-app", "packages/ws-lib")
    assert plan.sync_flags[1:3] == ("--package", "ws-lib")
    text = render_dockerfile(plan)
    assert 'COPY ["packages/ws-app/pyproject.toml", "packages/ws-app/pyproject.toml"]\n' in text
    assert 'COPY ["packages/ws-app", "packages/ws-app"]\n' not in text


@needs_uv
def test_member_lock_check_with_uv(ws: Path) -> None:
    assert load_project(ws, package="ws-app").freshness == "uv lock --check --offline"
    lib = ws / "packages/ws-lib/pyproject.toml"
    lib.write_text(lib.read_text().replace("dependencies = []", 'dependencies = ["six"]'))
    with pytest.raises(LockError, match="out of date"):
        load_project(ws, package="ws-app")


def test_member_lock_check_without_uv(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader.shutil, "which", lambda _: None)
    assert load_project(ws, package="ws-app").freshness.startswith("recorded requirements match")
    lib = ws / "packages/ws-lib/pyproject.toml"
    lib.write_text(lib.read_text().replace("dependencies = []", 'dependencies = ["six"]'))
    with pytest.raises(LockError, match="packages/ws-lib: dependencies: six"):
        load_project(ws, package="ws-app")


def test_readme_takes_package_too(ws: Path) -> None:
    from typer.testing import CliRunner

    from envforge.cli import app

    done = CliRunner().invoke(app, ["readme", str(ws), "--package", "ws-app", "--create"])
    assert done.exit_code == 0, done.output
    assert "ws-app" in (ws / "README.md").read_text()


def test_package_naming_the_roots_own_project_builds_the_root() -> None:
    root = REPO / "tests/fixtures/projects/with-local-lib"
    loaded = load_project(root, check_lock=False, package="With_Local_Lib")
    assert loaded.facts.workspace_member is None and loaded.project.name == "with-local-lib"
