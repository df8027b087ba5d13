"""The engine boundary: short connect timeout, bounded probes, broken answers as errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from envforge.engine import build, run
from envforge.engine import client as engine
from envforge.errors import BuildError, EngineError, InputError, RunError


class HangingContainer:
    id = "c0ffee"

    def __init__(self) -> None:
        self.killed = threading.Event()
        self.removed = False

    def start(self) -> None:
        pass

    def kill(self) -> None:
        self.killed.set()

    def wait(self, timeout: float | None = None) -> dict[str, int]:
        return {"StatusCode": 137}

    def remove(self, force: bool = False) -> None:
        self.removed = True


class HangingClient:
    """A container whose output never ends until it is killed."""

    def __init__(self) -> None:
        self.container = HangingContainer()
        self.created: dict[str, Any] = {}
        outer = self

        class Containers:
            def create(self, image: str, **kwargs: Any) -> HangingContainer:
                outer.created = kwargs
                return outer.container

        class Api:
            def attach(self, cid: str, **kwargs: Any) -> Iterator[tuple[bytes, None]]:
                yield b"started\n", None
                outer.container.killed.wait(30)

        self.containers, self.api = Containers(), Api()


def test_run_captured_timeout_bounds_the_whole_run() -> None:
    client = HangingClient()
    start = time.monotonic()
    with pytest.raises(RunError, match="timed out after 1 s"):
        engine.run_captured(client, "img", ["-c", "x"], entrypoint=["python"], timeout=1)  # type: ignore[arg-type]
    assert time.monotonic() - start < 5
    assert client.container.killed.is_set()
    assert client.container.removed


def test_run_captured_returns_when_the_stream_outlives_the_kill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An engine that kills the container but never closes its output stream.
    monkeypatch.setattr(run, "KILL_GRACE_S", 0.2)
    client = HangingClient()
    client.container.kill = lambda: None  # type: ignore[method-assign]
    start = time.monotonic()
    with pytest.raises(RunError, match=r"timed out after 0\.5 s"):
        engine.run_captured(client, "img", ["-c", "x"], entrypoint=["python"], timeout=0.5)  # type: ignore[arg-type]
    assert time.monotonic() - start < 2
    assert client.container.removed
    client.container.killed.set()  # let the reader thread end


def test_run_captured_passes_the_user() -> None:
    client = HangingClient()
    client.container.killed.set()  # the stream ends at once
    status, out, _ = engine.run_captured(
        client,  # type: ignore[arg-type]
        "img",
        ["-c", "x"],
        entrypoint=["python"],
        timeout=5,
        user="app",
    )
    assert (status, out) == (137, "started\n")
    assert client.created["user"] == "app"
    assert client.created["network_disabled"] is True


@pytest.mark.parametrize("value", ["banana", "0", "-3", "inf", "nan"])
def test_a_bad_timeout_setting_is_an_input_error(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVFORGE_DOCKER_TIMEOUT", value)
    with pytest.raises(InputError, match="ENVFORGE_DOCKER_TIMEOUT"):
        engine.connect_timeout()


def test_the_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVFORGE_DOCKER_TIMEOUT", raising=False)
    assert engine.connect_timeout() == 5.0
    monkeypatch.setenv("ENVFORGE_DOCKER_TIMEOUT", "12.5")
    assert engine.connect_timeout() == 12.5


def test_a_log_line_that_is_not_a_table_is_a_build_error() -> None:
    progress = build._BuildProgress()
    with pytest.raises(BuildError, match="cannot read"):
        build._consume([1, 2], progress, lambda line: None)  # type: ignore[arg-type]


def test_an_error_detail_that_is_not_a_table() -> None:
    progress = build._BuildProgress()
    with pytest.raises(BuildError, match="boom"):
        build._consume({"error": "boom", "errorDetail": "x"}, progress, lambda line: None)


def test_an_aux_id_that_is_not_a_string_is_no_image() -> None:
    progress = build._BuildProgress()
    assert build._consume({"aux": {"ID": 5}}, progress, lambda line: None) is None


class Image:
    def __init__(self, attrs: Any) -> None:
        self.attrs = attrs


@pytest.mark.parametrize(
    "attrs",
    [[], {"Config": "x"}, {"Config": {"Labels": {"a": 5}}}, {"Config": {"Labels": []}}],
)
def test_an_image_answer_of_the_wrong_shape_is_an_engine_error(attrs: Any) -> None:
    class Images:
        def get(self, ref: str) -> Image:
            return Image(attrs)

    class Client:
        images = Images()

    with pytest.raises(EngineError, match="The Docker engine failed to describe"):
        engine.get_image(Client(), "img")  # type: ignore[arg-type]


def test_the_build_stream_has_no_read_timeout(tmp_path: Any) -> None:
    """docker-py applies a client's timeout to each read: a long silent RUN step would be
    cut. build_image asks for none."""
    asked: dict[str, Any] = {}

    class Api:
        def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
            asked.update(kwargs)
            yield {"aux": {"ID": "sha256:ab"}}

    class Images:
        def get(self, ref: str) -> Image:
            return Image({"Size": 3, "Config": {}})

    class Client:
        api = Api()
        images = Images()

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    built = engine.build_image(Client(), tmp_path, "t:1", out=lambda line: None)  # type: ignore[arg-type]
    assert asked["timeout"] is None
    assert (built.id, built.size) == ("sha256:ab", 3)
