"""Running containers: one streamed to the terminal (envforge run), one captured (a probe)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from envforge.engine.podman import device_request_kwargs, podman_version
from envforge.engine.reasons import api_message, short
from envforge.errors import ImageNotFoundError, RunError

if TYPE_CHECKING:
    import docker

    from envforge.host.gate import GpuRequest

# After a probe is killed at its timeout: how long its output may take to end. The call
# returns then even if the engine never closes the stream (the reader thread is a daemon).
KILL_GRACE_S = 5.0


@dataclass(frozen=True, kw_only=True)
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

    # Before any container exists: a Podman that would drop --gpus is refused here.
    extra = _host_config(spec, _podman(client) if spec.gpus is not None else None)
    try:
        return _run(client, spec, extra)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        # APIError, a request this API cannot take, or the connection failing
        error = RunError(spec.image, api_message(exc))
        if spec.gpus is not None and _NO_GPU_RUNTIME in error.reason:
            error.hint = _NO_GPU_RUNTIME_HINT
        raise error from None
    except OSError:
        raise  # our own terminal (a closed pipe): the CLI reports it
    except Exception as exc:  # an answer docker-py cannot read (broken JSON, a wrong shape)
        raise RunError(spec.image, f"the engine's answer is not Docker's ({short(exc)})") from None


def _podman(client: docker.DockerClient) -> tuple[int, ...] | None:
    """The engine's Podman version, None for Docker (or an engine that does not say)."""
    try:
        version = client.version()
    except Exception:  # the create that follows reports an engine that does not answer
        return None
    return podman_version(version) if isinstance(version, Mapping) else None


def _host_config(spec: RunSpec, podman: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The create() arguments for --gpus (in the form this engine honours) and --shm-size,
    only when given. podman: the engine's Podman version, None for Docker."""
    from docker.types import DeviceRequest

    extra: dict[str, Any] = {}
    if spec.gpus is not None:
        extra["device_requests"] = [DeviceRequest(**device_request_kwargs(spec.gpus, podman))]
    if spec.shm_size is not None:
        extra["shm_size"] = spec.shm_size
    return extra


def _run(client: docker.DockerClient, spec: RunSpec, extra: Mapping[str, Any]) -> int:
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
        **extra,
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
            reader.join(KILL_GRACE_S)
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
        raise RunError(image, api_message(exc)) from None
    except requests.exceptions.Timeout:
        raise RunError(image, f"timed out after {timeout:g} s") from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise RunError(image, str(exc) or type(exc).__name__) from None
    except RunError:
        raise
    except Exception as exc:  # an answer docker-py cannot read (broken JSON, a wrong shape)
        raise RunError(image, f"the engine's answer is not Docker's ({short(exc)})") from None
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                container.remove(force=True)
    return status, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
