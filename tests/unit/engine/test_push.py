"""A push's stream read as layer changes and a digest; its failures as one PushError.

The events are those dockerd 20.10 sent to docker-py 7 (`api.push(..., stream=True,
decode=True)`) pushing to Debian's docker-registry 2.8, recorded 2026-12-02.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from envforge.engine.push import LayerEvent, Pushed, PushStream, push_error, push_image
from envforge.errors import EngineError, ImageNotFoundError, PushError

DIGEST = "sha256:781f729f8d9cf59c5fc27279770485a805bf9963028c22136180fd7bf22604d5"
REF = "127.0.0.1:5561/probe/x:1"


def pushing(layer: str, current: int, total: int) -> dict[str, Any]:
    return {
        "status": "Pushing",
        "progressDetail": {"current": current, "total": total},
        "progress": "[=>    ]",
        "id": layer,
    }


FIRST_PUSH: list[dict[str, Any]] = [
    {"status": "The push refers to repository [127.0.0.1:5561/probe/x]"},
    {"status": "Preparing", "progressDetail": {}, "id": "c07e0e4ec0ac"},
    {"status": "Preparing", "progressDetail": {}, "id": "01a4fb99d2bc"},
    pushing("c07e0e4ec0ac", 512, 3),
    pushing("c07e0e4ec0ac", 2048, 3),
    pushing("01a4fb99d2bc", 541184, 161412176),
    {"status": "Pushed", "progressDetail": {}, "id": "c07e0e4ec0ac"},
    pushing("01a4fb99d2bc", 3747195, 161412176),
    pushing("01a4fb99d2bc", 167249920, 161412176),
    {"status": "Pushed", "progressDetail": {}, "id": "01a4fb99d2bc"},
    {"status": f"1: digest: {DIGEST} size: 736"},
    {"progressDetail": {}, "aux": {"Tag": "1", "Digest": DIGEST, "Size": 736}},
]
AGAIN: list[dict[str, Any]] = [
    {"status": "The push refers to repository [127.0.0.1:5561/probe/x]"},
    {"status": "Preparing", "progressDetail": {}, "id": "c07e0e4ec0ac"},
    {"status": "Layer already exists", "progressDetail": {}, "id": "c07e0e4ec0ac"},
    {"status": "Mounted from probe/z", "progressDetail": {}, "id": "01a4fb99d2bc"},
    {"status": f"1: digest: {DIGEST} size: 736"},
    {"progressDetail": {}, "aux": {"Tag": "1", "Digest": DIGEST, "Size": 736}},
]


def error(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}


def feed(events: list[Any], *, ref: str = REF, with_credentials: bool = False):
    stream = PushStream(ref=ref, with_credentials=with_credentials)
    changes = [change for event in events if (change := stream.feed(event)) is not None]
    return stream, changes


def test_one_change_per_layer_state_and_the_aux_digest() -> None:
    stream, changes = feed(FIRST_PUSH)
    assert changes == [
        LayerEvent(layer="c07e0e4ec0ac", state="pushing", size=3),
        LayerEvent(layer="01a4fb99d2bc", state="pushing", size=161412176),
        LayerEvent(layer="c07e0e4ec0ac", state="pushed"),
        LayerEvent(layer="01a4fb99d2bc", state="pushed"),
    ]
    assert stream.result() == Pushed(ref=REF, digest=DIGEST, size=736)
    assert stream.result().pinned == f"127.0.0.1:5561/probe/x@{DIGEST}"


def test_layers_already_there_or_mounted() -> None:
    _, changes = feed(AGAIN)
    assert changes == [
        LayerEvent(layer="c07e0e4ec0ac", state="exists"),
        LayerEvent(layer="01a4fb99d2bc", state="mounted", detail="probe/z"),
    ]


def test_the_status_line_digest_when_there_is_no_aux() -> None:
    # The containerd image store and Podman send only the status line.
    stream, _ = feed([e for e in FIRST_PUSH if "aux" not in e])
    assert stream.result() == Pushed(ref=REF, digest=DIGEST, size=736)


def test_the_aux_digest_wins_over_the_status_line() -> None:
    other = "sha256:" + "0" * 64
    stream, _ = feed([
        {"status": f"1: digest: {other} size: 9"},
        {"aux": {"Tag": "1", "Digest": DIGEST, "Size": 736}},
    ])  # fmt: skip
    assert stream.result() == Pushed(ref=REF, digest=DIGEST, size=736)


def test_no_digest_at_all_is_an_engine_error() -> None:
    stream, _ = feed([*FIRST_PUSH[:-2], {"aux": {"Digest": "md5:abc"}}])
    with pytest.raises(EngineError, match="ended without the digest"):
        stream.result()


def test_a_line_that_is_not_an_object_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="not a JSON object"):
        feed(["garbage"])


@pytest.mark.parametrize(
    ("message", "with_credentials", "hint"),
    [
        (
            'Head "http://127.0.0.1:5562/v2/probe/y/blobs/sha256:4175": no basic auth credentials',
            False,
            "Log in first (`docker login 127.0.0.1:5562`), or pass --username USER "
            "--password-stdin with the password on stdin.",
        ),
        (
            "unauthorized: authentication required",
            True,
            "The registry refused these credentials: check --username and the password, "
            "and that the user may push to 127.0.0.1:5562/probe/y.",
        ),
        (
            "denied: requested access to the resource is denied",
            False,
            "Log in first (`docker login 127.0.0.1:5562`), or pass --username USER "
            "--password-stdin with the password on stdin.",
        ),
        (
            'Get "http://127.0.0.1:5562/v2/": dial tcp 127.0.0.1:5562: connect: connection refused',
            False,
            "Is the registry up at 127.0.0.1:5562? Check the host and port, then retry.",
        ),
        (
            'Get "https://127.0.0.1:5562/v2/": http: server gave HTTP response to HTTPS client',
            False,
            "The registry at 127.0.0.1:5562 speaks plain HTTP: add it to dockerd's "
            '"insecure-registries" (127.0.0.0/8 is insecure by default), or serve it over TLS.',
        ),
        (
            "An image does not exist locally with the tag: 127.0.0.1:5562/probe/y",
            False,
            "Build the image first (`envforge build`), or name a local image.",
        ),
        (
            "blob upload unknown",
            False,
            "Check the reference and the registry at 127.0.0.1:5562, then retry.",
        ),
    ],
)
def test_errors_in_the_stream(message: str, with_credentials: bool, hint: str) -> None:
    ref = "127.0.0.1:5562/probe/y:1"
    events = [{"status": "The push refers to repository [127.0.0.1:5562/probe/y]"}, error(message)]
    with pytest.raises(PushError) as caught:
        feed(events, ref=ref, with_credentials=with_credentials)
    exc = caught.value
    assert (exc.registry, exc.ref, exc.reason) == ("127.0.0.1:5562", ref, message)
    assert exc.message == f"Cannot push '{ref}' to 127.0.0.1:5562: {message}"
    assert exc.hint == hint
    assert exc.exit_code == 1


def test_an_error_with_only_the_error_key() -> None:
    with pytest.raises(PushError, match="blob unknown"):
        feed([{"error": "blob unknown"}])


def test_the_registry_of_a_docker_hub_reference() -> None:
    exc = push_error("docker.io/me/app:1", "denied", with_credentials=False)
    assert exc.registry == "docker.io"
    assert "`docker login docker.io`" in (exc.hint or "")


@pytest.mark.parametrize(
    ("ref", "pinned"),
    [
        ("host:5000/team/app:1.0", "host:5000/team/app@"),
        ("host:5000/team/app", "host:5000/team/app@"),
        ("localhost/app:x", "localhost/app@"),
    ],
)
def test_the_pinned_reference_drops_the_tag(ref: str, pinned: str) -> None:
    assert Pushed(ref=ref, digest=DIGEST, size=None).pinned == pinned + DIGEST


# --- push_image, through a fake docker-py client -------------------------------------------


class FakeImage:
    attrs: ClassVar[dict[str, Any]] = {"Id": "sha256:" + "ab" * 32, "Config": {}}

    def __init__(self, tags: list[tuple[str, str]]) -> None:
        self.tags = tags

    def tag(self, repo: str, tag: str) -> bool:
        self.tags.append((repo, tag))
        return True


class FakeClient:
    def __init__(self, events: list[Any], images: tuple[str, ...] = ("app:1",)) -> None:
        self.tagged: list[tuple[str, str]] = []
        self.pushed: list[dict[str, Any]] = []
        outer = self

        class Images:
            def get(self, ref: str) -> FakeImage:
                import docker.errors

                if ref not in images:
                    raise docker.errors.ImageNotFound(ref)
                return FakeImage(outer.tagged)

        class Api:
            timeout: float | None = 60.0

            def push(self, repo: str, **kwargs: Any) -> Any:
                outer.pushed.append({"repo": repo, "timeout": self.timeout, **kwargs})
                yield from events

        self.images = Images()
        self.api = Api()


def test_push_image_tags_pushes_and_restores_the_timeout() -> None:
    client = FakeClient(AGAIN)
    seen: list[LayerEvent] = []
    auth = {"username": "u", "password": "p", "serveraddress": "127.0.0.1:5561"}
    pushed = push_image(
        client, "app:1", "127.0.0.1:5561/probe/x:1", auth=auth, on_event=seen.append
    )  # type: ignore[arg-type]
    assert pushed.pinned == f"127.0.0.1:5561/probe/x@{DIGEST}"
    assert client.tagged == [("127.0.0.1:5561/probe/x", "1")]
    assert client.pushed == [
        {
            "repo": "127.0.0.1:5561/probe/x",
            "timeout": None,  # no read timeout while a big layer uploads
            "tag": "1",
            "stream": True,
            "decode": True,
            "auth_config": auth,
        }
    ]
    assert client.api.timeout == 60.0
    assert [e.state for e in seen] == ["exists", "mounted"]


def test_push_image_without_credentials_leaves_them_to_docker_py() -> None:
    client = FakeClient(AGAIN)
    push_image(client, "app:1", "127.0.0.1:5561/probe/x", auth=None, on_event=lambda e: None)  # type: ignore[arg-type]
    assert client.tagged == [("127.0.0.1:5561/probe/x", "latest")]
    assert client.pushed[0]["auth_config"] is None
    assert client.pushed[0]["tag"] == "latest"


def test_push_image_of_an_unknown_image() -> None:
    with pytest.raises(ImageNotFoundError):
        push_image(FakeClient(AGAIN), "nope:1", "h.example/x:1", auth=None, on_event=lambda e: None)  # type: ignore[arg-type]


def test_push_image_failure_restores_the_timeout() -> None:
    client = FakeClient([error("unauthorized: authentication required")])
    with pytest.raises(PushError):
        push_image(client, "app:1", "h.example/x:1", auth=None, on_event=lambda e: None)  # type: ignore[arg-type]
    assert client.api.timeout == 60.0


def test_an_engine_that_refuses_the_push_request_is_an_engine_error() -> None:
    import docker.errors

    class Refusing(FakeClient):
        def __init__(self, message: str) -> None:
            super().__init__([])

            def push(repo: str, **kwargs: Any) -> Any:
                raise docker.errors.APIError("500 Server Error", explanation=message)

            self.api.push = push  # type: ignore[method-assign]

    with pytest.raises(EngineError) as caught:
        push_image(Refusing("engine exploded"), "app:1", "h.example/x:1", auth=None, on_event=print)  # type: ignore[arg-type]
    assert (
        caught.value.message == "The Docker engine failed to push 'h.example/x:1': engine exploded"
    )
    # A reason envforge knows (an older engine's answer) keeps its hint.
    with pytest.raises(PushError) as refused:
        push_image(
            Refusing("unauthorized: authentication required"),
            "app:1",
            "h.example/x:1",
            auth=None,
            on_event=print,
        )  # type: ignore[arg-type]
    assert (refused.value.hint or "").startswith("Log in first (`docker login h.example`)")
