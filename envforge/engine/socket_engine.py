"""The engine at a unix socket, asked over HTTP without docker-py: what a BuildKit build needs
(the version, an image described, the build request and its stream), for `envforge build`.

docker-py's import (requests, urllib3, charset_normalizer, its models) is ~60-100 ms of
every start-up, a fifth of a rebuild after a code edit. A build on a Docker engine at a
unix DOCKER_HOST (the default) talks to it here; docker-py is connected only for what else
the command asks (a pull, the smoke check, the classic builder): `docker_client`.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from envforge.engine.connect import connect, connect_timeout, docker_host, get_json_over_socket
from envforge.errors import InputError

if TYPE_CHECKING:
    import docker

_CHUNK = 65536
_API = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}", re.ASCII)


class EngineAnswerError(Exception):
    """A request the engine answered with an error status: its message, as docker-py's
    APIError explanation gives it."""

    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(explanation)
        self.status = status
        self.explanation = explanation


@dataclass(eq=False)
class SocketEngine:
    """A Docker engine that answered /version on its unix socket."""

    path: str
    answer: Mapping[str, Any]  # its /version
    _docker: list[docker.DockerClient] = field(default_factory=list)

    @property
    def api_version(self) -> str:
        """The engine's API version ("1.41"), checked by connect_socket: the requests' prefix."""
        return str(self.answer["ApiVersion"])

    def version(self) -> Mapping[str, Any]:
        """The /version answer: what builder.choose_builder asks a client for."""
        return self.answer

    def docker(self) -> docker.DockerClient:
        """docker-py's client for the same engine, connected on first use."""
        if not self._docker:
            self._docker.append(connect())
        return self._docker[0]

    def image_attrs(self, ref: str) -> Mapping[str, Any] | None:
        """An image's inspect data, or None when the engine does not describe it (not local,
        or any other answer: docker-py then asks again, and says why)."""
        attrs = get_json_over_socket(f"/images/{quote(ref, safe='/:@')}/json")
        return attrs if isinstance(attrs, Mapping) else None

    def post_stream(
        self, path: str, params: Mapping[str, str], body: IO[bytes], content_type: str
    ) -> Iterator[bytes]:
        """POST body to path and yield the answer's bytes as they come, with no read timeout
        (a long, silent RUN step). EngineAnswerError for an error status, also when it came
        before the engine read all of body; OSError when the connection fails, drops before
        the answer's end (chunked: its last chunk; else its Content-Length, or the close),
        or took only part of body."""
        body.seek(0, 2)
        size = body.tell()
        body.seek(0)
        head = (
            f"POST {path}?{urlencode(params)} HTTP/1.1\r\nHost: docker\r\n"
            f"User-Agent: envforge\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
        )
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(connect_timeout())
            sock.connect(self.path)
            sock.settimeout(None)  # a large context the engine reads slowly, a silent step
            sock.sendall(head.encode("ascii"))
            unsent: OSError | None = None
            try:
                while chunk := body.read(_CHUNK):
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError) as exc:
                # dockerd may refuse a build before it reads the context (an entitlement, a
                # bad parameter): it answers, then closes on the rest of a large body.
                unsent = exc
            answer = _Answer(sock)
            try:
                status, headers = answer.head()
            except OSError as exc:
                if unsent is not None:
                    raise unsent from exc
                raise
            chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            length = headers.get("content-length", "")
            if chunked:
                pieces = answer.chunks()
            elif length.isascii() and length.isdigit():
                # Read to its length, not to the close: a peer that closes with part of our
                # body unread makes the socket's last read ECONNRESET, not the end.
                pieces = answer.exactly(int(length))
            else:
                pieces = answer.until_close()
            if status >= 400:
                raise EngineAnswerError(status, _explanation(status, b"".join(pieces)))
            yield from pieces
            if unsent is not None:  # a success on part of the body is no success
                raise unsent


class _Answer:
    """An HTTP/1.1 answer read off a socket: the status and headers, then the body as its
    chunks (Transfer-Encoding: chunked, as dockerd streams a build) or up to the close."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def _fill(self) -> bool:
        data = self._sock.recv(_CHUNK)
        self._buffer += data
        return bool(data)

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            if len(self._buffer) > _CHUNK or not self._fill():
                raise ConnectionError("the engine's answer ended mid-line")
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def head(self) -> tuple[int, dict[str, str]]:
        status = self._line().split(None, 2)
        if len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].isdigit():
            raise ConnectionError("the engine's answer is not HTTP")
        headers: dict[str, str] = {}
        while line := self._line():
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        return int(status[1]), headers

    def chunks(self) -> Iterator[bytes]:
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ConnectionError("the engine's answer has a broken chunk") from None
            if size == 0:
                return
            while len(self._buffer) < size + 2:
                if not self._fill():
                    raise ConnectionError("the engine closed the connection mid-answer")
            yield self._buffer[:size]
            self._buffer = self._buffer[size + 2 :]

    def exactly(self, size: int) -> Iterator[bytes]:
        while len(self._buffer) < size:
            if not self._fill():
                raise ConnectionError("the engine closed the connection mid-answer")
        yield self._buffer[:size]
        self._buffer = self._buffer[size:]

    def until_close(self) -> Iterator[bytes]:
        if self._buffer:
            yield self._buffer
            self._buffer = b""
        while data := self._sock.recv(_CHUNK):
            yield data


def _explanation(status: int, raw: bytes) -> str:
    """The engine's own message ({"message": ...}), or the status with the body's start."""
    try:
        message = json.loads(raw).get("message")
    except (ValueError, AttributeError, RecursionError):
        message = None
    if isinstance(message, str) and message.strip():
        return message.strip()
    text = raw.decode("utf-8", "replace").strip()
    return f"the engine answered {status}" + (f": {text[:200]}" if text else "")


def connect_socket() -> SocketEngine | None:
    """The engine at a unix DOCKER_HOST (or the default socket) when it answers /version
    there within connect_timeout(); None otherwise (another kind of DOCKER_HOST, no
    engine, or an answer that is not Docker's: then docker-py's connect says what is wrong)."""
    host = docker_host()
    if not host.startswith("unix://"):
        return None
    try:
        connect_timeout()
    except InputError:
        return None  # connect() reports the bad setting
    answer = get_json_over_socket("/version", hang_is_error=True)
    if not isinstance(answer, Mapping) or not _API.fullmatch(str(answer.get("ApiVersion"))):
        return None
    return SocketEngine(path=host.removeprefix("unix://"), answer=answer)


def docker_client(client: Any) -> Any:
    """docker-py's client for what build's start-up connected: itself, or a SocketEngine's."""
    return client.docker() if isinstance(client, SocketEngine) else client
