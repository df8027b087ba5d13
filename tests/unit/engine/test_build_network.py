"""The network a build's RUN steps share (engine.network): the request each builder gets, and
the same build sent again on the bridge when the engine refuses the host's network."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envforge.engine import client as engine
from envforge.engine import socket_engine
from envforge.engine.network import REFUSED, host_refused, networkmode
from envforge.errors import BuildError
from tests.unit.engine.test_buildkit import trace
from tests.unit.engine.test_socket_engine import (
    VERSION,
    FakeEngine,
    Request,
    chunked,
    fake_engine,  # noqa: F401  # the fixture
    json_answer,
)
from tests.unit.engine.test_trace import field as pb_field
from tests.unit.engine.test_trace import stamp, vertex

# dockerd 20.10.24's answer, recorded from a daemon started with daemon.json
# {"builder": {"entitlements": {"network-host": false}}}, to POST /build?networkmode=host.
REFUSAL = "granting entitlement network.host is not allowed by build daemon configuration"
BUILT = b'{"id": "moby.image.id", "aux": {"ID": "sha256:ab"}}\r\n'


def _query(request: Request) -> dict[str, str]:
    return dict(p.split("=", 1) for p in request.target.split("?", 1)[1].split("&"))


def _engine(fake: FakeEngine, first: Any) -> None:
    """An engine whose first build answer is `first`, and whose next ones build."""
    answers = [first]

    def build(request: Request) -> Iterator[bytes]:
        answer = answers.pop() if answers else chunked([BUILT])
        yield from answer(request)

    fake.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": build,
        "GET /images/sha256:ab/json": json_answer({"Id": "sha256:ab", "Size": 7}),
    })  # fmt: skip


def _build(root: Path, network: Any, lines: list[str]) -> engine.BuiltImage:
    (root / "Dockerfile").write_text("FROM base:1\nRUN true\nCOPY . /src\n")
    client = engine.connect_socket()
    assert isinstance(client, socket_engine.SocketEngine)
    return engine.build_image(
        client, root, "t:1", out=lines.append, buildargs={}, builder="buildkit", network=network
    )


def _posts(fake: FakeEngine) -> list[Request]:
    return [r for r in fake.seen if r.method == "POST"]


def test_the_request_names_the_hosts_network_and_the_bridge_is_the_engines_default() -> None:
    assert networkmode("host") == {"networkmode": "host"}
    assert networkmode("bridge") == {}  # the request every engine has always had


@pytest.mark.parametrize("network", ["host", "bridge"])
def test_a_buildkit_build_on_each_network(
    fake_engine: FakeEngine,  # noqa: F811
    tmp_path: Path,
    network: str,
) -> None:
    _engine(fake_engine, chunked([BUILT]))
    lines: list[str] = []
    assert _build(tmp_path, network, lines).id == "sha256:ab"
    (post,) = _posts(fake_engine)
    assert _query(post).get("networkmode") == ("host" if network == "host" else None)
    assert lines == []


def test_a_refused_host_network_builds_again_on_the_bridge(
    fake_engine: FakeEngine,  # noqa: F811
    tmp_path: Path,
) -> None:
    _engine(fake_engine, json_answer({"message": REFUSAL}, "500 Internal Server Error"))
    lines: list[str] = []
    assert _build(tmp_path, "host", lines).id == "sha256:ab"
    first, second = _posts(fake_engine)
    assert _query(first)["networkmode"] == "host" and "networkmode" not in _query(second)
    assert second.body == first.body and len(second.body) > 0  # the same context, sent again
    assert lines == [f"network   {REFUSED}"]


def test_a_refusal_answered_before_a_large_context_is_read_builds_again_on_the_bridge(
    fake_engine: FakeEngine,  # noqa: F811
    tmp_path: Path,
) -> None:
    """dockerd refuses before its frontend reads the context, and closes on the rest of it:
    the answer is read after the broken pipe, not taken for a dropped connection."""
    (tmp_path / "data.bin").write_bytes(os.urandom(8 << 20))  # more than the socket buffers
    _engine(fake_engine, json_answer({"message": REFUSAL}, "500 Internal Server Error"))
    fake_engine.unread.append("POST /v1.41/build")
    lines: list[str] = []
    assert _build(tmp_path, "host", lines).id == "sha256:ab"
    first, second = _posts(fake_engine)
    assert first.body == b"" and len(second.body) > 8 << 20
    assert lines == [f"network   {REFUSED}"]


def test_a_refusal_streamed_before_any_step_builds_again_on_the_bridge(
    fake_engine: FakeEngine,  # noqa: F811
    tmp_path: Path,
) -> None:
    error = json.dumps({"error": REFUSAL, "errorDetail": {"message": REFUSAL}}).encode()
    _engine(fake_engine, chunked([error + b"\r\n"]))
    lines: list[str] = []
    assert _build(tmp_path, "host", lines).id == "sha256:ab"
    assert len(_posts(fake_engine)) == 2 and lines == [f"network   {REFUSED}"]


def test_the_same_words_after_a_step_ran_are_the_steps_failure(
    fake_engine: FakeEngine,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A RUN that prints the refusal's words fails the build: nothing is sent again."""
    started = vertex(digest="a", name="[2/2] RUN true", started=stamp(1))
    error = json.dumps({"error": REFUSAL}).encode()
    _engine(fake_engine, chunked([json.dumps(trace(pb_field(1, started))).encode() + b"\r\n",
                                  error + b"\r\n"]))  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _build(tmp_path, "host", [])
    assert caught.value.step == "[2/2] RUN true" and len(_posts(fake_engine)) == 1


def test_on_the_bridge_a_refusal_is_the_builds_failure(
    fake_engine: FakeEngine,  # noqa: F811
    tmp_path: Path,
) -> None:
    _engine(fake_engine, json_answer({"message": REFUSAL}, "500 Internal Server Error"))
    with pytest.raises(BuildError) as caught:
        _build(tmp_path, "bridge", [])
    assert caught.value.reason == REFUSAL and len(_posts(fake_engine)) == 1


def test_only_the_host_networks_refusal_is_taken_for_one() -> None:
    assert host_refused(REFUSAL)
    assert not host_refused("network bridge not found")
    assert not host_refused("granting entitlement security.insecure is not allowed")


def test_the_classic_request_names_the_network(tmp_path: Path) -> None:
    """docker-py's build(network_mode=...): 'host', or none for the bridge."""
    asked: list[Any] = []

    class Api:
        def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
            asked.append(kwargs.get("network_mode"))
            yield {"aux": {"ID": "sha256:ab"}}

    class Images:
        def get(self, ref: str) -> Any:
            return type("Image", (), {"id": ref, "attrs": {"Size": 7}})()

    class Client:
        api = Api()
        images = Images()

    (tmp_path / "Dockerfile").write_text("FROM base:1\n")
    for network in ("host", "bridge"):
        engine.build_image(Client(), tmp_path, "t:1", out=lambda _: None, network=network)  # type: ignore[arg-type]
    assert asked == ["host", None]


def test_through_docker_py_a_refused_host_network_builds_again_on_the_bridge(
    tmp_path: Path,
) -> None:
    """A DOCKER_HOST that is not a unix socket (tcp, ssh): docker-py's request, the same retry."""
    import docker.errors
    import requests

    from tests.unit.engine.test_buildkit import _fake_client

    asked: dict[str, Any] = {}
    client = _fake_client(lambda: iter([BUILT]), asked)
    sent: list[dict[str, Any]] = []
    post = client.api.post

    def refusing(url: str, **kwargs: Any) -> Any:
        sent.append({**kwargs["params"], "body": kwargs["data"].read()})
        kwargs["data"].seek(0)
        if len(sent) == 1:
            answer = requests.Response()
            answer.status_code = 500
            raise docker.errors.APIError("500 Server Error", answer, explanation=REFUSAL)
        return post(url, **kwargs)

    client.api.post = refusing
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    lines: list[str] = []
    built = engine.build_image(
        client, tmp_path, "t:1", out=lines.append, buildargs={}, builder="buildkit",
        network="host",
    )  # fmt: skip
    assert built.id == "sha256:ab" and lines == [f"network   {REFUSED}"]
    assert [s.get("networkmode") for s in sent] == ["host", None]
    assert sent[0]["body"] == sent[1]["body"] != b""
