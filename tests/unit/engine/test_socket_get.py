"""get_json_over_socket: one GET over the engine's unix socket without docker-py, and
known_image_python, the cached image Python it makes available to `envforge plan`."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envforge.engine import images
from envforge.engine.connect import get_json_over_socket

Answer = Callable[[bytes], bytes]


@pytest.fixture
def engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Answer], list[bytes]]]:
    """A fake engine on a unix socket: answer(request) is what it sends back."""
    path = tmp_path / "engine.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    seen: list[bytes] = []
    answer: list[Answer] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536)
                seen.append(request)
                conn.sendall(answer[0](request))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def start(fn: Answer) -> list[bytes]:
        answer.append(fn)
        return seen

    yield start
    server.close()


def ok(body: object) -> Answer:
    data = json.dumps(body).encode()
    return lambda _: b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + data


def test_a_200_answer_is_its_json(engine: Callable[[Answer], list[bytes]]) -> None:
    seen = engine(ok({"Id": "sha256:abc"}))
    assert get_json_over_socket("/images/a/b:1/json") == {"Id": "sha256:abc"}
    assert seen[0].startswith(b"GET /images/a/b:1/json HTTP/1.0\r\n")


@pytest.mark.parametrize(
    "answer",
    [
        lambda _: b'HTTP/1.0 404 Not Found\r\n\r\n{"message": "No such image"}',
        lambda _: b"HTTP/1.0 200 OK\r\n\r\n{broken",
        lambda _: b"garbage",
        lambda _: b"",
    ],
    ids=["404", "broken json", "not http", "nothing"],
)
def test_any_other_answer_is_none(engine: Callable[[Answer], list[bytes]], answer: Answer) -> None:
    engine(answer)
    assert get_json_over_socket("/images/x/json") is None


def test_no_engine_or_another_kind_of_host_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_json_over_socket("/_ping") is None  # the isolated host's socket does not exist
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    assert get_json_over_socket("/_ping") is None


def test_known_image_python_answers_from_the_cache_only(
    engine: Callable[[Answer], list[bytes]],
) -> None:
    seen = engine(ok({"Id": "sha256:abc"}))
    assert images.known_image_python("base:1") is None  # not cached yet: image_python asks
    cache = images._probe_cache()
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"sha256:abc": "3.11.2", "sha256:def": ""}))
    assert images.known_image_python("base:1") == "3.11.2"
    assert seen[-1].startswith(b"GET /images/base:1/json ")
    cache.write_text(json.dumps({"sha256:abc": ""}))
    assert images.known_image_python("base:1") == ""  # an image without Python, known
