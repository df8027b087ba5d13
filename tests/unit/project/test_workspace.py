"""uv workspaces: a member is built from the workspace root's lock (--package), a member's
own folder and a virtual root without --package are refused with the way to build them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envforge.errors import InvalidProjectError, LockError, PlanError
from envforge.image.bases import load_catalog
from envforge.image.plan import BuildOptions, make_plan
from envforge.image.render import render_dockerfile
from envforge.project import loader, lockcheck, workspace
from envforge.project.loader import load_project
from envforge.project.workspace import enclosing_workspace, workspace_members
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
    monkeypatch.setattr(lockcheck.shutil, "which", lambda _: None)
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


# A member that depends on the workspace root's own project (modelcontextprotocol/python-sdk's
# shape): the root is left out of uv sync and built with the member in the project stage.
MCP = REPO / "tests/fixtures/modelled/mcp-python-sdk"


def plan_mcp(root: Path = MCP, package: str = "relay-echo-server"):
    loaded = load_project(root, check_lock=False, package=package)
    return make_plan(loaded.project, loaded.lock, loaded.facts, load_catalog(), BuildOptions())


def test_a_member_on_the_root_builds_the_root_too() -> None:
    plan = plan_mcp()
    assert plan.root_package == "relay"
    assert plan.root_build_requires == ()  # hatchling, as the member's
    assert plan.local_paths == ()
    decision = next(d for d in plan.decisions if d.topic == "workspace root")
    assert "--no-install-package" in decision.reason
    text = render_dockerfile(plan)
    deps, project = text.split("\nFROM deps AS project\n")
    assert (
        "RUN uv sync --locked --package relay-echo-server --no-dev --no-editable "
        "--no-install-project --no-install-package relay \\\n" in deps
    )
    # The environment layer holds no code: only the manifests reach it, never src/.
    assert "src" not in "".join(ln for ln in deps.splitlines() if ln.startswith("COPY"))
    assert (
        "--out-dir /tmp/dist /src/examples/servers/relay-echo-server > /tmp/build.log 2>&1 \\\n"
        " && uv build --wheel --no-build-isolation --python /opt/build-env/bin/python "
        "--out-dir /tmp/dist /src >> /tmp/build.log 2>&1 \\\n || { tail" in project
    )
    assert "--prefix /opt/project /tmp/dist/*.whl" in project


def test_a_virtual_root_has_nothing_to_build() -> None:
    plan = plan_member()
    assert plan.root_package is None
    text = render_dockerfile(plan)
    assert "--no-install-package" not in text
    assert "/tmp/dist /src >>" not in text


def test_the_roots_own_build_requires_join_the_build_env(tmp_path: Path) -> None:
    root = tmp_path / "sdk"
    shutil.copytree(MCP, root)
    manifest = root / "pyproject.toml"
    manifest.write_text(
        manifest.read_text().replace(
            'requires = ["hatchling"]', 'requires = ["hatchling", "uv-dynamic-versioning"]'
        )
    )
    plan = plan_mcp(root)
    assert plan.root_build_requires == ("uv-dynamic-versioning",)
    assert "bin/python hatchling uv-dynamic-versioning \\\n" in render_dockerfile(plan)


def test_the_root_is_built_only_when_the_selection_installs_it(tmp_path: Path) -> None:
    root = tmp_path / "sdk"
    shutil.copytree(MCP, root)
    lock = root / "uv.lock"
    text = lock.read_text()
    # relay-echo-client reaches relay through its dev group only.
    start = text.index('name = "relay-echo-client"')
    block = text[start : text.index("[[package]]", start)]
    moved = block.replace(
        'dependencies = [\n    { name = "relay" },\n]\n',
        'dependencies = []\n\n[package.dev-dependencies]\ndev = [{ name = "relay" }]\n',
    )
    assert moved != block
    lock.write_text(text.replace(block, moved))
    manifest = root / "examples/clients/relay-echo-client/pyproject.toml"
    manifest.write_text(
        manifest.read_text().replace('dependencies = ["relay"]', "dependencies = []")
        + '\n[dependency-groups]\ndev = ["relay"]\n'
    )
    plan = plan_mcp(root, "relay-echo-client")
    assert plan.root_package is None  # --no-dev: uv installs no relay, nor does the stage
    assert "--no-install-package" not in render_dockerfile(plan)
    loaded = load_project(root, check_lock=False, package="relay-echo-client")
    with_dev = make_plan(
        loaded.project, loaded.lock, loaded.facts, load_catalog(), BuildOptions(groups=("dev",))
    )
    assert with_dev.root_package == "relay"


def test_the_backend_hook_runs_in_the_members_folder() -> None:
    from dataclasses import replace

    text = render_dockerfile(replace(plan_member(), build_requires_hook="deps"))
    assert "RUN cd /app/packages/ws-app && /opt/build-env/bin/python -c" in text
    text = render_dockerfile(replace(plan_member(), build_requires_hook="project"))
    assert "RUN cd /src/packages/ws-app && /opt/build-env/bin/python -c" in text


def test_members_glob_skips_hidden_and_heavy_folders(tmp_path: Path) -> None:
    for folder in ("pkgs/a", ".venv/lib/x", "node_modules/y", "pkgs/b/.tox/z", "venv/w"):
        (tmp_path / folder).mkdir(parents=True)
        name = folder.replace("/", "-").replace(".", "")
        (tmp_path / folder / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
    assert workspace_members(tmp_path, {"members": ["**"]}) == {"pkgs-a": "pkgs/a"}


def test_members_glob_is_read_only_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(20):
        (tmp_path / "pkgs" / f"p{n:02}").mkdir(parents=True)
    read: list[Path] = []

    def glob(self: Path, pattern: str):
        for hit in sorted((tmp_path / "pkgs").iterdir()):
            read.append(hit)
            yield hit

    monkeypatch.setattr(workspace, "_MAX_GLOB_HITS", 5)
    monkeypatch.setattr(Path, "glob", glob)
    assert workspace_members(tmp_path, {"members": ["pkgs/*"]}) == {}
    assert len(read) == 5  # stopped reading at the cap, not after the whole walk


def _invoke(args: list[str]):
    from typer.testing import CliRunner

    from envforge.cli import app

    return CliRunner().invoke(app, args)


def test_verify_takes_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge import verify

    seen: dict[str, object] = {}

    class Verdict:
        ok = True

        def render(self) -> str:
            return "verified"

    def fake(image: str, path: Path, **kwargs: object) -> Verdict:
        seen.update(kwargs, image=image)
        return Verdict()

    monkeypatch.setattr(verify, "verify_image", fake)
    done = _invoke(["verify", "img:1", str(WORKSPACE), "--package", "ws-app"])
    assert done.exit_code == 0, done.output
    assert seen == {"image": "img:1", "package": "ws-app"}


def test_verify_loads_the_member(monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge import verify
    from envforge.engine import client as engine
    from envforge.errors import DockerUnavailableError

    loaded: list[str] = []
    real = loader.load_project

    def spy(path: Path, **kwargs):
        found = real(path, **kwargs)
        loaded.append(found.project.name)
        return found

    def no_engine(*_: object) -> None:
        raise DockerUnavailableError("here", "no engine")

    monkeypatch.setattr(loader, "load_project", spy)
    monkeypatch.setattr(engine, "connect", no_engine)
    with pytest.raises(DockerUnavailableError):
        verify.verify_image("img:1", WORKSPACE, package="ws-lib")
    assert loaded == ["ws-lib"]


def test_doctor_takes_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge import doctor

    seen: list[BuildOptions] = []

    def needs(path: Path, options: BuildOptions, host: object):
        seen.append(options)
        raise PlanError("stop here")

    monkeypatch.setattr(doctor, "needs_for_project", needs)
    monkeypatch.setattr(doctor, "probe_host", lambda: None)
    done = _invoke(["doctor", str(WORKSPACE), "--package", "ws-app"])
    assert done.exit_code == 2 and "stop here" in done.output
    assert seen[0].package == "ws-app"
    done = _invoke(["doctor", "--image", "x:1", "--package", "ws-app"])
    assert done.exit_code == 2 and "--package goes with a project PATH" in done.output


def test_run_takes_package_for_the_default_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge.engine import client as engine
    from envforge.errors import DockerUnavailableError

    tags: list[str] = []

    def connect() -> None:
        raise DockerUnavailableError("here", "no engine")

    real = engine.RunSpec

    def spec(**kwargs: object):
        tags.append(str(kwargs["image"]))
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "connect", connect)
    monkeypatch.setattr(engine, "RunSpec", spec)
    done = _invoke(["run", str(WORKSPACE), "--package", "ws-lib"])
    assert done.exit_code == 1, done.output
    assert tags == ["ws-lib:0.2.0"]  # the member's tag, not the root's
    done = _invoke(["run", "some-image:1", "--package", "ws-lib"])
    assert done.exit_code == 2 and "--package goes with a project folder" in done.output


def test_readme_of_a_member_publishes_commands_with_package(ws: Path) -> None:
    done = _invoke(["readme", str(ws), "--package", "ws-app", "--create"])
    assert done.exit_code == 0, done.output
    text = (ws / "README.md").read_text()
    assert text.startswith("# ws-app\n")  # the member, not the virtual root
    assert "envforge build . --package ws-app\n" in text
    assert "envforge run . --package ws-app\n" in text
    assert "envforge dockerize . --package ws-app`" in text


def test_readme_hints_name_the_member(ws: Path) -> None:
    done = _invoke(["readme", str(ws), "--package", "ws-app"])
    assert done.exit_code == 2
    assert f"envforge readme {ws} --package ws-app --create" in done.output
    (ws / "README.md").write_text("# ws-app\n")
    done = _invoke(["readme", str(ws), "--package", "ws-app", "--check"])
    assert done.exit_code == 1
    assert f"run `envforge readme {ws} --package ws-app` to update it" in done.output
