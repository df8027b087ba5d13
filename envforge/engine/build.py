"""Building an image, its log streamed: the classic request (the one the SDK drives: the
classic builder, or buildah behind Podman) here, BuildKit in envforge.engine.buildkit."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from envforge.engine.builder import Builder
from envforge.engine.images import checked_attrs, get_image
from envforge.engine.network import BuildNetwork, networkmode
from envforge.engine.reasons import DROPPED, api_message, short
from envforge.errors import BuildError

if TYPE_CHECKING:
    import docker

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)\Z")
# buildah's step lines: "[2/3] STEP 4/9: RUN ...", no stage prefix in a one-stage build.
_BUILDAH_STEP_RE = re.compile(r"^(\[\d+/\d+\] )?STEP (\d+)/(\d+): (.*)\Z")
TAIL_LINES = 25


@dataclass(frozen=True)
class BuiltImage:
    id: str
    tag: str
    size: int


@dataclass
class _BuildProgress:
    step: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))


def context_files(root: Path, extra_files: Mapping[str, str]) -> list[str]:
    """The paths under root that the context holds, as the docker CLI picks them:
    .dockerignore honoured (by docker-py's rules, without its import: engine.ignore), less
    those an extra file replaces."""
    from envforge.engine.ignore import context_paths

    exclude: list[str] = []
    ignore = root / ".dockerignore"
    if ignore.is_file():
        lines = (line.strip() for line in ignore.read_text("utf-8").splitlines())
        exclude = [line for line in lines if line and not line.startswith("#")]
    files = sorted(context_paths(str(root), exclude, dockerfile="Dockerfile"))
    return [f for f in files if f not in extra_files]


def build_context(root: Path, extra_files: Mapping[str, str]) -> IO[bytes]:
    """The build context as the docker CLI sends it: .dockerignore honoured, plus extra files."""
    from docker.utils import build as dbuild

    files = context_files(root, extra_files)
    archive = dbuild.create_archive(
        root=str(root), files=files, extra_files=list(extra_files.items())
    )
    return cast(IO[bytes], archive)


def build_image(
    client: docker.DockerClient,
    root: Path,
    tag: str,
    *,
    out: Callable[[str], None],
    buildargs: Mapping[str, str] | None = None,
    extra_files: Mapping[str, str] | None = None,
    nocache: bool = False,
    builder: Builder = "classic",
    network: BuildNetwork = "bridge",
) -> BuiltImage:
    """Build root/Dockerfile, handing each log line to `out` as it comes (the CLI prints it):
    with BuildKit (envforge.engine.buildkit), else through the classic request, which
    Podman answers with buildah; the RUN steps on `network` (envforge.engine.network)."""
    if builder == "buildkit":
        from envforge.engine.buildkit import build_with_buildkit

        return build_with_buildkit(
            client, root, tag, out=out, buildargs=dict(buildargs or {}),
            extra_files=dict(extra_files or {}), nocache=nocache, network=network,
        )  # fmt: skip
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    from envforge.engine.socket_engine import docker_client

    client = docker_client(client)
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
            network_mode=networkmode(network).get("networkmode"),
            decode=True,
            timeout=None,  # the log of a long, silent RUN step: no read timeout
        )
        for chunk in stream:
            image_id = _consume(chunk, progress, out) or image_id
    except docker.errors.APIError as exc:
        raise BuildError(progress.step, api_message(exc), list(progress.tail)) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise BuildError(progress.step, short(exc), list(progress.tail)) from None
    except urllib3.exceptions.HTTPError:
        raise BuildError(progress.step, DROPPED, list(progress.tail)) from None
    except BuildError:
        raise
    except Exception as exc:  # docker-py's StreamParseError, JSONDecodeError: not a Docker log
        raise BuildError(
            progress.step,
            f"the engine sent a build log that is not Docker's JSON ({short(exc)})",
            list(progress.tail),
        ) from None
    finally:
        context.close()
    if image_id is None:
        raise BuildError(progress.step, "the engine reported no image", list(progress.tail))
    return built_image(client, image_id, tag)


def built_image(client: docker.DockerClient, image_id: str, tag: str) -> BuiltImage:
    """What either builder made, as the engine describes it."""
    return described(image_id, tag, get_image(client, image_id))


def described(image_id: str, tag: str, image: Any) -> BuiltImage:
    """The image built, from what the engine said of it (anything with inspect `attrs`)."""
    attrs = checked_attrs(image)
    size = attrs.get("Size", 0)
    return BuiltImage(id=image_id, tag=tag, size=size if isinstance(size, int) else 0)


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
            step = _step(line)
            if step is not None:
                progress.step = step
                progress.tail.clear()
            progress.tail.append(line)
    aux = chunk.get("aux")
    if isinstance(aux, Mapping) and isinstance(aux.get("ID"), str) and aux["ID"]:
        return str(aux["ID"])
    return None


def _step(line: str) -> str | None:
    """The step a log line starts ("3/9 RUN ...", buildah's "[2/3] 4/9 RUN ..."), or None."""
    match = _STEP_RE.match(line)
    if match:
        return f"{match.group(1)}/{match.group(2)} {match.group(3)}"
    match = _BUILDAH_STEP_RE.match(line)
    if match:
        return f"{match.group(1) or ''}{match.group(2)}/{match.group(3)} {match.group(4)}"
    return None
