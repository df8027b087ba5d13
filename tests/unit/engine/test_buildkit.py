"""BuildKit through the Engine API: the context tar, the images pulled first, the trace
turned into progress lines and errors, and which builder `auto` picks."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from envforge.engine import build, buildkit
from envforge.engine import client as engine
from envforge.engine.builder import builder_for, choose_builder
from envforge.errors import BuildError
from tests.unit.engine.test_trace import field, stamp, vertex

FIXTURE = Path(__file__).parents[2] / "fixtures" / "buildkit" / "trace.jsonl"


def trace(*chunks: bytes) -> dict[str, Any]:
    return {"id": buildkit.TRACE_ID, "aux": base64.b64encode(b"".join(chunks)).decode()}


def log(digest: str, text: str) -> bytes:
    return field(3, field(1, digest) + field(4, text.encode()))


# -- the context ---------------------------------------------------------------------------


def _project(root: Path) -> Path:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / ".dockerignore").write_text(".venv\n")
    (root / ".venv").mkdir()
    (root / ".venv" / "junk").write_text("no\n")
    (root / ("long-" * 30 + ".txt")).write_text("a long name\n")
    return root


def test_the_context_is_a_gnu_tar_of_the_classic_files(tmp_path: Path) -> None:
    root = _project(tmp_path)
    extra = {".envforge/ca-bundle.crt": "PEM\n"}
    data = buildkit.context_tar(root, extra).read()
    assert data[156:157] != b"x" and b"PaxHeader" not in data[:1024]  # no PAX header first
    assert data[257:265] == b"ustar  \x00"  # the GNU magic
    with tarfile.open(fileobj=io.BytesIO(data)) as ours:
        names = sorted(ours.getnames())
        assert all(isinstance(m.mtime, int) for m in ours.getmembers())
        assert ours.extractfile(".envforge/ca-bundle.crt").read() == b"PEM\n"  # type: ignore[union-attr]
    with tarfile.open(fileobj=build.build_context(root, extra)) as classic:
        assert names == sorted(classic.getnames())
    assert ".venv/junk" not in names and "src/pkg/__init__.py" in names


def test_the_same_files_give_the_same_context(tmp_path: Path) -> None:
    """Byte for byte, the CA included: BuildKit then finds its copy of the context cached."""
    root = _project(tmp_path)
    extra = {".envforge/ca-bundle.crt": "PEM\n"}
    first = buildkit.context_tar(root, extra).read()
    time.sleep(1.1)  # a CA stamped with the time of the build would differ now
    assert buildkit.context_tar(root, extra).read() == first
    (root / "src" / "pkg" / "__init__.py").write_text("changed = True\n")
    assert buildkit.context_tar(root, extra).read() != first


# -- the images pulled first ---------------------------------------------------------------


def test_the_images_a_dockerfile_names_without_its_stages() -> None:
    dockerfile = """\
# syntax comment
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv
FROM --platform=linux/amd64 python:3.11-slim@sha256:abc AS deps
COPY --from=uv /uv /bin/
COPY --from=0 /x /y
COPY --from=busybox:1.36 /bin/busybox /bin/
RUN --mount=type=cache,target=/root/.cache \\
    --mount=type=bind,from=envforge-lab/uv:0.13.9,source=/uv,target=/uv \\
    --mount=type=bind,from=deps,source=/a,target=/b uv sync
FROM deps AS project
FROM scratch
FROM ${BASE}
FROM python:3.11-slim@sha256:abc
"""
    assert buildkit.image_references(dockerfile) == [
        "ghcr.io/astral-sh/uv:0.13.9",
        "python:3.11-slim@sha256:abc",
        "busybox:1.36",
        "envforge-lab/uv:0.13.9",
    ]


def test_only_missing_images_are_pulled() -> None:
    pulled: list[str] = []

    class Images:
        def get(self, ref: str) -> object:
            if ref == "local:1":
                return object()
            raise docker.errors.ImageNotFound("no")

        def pull(self, ref: str) -> object:
            if ref == "private:1":
                raise docker.errors.APIError("pull access denied for private")
            pulled.append(ref)
            return object()

    class Client:
        images = Images()

    assert buildkit.pull_missing(Client(), ["local:1", "remote:2"]) == ["remote:2"]  # type: ignore[arg-type]
    assert pulled == ["remote:2"]
    with pytest.raises(BuildError, match="at step 'FROM private:1': pulling private:1"):
        buildkit.pull_missing(Client(), ["private:1"])  # type: ignore[arg-type]


# -- the stream ------------------------------------------------------------------------------


def _run(chunks: list[object]) -> tuple[str | None, list[str]]:
    lines: list[str] = []
    progress = buildkit.TraceProgress(lines.append)
    image_id = None
    for chunk in chunks:
        image_id = buildkit.consume(chunk, progress) or image_id
    return image_id, lines


def test_steps_are_said_as_they_start_and_end() -> None:
    run = "[deps 6/7] RUN uv sync --locked --no-dev --no-editable --no-install-project"
    image_id, lines = _run([
        trace(field(1, vertex(digest="a", name="[deps 1/7] FROM python", cached=1,
                              started=stamp(1), completed=stamp(1)))),
        trace(field(1, vertex(digest="b", name=run, started=stamp(10)))),
        trace(log("b", "Resolved 9 packages\n")),
        trace(field(1, vertex(digest="b", name=run, started=stamp(10),
                              completed=stamp(14, 200_000_000)))),
        {"id": buildkit.IMAGE_ID, "aux": {"ID": "sha256:beef"}},
        {"stream": "Successfully tagged t:1\n"},
    ])  # fmt: skip
    assert image_id == "sha256:beef"
    assert lines == [
        "[deps 1/7] FROM python  cached",
        "[deps 6/7] RUN uv sync --locked --no-dev --no-editable --no-install- ...",
        "[deps 6/7]  done 4.2s",
    ]


def test_an_error_line_names_the_running_step_with_its_log_tail() -> None:
    name = "[project 2/2] RUN uv build"
    chunks: list[object] = [
        trace(field(1, vertex(digest="p", name=name, started=stamp(1)))),
        trace(*(log("p", f"line {i}\n") for i in range(30)), log("p", "last words")),
        {"error": "executor failed", "errorDetail": {"message": "executor failed running: exit code: 1"}},
    ]  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _run(chunks)
    assert str(caught.value) == (
        "Image build failed at step '[project 2/2] RUN uv build': "
        "executor failed running: exit code: 1"
    )
    assert caught.value.log_tail[-1] == "last words"
    assert len(caught.value.log_tail) == build.TAIL_LINES


def test_a_vertex_error_fails_with_that_vertexs_log() -> None:
    chunks: list[object] = [
        trace(field(1, vertex(digest="s", name="[stage 2/2] RUN sibling", started=stamp(1),
                              completed=stamp(2), error="context canceled"))),
        trace(field(1, vertex(digest="f", name="[1/2] RUN false", started=stamp(1))),
              log("f", "about to fail\n")),
        trace(field(1, vertex(digest="f", name="[1/2] RUN false", started=stamp(1),
                              completed=stamp(2), error="exit code: 1"))),
    ]  # fmt: skip
    with pytest.raises(BuildError) as caught:
        _run(chunks)
    assert (caught.value.step, caught.value.reason) == ("[1/2] RUN false", "exit code: 1")
    assert caught.value.log_tail == ["about to fail"]


def test_garbage_in_the_stream_is_skipped() -> None:
    image_id, lines = _run([
        "not a mapping",
        None,
        {"id": buildkit.TRACE_ID, "aux": "%%% not base64"},
        {"id": buildkit.TRACE_ID, "aux": base64.b64encode(b"\x0a\x09trunc").decode()},
        {"id": buildkit.TRACE_ID, "aux": 42},
        {"id": buildkit.IMAGE_ID, "aux": "no mapping"},
        {"aux": {"ID": 7}},
        {"id": buildkit.IMAGE_ID, "aux": {"ID": "sha256:1"}},
    ])  # fmt: skip
    assert (image_id, lines) == ("sha256:1", [])


def test_the_recorded_trace_gives_short_lines() -> None:
    chunks = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    _, lines = _run(chunks)
    assert "[2/2] RUN echo envforge-fixture-line && echo second line" in lines
    assert any(line.startswith("[2/2]  done ") for line in lines)


# -- the request ------------------------------------------------------------------------------


class FakeResponse:
    status_code = 200


def _fake_client(stream: Callable[[], Iterator[bytes]], asked: dict[str, Any]) -> Any:
    class Api:
        def _url(self, path: str) -> str:
            return "http+docker://x/v1.41" + path

        def post(self, url: str, **kwargs: Any) -> FakeResponse:
            asked.update(kwargs, url=url, body=kwargs["data"].read(1024))
            return FakeResponse()

        def _raise_for_status(self, response: object) -> None:
            pass

        def _stream_helper(self, response: object, decode: bool) -> Iterator[bytes]:
            yield from stream()

    class Image:
        def __init__(self) -> None:
            self.attrs = {"Size": 7, "Config": {}}

    class Images:
        def get(self, ref: str) -> Image:
            return Image()

    class Client:
        api = Api()
        images = Images()

    return Client()


def test_the_build_request_asks_for_buildkit_and_never_pulls(tmp_path: Path) -> None:
    asked: dict[str, Any] = {}
    stream = [
        json.dumps(trace(field(1, vertex(digest="a", name="[1/1] FROM x", started=stamp(1))))).encode()
        + b"\r\n" + b'{"id": "moby.image.id", "aux"',
        b': {"ID": "sha256:ab"}}\r\nnot json\r\n',
    ]  # fmt: skip
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    lines: list[str] = []
    built = engine.build_image(
        _fake_client(lambda: iter(stream), asked), tmp_path, "t:1", out=lines.append,
        buildargs={"A": "1"}, nocache=True, builder="buildkit",
    )  # fmt: skip
    assert (built.id, built.tag, built.size) == ("sha256:ab", "t:1", 7)
    assert asked["url"].endswith("/build") and asked["timeout"] is None and asked["stream"]
    assert asked["params"]["version"] == "2" and asked["params"]["nocache"] == "1"
    assert "pull" not in asked["params"] and json.loads(asked["params"]["buildargs"]) == {"A": "1"}
    assert asked["headers"] == {"Content-Type": "application/x-tar"}
    assert asked["body"][257:265] == b"ustar  \x00"
    assert lines == ["[1/1] FROM x"]


def test_an_engine_that_goes_away_mid_build_is_said_so(tmp_path: Path) -> None:
    """dockerd 20.10's BuildKit can panic (a build cache pruned during a build): the stream
    ends mid-chunk, urllib3 raises ProtocolError, and that is an engine failure, not a bug."""
    import urllib3.exceptions

    def stream() -> Iterator[bytes]:
        started = vertex(digest="a", name="[stage-4 3/5] RUN uv sync", started=stamp(1))
        yield json.dumps(trace(field(1, started))).encode() + b"\r\n"
        raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(0 bytes read)")

    (tmp_path / "Dockerfile").write_text("FROM x\n")
    with pytest.raises(BuildError) as caught:
        engine.build_image(
            _fake_client(stream, {}), tmp_path, "t:1", out=lambda line: None, buildargs={},
            nocache=False, builder="buildkit",
        )  # fmt: skip
    assert caught.value.step == "[stage-4 3/5] RUN uv sync"
    assert str(caught.value).startswith(
        "Image build failed at step '[stage-4 3/5] RUN uv sync': the engine closed the "
        "connection during the build"
    )


# -- which builder ---------------------------------------------------------------------------


def test_auto_picks_buildkit_on_docker_20_10() -> None:
    version = {
        "Version": "20.10.24+dfsg1",
        "ApiVersion": "1.41",
        "Components": [{"Name": "Engine"}],
    }
    assert builder_for(version) == (
        "buildkit",
        "Docker Engine 20.10.24+dfsg1 supports BuildKit through the API",
    )


@pytest.mark.parametrize(
    ("version", "why"),
    [
        ({"Version": "4.3.1", "ApiVersion": "1.41", "Components": [{"Name": "Podman Engine"}]},
         "Podman Engine 4.3.1 builds with buildah"),
        ({"Version": "19.03.15", "ApiVersion": "1.40"}, "Docker Engine 19.03.15 (API 1.40) predates"),
        ({"Version": "x"}, "the engine did not say its API version"),
    ],
)  # fmt: skip
def test_auto_picks_classic_elsewhere(version: dict[str, Any], why: str) -> None:
    chosen, reason = builder_for(version)
    assert chosen == "classic" and reason.startswith(why)


def test_an_explicit_builder_is_taken_and_a_silent_engine_gets_classic() -> None:
    assert choose_builder(object(), "buildkit") == ("buildkit", "--builder buildkit")
    assert choose_builder(object(), "auto") == ("classic", "the engine did not say its version")


def test_a_steps_mounts_are_shown_as_one_word() -> None:
    from envforge.engine.buildkit import step_label

    name = (
        "[deps 3/4] RUN --mount=type=bind,from=uv,source=/uv,target=/bin/uv "
        "--mount=type=cache,target=/root/.cache/uv uv sync --locked --no-install-project"
    )
    assert step_label(name) == "[deps 3/4] RUN --mount=... uv sync --locked --no-install-project"
