"""The protobuf wire reader for BuildKit's trace, on hand-encoded bytes and a recorded stream."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from envforge.engine.trace import (
    Status,
    TraceError,
    Vertex,
    decode_aux,
    fields,
    parse_status,
    read_varint,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "buildkit" / "trace.jsonl"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def stamp(seconds: int, nanos: int = 0) -> bytes:
    return field(1, seconds) + field(2, nanos)


def vertex(**parts: int | bytes | str) -> bytes:
    numbers = {"digest": 1, "inputs": 2, "name": 3, "cached": 4, "started": 5, "completed": 6,
               "error": 7}  # fmt: skip
    return b"".join(field(numbers[key], value) for key, value in parts.items())


def status(*chunks: bytes) -> str:
    return base64.b64encode(b"".join(chunks)).decode()


def test_varints_of_one_and_several_bytes() -> None:
    assert read_varint(b"\x01", 0) == (1, 1)
    assert read_varint(b"\xac\x02", 0) == (300, 2)
    assert read_varint(varint(2**40 + 5), 0) == (2**40 + 5, 6)


def test_a_truncated_varint_or_field_is_an_error() -> None:
    with pytest.raises(TraceError):
        read_varint(b"\x80", 0)
    with pytest.raises(TraceError):
        list(fields(field(1, "digest")[:-2]))
    with pytest.raises(TraceError):
        list(fields(b"\x0b"))  # wire type 3 (a group)


def test_fixed_width_and_unknown_fields_are_skipped() -> None:
    data = varint(9 << 3 | 1) + bytes(8) + varint(10 << 3 | 5) + bytes(4) + field(1, 7)
    assert list(fields(data)) == [(1, 7)]


def test_a_status_with_a_vertex_and_a_log() -> None:
    data = field(
        1,
        vertex(digest="sha256:a", inputs="sha256:b", name="[2/3] RUN make", cached=1,
               started=stamp(100, 500_000_000), completed=stamp(102), error="boom"),
    ) + field(2, b"\x0a\x01x") + field(
        3, field(1, "sha256:a") + field(2, stamp(101)) + field(3, 1) + field(4, b"hello\n")
    )  # fmt: skip
    parsed = parse_status(data)
    assert parsed.vertexes == (
        Vertex(digest="sha256:a", name="[2/3] RUN make", inputs=("sha256:b",), cached=True,
               started=100.5, completed=102.0, error="boom"),
    )  # fmt: skip
    (log,) = parsed.logs
    assert (log.vertex, log.msg, log.stream, log.timestamp) == ("sha256:a", b"hello\n", 1, 101.0)


def test_garbage_aux_is_no_status() -> None:
    assert decode_aux("not base64!") is None
    assert decode_aux(base64.b64encode(b"\x0a\x05ab").decode()) is None  # truncated
    assert decode_aux({"ID": "x"}) is None
    assert decode_aux(status()) == Status()


def test_a_recorded_trace_from_dockerd_20_10() -> None:
    """tests/fixtures/buildkit/trace.jsonl: `RUN echo envforge-fixture-line && echo second
    line` on the lab engine (dockerd 20.10.24), every trace line of its stream."""
    statuses = [decode_aux(json.loads(line)["aux"]) for line in FIXTURE.read_text().splitlines()]
    assert all(s is not None for s in statuses)
    names = {v.name for s in statuses if s for v in s.vertexes}
    assert any(name.startswith("[2/2] RUN echo envforge-fixture-line") for name in names)
    logs = b"".join(log.msg for s in statuses if s for log in s.logs)
    assert b"envforge-fixture-line\n" in logs
    done = [v for s in statuses if s for v in s.vertexes if v.completed is not None]
    assert done and all(v.started is not None and v.completed >= v.started for v in done)
