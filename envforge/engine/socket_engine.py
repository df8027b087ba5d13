"""The engine at a unix socket, asked over HTTP without docker-py: what a BuildKit build needs
(the version, an image described, the build request and its stream), for `envforge build`.

docker-py's import (requests, urllib3, charset_normalizer, its models) is ~60-100 ms of
every start-up, a fifth of a rebuild after a code edit. A build on a Docker engine at a
unix DOCKER_HOST (the default) talks to it here; docker-py is connected only for what else
the command asks (a pull, the smoke check, the classic builder): `docker_client`.
"""

from __future__ import annotations

import http.client
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
        (a long, silent RUN step). EngineAnswerError for an error status; OSError and
        http.client.HTTPException when the connection fails or drops."""
        conn = _UnixConnection(self.path, connect_timeout())
        try:
            body.seek(0, 2)
            size = body.tell()
            body.seek(0)
            conn.putrequest("POST", f"{path}?{urlencode(params)}", skip_accept_encoding=True)
            for key, value in (
                ("Content-Type", content_type),
                ("Content-Length", str(size)),
                ("User-Agent", "envforge"),
            ):
                conn.putheader(key, value)
            conn.endheaders()
            while chunk := body.read(_CHUNK):
                conn.send(chunk)
            if conn.sock is not None:
                conn.sock.settimeout(None)
            response = conn.getresponse()
            if response.status >= 400:
                raise EngineAnswerError(response.status, _explanation(response))
            while data := response.read1(_CHUNK):
                yield data
        finally:
            conn.close()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _explanation(response: http.client.HTTPResponse) -> str:
    """The engine's own message ({"message": ...}), or the status with the body's start."""
    raw = response.read(_CHUNK)
    try:
        message = json.loads(raw).get("message")
    except (ValueError, AttributeError, RecursionError):
        message = None
    if isinstance(message, str) and message.strip():
        return message.strip()
    text = raw.decode("utf-8", "replace").strip()
    return f"{response.status} {response.reason}" + (f": {text[:200]}" if text else "")


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
    answer = get_json_over_socket("/version")
    if not isinstance(answer, Mapping) or not _API.fullmatch(str(answer.get("ApiVersion"))):
        return None
    return SocketEngine(path=host.removeprefix("unix://"), answer=answer)


def docker_client(client: Any) -> Any:
    """docker-py's client for what build's start-up connected: itself, or a SocketEngine's."""
    return client.docker() if isinstance(client, SocketEngine) else client
