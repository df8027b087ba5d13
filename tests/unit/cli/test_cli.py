"""The command line: exact output for the common paths, one clear message for bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.image.options import BuildOptions
from envforge.image.render import render_dockerfile
from tests.unit.helpers import plan_for

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def cpu(example_copy) -> Path:
    return example_copy("cpu-sklearn")


def test_dockerize_writes_both_files_then_is_idempotent(cpu: Path) -> None:
    first = invoke("dockerize", str(cpu))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[:2] == [
        f"created   {cpu / 'Dockerfile'}",
        f"created   {cpu / '.dockerignore'}",
    ]
    dockerfile = (cpu / "Dockerfile").read_bytes()
    ignore = (cpu / ".dockerignore").read_bytes()
    second = invoke("dockerize", str(cpu))
    assert second.exit_code == 0
    assert second.stdout.splitlines()[:2] == [
        f"unchanged {cpu / 'Dockerfile'}",
        f"unchanged {cpu / '.dockerignore'}",
    ]
    assert (cpu / "Dockerfile").read_bytes() == dockerfile
    assert (cpu / ".dockerignore").read_bytes() == ignore


def test_dockerize_never_overwrites_a_users_file(cpu: Path) -> None:
    (cpu / "Dockerfile").write_text("FROM scratch\n")
    result = invoke("dockerize", str(cpu))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: Refusing to overwrite '{cpu / 'Dockerfile'}': it was not written by envforge, "
        "or was edited after envforge wrote it",
        "hint: Keep your file, print envforge's version with --stdout, or replace it with --force.",
    ]
    assert (cpu / "Dockerfile").read_text() == "FROM scratch\n"
    assert not (cpu / ".dockerignore").exists()  # all or nothing


def test_an_edited_file_is_the_users_and_force_replaces_it(cpu: Path) -> None:
    assert invoke("dockerize", str(cpu)).exit_code == 0
    dockerfile = cpu / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo mine\n")
    assert invoke("dockerize", str(cpu)).exit_code == 2
    assert dockerfile.read_text().endswith("RUN echo mine\n")
    forced = invoke("dockerize", str(cpu), "--force")
    assert forced.exit_code == 0
    assert forced.stdout.splitlines()[0] == f"replaced  {dockerfile}"
    assert not dockerfile.read_text().endswith("RUN echo mine\n")


def test_stdout_prints_the_dockerfile_and_writes_nothing(cpu: Path) -> None:
    result = invoke("dockerize", str(cpu), "--stdout")
    assert result.exit_code == 0
    # With no engine to ask, auto writes BuildKit's Dockerfile (what Docker 23+ builds).
    assert result.stdout == render_dockerfile(plan_for(cpu, BuildOptions(builder="buildkit")))
    classic = invoke("dockerize", str(cpu), "--stdout", "--builder", "classic")
    assert classic.stdout == render_dockerfile(plan_for(cpu))
    assert "--mount" not in classic.stdout
    assert not (cpu / "Dockerfile").exists()


def test_base_image_from_the_environment(cpu: Path) -> None:
    result = invoke("dockerize", str(cpu), "--stdout", env={"ENVFORGE_BASE_IMAGE": "local/py:3.11"})
    assert result.exit_code == 0
    assert "FROM local/py:3.11 AS deps\n" in result.stdout


def test_plan_text_and_json(cpu: Path) -> None:
    text = invoke("plan", str(cpu))
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert lines[0] == f"envforge plan for cpu-sklearn 0.1.0 ({cpu})"
    assert [line.split()[0] for line in lines if line and not line.startswith(" ")][1:] == [
        "python", "base", "uv", "dependencies", "command", "layers", "bytecode", "builder",
        "environment", "heavy", "lock", "tag",
    ]  # fmt: skip
    data = json.loads(invoke("plan", str(cpu), "--json").stdout)
    assert data["schema"] == 1
    assert data["python"] == "3.11"
    assert data["tag"] == "cpu-sklearn:0.1.0"
    assert data["entrypoint"] == ["cpu-sklearn"]
    assert data["base_image"]["digest"].startswith("sha256:")
    assert (data["builder"], data["environment_stage"]) == ("buildkit", "runtime")
    heavy = {p["name"]: p for p in data["heavy"]}
    assert set(heavy) == {"numpy", "pandas", "scipy", "python-dateutil", "tzdata"}
    assert heavy["scipy"]["needed_by_heavy"] is False and heavy["tzdata"]["needed_by_heavy"]
    assert heavy["scipy"]["hashes"][0].startswith("sha256:") and heavy["scipy"]["size"] > 10**7
    assert {d["topic"] for d in data["decisions"]} >= {"python", "base image", "uv", "command"}


# Bad input: one message, exit 2, no traceback, nothing written.


def _error(*args: str, env: dict[str, str] | None = None) -> list[str]:
    result = invoke(*args, env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr.splitlines()


def test_missing_path(tmp_path: Path) -> None:
    assert _error("dockerize", str(tmp_path / "nope")) == [
        f"error: No such path: '{tmp_path / 'nope'}'",
        "hint: Pass the folder of a uv project (one with pyproject.toml and uv.lock).",
    ]


def test_malformed_toml(cpu: Path) -> None:
    (cpu / "pyproject.toml").write_text('[project]\nname = "x"\nversion = \n')
    lines = _error("dockerize", str(cpu))
    assert lines[0].startswith("error: Invalid TOML (")
    assert "line 3" in lines[0]
    assert lines[0].endswith(f"in {cpu / 'pyproject.toml'}")
    assert not (cpu / "Dockerfile").exists()


def test_no_project_table(cpu: Path) -> None:
    (cpu / "pyproject.toml").write_text("[tool.uv]\npackage = false\n")
    assert _error("plan", str(cpu))[0] == "error: No [project] table in pyproject.toml"


def test_unknown_lock_version(cpu: Path) -> None:
    lock = cpu / "uv.lock"
    lock.write_text(lock.read_text().replace("version = 1\n", "version = 2\n", 1))
    assert _error("plan", str(cpu)) == [
        "error: Unsupported lock version: 2 in 'version' of uv.lock (envforge reads version 1)",
        "hint: Upgrade envforge, or re-lock with a uv release that writes version 1.",
    ]


def test_no_lock(cpu: Path) -> None:
    (cpu / "uv.lock").unlink()
    assert _error("dockerize", str(cpu)) == [
        f"error: No uv.lock in '{cpu}'",
        "hint: Run 'uv lock' in the project, then commit uv.lock: envforge builds exactly the lock.",
    ]


def _make_stale(root: Path) -> None:
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pandas>=2.2"', '"pandas>=2.1"'))


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv on PATH")
def test_stale_lock_with_uv(cpu: Path) -> None:
    _make_stale(cpu)
    assert _error("dockerize", str(cpu)) == [
        f"error: uv.lock in '{cpu}' is out of date with pyproject.toml (uv lock --check)",
        "hint: Run 'uv lock' in the project to bring uv.lock up to date, then retry.",
    ]


def test_stale_lock_without_uv(cpu: Path, tmp_path: Path) -> None:
    _make_stale(cpu)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    lines = _error("dockerize", str(cpu), env={"PATH": str(empty)})
    assert lines[0] == (
        f"error: uv.lock in '{cpu}' is out of date with pyproject.toml: "
        "dependencies: pandas>=2.1 is in pyproject.toml but not in uv.lock; "
        "dependencies: pandas>=2.2 is in uv.lock but not in pyproject.toml"
    )


def test_unknown_group_is_a_usage_error(cpu: Path) -> None:
    assert _error("plan", str(cpu), "--group", "docs") == [
        "error: Unknown dependency group 'docs'",
        "hint: The project's groups: dev.",
    ]


def test_ca_bundle_must_hold_a_certificate(cpu: Path) -> None:
    bogus = cpu / "README.md"
    assert _error("plan", str(cpu), "--ca-bundle", str(bogus)) == [
        f"error: '{bogus}' holds no PEM certificate",
        "hint: Pass a PEM file (-----BEGIN CERTIFICATE-----).",
    ]


def test_unreachable_engine_names_where_it_looked(cpu: Path, tmp_path: Path) -> None:
    sock = tmp_path / "no.sock"
    result = invoke("build", str(cpu), env={"DOCKER_HOST": f"unix://{sock}"})
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: Cannot reach the Docker engine at unix://{sock} (DOCKER_HOST): "
        "the socket does not exist (is dockerd running?)",
        "hint: Start dockerd (or Docker Desktop), or point DOCKER_HOST at a running engine.",
    ]


def test_help_is_fast_because_imports_are_lazy() -> None:
    heavy = ("docker", "pynvml", "jinja2", "yaml", "tomlkit", "envforge.image.plan")
    code = f"import sys; from envforge.cli import app; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ
    )
    assert done.stdout.strip() == "[]"


def test_every_command_reports_its_errors_through_the_handler() -> None:
    """Registered through cli.handler.handled: error/hint and an exit code, no traceback."""
    from envforge.cli.handler import handled

    callbacks = [info.callback for info in app.registered_commands if info.callback]
    assert [c.__name__ for c in callbacks] == [
        "dockerize", "plan", "build", "run", "runs", "push", "readme", "verify", "doctor",
        "save", "job",
    ]  # fmt: skip
    for callback in callbacks:
        assert callback.__code__ is handled(lambda: None).__code__, callback


def _console(
    *args: str, cwd: Path | None = None, full: bool = False
) -> subprocess.CompletedProcess[str]:
    """`envforge ARGS` as the console script runs it (envforge.cli.main), or (full) as the
    group of every command runs it."""
    code = (
        "import sys; from envforge.cli import app; sys.argv[0] = 'envforge'; app(prog_name='envforge')"
        if full
        else "import sys; from envforge.cli import main; sys.argv[0] = 'envforge'; main()"
    )
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd
    )


@pytest.mark.parametrize(
    "args",
    [
        ("build", "--help"),
        ("run", "--help"),
        ("job", "--help"),
        ("build", "--network", "none"),
        ("plan", "--no-such-option"),
        ("plan", "no-such-folder"),
        ("doctor", "--json", "--image"),
    ],
)
def test_the_console_script_builds_one_command_and_says_what_the_full_group_says(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    """main() makes only the command it runs: the same help, errors and exit codes as `app`."""
    console, full = _console(*args, cwd=tmp_path), _console(*args, cwd=tmp_path, full=True)
    assert (console.returncode, console.stdout, console.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    )
    assert console.stdout or console.stderr


def test_the_console_script_imports_only_the_command_it_runs() -> None:
    code = (
        "import atexit, sys; atexit.register(lambda: print(sorted(m for m in sys.modules "
        "if m.startswith('envforge.cli.')), file=sys.stderr)); sys.argv = ['envforge', "
        "'build', '--help']; from envforge.cli import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == str(
        [
            "envforge.cli.build",
            "envforge.cli.console",
            "envforge.cli.handler",
            "envforge.cli.options",
        ]
    )
    # Anything else, --help included, is the full group.
    assert "dockerize" in _console("--help").stdout and _console("bogus").returncode == 2
