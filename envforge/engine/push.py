"""Pushing an image to a registry: tagged as the reference given, pushed through the
engine, its progress read as one event per layer state change, the digest it got returned.

The engine reports a failed push inside its stream (`error`/`errorDetail`, HTTP 200):
docker-py raises on none of them, so `PushStream` turns each into one PushError, with a
hint for the usual causes. `PushStream` is pure: unit tests feed it recorded events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from envforge.engine.images import get_image
from envforge.engine.reasons import api_message, short
from envforge.errors import EngineError, PushError
from envforge.validate import registry_host

if TYPE_CHECKING:
    import docker

# The last status line of a push (the containerd image store and Podman send only this,
# no aux): "<tag>: digest: sha256:<64 hex> size: <bytes>".
_DIGEST_LINE = re.compile(
    r"^(?P<tag>\S+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)"
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")

# A layer's status -> the state shown; other statuses (Preparing, Waiting, the progress of
# Pushing after its first line) change nothing the user needs to see.
_STATES = (
    ("Pushing", "pushing"),
    ("Pushed", "pushed"),
    ("Mounted from ", "mounted"),
    ("Layer already exists", "exists"),
    ("Retrying in ", "retrying"),
)

_AUTH = ("no basic auth credentials", "unauthorized", "authentication required", "denied")
_DOWN = ("connection refused", "no such host", "i/o timeout", "network is unreachable",
         "no route to host", "connection reset")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class LayerEvent:
    """A layer reached a new state: pushing (its size in bytes, when the engine says it),
    pushed, mounted (from another repository of the registry), exists, retrying."""

    layer: str
    state: str
    detail: str = ""
    size: int | None = None


@dataclass(frozen=True, kw_only=True)
class Pushed:
    """What the registry holds now: `ref` (as given) at `digest`, a manifest of `size` bytes."""

    ref: str
    digest: str
    size: int | None

    @property
    def pinned(self) -> str:
        """The reference that names exactly what was pushed: `host/name@sha256:...`, REF's tag
        dropped. `docker pull`, Kubernetes and Apptainer's `docker://` take this form, and it
        is the engine's RepoDigests entry, so run records compare equal to it; a tag beside
        the digest is ignored by docker and refused by containers/image (skopeo, Podman,
        Apptainer: "Docker references with both a tag and digest are currently not
        supported"), and enroot 3.x (Pyxis) does not parse it either. Pyxis spells the
        registry with a '#' (`--container-image=host#name@sha256:...`, digest references
        parsed by recent enroot; older ones took only name[:tag]): the same parts."""
        return f"{repository(self.ref)}@{self.digest}"


def repository(ref: str) -> str:
    """registry/path of a reference without a digest, its tag dropped."""
    name, _, last = ref.rpartition("/")
    return f"{name}/{last.split(':', 1)[0]}" if name else last.split(":", 1)[0]


def tag_of(ref: str) -> str:
    """The tag of a reference without a digest; "latest" when it has none, as docker does."""
    last = ref.rpartition("/")[2]
    return last.split(":", 1)[1] if ":" in last else "latest"


@dataclass
class PushStream:
    """The events of one push, read one at a time: `feed` returns what changed (or None)
    and raises PushError on a failure; `result` is the digest at the end."""

    ref: str
    with_credentials: bool = False
    digest: str | None = None
    size: int | None = None
    _states: dict[str, str] = field(default_factory=dict)

    def feed(self, event: object) -> LayerEvent | None:
        if not isinstance(event, Mapping):
            raise EngineError(
                f"to push '{self.ref}'", f"it sent a line that is not a JSON object: {event!r:.80}"
            )
        if "error" in event or "errorDetail" in event:
            detail = event.get("errorDetail")
            detail = detail if isinstance(detail, Mapping) else {}
            reason = " ".join(str(detail.get("message") or event.get("error") or "").split())
            raise push_error(self.ref, reason or "the engine reported an error without a message",
                             with_credentials=self.with_credentials)  # fmt: skip
        aux = event.get("aux")
        if isinstance(aux, Mapping) and _DIGEST.match(str(aux.get("Digest", ""))):
            self.digest = str(aux["Digest"])
            size = aux.get("Size")
            self.size = size if isinstance(size, int) and not isinstance(size, bool) else self.size
            return None
        status = event.get("status")
        if not isinstance(status, str):
            return None
        found = _DIGEST_LINE.match(status)
        if found:
            self.digest = self.digest or found.group("digest")
            self.size = self.size if self.size is not None else int(found.group("size"))
            return None
        layer = event.get("id")
        if not isinstance(layer, str) or not layer:
            return None
        return self._layer(layer, status, event.get("progressDetail"))

    def _layer(self, layer: str, status: str, progress: object) -> LayerEvent | None:
        state = next((state for prefix, state in _STATES if status.startswith(prefix)), None)
        if state is None or self._states.get(layer) == state:
            return None
        self._states[layer] = state
        size = progress.get("total") if isinstance(progress, Mapping) else None
        detail = status.removeprefix("Mounted from ") if state == "mounted" else ""
        return LayerEvent(
            layer=layer,
            state=state,
            detail=detail,
            size=size if isinstance(size, int) and size > 0 and state == "pushing" else None,
        )

    def result(self) -> Pushed:
        if self.digest is None:
            raise EngineError(
                f"to push '{self.ref}'", "its answer ended without the digest the registry gave"
            )
        return Pushed(ref=self.ref, digest=self.digest, size=self.size)


def push_error(ref: str, reason: str, *, with_credentials: bool) -> PushError:
    """The failure of a push, with the hint its reason calls for."""
    host = registry_host(ref)
    hint = known_hint(ref, reason, with_credentials=with_credentials)
    return PushError(
        host,
        ref,
        reason[:300],
        hint=hint or f"Check the reference and the registry at {host}, then retry.",
    )


def known_hint(ref: str, reason: str, *, with_credentials: bool) -> str | None:
    """The hint for a usual cause of a failed push (credentials, a registry down or on
    plain HTTP, no such image), or None."""
    host = registry_host(ref)
    low = reason.lower()
    if any(needle in low for needle in _AUTH):
        hint = (
            f"The registry refused these credentials: check --username and the password, "
            f"and that the user may push to {repository(ref)}."
            if with_credentials
            else f"Log in first (`docker login {host}`), or pass --username USER "
            "--password-stdin with the password on stdin."
        )
    elif "server gave http response to https client" in low:
        hint = (
            f"The registry at {host} speaks plain HTTP: add it to dockerd's "
            '"insecure-registries" (127.0.0.0/8 is insecure by default), or serve it over TLS.'
        )
    elif any(needle in low for needle in _DOWN):
        hint = f"Is the registry up at {host}? Check the host and port, then retry."
    elif "does not exist locally" in low or "no such image" in low:
        hint = "Build the image first (`envforge build`), or name a local image."
    else:
        return None
    return hint


def push_image(
    client: docker.DockerClient,
    image: str,
    ref: str,
    *,
    auth: Mapping[str, str] | None,
    on_event: Callable[[LayerEvent], None],
) -> Pushed:
    """Tag the local image as ref (a reference validate.push_ref accepted) and push it,
    handing each layer's change of state to on_event. auth None: docker-py sends what the
    user's docker config (DOCKER_CONFIG, else ~/.docker/config.json: `auths`, credential
    helpers) holds for ref's registry, or nothing."""
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    found = get_image(client, image)
    repo, tag = repository(ref), tag_of(ref)
    try:
        found.tag(repo, tag)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"to tag '{image}' as '{ref}'", api_message(exc)) from None
    stream = PushStream(ref=ref, with_credentials=auth is not None)
    saved = client.api.timeout
    client.api.timeout = None  # type: ignore[assignment]  # a big layer's upload: no read timeout
    try:
        events = client.api.push(
            repo, tag=tag, stream=True, decode=True,
            auth_config=dict(auth) if auth is not None else None,
        )  # fmt: skip
        for event in events:
            change = stream.feed(event)
            if change is not None:
                on_event(change)
    except docker.errors.APIError as exc:  # the engine refused the request itself (a 500)
        reason = api_message(exc)
        if known_hint(ref, reason, with_credentials=auth is not None) is None:
            raise EngineError(f"to push '{ref}'", reason) from None
        raise push_error(ref, reason, with_credentials=auth is not None) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"to push '{ref}'", short(exc)) from None
    except urllib3.exceptions.HTTPError:
        raise EngineError(
            f"to push '{ref}'", "the engine closed the connection during the push"
        ) from None
    except (PushError, EngineError):
        raise
    except Exception as exc:  # docker-py's StreamParseError, JSONDecodeError: not the API's
        raise EngineError(
            f"to push '{ref}'", f"its answer is not Docker's JSON ({short(exc)})"
        ) from None
    finally:
        client.api.timeout = saved
    return stream.result()
