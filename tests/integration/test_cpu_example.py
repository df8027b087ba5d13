"""examples/cpu-sklearn built end to end in the offline lab, then checked from inside."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from envforge.project.lockfile import lock_hash
from tests.conftest import EXAMPLES
from tests.integration.conftest import Lab, build_copy, envforge

KNOWN_LINE = "cpu-sklearn accuracy=0.9040 seed=0 samples=2000"


@dataclass(frozen=True)
class Built:
    root: Path
    tag: str
    build_output: str


@pytest.fixture(scope="module")
def cpu_image(lab: Lab, docker_client, tmp_path_factory, unique_tag) -> Built:
    root = tmp_path_factory.mktemp("cpu") / "cpu-sklearn"
    tag = f"{unique_tag}/cpu-sklearn:0.1.0"
    output = build_copy(lab, EXAMPLES / "cpu-sklearn", root, tag)
    yield Built(root, tag, output)
    docker_client.images.remove(tag, force=True)


def run(built: Built, lab: Lab, *args: str) -> tuple[int, str]:
    done = envforge("run", built.tag, "--no-tty", *args, env=lab.cli_env())
    return done.returncode, done.stdout + done.stderr


def sh(built: Built, lab: Lab, script: str) -> tuple[int, str]:
    return run(built, lab, "--entrypoint", "sh -c", "--", script)


def test_build_reports_tag_id_and_size(cpu_image: Built) -> None:
    lines = cpu_image.build_output.splitlines()
    assert f"built     {cpu_image.tag}" in lines
    assert any(line.startswith("id        sha256:") for line in lines)
    assert any(line.startswith("size      ") and line.endswith(" MB") for line in lines)
    # The files it built from were written beside pyproject.toml.
    assert (cpu_image.root / "Dockerfile").read_text().startswith("# envforge-checksum: sha256:")
    assert ".venv" in (cpu_image.root / ".dockerignore").read_text().splitlines()


def test_app_prints_its_known_line(cpu_image: Built, lab: Lab) -> None:
    code, out = run(cpu_image, lab)
    assert code == 0
    assert out.strip() == KNOWN_LINE


def test_arguments_after_dashes_reach_the_app(cpu_image: Built, lab: Lab) -> None:
    code, out = run(cpu_image, lab, "--", "--seed", "3", "--samples", "500")
    assert code == 0
    assert out.strip().startswith("cpu-sklearn accuracy=") and out.strip().endswith(
        "seed=3 samples=500"
    )


def test_exit_code_env_and_workdir_are_passed_through(cpu_image: Built, lab: Lab) -> None:
    code, out = run(
        cpu_image, lab, "-e", "GREETING=hi there", "--workdir", "/tmp",
        "--entrypoint", "sh -c", "--", 'echo "$GREETING from $(pwd)"; exit 7',
    )  # fmt: skip
    assert code == 7
    assert out.strip() == "hi there from /tmp"


def test_runs_as_non_root(cpu_image: Built, lab: Lab) -> None:
    code, out = sh(cpu_image, lab, "id -u; id -un")
    assert (code, out.split()) == (0, ["10001", "app"])


def test_dev_group_is_absent(cpu_image: Built, lab: Lab) -> None:
    code, out = sh(
        cpu_image, lab, "python -c 'import importlib.util as u; print(u.find_spec(\"pytest\"))'"
    )
    assert (code, out.strip()) == (0, "None")
    # ...while the runtime dependencies are there, at the locked versions.
    code, out = sh(
        cpu_image,
        lab,
        "python -c 'import numpy, pandas, sklearn; print(numpy.__version__, pandas.__version__, sklearn.__version__)'",
    )
    assert (code, out.strip()) == (0, "2.4.6 3.1.1 1.9.1")


def test_no_pip_uv_or_ca_in_final_image(cpu_image: Built, lab: Lab) -> None:
    code, out = sh(
        cpu_image, lab,
        "command -v pip pip3 uv uvx; python -m pip --version 2>&1 | tail -1; "
        "ls /etc/envforge 2>&1; echo SSL_CERT_FILE=${SSL_CERT_FILE:-unset}; ls /opt",
    )  # fmt: skip
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].endswith("No module named pip")
    assert "No such file or directory" in lines[1]
    assert lines[2] == "SSL_CERT_FILE=unset"
    assert lines[3:] == []  # no /opt/project, /opt/build-env or anything else from the builders


def test_labels(cpu_image: Built, docker_client) -> None:
    labels = docker_client.images.get(cpu_image.tag).labels
    assert labels["dev.envforge.lock-hash"] == lock_hash(
        (EXAMPLES / "cpu-sklearn/uv.lock").read_bytes()
    )
    assert labels["dev.envforge.python"] == "3.11"
    assert labels["dev.envforge.groups"] == ""
    assert labels["org.opencontainers.image.title"] == "cpu-sklearn"
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.base.name"] == "envforge-lab/python:3.11-slim-bookworm"
    assert "org.opencontainers.image.revision" in labels


def test_code_edit_reuses_every_dependency_layer(cpu_image: Built, lab: Lab, docker_client) -> None:
    module = cpu_image.root / "src/cpu_sklearn/experiment.py"
    text = module.read_text()
    # Docker 20.10's BuildKit can export a cached layer under a new diff ID once, on the
    # first rebuild after its image went (measured: every step "cached", the RUN layers new,
    # then stable over every later edit): one edit first, so the test pins the steady loop.
    module.write_text(text + "\n# warm\n")
    done = envforge("build", str(cpu_image.root), "--tag", cpu_image.tag, env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    before = docker_client.images.get(cpu_image.tag).attrs["RootFS"]["Layers"]
    module.write_text(text.replace("cpu-sklearn accuracy=", "cpu-sklearn (edited) accuracy="))
    done = envforge("build", str(cpu_image.root), "--tag", cpu_image.tag, env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    after = docker_client.images.get(cpu_image.tag).attrs["RootFS"]["Layers"]
    # Same number of layers; only the last one (the project's code) differs.
    assert len(after) == len(before)
    assert after[:-1] == before[:-1]
    assert after[-1] != before[-1]
    code, out = run(cpu_image, lab)
    assert code == 0
    assert out.strip() == KNOWN_LINE.replace(
        "cpu-sklearn accuracy=", "cpu-sklearn (edited) accuracy="
    )


def test_a_failing_step_is_named_with_its_log(cpu_image: Built, lab: Lab, tmp_path: Path) -> None:
    broken = tmp_path / "cpu-sklearn"
    shutil.copytree(cpu_image.root, broken)
    shutil.rmtree(broken / "src")  # nothing left for the wheel: the project step must fail
    done = envforge("build", str(broken), "--tag", "envforge-test/broken:0", env=lab.cli_env())
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: Image build failed at step '")
    assert "RUN --mount=... uv build" in first or "RUN uv build" in first  # BuildKit, classic
    # BuildKit's words ("exit code: 1"; auto picks it on Docker 20.10+), or the classic builder's.
    assert "exit code: 1" in first or "returned a non-zero code" in first
    assert any(line.startswith("  | ") for line in done.stderr.splitlines())


def test_running_a_missing_image_is_a_clear_error(lab: Lab) -> None:
    done = envforge("run", "envforge-test/absent:0", "--no-tty", env=lab.cli_env())
    assert done.returncode == 2
    assert (
        done.stderr.splitlines()[0]
        == "error: No image 'envforge-test/absent:0' in the Docker engine"
    )


@pytest.mark.skipif(
    shutil.which("script") is None, reason="needs util-linux's script for a pseudo-terminal"
)
def test_interactive_tty_session(cpu_image: Built, lab: Lab) -> None:
    import shlex
    import subprocess

    inner = shlex.join(
        [
            "envforge",
            "run",
            cpu_image.tag,
            "--entrypoint",
            "sh -c",
            "--",
            "test -t 0 && echo on-a-tty; exit 4",
        ]
    )
    done = subprocess.run(
        ["script", "-qec", inner, "/dev/null"],
        capture_output=True,
        text=True,
        env=lab.cli_env(),
        timeout=120,
    )
    assert done.returncode == 4
    assert "on-a-tty" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_script_project_runs_from_its_folder(lab: Lab, docker_client, tmp_path: Path) -> None:
    """No [build-system]: the source is copied beside the environment, data and secrets stay out."""
    from tests.conftest import REPO

    root = tmp_path / "script-app"
    shutil.copytree(REPO / "tests/fixtures/projects/script-app", root)
    tag = "envforge-script-app:0.3.0"  # the default tag, which `envforge run PATH` finds
    done = envforge("build", str(root), env=lab.cli_env())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    try:
        ran = envforge("run", str(root), "--no-tty", "--", "a", "b", env=lab.cli_env())
        assert ran.returncode == 0, ran.stderr
        # ENV values are literal: no build-time expansion of $HOME.
        assert (
            ran.stdout.strip() == "script-app six=1.17.0 greeting=hello from $HOME args=['a', 'b']"
        )
        listing = envforge(
            "run", tag, "--no-tty", "--entrypoint", "sh -c", "--", "ls -A /app | sort | tr '\\n' ' '",
            env=lab.cli_env(),
        )  # fmt: skip
        shipped = listing.stdout.split()
        assert "main.py" in shipped and ".venv" in shipped
        assert "data" not in shipped and ".env" not in shipped
        image = docker_client.images.get(tag)
        assert "8000/tcp" in image.attrs["Config"]["ExposedPorts"]
        assert image.attrs["Config"]["Entrypoint"] == ["/app/.venv/bin/python", "/app/main.py"]
    finally:
        docker_client.images.remove(tag, force=True)


def test_a_path_dependency_is_built_into_the_image(lab: Lab, docker_client, tmp_path: Path) -> None:
    from tests.conftest import REPO

    root = tmp_path / "with-local-lib"
    shutil.copytree(REPO / "tests/fixtures/projects/with-local-lib", root)
    tag = "envforge-test/with-local-lib:0.1.0"
    done = envforge("build", str(root), "--tag", tag, env=lab.cli_env())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    try:
        ran = envforge("run", tag, "--no-tty", env=lab.cli_env())
        assert (ran.returncode, ran.stdout.strip()) == (
            0,
            "with-local-lib hello from libs/helper 1.17.0",
        )
        verified = envforge("verify", tag, str(root), env=lab.cli_env())
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        docker_client.images.remove(tag, force=True)
