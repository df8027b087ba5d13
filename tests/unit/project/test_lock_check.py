"""check_lock_fresh: uv's verdict (offline first, without the user's uv settings), uv's own
message when it fails for another reason, and the fallback without uv, path sources included."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.errors import LockError
from envforge.image.report import plan_text
from envforge.project import loader, lockcheck
from envforge.project.loader import load_project
from envforge.project.lockcheck import UNCHECKED, check_lock_fresh, uv_message
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from tests.conftest import REPO
from tests.unit.helpers import plan_for

LOCAL_LIB = REPO / "tests/fixtures/projects/with-local-lib"
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "with-local-lib"
    shutil.copytree(LOCAL_LIB, root, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    return root


def check(root: Path) -> str:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    proj = Project.from_dict(data)
    lock = Lock.from_dict(tomllib.loads((root / "uv.lock").read_text()), project_name=proj.name)
    return check_lock_fresh(root, proj, lock)


def add_dependency(pyproject: Path, requirement: str) -> None:
    text = pyproject.read_text()
    if "dependencies = [" in text:
        text = text.replace("dependencies = [", f'dependencies = ["{requirement}", ', 1)
    else:
        text = text.replace(
            'requires-python = ">=3.11"\n',
            f'requires-python = ">=3.11"\ndependencies = ["{requirement}"]\n',
            1,
        )
    pyproject.write_text(text)


# --- with uv -----------------------------------------------------------------------------


@needs_uv
def test_fresh_lock_is_checked_offline(project: Path) -> None:
    assert check(project) == "uv lock --check --offline"


@needs_uv
def test_users_uv_settings_do_not_leak_in(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Either would make uv re-resolve (and fail offline) a lock the build accepts.
    monkeypatch.setenv("UV_EXCLUDE_NEWER", "2001-01-01T00:00:00Z")
    monkeypatch.setenv("UV_PRERELEASE", "allow")
    config = tmp_path / "xdg"
    (config / "uv").mkdir(parents=True)
    (config / "uv" / "uv.toml").write_text('exclude-newer = "2001-01-01T00:00:00Z"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    assert check(project) == "uv lock --check --offline"


@needs_uv
def test_stale_lock_is_refused(project: Path) -> None:
    add_dependency(project / "pyproject.toml", "six>=1.17")
    with pytest.raises(LockError, match=r"out of date with pyproject\.toml \(uv lock --check\)"):
        check(project)


@needs_uv
def test_stale_path_source_is_refused(project: Path) -> None:
    add_dependency(project / "libs/helper/pyproject.toml", "six")
    with pytest.raises(LockError, match="out of date"):
        check(project)


@needs_uv
def test_missing_path_source_shows_uvs_message_not_the_fallback(project: Path) -> None:
    """A path dependency in a git submodule that is not checked out."""
    shutil.rmtree(project / "libs/helper")
    with pytest.raises(LockError) as info:
        check(project)
    message = str(info.value)
    assert message.startswith(f"uv lock --check failed in '{project}': ")
    assert "libs/helper" in message or "helper" in message
    assert "recorded requirements" not in message and "out of date" not in message
    assert "uv's own message" in (info.value.hint or "")


def test_uv_failure_for_another_reason_is_its_own_message(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        stderr = "\x1b[31merror\x1b[0m: Failed to fetch: `https://idx.example/simple/six/`\n\x07"
        return subprocess.CompletedProcess(argv, 2, "", stderr)

    monkeypatch.setattr(lockcheck.shutil, "which", lambda _: "/usr/bin/uv")
    monkeypatch.setattr(lockcheck.subprocess, "run", fake_run)
    with pytest.raises(LockError) as info:
        check(project)
    assert "Failed to fetch: `https://idx.example/simple/six/`" in str(info.value)
    assert "\x1b" not in str(info.value) and "\x07" not in str(info.value)
    # Offline first, then online, and never the fallback.
    assert [("--offline" in a) for a in calls] == [True, False]


def test_uv_timeout_could_not_be_checked(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(argv: list[str], **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(argv, 60)

    monkeypatch.setattr(lockcheck.shutil, "which", lambda _: "/usr/bin/uv")
    monkeypatch.setattr(lockcheck.subprocess, "run", slow)
    assert check(project).startswith(f"{UNCHECKED}: uv lock --check did not finish")


def test_uv_env_drops_settings_keeps_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_EXCLUDE_NEWER", "2001-01-01")
    monkeypatch.setenv("UV_INDEX_URL", "https://elsewhere/simple")
    monkeypatch.setenv("UV_NATIVE_TLS", "1")
    monkeypatch.setenv("UV_INDEX_CORP_PASSWORD", "secret")
    env = lockcheck._uv_env("/tmp/empty")
    assert env["UV_INDEX_CORP_PASSWORD"] == "secret"
    assert "UV_EXCLUDE_NEWER" not in env and "UV_INDEX_URL" not in env
    assert env["UV_NATIVE_TLS"] == "1" and env["XDG_CONFIG_HOME"] == "/tmp/empty"


def test_uv_message_is_bounded_and_clean() -> None:
    text = uv_message("Using CPython 3.11\n\x1b[1merror\x1b[0m: " + "x" * 5000 + "\r\n")
    assert len(text) <= 1500 and text.endswith("...")
    assert "Using CPython" not in text and "\x1b" not in text and "\r" not in text
    assert uv_message("") == "(no message)"


# --- without uv: the fallback ------------------------------------------------------------


@pytest.fixture
def no_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockcheck.shutil, "which", lambda _: None)


@pytest.mark.usefixtures("no_uv")
def test_fallback_fresh_with_a_path_source(project: Path) -> None:
    assert check(project).startswith("recorded requirements match pyproject.toml")


@pytest.mark.usefixtures("no_uv")
def test_fallback_sees_a_path_sources_own_change(project: Path) -> None:
    add_dependency(project / "libs/helper/pyproject.toml", "six")
    with pytest.raises(LockError, match=r"libs/helper: dependencies: six is in pyproject\.toml"):
        check(project)


@pytest.mark.usefixtures("no_uv")
def test_fallback_says_it_could_not_tell(project: Path) -> None:
    shutil.rmtree(project / "libs/helper")
    freshness = check(project)
    assert freshness.startswith(f"{UNCHECKED}: uv is not on PATH")
    assert "helper (libs/helper): its pyproject.toml is missing" in freshness
    text = plan_text(plan_for(LOCAL_LIB), freshness, ".")
    assert "could not be checked" in text and "up to date" not in text


@pytest.mark.usefixtures("no_uv")
def test_the_fallback_never_says_up_to_date(project: Path) -> None:
    freshness = check(project)
    assert freshness.startswith("recorded requirements match pyproject.toml; uv is not on PATH")
    text = plan_text(plan_for(LOCAL_LIB), freshness, ".")
    lock_rows = text[text.index("\nlock ") : text.index("\ntag ")]
    assert "recorded requirements match" in lock_rows and "up to date" not in lock_rows
    text = plan_text(plan_for(LOCAL_LIB), "uv lock --check --offline", ".")
    assert "up to date (uv lock --check --offline)" in text


@pytest.mark.usefixtures("no_uv")
def test_fallback_cannot_compare_dynamic_dependencies(project: Path) -> None:
    helper = project / "libs/helper/pyproject.toml"
    helper.write_text(
        helper.read_text().replace(
            'version = "0.2.0"', 'version = "0.2.0"\ndynamic = ["dependencies"]'
        )
    )
    assert "its dependencies are dynamic" in check(project)


@pytest.mark.usefixtures("no_uv")
def test_fallback_still_refuses_a_stale_root(project: Path) -> None:
    add_dependency(project / "pyproject.toml", "attrs")
    with pytest.raises(LockError, match="attrs"):
        check(project)


# --- the CLI -----------------------------------------------------------------------------


@needs_uv
def test_readme_refuses_a_stale_lock(project: Path) -> None:
    add_dependency(project / "pyproject.toml", "six>=1.17")
    done = CliRunner().invoke(app, ["readme", str(project), "--create"])
    assert done.exit_code == 2, done.output
    assert "out of date" in done.output
    assert not (project / "README.md").exists()


@needs_uv
def test_plan_of_a_fresh_lock_says_offline(project: Path) -> None:
    assert load_project(project).freshness == "uv lock --check --offline"


def test_build_warns_when_the_lock_could_not_be_checked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envforge.engine import client as engine

    monkeypatch.setattr(
        loader, "check_lock_fresh", lambda *a, **k: f"{UNCHECKED}: uv is not on PATH, and ..."
    )
    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(
        engine, "build_image", lambda *a, **k: engine.BuiltImage("sha256:1", "t:1", 10**6)
    )
    done = CliRunner().invoke(app, ["build", str(project), "--tag", "t:1", "--cpu", "--no-check"])
    assert done.exit_code == 0, done.output
    assert (
        f"warning: uv.lock {UNCHECKED}: uv is not on PATH, and ...; the build's uv sync "
        "--locked is the check"
    ) in done.stderr
