"""A BuildKit build over the engine's unix socket, without docker-py (socket_engine): the
engine found, the request it gets, the stream read as docker-py's is, and its failures."""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from envforge.engine import client as engine
from envforge.engine import socket_engine
from envforge.errors import BuildError, DockerUnavailableError
from tests.unit.engine.test_buildkit import trace
from tests.unit.engine.test_trace import field as pb_field
from tests.unit.engine.test_trace import stamp, vertex

VERSION = {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "Components": []}


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeEngine:
    """A Docker engine on a unix socket: `routes` answers each request by its method and path
    (without the query): the raw bytes it sends back, in pieces, then it closes."""

    path: Path
    routes: dict[str, Callable[[Request], Iterable[bytes]]] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)
    # Routes whose next request is answered after its head alone, as dockerd answers a build
    # it refuses: the body is not read, and the connection closed after the answer.
    unread: list[str] = field(default_factory=list)


def _read_request(conn: socket.socket, unread: list[str] | None = None) -> Request:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    size = int(headers.get("content-length", "0"))
    route = f"{method} {target.split('?')[0]}"
    if unread and route in unread:
        unread.remove(route)
        return Request(method, target, headers, b"")
    while len(body) < size:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, target, headers, body)


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEngine]:
    path = tmp_path / "engine.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    fake = FakeEngine(path)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                request = _read_request(conn, fake.unread)
                fake.seen.append(request)
                route = f"{request.method} {request.target.split('?')[0]}"
                answer = fake.routes.get(route, lambda _: [b"HTTP/1.0 404 Not Found\r\n\r\n{}"])
                try:
                    for piece in answer(request):
                        conn.sendall(piece)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield fake
    server.close()


def json_answer(body: object, status: str = "200 OK") -> Callable[[Request], list[bytes]]:
    data = json.dumps(body).encode()
    return lambda _: [
        f"HTTP/1.0 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    ]


def chunked(lines: list[bytes], *, end: bool = True) -> Callable[[Request], Iterator[bytes]]:
    """A streamed answer as dockerd sends it (HTTP/1.1, chunked); end=False: it stops short."""

    def answer(_: Request) -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for line in lines:
            yield b"%x\r\n%s\r\n" % (len(line), line)
        if end:
            yield b"0\r\n\r\n"

    return answer


def _dockerfile(root: Path) -> Path:
    (root / "Dockerfile").write_text("FROM base:1\nCOPY . /src\n")
    (root / "app.py").write_text("print(1)\n")
    return root


def _build(root: Path, lines: list[str] | None = None, **kwargs: Any) -> engine.BuiltImage:
    client = engine.connect_socket()
    assert isinstance(client, socket_engine.SocketEngine)
    return engine.build_image(
        client, root, "t:1", out=(lines if lines is not None else []).append,
        buildargs={"A": "1"}, nocache=False, builder="buildkit", **kwargs,
    )  # fmt: skip


def test_no_engine_on_the_socket_is_none() -> None:
    assert engine.connect_socket() is None  # the isolated host: a socket that does not exist


def test_an_engine_that_accepts_and_never_answers_is_waited_for_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not None (which would send build on to docker-py's connect and its own wait): the
    one error, after one connect timeout."""
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)  # accepted by the kernel, never read or answered
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setenv("ENVFORGE_DOCKER_TIMEOUT", "0.2")
    try:
        with pytest.raises(DockerUnavailableError) as caught:
            engine.connect_socket()
    finally:
        server.close()
    assert (
        caught.value.reason == "no answer within 0.2 s (set ENVFORGE_DOCKER_TIMEOUT to wait longer)"
    )


def test_another_kind_of_docker_host_is_left_to_docker_py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    assert engine.connect_socket() is None


@pytest.mark.parametrize("answer", [{"Version": "x"}, {"ApiVersion": "1.41/../../x"}, []])
def test_an_answer_that_is_not_dockers_is_none(fake_engine: FakeEngine, answer: object) -> None:
    fake_engine.routes["GET /version"] = json_answer(answer)
    assert engine.connect_socket() is None


def test_a_build_over_the_socket(fake_engine: FakeEngine, tmp_path: Path) -> None:
    started = vertex(digest="a", name="[1/2] FROM base:1", started=stamp(1))
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": chunked([
            json.dumps(trace(pb_field(1, started))).encode() + b"\r\n" + b'{"id": "moby.image',
            b'.id", "aux": {"ID": "sha256:ab"}}\r\nnot json\r\n',
        ]),
        "GET /images/sha256:ab/json": json_answer({"Id": "sha256:ab", "Size": 7, "Config": {}}),
    })  # fmt: skip
    lines: list[str] = []
    built = _build(_dockerfile(tmp_path), lines)
    assert (built.id, built.tag, built.size) == ("sha256:ab", "t:1", 7)
    assert lines == ["[1/2] FROM base:1"]
    post = next(r for r in fake_engine.seen if r.method == "POST")
    assert post.target.startswith("/v1.41/build?")
    query = dict(p.split("=", 1) for p in post.target.split("?", 1)[1].split("&"))
    assert query["version"] == "2" and query["t"] == "t%3A1" and "pull" not in query
    assert "nocache" not in query
    assert post.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(post.body)) as context:
        assert sorted(context.getnames()) == ["Dockerfile", "app.py"]


def test_a_missing_image_is_pulled_with_docker_py(fake_engine: FakeEngine, tmp_path: Path) -> None:
    """What the socket does not describe goes to docker-py, which pulls with the user's
    credentials (and says what went wrong)."""
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "POST /v1.41/build": chunked([b'{"id": "moby.image.id", "aux": {"ID": "sha256:ab"}}\n']),
        "GET /images/sha256:ab/json": json_answer({"Id": "sha256:ab", "Size": 7}),
    })  # fmt: skip
    pulled: list[str] = []

    class Images:
        def get(self, ref: str) -> object:
            import docker.errors

            raise docker.errors.ImageNotFound(ref)

        def pull(self, ref: str) -> None:
            pulled.append(ref)

    class Docker:
        images = Images()

    client = engine.connect_socket()
    assert isinstance(client, socket_engine.SocketEngine)
    client._docker.append(Docker())  # type: ignore[arg-type]
    lines: list[str] = []
    engine.build_image(
        client, _dockerfile(tmp_path), "t:1", out=lines.append, buildargs={}, builder="buildkit"
    )
    assert pulled == ["base:1"] and lines == ["pulled    base:1"]


def test_an_error_answer_is_the_engines_message(fake_engine: FakeEngine, tmp_path: Path) -> None:
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": json_answer({"message": "dockerfile parse error"}, "500 Error"),
    })  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _build(_dockerfile(tmp_path))
    assert str(caught.value).endswith(": dockerfile parse error")


def test_an_error_line_in_the_stream_fails_the_build(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": chunked([b'{"error": "exit code: 1", "errorDetail": {"message": "exit code: 1"}}\n']),
    })  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _build(_dockerfile(tmp_path))
    assert "exit code: 1" in str(caught.value)


def test_an_engine_that_goes_away_mid_build_is_said_so(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    started = vertex(digest="a", name="[stage-4 3/5] RUN uv sync", started=stamp(1))
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": chunked(
            [json.dumps(trace(pb_field(1, started))).encode() + b"\r\n"], end=False
        ),
    })  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _build(_dockerfile(tmp_path))
    assert caught.value.step == "[stage-4 3/5] RUN uv sync"
    assert "the engine closed the connection during the build" in str(caught.value)


def test_the_smoke_check_gets_docker_py(fake_engine: FakeEngine) -> None:
    """Anything past the build connects docker-py to the same engine (here: none answers it)."""
    fake_engine.routes["GET /version"] = json_answer(VERSION)
    client = engine.connect_socket()
    assert isinstance(client, socket_engine.SocketEngine)
    assert client.version()["ApiVersion"] == "1.41"
    with pytest.raises(DockerUnavailableError):
        engine.docker_client(client)  # the fake answers no /_ping
    plain = object()
    assert engine.docker_client(plain) is plain


def test_an_answer_that_is_not_http_fails_the_build(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": lambda _: [b"garbage\r\n\r\n"],
    })  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _build(_dockerfile(tmp_path))
    assert str(caught.value).endswith("the engine's answer is not HTTP")


def test_a_broken_chunk_is_a_dropped_build(fake_engine: FakeEngine, tmp_path: Path) -> None:
    started = vertex(digest="a", name="[1/2] FROM base:1", started=stamp(1))
    line = json.dumps(trace(pb_field(1, started))).encode() + b"\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": lambda _: [head + b"%x\r\n%s\r\nzz\r\n" % (len(line), line)],
    })  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _build(_dockerfile(tmp_path))
    assert "the engine closed the connection during the build" in str(caught.value)


def test_an_error_answer_without_a_length_is_read_to_the_close(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": lambda _: [
            b"HTTP/1.0 500 Error\r\n\r\n", b'{"message": "no ', b'length"}'
        ],
    })  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _build(_dockerfile(tmp_path))
    assert caught.value.reason == "no length"


def test_a_success_on_part_of_the_context_is_a_failure(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    """An engine that answers 200 without reading the context, then closes: the build's
    answer is not taken for a build of that context."""
    (tmp_path / "data.bin").write_bytes(os.urandom(8 << 20))
    fake_engine.routes.update({
        "GET /version": json_answer(VERSION),
        "GET /images/base:1/json": json_answer({"Id": "sha256:base"}),
        "POST /v1.41/build": chunked([b'{"id": "moby.image.id", "aux": {"ID": "sha256:ab"}}\n']),
    })  # fmt: skip
    fake_engine.unread.append("POST /v1.41/build")
    with pytest.raises(BuildError):
        _build(_dockerfile(tmp_path))
