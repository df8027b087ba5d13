"""The remembered `uv lock --check --offline` pass: a hit skips uv, any input file's change
misses, what uv would have to build is never remembered, and a cache that cannot be read or
written is ignored."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from envforge.errors import LockError
from envforge.project import lockcheck, lockverdict
from envforge.project.lockcheck import check_lock_fresh
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from tests.conftest import REPO
from tests.unit.project.test_lock_check import add_dependency

PROJECTS = REPO / "tests/fixtures/projects"
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")


@pytest.fixture
def copy(tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(
            PROJECTS / name, root, ignore=shutil.ignore_patterns(".venv", "__pycache__")
        )
        return root

    return make


def lock_of(root: Path) -> Lock:
    data = tomllib.loads((root / "uv.lock").read_text())
    name = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {}).get("name")
    if name is None:  # the virtual workspace root: its member ws-app is built
        return Lock.from_dict(data, project_name="ws-app", root_folder="packages/ws-app")
    return Lock.from_dict(data, project_name=name)


def key(root: Path, uv: str | None = None) -> str | None:
    binary = uv or shutil.which("uv") or shutil.which("git") or "/bin/sh"
    return lockverdict.verdict_key(binary, root, lock_of(root), lockcheck._uv_env(""))


def check(root: Path) -> str:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    proj = Project.from_dict(data)
    lock = Lock.from_dict(tomllib.loads((root / "uv.lock").read_text()), project_name=proj.name)
    return check_lock_fresh(root, proj, lock)


@pytest.fixture
def uv_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every uv run of lockcheck, recorded (and still run)."""
    calls: list[list[str]] = []
    real = subprocess.run

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return real(argv, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(lockcheck.subprocess, "run", run)
    return calls


# --- with uv: the verdict remembered ------------------------------------------------------


@needs_uv
def test_a_pass_is_remembered_and_not_asked_again(
    copy: Callable[[str], Path], uv_calls: list[list[str]]
) -> None:
    root = copy("with-local-lib")
    assert check(root) == "uv lock --check --offline"
    assert len(uv_calls) == 1
    assert check(root) == "uv lock --check --offline"  # the same words as uv's own pass
    assert len(uv_calls) == 1
    assert lockverdict.cache_file().is_file()


@needs_uv
def test_an_edit_asks_uv_again_and_a_stale_lock_is_never_remembered(
    copy: Callable[[str], Path], uv_calls: list[list[str]]
) -> None:
    root = copy("with-local-lib")
    check(root)
    add_dependency(root / "libs/helper/pyproject.toml", "six")
    for _ in range(2):
        with pytest.raises(LockError, match="out of date"):
            check(root)
    assert len(uv_calls) == 3  # the pass, then uv each time for the stale lock


@needs_uv
def test_a_file_edited_while_uv_reads_it_is_not_remembered(
    copy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy("with-local-lib")
    real = subprocess.run

    def run_then_edit(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        done = real(argv, **kwargs)
        with (root / ".python-version").open("a") as handle:
            handle.write("\n")
        return done  # type: ignore[no-any-return]

    monkeypatch.setattr(lockcheck.subprocess, "run", run_then_edit)
    assert check(root) == "uv lock --check --offline"
    assert not lockverdict.cache_file().exists()


@needs_uv
@pytest.mark.parametrize("garbage", [b"{not json", b"[1, 2]", b'{"version": 1, "fresh": 7}'])
def test_a_corrupt_cache_is_ignored_and_replaced(
    copy: Callable[[str], Path], uv_calls: list[list[str]], garbage: bytes
) -> None:
    root = copy("with-local-lib")
    cache = lockverdict.cache_file()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(garbage)
    assert check(root) == "uv lock --check --offline"
    assert check(root) == "uv lock --check --offline"
    assert len(uv_calls) == 1


@needs_uv
def test_an_unwritable_cache_is_ignored(
    copy: Callable[[str], Path],
    uv_calls: list[list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # its envforge/ can never be made
    root = copy("with-local-lib")
    assert check(root) == "uv lock --check --offline"
    assert check(root) == "uv lock --check --offline"
    assert len(uv_calls) == 2


# --- the key: every input uv reads ----------------------------------------------------------


def _append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


EDITS: dict[str, Callable[[Path], None]] = {
    "pyproject.toml": lambda r: _append(r / "pyproject.toml", "\n# edited\n"),
    "uv.lock": lambda r: _append(r / "uv.lock", "\n"),
    "uv.toml": lambda r: (r / "uv.toml").write_text('exclude-newer = "2001-01-01T00:00:00Z"\n'),
    ".python-version": lambda r: (r / ".python-version").write_text("3.12\n"),
    "a path source's pyproject.toml": lambda r: _append(r / "libs/helper/pyproject.toml", "\n"),
    "a pyproject.toml between it and the project": lambda r: (r / "libs/pyproject.toml").write_text(
        "[tool.uv.workspace]\nmembers = []\n"
    ),
    "a uv.toml above the project": lambda r: (r.parent / "uv.toml").write_text("offline = true\n"),
    "a pyproject.toml above the project": lambda r: (r.parent / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["*"]\n'
    ),
    "the project's .venv": lambda r: (
        (r / ".venv").mkdir() or (r / ".venv/pyvenv.cfg").write_text("home = /usr/bin\n")
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_input_file_changes_the_key(copy: Callable[[str], Path], edit: str) -> None:
    root = copy("with-local-lib")
    before = key(root)
    assert before is not None and key(root) == before
    EDITS[edit](root)
    assert key(root) not in (None, before)


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: _append(r / "packages/ws-lib/pyproject.toml", "\n"),
        lambda r: (r / "packages/new-member").mkdir(),  # a members glob matches it now
        lambda r: (r / "packages/.hidden").mkdir(),  # whatever uv's glob does with it
        lambda r: shutil.rmtree(r / "packages/ws-app"),
    ],
    ids=["member's pyproject", "new folder", "new hidden folder", "member removed"],
)
def test_a_workspace_members_change_changes_the_key(
    copy: Callable[[str], Path], edit: Callable[[Path], None]
) -> None:
    root = copy("workspace")
    before = key(root)
    assert before is not None
    edit(root)
    assert key(root) not in (None, before)


def test_the_uv_binary_and_its_environment_are_in_the_key(
    copy: Callable[[str], Path], tmp_path: Path
) -> None:
    root = copy("with-local-lib")
    one, two = tmp_path / "uv-one", tmp_path / "uv-two"
    one.write_text("a")
    two.write_text("b")
    assert key(root, str(one)) != key(root, str(two))
    lock = lock_of(root)
    base = lockverdict.verdict_key(str(one), root, lock, {"PATH": "/bin"})
    assert base != lockverdict.verdict_key(str(one), root, lock, {"PATH": "/usr/bin"})
    assert base != lockverdict.verdict_key(str(one), root, lock, {"PATH": "/bin", "UV_X": "1"})
    # What uv does not read leaves it alone (a shell's own variables).
    assert base == lockverdict.verdict_key(str(one), root, lock, {"PATH": "/bin", "OLDPWD": "/"})


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: (r / "libs/helper/pyproject.toml").write_text(
            (r / "libs/helper/pyproject.toml")
            .read_text()
            .replace('version = "0.2.0"', 'version = "0.2.0"\ndynamic = ["dependencies"]')
        ),
        lambda r: (
            (r / "libs/helper/pyproject.toml").unlink()
            or (r / "libs/helper/setup.py").write_text("")
        ),
        lambda r: (r / "uv.toml").mkdir(),
    ],
    ids=["dynamic dependencies", "setup.py", "a folder for a file"],
)
def test_what_uv_would_build_or_cannot_be_keyed_is_never_remembered(
    copy: Callable[[str], Path], edit: Callable[[Path], None]
) -> None:
    root = copy("with-local-lib")
    edit(root)
    assert key(root) is None


def test_a_dynamic_version_alone_is_keyed(copy: Callable[[str], Path]) -> None:
    assert key(copy("vcs-version")) is not None


def test_a_recursive_members_glob_is_not_keyed(copy: Callable[[str], Path]) -> None:
    root = copy("workspace")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"packages/*"', '"packages/**"'))
    assert key(root) is None
