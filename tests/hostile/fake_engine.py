"""A tiny fake Docker engine on a unix socket, for the hostile tests: it answers as a
broken engine would (500s, broken JSON, a garbage build stream), or never answers.

Use as a context manager; its ``url`` goes into DOCKER_HOST.
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

API = "1.41"
IMAGE_ID = "sha256:" + "ab" * 32
GOOD_IMAGE = {
    "Id": IMAGE_ID,
    "RepoTags": ["hostile:0.1.0"],
    "Size": 1000,
    "Config": {
        "Labels": {"dev.envforge.lock-hash": "sha256:00"},
        "Env": [],
        "Cmd": ["python"],
        "User": "",
    },
}

# A reply: (status, content type, body) or, for a stream, (status, content type, [chunks]).
Reply = tuple[int, str, Any]
Route = Callable[[str, str], Reply | None]


def json_reply(data: Any, status: int = 200) -> Reply:
    return status, "application/json", json.dumps(data)


def default_route(method: str, path: str) -> Reply | None:
    """A healthy engine's answers to what envforge asks before the part under test."""
    path = re.sub(r"^/v\d+\.\d+", "", path.split("?", 1)[0])
    if path == "/_ping":
        return 200, "text/plain", "OK"
    if path == "/version":
        return json_reply({"ApiVersion": API, "Version": "20.10.24", "MinAPIVersion": "1.12"})
    if path == "/info":
        return json_reply({"ServerVersion": "20.10.24", "Runtimes": {"runc": {}}})
    return None


class FakeEngine:
    """routes: tried in order; the first that returns a reply answers. Unmatched: 404."""

    def __init__(self, folder: Path, routes: list[Route], *, hang: bool = False) -> None:
        self.socket_path = folder / "docker.sock"
        self.routes = [*routes, default_route]
        self.hang = hang
        self.requests: list[str] = []
        self._release = threading.Event()
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._held: list[socket.socket] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def __enter__(self) -> FakeEngine:
        if self.hang:
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(str(self.socket_path))
            self._listener.listen(16)
            self._thread = threading.Thread(target=self._accept_and_hold, daemon=True)
        else:
            engine = self

            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"

                def log_message(self, *args: Any) -> None:
                    pass

                def _body(self) -> None:
                    if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
                        while True:
                            size = int(self.rfile.readline().strip() or b"0", 16)
                            self.rfile.read(size + 2)
                            if size == 0:
                                break
                    else:
                        self.rfile.read(int(self.headers.get("Content-Length") or 0))

                def _answer(self) -> None:
                    self._body()
                    engine.requests.append(f"{self.command} {self.path}")
                    reply = None
                    for route in engine.routes:
                        reply = route(self.command, self.path)
                        if reply is not None:
                            break
                    status, kind, body = reply or json_reply({"message": "page not found"}, 404)
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    if isinstance(body, list):
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for chunk in body:
                            data = chunk.encode() if isinstance(chunk, str) else chunk
                            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        data = body.encode() if isinstance(body, str) else body
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)

                do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _answer

            class Server(socketserver.ThreadingUnixStreamServer):
                daemon_threads = True

                def handle_error(self, request: Any, client_address: Any) -> None:
                    pass  # a client hanging up mid-answer: not the fake's business to print

                def get_request(self) -> tuple[socket.socket, Any]:
                    sock, _ = super().get_request()
                    return sock, ("fake", 0)  # http.server wants a (host, port)

            self._server = Server(str(self.socket_path), Handler)
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def _accept_and_hold(self) -> None:
        """Accept every connection, read nothing, answer nothing."""
        self._listener.settimeout(0.2)
        while not self._release.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self._held.append(conn)

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        else:
            if self._thread is not None:
                self._thread.join(2)
            for conn in self._held:
                conn.close()
            self._listener.close()
        self.socket_path.unlink(missing_ok=True)


def on(method: str, pattern: str, reply: Reply) -> Route:
    """A route: reply to requests whose method matches and path (API prefix dropped)
    matches the regex pattern."""
    regex = re.compile(pattern)

    def route(got_method: str, path: str) -> Reply | None:
        bare = re.sub(r"^/v\d+\.\d+", "", path.split("?", 1)[0])
        return reply if got_method == method and regex.fullmatch(bare) else None

    return route


def everything(reply: Reply) -> Route:
    return lambda method, path: reply
