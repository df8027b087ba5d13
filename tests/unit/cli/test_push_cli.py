"""`envforge push`: exact output (progress on stderr, the digest reference alone on stdout),
credentials from stdin, and its refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.engine import client as engine
from tests.unit.engine.test_push import AGAIN, DIGEST, FIRST_PUSH, FakeClient, error

runner = CliRunner()
REF = "127.0.0.1:5561/probe/x:1"
PINNED = f"127.0.0.1:5561/probe/x@{DIGEST}"


@pytest.fixture
def engine_with(monkeypatch: pytest.MonkeyPatch):
    """The engine connect() gives: a fake docker-py client answering a push with events."""

    def make(events: list[Any], images: tuple[str, ...] = ("app:1",)) -> FakeClient:
        client = FakeClient(events, images)
        monkeypatch.setattr(engine, "connect", lambda: client)
        return client

    return make


def test_a_push_prints_each_layer_change_then_the_digest_reference(engine_with: Any) -> None:
    client = engine_with(FIRST_PUSH)
    done = runner.invoke(app, ["push", "app:1", REF])
    assert done.exit_code == 0, done.output
    assert done.stdout == f"{PINNED}\n"
    assert done.stderr == (
        f"pushing   app:1 to {REF}\n"
        "layer     c07e0e4ec0ac pushing 3 B\n"
        "layer     01a4fb99d2bc pushing 161.4 MB\n"
        "layer     c07e0e4ec0ac pushed\n"
        "layer     01a4fb99d2bc pushed\n"
        f"digest    {DIGEST}\n"
    )
    assert client.pushed[0]["auth_config"] is None  # docker-py reads the docker config


def test_a_second_push_says_what_the_registry_had(engine_with: Any) -> None:
    engine_with(AGAIN)
    done = runner.invoke(app, ["push", "app:1", REF])
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines()[1:3] == [
        "layer     c07e0e4ec0ac exists",
        "layer     01a4fb99d2bc mounted from probe/z",
    ]


def test_a_project_folder_pushes_its_default_tag(engine_with: Any, example_copy: Any) -> None:
    project: Path = example_copy("cpu-sklearn")
    client = engine_with(AGAIN, images=("cpu-sklearn:0.1.0",))
    done = runner.invoke(app, ["push", str(project), "127.0.0.1:5561/team/cpu-sklearn"])
    assert done.exit_code == 0, done.output
    assert done.stderr.startswith(
        "pushing   cpu-sklearn:0.1.0 to 127.0.0.1:5561/team/cpu-sklearn\n"
    )
    assert client.tagged == [("127.0.0.1:5561/team/cpu-sklearn", "latest")]
    assert done.stdout == f"127.0.0.1:5561/team/cpu-sklearn@{DIGEST}\n"


def test_the_password_comes_from_stdin_and_is_never_printed(engine_with: Any) -> None:
    client = engine_with(AGAIN)
    done = runner.invoke(
        app, ["push", "app:1", REF, "--username", "user", "--password-stdin"], input="s3cret\n"
    )
    assert done.exit_code == 0, done.output
    assert client.pushed[0]["auth_config"] == {
        "username": "user",
        "password": "s3cret",
        "serveraddress": "127.0.0.1:5561",
    }
    assert "s3cret" not in done.output


def test_refused_credentials(engine_with: Any) -> None:
    engine_with([error("unauthorized: authentication required")])
    done = runner.invoke(
        app, ["push", "app:1", REF, "-u", "user", "--password-stdin"], input="wrong"
    )
    assert done.exit_code == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"pushing   app:1 to {REF}\n"
        f"error: Cannot push '{REF}' to 127.0.0.1:5561: unauthorized: authentication required\n"
        "hint: The registry refused these credentials: check --username and the password, "
        "and that the user may push to 127.0.0.1:5561/probe/x.\n"
    )


def test_a_registry_that_is_down(engine_with: Any) -> None:
    reason = 'Get "http://127.0.0.1:5599/v2/": dial tcp 127.0.0.1:5599: connect: connection refused'
    engine_with([{"status": "The push refers to repository [127.0.0.1:5599/x]"}, error(reason)])
    done = runner.invoke(app, ["push", "app:1", "127.0.0.1:5599/x:1"])
    assert done.exit_code == 1
    assert done.stderr.splitlines()[1:] == [
        f"error: Cannot push '127.0.0.1:5599/x:1' to 127.0.0.1:5599: {reason}",
        "hint: Is the registry up at 127.0.0.1:5599? Check the host and port, then retry.",
    ]


def test_an_image_that_is_not_there(engine_with: Any) -> None:
    engine_with(AGAIN, images=())
    done = runner.invoke(app, ["push", "app:1", REF])
    assert done.exit_code == 2
    assert done.stderr.splitlines()[1:] == [
        "error: No image 'app:1' in the Docker engine",
        "hint: Build it first with 'envforge build', or name an existing image.",
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--username", "user"], None, "error: --username and --password-stdin go together"),
        (["--password-stdin"], "pw", "error: --username and --password-stdin go together"),
        (
            ["-u", "user", "--password-stdin"],
            "\n",
            "error: --password-stdin: stdin held no password",
        ),
        (
            ["-u", "us:er", "--password-stdin"],
            "pw",
            "error: Invalid --username: give the registry's user name (no ':', one line)",
        ),
    ],
)
def test_credentials_refused_before_any_engine(
    engine_with: Any, args: list[str], stdin: str | None, message: str
) -> None:
    client = engine_with(AGAIN)
    done = runner.invoke(app, ["push", "app:1", REF, *args], input=stdin)
    assert done.exit_code == 2
    assert done.stderr.splitlines()[0] == message
    assert client.pushed == []


def test_a_reference_without_a_registry(engine_with: Any) -> None:
    engine_with(AGAIN)
    done = runner.invoke(app, ["push", "app:1", "team/app:1"])
    assert done.exit_code == 2
    assert done.stderr == (
        "error: Invalid registry reference 'team/app:1' in the REF argument\n"
        "hint: Name the registry and the repository, with an optional tag and no digest: "
        "registry.example:5000/team/name:1.0 (docker.io/USER/NAME:TAG for Docker Hub).\n"
    )
