"""Connecting to the Docker engine: where it is, how long to wait, and why it failed."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from envforge.errors import DockerUnavailableError, InputError

if TYPE_CHECKING:
    import docker

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
TIMEOUT_ENV = "ENVFORGE_DOCKER_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0  # one ordinary request (inspect, create): docker-py's default


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect_timeout() -> float:
    """Seconds to wait for the engine to accept and answer a ping (ENVFORGE_DOCKER_TIMEOUT)."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_CONNECT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 < value <= 3600):  # also refuses nan and inf
        raise InputError(
            f"Invalid {TIMEOUT_ENV} {raw[:40]!r}",
            hint="Give the seconds to wait for the Docker engine, such as 5 or 30.",
        )
    return value


def connect(*, request_timeout: float | None = REQUEST_TIMEOUT_S) -> docker.DockerClient:
    """A client for the engine that DOCKER_HOST names (or the default socket), checked by a ping.

    The engine must connect and answer within connect_timeout() (5 s by default): an engine
    that accepts and never answers fails fast. The client then waits request_timeout for
    each ordinary answer; streams (a build's log, a container's output) are read without
    a timeout, so that a long silent RUN step is never cut.
    """
    import docker

    where = docker_host()
    where += " (DOCKER_HOST)" if os.environ.get("DOCKER_HOST") else " (the default socket)"
    timeout = connect_timeout()
    try:
        client = docker.from_env(timeout=timeout)  # type: ignore[arg-type]  # a float works
        client.ping()
    except Exception as exc:  # DockerException, or requests' errors when the socket answers garbage
        raise DockerUnavailableError(where, _reason(exc, timeout)) from None
    client.api.timeout = request_timeout  # type: ignore[assignment]
    return client


def _reason(exc: BaseException, timeout: float | None = None) -> str:
    import requests.exceptions

    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
        return (
            f"no answer within {timeout:g} s (set {TIMEOUT_ENV} to wait longer)"
            if (timeout)
            else "no answer (timed out)"
        )
    text = str(exc)
    for needle, short in (
        ("No such file or directory", "the socket does not exist (is dockerd running?)"),
        (
            "Permission denied",
            "permission denied on the socket (add your user to the docker group)",
        ),
        ("Connection refused", "connection refused"),
    ):
        if needle in text:
            return short
    return text.splitlines()[0][:200] if text else type(exc).__name__


_MAX_ANSWER = 4 * 1024 * 1024  # an image's inspect data is a few kB


def get_json_over_socket(path: str, *, hang_is_error: bool = False) -> Any:
    """The JSON of a 200 answer to GET path from the engine at a unix DOCKER_HOST (or the
    default socket), asked without docker-py, whose import alone is ~0.25 s of a start-up;
    None for any other answer, another kind of DOCKER_HOST, or no engine. HTTP/1.0, so the
    engine answers without chunks and closes the connection.

    hang_is_error: an engine that accepts and then says nothing within connect_timeout() is
    DockerUnavailableError, not None, so that the caller does not wait for it a second time
    through docker-py."""
    import json
    import socket

    host = docker_host()
    if not host.startswith("unix://") or any(c in path for c in "\r\n "):
        return None
    try:
        timeout = connect_timeout()
    except InputError:
        return None
    request = f"GET {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: envforge\r\n\r\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(request.encode("ascii"))
            chunks: list[bytes] = []
            size = 0
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > _MAX_ANSWER:
                    return None
    except TimeoutError:
        if hang_is_error:
            where = host + (
                " (DOCKER_HOST)" if os.environ.get("DOCKER_HOST") else " (the default socket)"
            )
            raise DockerUnavailableError(
                where, _reason(TimeoutError("timed out"), timeout)
            ) from None
        return None
    except (OSError, UnicodeError):
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
