"""Building with BuildKit through the Engine API: `POST /build?version=2`, no session.

docker-py has no `version` argument, so the request is posted through its low-level
client. Two things differ from the classic builder (see ../shared/reference/buildkit.md):
the context must not start with a PAX header (BuildKit would read it as a Dockerfile),
and an image the build needs that is not local must be pulled first with the SDK (a
session-less build cannot pull it anonymously on engines before 29.6).
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any

from envforge.engine.build import TAIL_LINES, BuiltImage, built_image, context_files, described
from envforge.engine.network import REFUSED, BuildNetwork, host_refused, networkmode
from envforge.engine.reasons import DROPPED, api_message, short
from envforge.engine.socket_engine import EngineAnswerError, SocketEngine
from envforge.engine.trace import Status, Vertex, decode_aux
from envforge.errors import BuildError

if TYPE_CHECKING:
    import docker

TRACE_ID = "moby.buildkit.trace"
IMAGE_ID = "moby.image.id"
LABEL_CHARS = 72
_MOUNTS_SHOWN = re.compile(r"(?:--mount=\S+\s+)+")
_CANCELLED = "context canceled"  # a sibling vertex stopped because another one failed


def context_tar(root: Path, extra_files: Mapping[str, str]) -> IO[bytes]:
    """The same files as the classic context, as a GNU tar with integer mtimes: no PAX
    header, which BuildKit would take for a Dockerfile."""
    archive: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  # returned open
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in context_files(root, extra_files):
            info = tar.gettarinfo(str(root / name), arcname=name)
            if info is None:  # a socket: nothing to send
                continue
            info.mtime = int(info.mtime)
            if info.isfile():
                with (root / name).open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
        for name, text in extra_files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            # A fixed mtime (the epoch): the same CA gives the same tar, and BuildKit's copy of
            # an unchanged context into the build is cached (~0.1 s of every rebuild).
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, _bytes_io(data))
    archive.seek(0)
    return archive


def _bytes_io(data: bytes) -> IO[bytes]:
    import io

    return io.BytesIO(data)


_FROM_RE = re.compile(r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_COPY_FROM_RE = re.compile(r"^(?:COPY|ADD)\s.*?--from=(\S+)", re.IGNORECASE)
_MOUNT_RE = re.compile(r"--mount=(\S+)")


def _instructions(dockerfile: str) -> Iterable[str]:
    """Instructions with their line continuations joined, comments and blanks dropped."""
    current = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        yield current + line
        current = ""
    if current.strip():
        yield current


def image_references(dockerfile: str) -> list[str]:
    """The images the Dockerfile names (FROM, COPY --from=IMAGE, RUN --mount=from=IMAGE), in
    order, without its stage names, stage indexes, `scratch` or names left to build args."""
    stages: set[str] = set()
    found: list[str] = []

    def add(ref: str) -> None:
        if ref.lower() in stages or ref.isdigit() or ref == "scratch" or "$" in ref:
            return
        if ref not in found:
            found.append(ref)

    for line in _instructions(dockerfile):
        if match := _FROM_RE.match(line):
            add(match.group(1))
            if match.group(2):
                stages.add(match.group(2).lower())
        elif match := _COPY_FROM_RE.match(line):
            add(match.group(1))
        elif line.upper().startswith("RUN"):
            for mount in _MOUNT_RE.findall(line):
                for part in mount.split(","):
                    key, _, value = part.partition("=")
                    if key == "from" and value:
                        add(value)
    return found


def pull_missing(client: docker.DockerClient, refs: Iterable[str]) -> list[str]:
    """Pull each image that is not local (the SDK honours ~/.docker/config.json); the pulled."""
    import docker.errors

    pulled: list[str] = []
    for ref in refs:
        try:
            client.images.get(ref)
            continue
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise BuildError(f"FROM {ref}", api_message(exc), []) from None
        try:
            client.images.pull(ref)
        except docker.errors.APIError as exc:
            raise BuildError(f"FROM {ref}", f"pulling {ref}: {api_message(exc)}", []) from None
        pulled.append(ref)
    return pulled


@dataclass
class TraceProgress:
    """What the trace said so far: each vertex as last seen, and its log lines."""

    out: Callable[[str], None]
    vertexes: dict[str, Vertex] = field(default_factory=dict)
    logs: dict[str, deque[str]] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)  # digest: "started" or "completed"
    partial: dict[str, str] = field(default_factory=dict)  # a log line not yet ended
    last: str | None = None  # the digest of the vertex that last started

    def step(self, digest: str | None) -> str | None:
        """The failed step as an error names it: whole, but for its mounts (one word)."""
        vertex = self.vertexes.get(digest or "")
        return _MOUNTS_SHOWN.sub("--mount=... ", " ".join(vertex.name.split())) if vertex else None

    def tail(self, digest: str | None) -> list[str]:
        lines = list(self.logs.get(digest or "", ()))
        if partial := self.partial.get(digest or ""):
            lines.append(partial)
        return lines[-TAIL_LINES:]

    def update(self, status: Status) -> None:
        for log in status.logs:
            self._log(log.vertex, log.msg.decode("utf-8", "replace"))
        for vertex in status.vertexes:
            self._vertex(vertex)

    def _log(self, digest: str, text: str) -> None:
        lines = (self.partial.pop(digest, "") + text).split("\n")
        self.partial[digest] = lines.pop()
        kept = self.logs.setdefault(digest, deque(maxlen=TAIL_LINES))
        kept.extend(line.rstrip("\r") for line in lines if line.strip())

    def _vertex(self, vertex: Vertex) -> None:
        merged = self.vertexes.get(vertex.digest)
        if merged is not None and not vertex.name:
            return
        self.vertexes[vertex.digest] = vertex
        if vertex.error and _CANCELLED not in vertex.error:
            raise BuildError(
                self.step(vertex.digest) or None, vertex.error.strip(), self.tail(vertex.digest)
            )
        state = self.shown.get(vertex.digest)
        if vertex.completed is not None and state != "completed":
            self.shown[vertex.digest] = "completed"
            # After its start line, a step is named by its "[stage n/m]" prefix alone.
            name = step_label(vertex.name, short=state == "started")
            if vertex.cached:
                self.out(f"{name}  cached")
            elif vertex.started is not None:
                self.out(f"{name}  done {max(vertex.completed - vertex.started, 0):.1f}s")
            else:
                self.out(f"{name}  done")
        elif vertex.started is not None and state is None:
            self.shown[vertex.digest] = "started"
            self.last = vertex.digest
            self.out(step_label(vertex.name))


def step_label(name: str, *, short: bool = False) -> str:
    """A vertex's name cut to one short line: "[deps 6/7] RUN uv sync --locked ..."; with
    short, only its "[deps 6/7]" prefix where it has one."""
    if short and name.startswith("[") and "] " in name:
        return name[: name.index("] ") + 1]
    # A RUN's mounts say where its tools come from, not what it does: shown as one word.
    name = _MOUNTS_SHOWN.sub("--mount=... ", name)
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 4].rstrip() + " ..."


def consume(chunk: object, progress: TraceProgress) -> str | None:
    """One JSON line of the build stream: the image id when it is the last one."""
    if not isinstance(chunk, Mapping):
        return None  # garbage: BuildKit's own errors come as `error` lines
    if "error" in chunk:
        detail = chunk.get("errorDetail")
        detail = detail if isinstance(detail, Mapping) else {}
        message = str(detail.get("message") or chunk["error"]).strip()
        failed = _failed_vertex(progress)
        raise BuildError(progress.step(failed), message, progress.tail(failed))
    aux = chunk.get("aux")
    if chunk.get("id") == TRACE_ID:
        status = decode_aux(aux)
        if status is not None:
            progress.update(status)
    elif isinstance(aux, Mapping):  # `moby.image.id`, or bare from an engine built classic
        image_id = aux.get("ID")
        return image_id if isinstance(image_id, str) and image_id else None
    return None


def _failed_vertex(progress: TraceProgress) -> str | None:
    """The vertex that failed: one with an error, else the last started and not completed."""
    for digest, vertex in progress.vertexes.items():
        if vertex.error and _CANCELLED not in vertex.error:
            return digest
    running = [d for d, state in progress.shown.items() if state == "started"]
    return running[-1] if running else progress.last


def build_with_buildkit(
    client: docker.DockerClient,
    root: Path,
    tag: str,
    *,
    out: Callable[[str], None],
    buildargs: Mapping[str, str],
    extra_files: Mapping[str, str],
    nocache: bool,
    network: BuildNetwork = "bridge",
) -> BuiltImage:
    """Build root/Dockerfile with BuildKit, printing a line as each step starts and ends;
    its RUN steps on `network` (envforge.engine.network), on the bridge where the engine
    refuses the host's."""
    import json

    dockerfile = (root / "Dockerfile").read_text("utf-8", errors="replace")
    refs = image_references(dockerfile)
    if isinstance(client, SocketEngine):  # docker-py only for an image to pull
        refs = [ref for ref in refs if client.image_attrs(ref) is None]
        pulled = pull_missing(client.docker(), refs) if refs else []
    else:
        pulled = pull_missing(client, refs)
    for ref in pulled:
        out(f"pulled    {ref}")
    progress = TraceProgress(out)
    params: dict[str, Any] = {
        "version": "2",
        "t": tag,
        "rm": "1",
        "forcerm": "1",
        "buildargs": json.dumps(dict(buildargs)),
        **networkmode(network),
    }
    if nocache:
        params["nocache"] = "1"
    send: Callable[[Mapping[str, str], IO[bytes], TraceProgress], str | None] = (
        partial(_build_over_socket, client) if isinstance(client, SocketEngine)
        else partial(_build_over_docker_py, client.api)
    )  # fmt: skip
    with context_tar(root, extra_files) as context:
        try:
            image_id = send(params, context, progress)
        except BuildError as exc:
            # Refused before any step ran (an error status, or an error line on an engine
            # that streams it): the same build on the bridge.
            if progress.vertexes or not _refused(params, exc.reason):
                raise
            out(f"network   {REFUSED}")
            context.seek(0)
            progress = TraceProgress(out)
            bridge = {k: v for k, v in params.items() if k != "networkmode"}
            image_id = send(bridge, context, progress)
    if isinstance(client, SocketEngine):
        attrs = client.image_attrs(image_id) if image_id is not None else None
        if image_id is not None and attrs is not None:
            return described(image_id, tag, SimpleNamespace(attrs=attrs))
        return _built(client.docker(), image_id, tag, progress)
    return _built(client, image_id, tag, progress)


def _refused(params: Mapping[str, str], explanation: str) -> bool:
    return params.get("networkmode") == "host" and host_refused(explanation)


def _build_over_docker_py(
    api: Any, params: Mapping[str, str], context: IO[bytes], progress: TraceProgress
) -> str | None:
    """The build request through docker-py's low-level client (no `version` argument)."""
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    image_id: str | None = None
    try:
        response = api.post(
            api._url("/build"),
            params=params,
            data=context,
            headers={"Content-Type": "application/x-tar"},
            stream=True,
            timeout=None,  # a long, silent RUN step: no read timeout
        )
        api._raise_for_status(response)
        for chunk in _chunks(api, response):
            image_id = consume(chunk, progress) or image_id
    except docker.errors.APIError as exc:
        failed = _failed_vertex(progress)
        raise BuildError(progress.step(failed), api_message(exc), progress.tail(failed)) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        failed = _failed_vertex(progress)
        raise BuildError(progress.step(failed), short(exc), progress.tail(failed)) from None
    except urllib3.exceptions.HTTPError:
        failed = _failed_vertex(progress)
        raise BuildError(progress.step(failed), DROPPED, progress.tail(failed)) from None
    return image_id


def _built(client: Any, image_id: str | None, tag: str, progress: TraceProgress) -> BuiltImage:
    if image_id is None:
        failed = _failed_vertex(progress)
        raise BuildError(progress.step(failed), "the engine reported no image", [])
    return built_image(client, image_id, tag)


def _build_over_socket(
    engine: SocketEngine, params: Mapping[str, str], context: IO[bytes], progress: TraceProgress
) -> str | None:
    """The build request over the engine's socket (socket_engine), read as build_with_buildkit
    reads docker-py's: the same lines, and the same errors."""
    path = f"/v{engine.api_version}/build"
    image_id: str | None = None
    try:
        stream = engine.post_stream(path, params, context, "application/x-tar")
        for chunk in _lines(stream):
            image_id = consume(chunk, progress) or image_id
    except EngineAnswerError as exc:
        failed = _failed_vertex(progress)
        raise BuildError(progress.step(failed), exc.explanation, progress.tail(failed)) from None
    except OSError as exc:
        failed = _failed_vertex(progress)
        # Before the engine said anything: it could not be reached; after: it went away.
        reason = DROPPED if progress.vertexes else short(exc)
        raise BuildError(progress.step(failed), reason, progress.tail(failed)) from None
    return image_id


def _chunks(api: Any, response: Any) -> Iterable[object]:
    return _lines(api._stream_helper(response, decode=False))


def _lines(stream: Iterable[object]) -> Iterable[object]:
    """The stream's JSON lines, joined across HTTP chunks; a line that is not JSON is
    skipped (None), not fatal."""
    pending = b""
    for raw in stream:
        pending += raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        *lines, pending = pending.split(b"\n")
        yield from (_json(line) for line in lines if line.strip())
    if pending.strip():
        yield _json(pending)


def _json(line: bytes) -> object:
    import json

    try:
        return json.loads(line)
    except ValueError:
        return None
