"""The smoke check after a build: what it checks, the probe run for real on this host's
Python against made-up installs (hostile names included), the report read back, the hints,
and `build` on a fake engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.engine import client as engine
from envforge.engine import smoke
from envforge.engine.hints import hint_for
from envforge.engine.smoke import Check, CheckKind, ProbeSpec, Report, parse_report, spec_for
from envforge.project import loader
from tests.conftest import EXAMPLES, REPO
from tests.unit.helpers import plan_for

MARK = "envforge-smoke:"


# -- what is checked ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("cpu-sklearn",), ProbeSpec(dist="app", program="cpu-sklearn")),
        (("python", "-m", "app"), ProbeSpec(dist="app", module="app")),
        (("python3", "-u", "-X", "dev", "-m", "app.cli", "--x"), ProbeSpec(dist="app", module="app.cli")),
        (("/app/.venv/bin/python", "-mapp"), ProbeSpec(dist="app", module="app")),
        (("python3.11", "-W", "ignore", "main.py", "-m", "x"), ProbeSpec(dist="app", script="main.py")),
        (("python", "-c", "print(1)"), ProbeSpec(dist="app")),
        (("python",), ProbeSpec(dist="app")),
        (("sh", "-c", "python -m app"), ProbeSpec(dist="app", program="sh")),
        ((), ProbeSpec(dist="app")),
    ],
)  # fmt: skip
def test_spec_follows_the_command(command: tuple[str, ...], expected: ProbeSpec) -> None:
    assert spec_for("app", command) == expected


def test_spec_from_the_plans_of_a_package_and_of_a_script_project() -> None:
    assert smoke.probe_spec(plan_for(EXAMPLES / "cpu-sklearn")) == ProbeSpec(
        dist="cpu-sklearn", program="/app/.venv/bin/cpu-sklearn"
    )
    virtual = plan_for(REPO / "tests/fixtures/projects/app-virtual")
    assert smoke.probe_spec(virtual) == ProbeSpec(script="/app/main.py")
    # The image's own command wins (a Dockerfile the user edited).
    assert smoke.probe_spec(virtual, ("python", "-m", "srv")) == ProbeSpec(module="srv")


def test_image_command_is_entrypoint_then_cmd() -> None:
    attrs = {"Config": {"Entrypoint": ["python", "-m"], "Cmd": ["app"]}}
    assert smoke.image_command(attrs) == ("python", "-m", "app")
    assert smoke.image_command({"Config": {"Entrypoint": None, "Cmd": None}}) is None
    assert smoke.image_command({}) is None


def test_names_travel_as_data_never_as_code() -> None:
    hostile = "x'); import os; os.system('id') #\n\"${IFS}$(id)\x1b[2J"
    command = smoke.probe_command(ProbeSpec(dist=hostile, module=hostile))
    assert command[:3] == ["-B", "-c", smoke.PROBE]
    assert hostile not in smoke.PROBE
    assert json.loads(command[3]) == {"dist": hostile, "module": hostile}


# -- the probe itself, on this host's Python ---------------------------------------------------


def probe(spec: ProbeSpec, cwd: Path, site: Path | None = None) -> Report:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site) if site else ""}
    done = subprocess.run(
        [sys.executable, *smoke.probe_command(spec)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=60,
    )  # fmt: skip
    return parse_report(done.stdout, done.stderr, done.returncode)


def fake_dist(
    site: Path, name: str, files: dict[str, str], scripts: dict[str, str], top_level: str = ""
) -> None:
    """An installed distribution: its files, a RECORD naming them, its console scripts."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    eps = "".join(f"{k} = {v}\n" for k, v in scripts.items())
    (info / "entry_points.txt").write_text(f"[console_scripts]\n{eps}")
    if top_level:
        (info / "top_level.txt").write_text(top_level)
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD", "../../../bin/tool"]
    (info / "RECORD").write_text("".join(f"{r},,\n" for r in record))


def test_probe_imports_top_level_packages_and_loads_scripts(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_dist(
        site,
        "good-app",
        {"good_app/__init__.py": "def main(): raise SystemExit('ran')\n", "helper.py": "", "x.pth": ""},
        {"good-app": "good_app:main", "helper": "helper"},
    )  # fmt: skip
    report = probe(ProbeSpec(dist="good-app", program="sh"), tmp_path, site)
    assert report.ok, report
    assert [c.label for c in report.checks] == [
        "distribution good-app",
        "imports good_app",
        "imports helper",
        "console script good-app",
        "console script helper",
        "command sh",
    ]


def test_probe_reports_each_failure_with_its_traceback(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_dist(
        site,
        "bad-app",
        {
            "bad_app/__init__.py": "from bad_app import gl\n",
            "bad_app/gl.py": "raise ImportError('libGL.so.1: cannot open shared object file')\n",
            "other/__init__.py": "",
        },
        {"bad": "bad_app:main", "other": "other:missing"},
        top_level="bad_app\nother\n",
    )
    report = probe(ProbeSpec(dist="bad-app"), tmp_path, site)
    assert not report.ok and not report.crash
    failed = {c.label: c for c in report.failed}
    assert set(failed) == {"imports bad_app", "console script bad", "console script other"}
    gl = failed["imports bad_app"]
    assert gl.error == "ImportError: libGL.so.1: cannot open shared object file"
    assert 'bad_app/gl.py", line 1, in <module>' in gl.frames
    shown = smoke.project_frames(gl.frames)
    assert shown.splitlines()[0].endswith('bad_app/__init__.py", line 1, in <module>')
    assert "<string>" not in shown and "importlib" not in shown
    assert hint_for(gl) is not None and '["libgl1"]' in hint_for(gl)  # type: ignore[operator]
    assert failed["console script other"].error.startswith("AttributeError")


def test_probe_checks_the_commands_target_without_running_it(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "ran.py").write_text("open('RAN', 'w')\n")
    (tmp_path / "broken.py").write_text("def (:\n")
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool/__init__.py").write_text("")
    (tmp_path / "tool/__main__.py").write_text("open('RAN', 'w')\n")
    assert probe(ProbeSpec(script="ran.py"), tmp_path).ok
    assert probe(ProbeSpec(module="tool"), tmp_path).ok
    assert probe(ProbeSpec(module="ran"), tmp_path).ok
    assert not (tmp_path / "RAN").exists()
    broken = probe(ProbeSpec(script="broken.py"), tmp_path).failed[0]
    assert broken.error.startswith("SyntaxError")
    no_main = probe(ProbeSpec(module="pkg"), tmp_path).failed[0]
    assert "is a package and cannot be directly executed" in no_main.error
    assert "no __main__" in (hint_for(no_main) or "")
    absent = probe(ProbeSpec(script="absent.py"), tmp_path).failed[0]
    assert "is not in the image" in (hint_for(absent) or "")
    program = probe(ProbeSpec(program="no-such-program"), tmp_path).failed[0]
    assert "is not on the image's PATH" in (hint_for(program) or "")


@pytest.mark.parametrize(
    "name",
    [
        "x'); open('PWN', 'w') #",
        "$(touch PWN)",
        "a\nopen('PWN','w')",
        "\x1b]0;title\x07\x1b[2J",
        "../../PWN",
        "__import__('os').system('touch PWN')",
        "",
    ],
)
def test_hostile_names_are_only_looked_up(tmp_path: Path, name: str) -> None:
    report = probe(ProbeSpec(dist=name or None, module=name, script=name, program=name), tmp_path)
    assert not (tmp_path / "PWN").exists()
    assert not report.crash
    assert all(not c.ok for c in report.checks)
    for check in report.checks:
        assert "\x1b" not in check.label and "\n" not in check.label


def test_a_thread_or_print_from_an_import_does_not_spoil_the_report(tmp_path: Path) -> None:
    site = tmp_path / "site"
    code = (
        "import sys, threading, time, io\n"
        "print('envforge-smoke:[not me]', end='')\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()\n"
        "sys.stdout = io.StringIO()\n"
    )
    fake_dist(site, "noisy", {"noisy.py": code}, {})
    report = probe(ProbeSpec(dist="noisy"), tmp_path, site)
    assert report.ok and [c.label for c in report.checks] == ["distribution noisy", "imports noisy"]


def test_an_import_that_waits_is_stopped_and_the_rest_still_checked(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_dist(site, "waits", {"waits.py": "import time\ntime.sleep(600)\n", "b.py": ""}, {})
    report = probe(ProbeSpec(dist="waits", timeout=1), tmp_path, site)
    assert [(c.label, c.ok) for c in report.checks] == [
        ("distribution waits", True),
        ("imports b", True),
        ("imports waits", False),
    ]
    waited = report.failed[0]
    assert waited.error == "TimeoutError: did not finish within 1 s"
    assert "without network" in (hint_for(waited) or "")


# -- the report read back ----------------------------------------------------------------------


def test_report_is_the_last_marked_line() -> None:
    items = [{"kind": "import", "name": "a", "ok": True}]
    out = f"{MARK}[]\nnoise\n{MARK}{json.dumps(items)}\n"
    assert parse_report(out, "", 0) == Report((Check(kind="import", name="a", ok=True),), 0)


def test_no_report_is_a_crash_with_stderrs_tail() -> None:
    report = parse_report("", "Traceback...\nSegmentation fault\n", 139)
    assert not report.ok
    assert report.crash == "the probe ended with exit 139 before reporting: Segmentation fault"
    assert report.crash_tail == ("Traceback...", "Segmentation fault")


@pytest.mark.parametrize("line", ["{", '{"a": 1}', "[1]", '[{"kind": "x"}]', "null"])
def test_an_unreadable_report_is_no_traceback(line: str) -> None:
    report = parse_report(MARK + line, "", 0)
    assert not report.ok and report.crash.startswith("the probe's report is unreadable")


def test_terminal_escapes_from_the_image_are_shown_escaped() -> None:
    items = [{"kind": "import", "name": "a\x1b[2J", "ok": False, "error": "E: \x1b]0;x\x07"}]
    report = parse_report(MARK + json.dumps(items), "", 0)
    error = smoke.failure("img:1", report)
    assert "\x1b" not in error.message and "\\x1b[2J" in error.message
    assert all("\x1b" not in line for line in error.log_tail)


# -- hints -------------------------------------------------------------------------------------


def failed(error: str, traceback: str = "", kind: CheckKind = "import") -> Check:
    return Check(kind=kind, name="app", ok=False, error=error, traceback=traceback)


@pytest.mark.parametrize(
    ("error", "package"),
    [
        ("ImportError: libGL.so.1: cannot open shared object file: No such file or directory", "libgl1"),
        ("OSError: libgomp.so.1: cannot open shared object file: No such file or directory", "libgomp1"),
        ("ImportError: libglib-2.0.so.0: cannot open shared object file", "libglib2.0-0"),
        ("OSError: cannot load library 'libsndfile.so.1': libsndfile.so.1: cannot open", "libsndfile1"),
        ("ImportError: libX11.so.6: cannot open shared object file", "libx11-6"),
        ("ImportError: libXext.so.6: cannot open shared object file", "libxext6"),
        ("ImportError: failed to find libmagic.  Check your installation", "libmagic1"),
        ("ImportError: Failed to initialize: Bad git executable.", "git"),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'", "ffmpeg"),
        ("RuntimeError: Couldn't find ffmpeg or avconv", "ffmpeg"),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'git'", "git"),
    ],
)  # fmt: skip
def test_known_failures_name_the_apt_package(error: str, package: str) -> None:
    hint = hint_for(failed(error))
    assert hint is not None
    assert f'[tool.envforge] apt-packages = ["{package}"]' in hint


def test_the_hint_keeps_the_apt_packages_already_asked_for() -> None:
    hint = hint_for(failed("ImportError: libGL.so.1: cannot open"), ["curl", "libgomp1"])
    assert hint is not None and 'apt-packages = ["curl", "libgomp1", "libgl1"]' in hint
    again = hint_for(failed("ImportError: libGL.so.1: cannot open"), ["libgl1"])
    assert again is not None and 'apt-packages = ["libgl1"]' in again


def test_the_cause_in_a_chained_traceback_counts() -> None:
    chain = "OSError: libgomp.so.1: cannot open shared object file\n\nThe above exception..."
    hint = hint_for(failed("ImportError: DLL load failed", chain))
    assert hint is not None and '["libgomp1"]' in hint


def test_a_missing_module_is_the_commands_or_a_dependencys() -> None:
    own = Check(
        kind="module", name="app.cli", ok=False, error="ModuleNotFoundError: No module named 'app'"
    )
    assert "the command's module app.cli is not in the image" in (hint_for(own) or "")
    dep = Check(
        kind="module", name="app.cli", ok=False, error="ModuleNotFoundError: No module named 'yaml'"
    )
    assert "yaml is imported but not installed" in (hint_for(dep) or "")
    prefix = Check(
        kind="module", name="apple", ok=False, error="ModuleNotFoundError: No module named 'app'"
    )
    assert "app is imported but not installed" in (hint_for(prefix) or "")


def test_other_failures() -> None:
    unknown = hint_for(failed("ImportError: libfoo.so.3: cannot open shared object file"))
    assert unknown is not None and "apt-file search libfoo.so.3" in unknown
    missing = hint_for(failed("ModuleNotFoundError: No module named 'yaml'"))
    assert missing is not None and "yaml is imported but not installed" in missing
    assert hint_for(failed("ValueError: bad config")) is None


# -- the error build reports -------------------------------------------------------------------


def test_failure_shows_the_first_line_the_frames_and_the_hint() -> None:
    frames = (
        '  File "<string>", line 77, in <lambda>\n'
        '  File "/usr/lib/python3.11/importlib/__init__.py", line 126, in import_module\n'
        "    return _bootstrap._gcd_import(name[level:], package, level)\n"
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        '  File "<frozen importlib._bootstrap>", line 1149, in _find_and_load_unlocked\n'
        '  File "/app/.venv/lib/python3.11/site-packages/app/__init__.py", line 3, in <module>\n'
        "    import git\n"
    )
    error = "ImportError: Failed to initialize: Bad git executable.\nline 2\nline 3\nline 4"
    report = Report(
        (
            Check(kind="import", name="app", ok=False, error=error, traceback=error, frames=frames),
            Check(kind="script", name="app", ok=False, error="E"),
        ),
    )
    exc = smoke.failure("app:1", report, ["curl"])
    assert exc.exit_code == 1
    assert exc.message == (
        "the image was built but does not start: imports app: ImportError: Failed to "
        "initialize: Bad git executable. (and 1 more check(s) failed)"
    )
    assert exc.log_tail == [
        '  File "/app/.venv/lib/python3.11/site-packages/app/__init__.py", line 3, in <module>',
        "    import git",
        "ImportError: Failed to initialize: Bad git executable.",
        "line 2",
        "line 3",
        "...",
    ]
    assert exc.hint is not None
    assert 'apt-packages = ["curl", "git"]' in exc.hint
    assert exc.hint.endswith(
        "the image is kept as app:1: look inside with envforge run app:1 --entrypoint sh"
    )


# -- build on a fake engine --------------------------------------------------------------------


class FakeImage:
    def __init__(self) -> None:
        self.attrs = {"Config": {"Entrypoint": ["cpu-sklearn"], "Cmd": None}}


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {"report": []}
    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(loader, "check_lock_fresh", lambda *a: "uv lock --check")
    monkeypatch.setattr(loader, "git_revision", lambda *a: None)
    monkeypatch.setattr(
        engine,
        "build_image",
        lambda client, root, tag, **kw: engine.BuiltImage(id="sha256:abc", tag=tag, size=10**8),
    )
    monkeypatch.setattr(engine, "get_image", lambda client, ref: FakeImage())

    def run_captured(client: Any, image: str, command: list[str], **kw: Any) -> Any:
        seen.update(image=image, command=command, **kw)
        return 0, f"{MARK}{json.dumps(seen['report'])}\n", ""

    monkeypatch.setattr(engine, "run_captured", run_captured)
    return seen


def test_build_ends_with_the_check(example_copy, fake_build: dict[str, Any]) -> None:
    cpu = example_copy("cpu-sklearn")
    fake_build["report"] = [
        {"kind": "import", "name": "cpu_sklearn", "ok": True},
        {"kind": "script", "name": "cpu-sklearn", "ok": True},
    ]
    result = CliRunner().invoke(app, ["build", str(cpu), "--tag", "t:1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "check     imports cpu_sklearn ok",
        "check     console script cpu-sklearn ok",
    ]
    assert fake_build["image"] == "sha256:abc"
    assert fake_build["entrypoint"] == ["/app/.venv/bin/python"]
    assert fake_build["user"] is None  # the image's USER
    assert json.loads(fake_build["command"][-1]) == {
        "dist": "cpu-sklearn",
        "program": "cpu-sklearn",
    }


def test_a_project_with_nothing_to_check_says_so(example_copy, fake_build: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["build", str(example_copy("cpu-sklearn")), "-t", "t:1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "check     /app/.venv/bin/python starts ok (nothing else to check)"
    )


def test_a_failed_check_exits_1_and_keeps_the_image(
    example_copy, fake_build: dict[str, Any]
) -> None:
    cpu = example_copy("cpu-sklearn")
    fake_build["report"] = [
        {"kind": "import", "name": "cpu_sklearn", "ok": False,
         "error": "ImportError: libgomp.so.1: cannot open shared object file", "frames": ""},
    ]  # fmt: skip
    result = CliRunner().invoke(app, ["build", str(cpu), "--tag", "t:1"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "check     imports cpu_sklearn FAILED"
    assert result.stderr.splitlines() == [
        "error: the image was built but does not start: imports cpu_sklearn: "
        "ImportError: libgomp.so.1: cannot open shared object file",
        "  | ImportError: libgomp.so.1: cannot open shared object file",
        "hint: the system library libgomp.so.1 is missing; add it to the image: [tool.envforge] "
        'apt-packages = ["libgomp1"] in pyproject.toml, then envforge build again; '
        "the image is kept as t:1 (abc): look inside with envforge run t:1 --entrypoint sh",
    ]


def test_an_image_without_the_venvs_python_cannot_be_checked(
    example_copy, fake_build: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from envforge.errors import RunError

    def no_python(client: Any, image: str, command: list[str], **kw: Any) -> Any:
        raise RunError(image, 'exec: "/app/.venv/bin/python": stat: no such file or directory')

    monkeypatch.setattr(engine, "run_captured", no_python)
    result = CliRunner().invoke(app, ["build", str(example_copy("cpu-sklearn")), "-t", "t:1"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: the image was built but does not start: "
        "the image has no /app/.venv/bin/python to run the check with"
    )
    assert "build with --no-check" in result.stderr


def test_a_check_that_times_out_fails_like_any_other_and_keeps_the_image(
    example_copy, fake_build: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from envforge.errors import RunError

    def hangs(client: Any, image: str, command: list[str], **kw: Any) -> Any:
        raise RunError(image, "timed out after 300 s")

    monkeypatch.setattr(engine, "run_captured", hangs)
    result = CliRunner().invoke(app, ["build", str(example_copy("cpu-sklearn")), "-t", "t:1"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: the image was built but does not start: the check timed out after 300 s"
    )
    assert "the image is kept as t:1" in result.stderr


def test_no_check_skips_it(example_copy, fake_build: dict[str, Any]) -> None:
    cpu = example_copy("cpu-sklearn")
    result = CliRunner().invoke(app, ["build", str(cpu), "--tag", "t:1", "--no-check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "check     skipped (--no-check)"
    assert "command" not in fake_build


# -- a console script the plan says needs an extra ----------------------------------------------


def test_expected_failures_do_not_fail_the_report() -> None:
    report = Report(
        (
            Check(kind="script", name="mcp", ok=False, error="SystemExit: 1"),
            Check(kind="script", name="other", ok=True),
            Check(kind="import", name="mcp", ok=False, error="ImportError: x"),
        )
    )
    marked = smoke.expect_failures(report, {"mcp": "the extra 'cli'", "other": "the extra 'x'"})
    assert [c.expected for c in marked.checks] == ["the extra 'cli'", "", ""]
    assert [c.kind for c in marked.failed] == ["import"]  # an import is never excused
    only_scripts = smoke.expect_failures(Report(report.checks[:2]), {"mcp": "the extra 'cli'"})
    assert only_scripts.ok


def _needs_extra_copy(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "script-needs-extra"
    shutil.copytree(REPO / "tests/fixtures/projects/script-needs-extra", root)
    return root


def test_build_expects_the_script_that_needs_an_extra_not_to_load(
    tmp_path: Path, fake_build: dict[str, Any]
) -> None:
    fake_build["report"] = [
        {"kind": "import", "name": "script_needs_extra", "ok": True},
        {"kind": "script", "name": "script-needs-extra", "ok": False,
         "error": "ModuleNotFoundError: No module named 'click'", "frames": ""},
    ]  # fmt: skip
    result = CliRunner().invoke(app, ["build", str(_needs_extra_copy(tmp_path)), "-t", "t:1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "check     imports script_needs_extra ok",
        "check     console script script-needs-extra does not load, as planned: needs the "
        "extra 'cli' (imports click): add --extra cli to use it",
    ]
    # With the extra, the script must load.
    root = _needs_extra_copy(tmp_path / "again")
    result = CliRunner().invoke(app, ["build", str(root), "-t", "t:1", "--extra", "cli"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "check     console script script-needs-extra FAILED"


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `envforge build` asked engine.build_image for (the keyword arguments); the build
    itself is not made."""
    kwargs: dict[str, Any] = {}
    monkeypatch.setattr(
        engine,
        "build_image",
        lambda client, root, tag, **kw: kwargs.update(kw) or engine.BuiltImage("sha256:1", tag, 1),
    )
    return kwargs


def test_build_says_which_builder_and_why(
    example_copy, fake_build: dict[str, Any], asked: dict[str, Any]
) -> None:
    cpu = example_copy("cpu-sklearn")
    result = CliRunner().invoke(app, ["build", str(cpu), "-t", "t:1", "--no-check"])
    assert result.exit_code == 0, result.output
    # auto, the default: this fake engine says no version, so the classic builder and its
    # Dockerfile (planned again: the plan first assumed BuildKit).
    assert "builder   classic (the engine did not say its version)" in result.stdout.splitlines()
    assert asked["builder"] == "classic"
    assert "--mount=type=cache" not in (cpu / "Dockerfile").read_text()
    result = CliRunner().invoke(
        app, ["build", str(cpu), "-t", "t:1", "--no-check", "--builder", "classic"]
    )
    assert "builder   classic (--builder classic)" in result.stdout.splitlines()
    result = CliRunner().invoke(
        app, ["build", str(cpu), "-t", "t:1", "--no-check"], env={"ENVFORGE_BUILDER": "buildkit"}
    )
    assert "builder   buildkit (--builder buildkit)" in result.stdout.splitlines()
    assert asked["builder"] == "buildkit"
    # The builder picks the Dockerfile's syntax: BuildKit's mounts are written for it.
    assert "--mount=type=cache" in (cpu / "Dockerfile").read_text()


def test_an_unknown_builder_is_an_input_error(example_copy, fake_build: dict[str, Any]) -> None:
    cpu = example_copy("cpu-sklearn")
    result = CliRunner().invoke(app, ["build", str(cpu), "--builder", "kaniko"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid builder 'kaniko'")
    assert "Use one of: auto, buildkit, classic." in result.stderr


def test_build_says_which_network_its_steps_share(
    example_copy, fake_build: dict[str, Any], asked: dict[str, Any]
) -> None:
    cpu = example_copy("cpu-sklearn")
    result = CliRunner().invoke(app, ["build", str(cpu), "-t", "t:1", "--no-check"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    network = lines.index(next(line for line in lines if line.startswith("builder   "))) + 1
    assert lines[network] == (
        "network   bridge (the engine's default: each RUN in a network sandbox of its own)"
    )
    assert asked["network"] == "bridge"
    for args, env in ((["--network", "host"], {}), ([], {"ENVFORGE_BUILD_NETWORK": "host"})):
        result = CliRunner().invoke(
            app, ["build", str(cpu), "-t", "t:1", "--no-check", *args], env=env
        )
        assert (
            "network   host (--network host: the RUNs share the network of the engine's host, "
            "its loopback included, each ~0.15 s sooner; a build on the bridge reruns them once)"
        ) in result.stdout.splitlines()
        assert asked["network"] == "host"
    result = CliRunner().invoke(app, ["build", str(cpu), "--network", "none"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid build network 'none'")
    assert "Use one of: bridge, host." in result.stderr
