"""The Docker engine, through the Docker SDK for Python: the only module that talks to it.

It builds with the classic builder (the one the SDK drives), streams logs as they come,
and runs containers with their output streamed and their exit code returned.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from envforge.errors import (
    BuildError,
    DockerUnavailableError,
    EngineError,
    ImageNotFoundError,
    InputError,
    RunError,
)

if TYPE_CHECKING:
    import docker

    from envforge.host.gate import GpuRequest

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
TIMEOUT_ENV = "ENVFORGE_DOCKER_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0  # one ordinary request (inspect, create): docker-py's default
_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)\Z")
TAIL_LINES = 25


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


@dataclass(frozen=True)
class BuiltImage:
    id: str
    tag: str
    size: int


@dataclass
class _BuildProgress:
    step: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))


def build_context(root: Path, extra_files: Mapping[str, str]) -> IO[bytes]:
    """The build context as the docker CLI sends it: .dockerignore honoured, plus extra files."""
    from docker.utils import build as dbuild

    exclude: list[str] = []
    ignore = root / ".dockerignore"
    if ignore.is_file():
        lines = (line.strip() for line in ignore.read_text("utf-8").splitlines())
        exclude = [line for line in lines if line and not line.startswith("#")]
    files = sorted(dbuild.exclude_paths(str(root), exclude, dockerfile="Dockerfile"))
    files = [f for f in files if f not in extra_files]
    archive = dbuild.create_archive(
        root=str(root), files=files, extra_files=list(extra_files.items())
    )
    return cast(IO[bytes], archive)


def build_image(
    client: docker.DockerClient,
    root: Path,
    tag: str,
    *,
    buildargs: Mapping[str, str] | None = None,
    extra_files: Mapping[str, str] | None = None,
    nocache: bool = False,
    out: Callable[[str], None] = lambda line: print(line, flush=True),
) -> BuiltImage:
    """Build root/Dockerfile with the classic builder, streaming each log line to `out`."""
    import docker.errors
    import requests.exceptions

    context = build_context(root, extra_files or {})
    progress = _BuildProgress()
    image_id: str | None = None
    try:
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=nocache,
            buildargs=dict(buildargs or {}),
            decode=True,
            timeout=None,  # the log of a long, silent RUN step: no read timeout
        )
        for chunk in stream:
            image_id = _consume(chunk, progress, out) or image_id
    except docker.errors.APIError as exc:
        raise BuildError(progress.step, _api_message(exc), list(progress.tail)) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise BuildError(progress.step, _short(exc), list(progress.tail)) from None
    except BuildError:
        raise
    except Exception as exc:  # docker-py's StreamParseError, JSONDecodeError: not a Docker log
        raise BuildError(
            progress.step,
            f"the engine sent a build log that is not Docker's JSON ({_short(exc)})",
            list(progress.tail),
        ) from None
    finally:
        context.close()
    if image_id is None:
        raise BuildError(progress.step, "the engine reported no image", list(progress.tail))
    attrs = _attrs(get_image(client, image_id))
    size = attrs.get("Size", 0)
    return BuiltImage(id=image_id, tag=tag, size=size if isinstance(size, int) else 0)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


def _attrs(image: Any) -> Mapping[str, Any]:
    """An image's inspect data, checked where envforge and docker-py read it."""
    attrs = getattr(image, "attrs", {})
    if not isinstance(attrs, Mapping):
        raise EngineError("to describe an image", "its answer is not a JSON object")
    config = attrs.get("Config", {})
    if attrs and not isinstance(config, Mapping):  # docker-py's Image.labels reads it
        raise EngineError("to describe an image", "its 'Config' is not a JSON object")
    labels = config.get("Labels") if isinstance(config, Mapping) else None
    if labels is not None and not (
        isinstance(labels, Mapping) and all(isinstance(v, str) for v in labels.values())
    ):
        raise EngineError("to describe an image", "its 'Config.Labels' are not strings")
    return attrs


def _consume(
    chunk: Mapping[str, Any], progress: _BuildProgress, out: Callable[[str], None]
) -> str | None:
    if not isinstance(chunk, Mapping):
        raise BuildError(
            progress.step,
            f"the engine sent a build log line envforge cannot read ({str(chunk)[:80]!r})",
            list(progress.tail),
        )
    if "error" in chunk:
        detail = chunk.get("errorDetail")
        detail = detail if isinstance(detail, Mapping) else {}
        message = str(detail.get("message") or chunk["error"]).strip()
        raise BuildError(progress.step, message, list(progress.tail))
    if "stream" in chunk:
        for line in str(chunk["stream"]).splitlines():
            if not line.strip():
                continue
            out(line)
            match = _STEP_RE.match(line)
            if match:
                progress.step = f"{match.group(1)}/{match.group(2)} {match.group(3)}"
                progress.tail.clear()
            progress.tail.append(line)
    aux = chunk.get("aux")
    if isinstance(aux, Mapping) and isinstance(aux.get("ID"), str) and aux["ID"]:
        return str(aux["ID"])
    return None


def _api_message(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def get_image(client: docker.DockerClient, ref: str) -> Any:
    import docker.errors
    import requests.exceptions

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise ImageNotFoundError(ref) from None
    except docker.errors.APIError as exc:
        raise EngineError(f"to describe the image '{ref}'", _api_message(exc)) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"to describe the image '{ref}'", _short(exc)) from None
    except Exception as exc:  # a body that is not JSON, or not an image's ("Can't create Image")
        raise EngineError(
            f"to describe the image '{ref}'", f"its answer is not an image's ({_short(exc)})"
        ) from None
    _attrs(image)
    return image


@dataclass(frozen=True)
class RunSpec:
    image: str
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: Sequence[str] = ()  # host:container[:ro]
    ports: Mapping[str, int | tuple[str, int] | None] = field(default_factory=dict)
    workdir: str | None = None
    entrypoint: Sequence[str] | None = None
    tty: bool = False
    gpus: GpuRequest | None = None  # --gpus, as a device request
    shm_size: int | None = None  # bytes of /dev/shm


_NO_GPU_RUNTIME = "could not select device driver"
_NO_GPU_RUNTIME_HINT = (
    "This Docker engine cannot hand out GPUs: install the NVIDIA Container Toolkit, run "
    "`nvidia-ctk runtime configure --runtime=docker` and restart dockerd; `envforge doctor` "
    "checks the setup."
)


def run_container(client: docker.DockerClient, spec: RunSpec) -> int:
    """Create, start, stream and remove a container; return its exit code."""
    import docker.errors
    import requests.exceptions

    try:
        return _run(client, spec)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        # APIError, a request this API cannot take, or the connection failing
        error = RunError(spec.image, _api_message(exc))
        if spec.gpus is not None and _NO_GPU_RUNTIME in error.reason:
            error.hint = _NO_GPU_RUNTIME_HINT
        raise error from None
    except OSError:
        raise  # our own terminal (a closed pipe): the CLI reports it
    except Exception as exc:  # an answer docker-py cannot read (broken JSON, a wrong shape)
        raise RunError(spec.image, f"the engine's answer is not Docker's ({_short(exc)})") from None


def _host_config(spec: RunSpec) -> dict[str, Any]:
    """The create() arguments for --gpus and --shm-size, only when given."""
    from docker.types import DeviceRequest

    extra: dict[str, Any] = {}
    if spec.gpus is not None:
        extra["device_requests"] = [DeviceRequest(**spec.gpus.sdk_kwargs())]
    if spec.shm_size is not None:
        extra["shm_size"] = spec.shm_size
    return extra


def _run(client: docker.DockerClient, spec: RunSpec) -> int:
    container = client.containers.create(
        spec.image,
        command=list(spec.args) or None,
        entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
        environment=dict(spec.env),
        volumes=list(spec.volumes),
        ports=dict(spec.ports),
        working_dir=spec.workdir,
        tty=spec.tty,
        stdin_open=spec.tty,
        **_host_config(spec),
    )
    try:
        if spec.tty:
            return _run_tty(client, container)
        stream = client.api.attach(str(container.id), stream=True, logs=True, demux=True)
        container.start()
        _pump(stream)
        result = container.wait()
        return int(result.get("StatusCode", 1))
    except KeyboardInterrupt:
        container.stop(timeout=5)
        return 130
    finally:
        container.remove(force=True)


def _pump(stream: Iterator[tuple[bytes | None, bytes | None]]) -> None:
    for stdout, stderr in stream:
        if stdout:
            sys.stdout.buffer.write(stdout)
            sys.stdout.flush()
        if stderr:
            sys.stderr.buffer.write(stderr)
            sys.stderr.flush()


def _run_tty(client: docker.DockerClient, container: Any) -> int:
    """An interactive session: the local terminal in raw mode, wired to the container's TTY."""
    import select
    import termios
    import tty

    import docker.errors

    sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    raw = getattr(sock, "_sock", sock)
    container.start()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        size = os.get_terminal_size(fd)
        if size.lines and size.columns:
            # The command may already have ended: nothing left to resize.
            with contextlib.suppress(docker.errors.APIError):
                container.resize(height=size.lines, width=size.columns)
        tty.setraw(fd)
        while True:
            ready, _, _ = select.select([raw, fd], [], [])
            if raw in ready:
                data = raw.recv(4096)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if fd in ready:
                raw.sendall(os.read(fd, 1024))
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sock.close()
    return int(container.wait().get("StatusCode", 1))


def run_captured(
    client: docker.DockerClient,
    image: str,
    command: Sequence[str],
    *,
    entrypoint: Sequence[str],
    timeout: float = 300,
    user: str | None = None,
) -> tuple[int, str, str]:
    """A short command in a fresh container without network: (exit status, stdout, stderr).

    For envforge's own probes of an image. `timeout` bounds the whole run (create, start,
    output, exit): past it the container is killed and RunError says "timed out after N s".
    `user` runs the command as that user (the image's own USER when None). The container
    is removed whatever happens; create/attach/start rather than containers.run(), which
    would pull a missing image.
    """
    import threading
    import time

    import docker.errors
    import requests.exceptions

    deadline = time.monotonic() + timeout
    container = None
    stdout, stderr = bytearray(), bytearray()
    failure: list[BaseException] = []

    def pump(stream: Iterator[tuple[bytes | None, bytes | None]]) -> None:
        try:
            for out, err in stream:
                stdout.extend(out or b"")
                stderr.extend(err or b"")
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    try:
        container = client.containers.create(
            image,
            command=list(command),
            entrypoint=list(entrypoint),
            network_disabled=True,
            user=user,  # None: the image's own USER
        )
        stream = client.api.attach(str(container.id), stream=True, logs=True, demux=True)
        container.start()
        reader = threading.Thread(target=pump, args=(stream,), daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if reader.is_alive():
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                container.kill()
            reader.join(5)
            raise RunError(image, f"timed out after {timeout:g} s")
        if failure:
            raise failure[0]
        left = max(1.0, deadline - time.monotonic())
        result = container.wait(timeout=left)
        code = result.get("StatusCode", 1) if isinstance(result, Mapping) else 1
        status = code if isinstance(code, int) else 1
    except docker.errors.ImageNotFound:
        raise ImageNotFoundError(image) from None
    except docker.errors.APIError as exc:
        raise RunError(image, _api_message(exc)) from None
    except requests.exceptions.Timeout:
        raise RunError(image, f"timed out after {timeout:g} s") from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise RunError(image, str(exc) or type(exc).__name__) from None
    except RunError:
        raise
    except Exception as exc:  # an answer docker-py cannot read (broken JSON, a wrong shape)
        raise RunError(image, f"the engine's answer is not Docker's ({_short(exc)})") from None
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                container.remove(force=True)
    return status, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def _probe_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "envforge" / "image-python.json"


def image_python(client: docker.DockerClient, ref: str) -> str | None:
    """The Python a local image holds ("3.12.3"), "" when it has none, None when unknown
    (not a local image: envforge does not pull to find out). Answers are cached by image
    id, which is content-addressed: the same id always holds the same Python."""
    import json

    try:
        image_id = str(client.images.get(ref).id)
    except Exception:  # not a local image, or an engine that does not answer as one
        return None
    cache = _probe_cache()
    from envforge import safeio

    known: Any
    try:
        known = json.loads(safeio.read_bytes(cache))  # a FIFO there is refused, not read
    except (InputError, ValueError, RecursionError):
        known = {}
    if not isinstance(known, dict) or not all(isinstance(v, str) for v in known.values()):
        known = {}
    if image_id in known:
        return str(known[image_id])
    found = _probe_python(client, ref)
    if found is not None:
        with contextlib.suppress(OSError, InputError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            safeio.write_text_atomic(cache, json.dumps({**known, image_id: found}))
    return found


def _probe_python(client: docker.DockerClient, ref: str) -> str | None:
    try:
        status, out, _ = run_captured(
            client, ref, ["-c", "import platform; print(platform.python_version())"],
            entrypoint=["python3"], timeout=60,
        )  # fmt: skip
    except ImageNotFoundError:
        return None
    except RunError as exc:
        return (
            ""
            if "executable file not found" in exc.reason or "no such file" in exc.reason
            else None
        )
    return out.strip() if status == 0 and out.strip() else ""
