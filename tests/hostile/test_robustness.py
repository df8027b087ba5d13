"""Every hostile case of robustness_cases.py through the CLI: no traceback, no hang, the
documented exit code, one error line and a hint, nothing outside the project touched.

Each case runs in-process (typer's CliRunner) under a SIGALRM limit; the ones marked
``subprocess`` also run as ``python -m envforge`` in a child process, whose stderr and
exit code are the user's.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from tests.hostile.robustness_cases import Case, Workspace, cases

CASES = cases()
REPO = Path(__file__).resolve().parents[2]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ALARM_S = 20


class Hang(BaseException):
    """Raised by SIGALRM: a BaseException, so that CliRunner does not swallow it."""


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under folder: its kind, mode and content (or link target)."""
    seen: dict[str, Any] = {}
    if not folder.exists():
        return seen
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        key = str(path.relative_to(folder))
        if stat.S_ISLNK(info.st_mode):
            seen[key] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            seen[key] = ("file", info.st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            seen[key] = ("other", info.st_mode)
    return seen


@contextlib.contextmanager
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(root=tmp_path, project=tmp_path / "project", outside=tmp_path / "outside")
    ws.outside.mkdir()
    (ws.outside / "sentinel.txt").write_text("must not change\n")
    ws.env.update(
        {
            # No uv on PATH: the lock is checked by envforge's own comparison, offline.
            "PATH": "/usr/bin:/bin",
            "DOCKER_HOST": "unix:///nonexistent/docker.sock",
            "ENVFORGE_DEBUG": None,
            "ENVFORGE_DOCKER_TIMEOUT": None,
            "ENVFORGE_BASE_IMAGE": None,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "NO_COLOR": "1",
        }
    )
    try:
        yield ws
    finally:
        for folder in ws.readonly:
            with contextlib.suppress(OSError):
                folder.chmod(0o755)


@contextlib.contextmanager
def read_only(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The case's read-only folders; as root (who writes anyway) each write into one of
    them fails as the kernel would fail it for anyone else: EACCES."""
    for folder in ws.readonly:
        folder.chmod(0o555)
    if ws.readonly and os.geteuid() == 0:
        import tempfile

        real_mkstemp = tempfile.mkstemp
        denied = [f.resolve() for f in ws.readonly]

        def mkstemp(*args: Any, **kwargs: Any) -> Any:
            folder = Path(kwargs.get("dir") or (args[2] if len(args) > 2 else ".")).resolve()
            if folder in denied:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
            return real_mkstemp(*args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    yield


# A child process first starts Python and imports envforge: seconds on a loaded machine.
STARTUP_SLACK_S = 5.0


def check_output(
    case: Case, code: int, stdout: str, stderr: str, elapsed: float, slack: float = 0.0
) -> None:
    where = f"{case.id}: exit {code}\nstdout: {stdout[-2000:]}\nstderr: {stderr[-2000:]}"
    assert "Traceback" not in stdout + stderr, where
    limit = case.max_s + slack
    assert elapsed < limit, f"{case.id} took {elapsed:.1f} s (limit {limit} s)"
    assert code in case.exits, where
    assert not CONTROL.search(stderr), f"raw control character on stderr: {where}"
    if not case.raw_stdout_ok:
        assert not CONTROL.search(stdout), f"raw control character on stdout: {where}"
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    hints = [ln for ln in stderr.splitlines() if ln.startswith("hint:")]
    if code != 0 and case.error_line:
        assert len(errors) == 1, where
        assert len(hints) == 1, where
        assert "internal error" not in errors[0], where
    if code == 0:
        assert not errors, where
    if case.warning:
        assert "warning: skipping" in stderr, where
    if case.json_out:

        def refuse(name: str) -> Any:
            raise AssertionError(f"{case.id}: stdout holds {name}")

        json.loads(stdout, parse_constant=refuse)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_in_process(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with workspace(tmp_path) as ws:
        argv = case.prepare(ws)
        before = snapshot(ws.outside)

        def on_alarm(signum: int, frame: Any) -> None:
            raise Hang(f"{case.id} still running after {ALARM_S} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        try:
            with contextlib.ExitStack() as stack:
                for engine in ws.engines:
                    stack.enter_context(engine)
                stack.enter_context(read_only(ws, monkeypatch))
                signal.alarm(ALARM_S)
                start = time.monotonic()
                try:
                    result = CliRunner().invoke(app, argv, env=ws.env)
                except Hang as exc:
                    pytest.fail(f"hang: {exc}")
                finally:
                    signal.alarm(0)
                elapsed = time.monotonic() - start
        finally:
            signal.signal(signal.SIGALRM, previous)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            shown = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"{case.id}: traceback\n{shown}")
        check_output(case, result.exit_code, result.stdout, result.stderr, elapsed)
        assert snapshot(ws.outside) == before, f"{case.id} touched a file outside the project"


SUBPROCESS_CASES = [c for c in CASES if c.subprocess]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[c.id for c in SUBPROCESS_CASES])
def test_case_as_a_process(case: Case, tmp_path: Path) -> None:
    with workspace(tmp_path) as ws:
        argv = case.prepare(ws)
        before = snapshot(ws.outside)
        env = {k: v for k, v in os.environ.items() if k not in ws.env}
        env.update({k: v for k, v in ws.env.items() if v is not None})
        env["PYTHONPATH"] = str(REPO)
        with contextlib.ExitStack() as stack:
            for engine in ws.engines:
                stack.enter_context(engine)
            start = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "envforge", *argv],
                capture_output=True,
                text=True,
                errors="replace",
                env=env,
                timeout=60,
                check=False,
            )
            elapsed = time.monotonic() - start
        check_output(
            case, done.returncode, done.stdout, done.stderr, elapsed, slack=STARTUP_SLACK_S
        )
        assert snapshot(ws.outside) == before, f"{case.id} touched a file outside the project"


def test_build_says_loudly_when_it_builds_a_dockerfile_it_did_not_write(tmp_path: Path) -> None:
    from tests.hostile.fake_engine import GOOD_IMAGE, IMAGE_ID, FakeEngine, json_reply, on
    from tests.hostile.robustness_cases import write_project

    with workspace(tmp_path) as ws:
        write_project(ws)
        (ws.project / "Dockerfile").write_text("FROM scratch\n")  # the user's own
        routes = [
            on(
                "POST",
                "/build",
                (200, "application/json", [f'{{"aux": {{"ID": "{IMAGE_ID}"}}}}\n']),
            ),
            on("GET", r"/images/[^/]+/json", json_reply(GOOD_IMAGE)),
        ]
        with FakeEngine(tmp_path, routes) as fake:
            ws.env["DOCKER_HOST"] = fake.url
            result = CliRunner().invoke(
                app, ["build", str(ws.project), "--cpu", "--no-check"], env=ws.env
            )
        assert result.exit_code == 0, result.output
        assert result.stderr.startswith(
            f"warning: building {ws.project / 'Dockerfile'} as it is: envforge did not write it"
        )
        assert (ws.project / "Dockerfile").read_text() == "FROM scratch\n"
        assert "POST" in " ".join(fake.requests)


def test_the_corpus_is_large_and_covers_every_class() -> None:
    assert len(CASES) >= 150
    prefixes = {c.id.split("-", 1)[0] for c in CASES}
    assert prefixes >= {
        "lock", "pyproject", "bytes", "file", "readonly", "control", "hostfacts",
        "records", "engine", "runs",
    }  # fmt: skip
    assert len(SUBPROCESS_CASES) >= 5
