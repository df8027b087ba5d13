"""A uv workspace (a virtual root, two members) built as one member in the offline lab."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO
from tests.integration.conftest import Lab, envforge

WORKSPACE = REPO / "tests/fixtures/projects/workspace"


def test_member_is_built_from_the_workspace_root(
    docker_client, lab: Lab, tmp_path: Path, unique_tag: str
) -> None:
    root = tmp_path / "workspace"
    shutil.copytree(WORKSPACE, root, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    tag = f"{unique_tag}/backends-ws-app:0.1.0"
    done = envforge("build", str(root), "--package", "ws-app", "--tag", tag, env=lab.cli_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    try:
        # The build context and the Dockerfile are the workspace root's.
        assert (root / "Dockerfile").is_file()
        run = envforge("run", tag, "--no-tty", env=lab.cli_env())
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.strip() == "hello from ws-lib, workspace"
    finally:
        docker_client.images.remove(tag, force=True)


def test_member_path_is_refused_with_the_hint(lab: Lab, tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    shutil.copytree(WORKSPACE, root)
    done = envforge("plan", str(root / "packages/ws-app"), env=lab.cli_env())
    assert done.returncode == 2
    assert "--package ws-app" in done.stderr


def test_library_member_builds_with_its_siblings_pyproject_only(
    docker_client, lab: Lab, tmp_path: Path, unique_tag: str
) -> None:
    """ws-lib installs no other member: ws-app reaches the deps stage by pyproject.toml alone."""
    root = tmp_path / "workspace"
    shutil.copytree(WORKSPACE, root, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    tag = f"{unique_tag}/backends-ws-lib:0.2.0"
    done = envforge("build", str(root), "--package", "ws-lib", "--tag", tag, env=lab.cli_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    try:
        dockerfile = (root / "Dockerfile").read_text()
        assert (
            'COPY ["packages/ws-app/pyproject.toml", "packages/ws-app/pyproject.toml"]'
            in dockerfile
        )
        out = docker_client.containers.run(
            tag, ["python", "-c", "import ws_lib; print(ws_lib.greeting('lib'))"],
            entrypoint=[], remove=True,
        )  # fmt: skip
        assert out.decode().strip() == "hello from ws-lib, lib"
    finally:
        docker_client.images.remove(tag, force=True)


MCP = REPO / "tests/fixtures/modelled/mcp-python-sdk"


def test_member_on_the_workspace_roots_project_builds_runs_and_verifies(
    docker_client, lab: Lab, tmp_path: Path, unique_tag: str
) -> None:
    """relay-echo-server depends on the root's own project, relay (modelcontextprotocol/
    python-sdk's shape): the root's wheel is built in the project stage beside the member's,
    the smoke check passes, verify passes, and a code edit of the root rebuilds only the
    code layer."""
    root = tmp_path / "sdk"
    shutil.copytree(MCP, root, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    tag = f"{unique_tag}/ws-relay-echo-server:0.1.0"
    package = ("--package", "relay-echo-server")
    done = envforge("build", str(root), *package, "--tag", tag, env=lab.cli_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    try:
        dockerfile = (root / "Dockerfile").read_text()
        assert "--no-install-project --no-install-package relay" in dockerfile
        run = envforge("run", tag, "--no-tty", env=lab.cli_env())
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.strip() == "{'kind': 'server', 'body': 'echo'}"
        out = docker_client.containers.run(
            tag,
            ["python", "-c", "import relay, relay_echo_server; print(relay.__file__)"],
            entrypoint=[], remove=True,
        )  # fmt: skip
        assert out.decode().strip().startswith("/app/.venv/lib/")  # installed, not the source
        verified = envforge("verify", tag, str(root), *package, env=lab.cli_env())
        assert verified.returncode == 0, verified.stdout + verified.stderr

        layers = docker_client.images.get(tag).attrs["RootFS"]["Layers"]
        code = root / "src/relay/__init__.py"
        code.write_text(code.read_text() + "\nEDITED = True\n")
        again = envforge("build", str(root), *package, "--tag", tag, env=lab.cli_env())
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr
        after = docker_client.images.get(tag).attrs["RootFS"]["Layers"]
        assert after[:-1] == layers[:-1] and after[-1] != layers[-1]  # only the code layer
    finally:
        docker_client.images.remove(tag, force=True)
