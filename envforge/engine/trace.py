"""BuildKit's progress trace: the protobuf `moby.buildkit.v1.StatusResponse` that a
`POST /build?version=2` stream carries, base64-encoded, in its `moby.buildkit.trace` lines.

A small wire-format reader rather than a library: none of our dependencies decodes
protobuf without generated code, and the few fields read here (buildkit's
api/services/control/control.proto) need only varints and length-delimited fields.
Unknown fields are skipped; a truncated or malformed message raises TraceError, which
the caller treats as garbage to skip.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class TraceError(ValueError):
    """Bytes that are not a protobuf message of the expected shape."""


@dataclass(frozen=True, kw_only=True)
class Vertex:
    digest: str
    name: str = ""
    inputs: tuple[str, ...] = ()
    cached: bool = False
    started: float | None = None  # seconds since the epoch
    completed: float | None = None
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class VertexLog:
    vertex: str
    msg: bytes
    stream: int = 0
    timestamp: float | None = None


@dataclass(frozen=True)
class Status:
    vertexes: tuple[Vertex, ...] = ()
    logs: tuple[VertexLog, ...] = ()


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at pos, and the position after it."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise TraceError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise TraceError("varint longer than 10 bytes")


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for each field: an int for a varint, bytes for a
    length-delimited field; fixed-width fields are skipped."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise TraceError("field number 0")
        if wire == _VARINT:
            value, pos = read_varint(data, pos)
            yield number, value
        elif wire == _LENGTH:
            size, pos = read_varint(data, pos)
            if pos + size > len(data):
                raise TraceError("truncated length-delimited field")
            yield number, data[pos : pos + size]
            pos += size
        elif wire in (_FIXED64, _FIXED32):
            pos += 8 if wire == _FIXED64 else 4
            if pos > len(data):
                raise TraceError("truncated fixed-width field")
        else:  # groups (3, 4) are not in this schema
            raise TraceError(f"unsupported wire type {wire}")


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise TraceError("expected a string")
    return value.decode("utf-8", "replace")


def _timestamp(value: int | bytes) -> float:
    """google.protobuf.Timestamp: seconds=1, nanos=2."""
    if not isinstance(value, bytes):
        raise TraceError("expected a Timestamp")
    seconds = nanos = 0
    for number, part in fields(value):
        if number == 1 and isinstance(part, int):
            seconds = part
        elif number == 2 and isinstance(part, int):
            nanos = part
    return seconds + nanos / 1e9


def _vertex(data: bytes) -> Vertex:
    digest = name = error = ""
    inputs: list[str] = []
    cached = False
    started = completed = None
    for number, value in fields(data):
        if number == 1:
            digest = _text(value)
        elif number == 2:
            inputs.append(_text(value))
        elif number == 3:
            name = _text(value)
        elif number == 4:
            cached = bool(value) if isinstance(value, int) else False
        elif number == 5:
            started = _timestamp(value)
        elif number == 6:
            completed = _timestamp(value)
        elif number == 7:
            error = _text(value)
    return Vertex(digest=digest, name=name, inputs=tuple(inputs), cached=cached,
                  started=started, completed=completed, error=error)  # fmt: skip


def _log(data: bytes) -> VertexLog:
    vertex, msg, stream, stamp = "", b"", 0, None
    for number, value in fields(data):
        if number == 1:
            vertex = _text(value)
        elif number == 2:
            stamp = _timestamp(value)
        elif number == 3 and isinstance(value, int):
            stream = value
        elif number == 4 and isinstance(value, bytes):
            msg = value
    return VertexLog(vertex=vertex, msg=msg, stream=stream, timestamp=stamp)


def parse_status(data: bytes) -> Status:
    """A StatusResponse: vertexes=1, logs=3 (statuses=2 and warnings=4 are not read)."""
    vertexes: list[Vertex] = []
    logs: list[VertexLog] = []
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            vertexes.append(_vertex(value))
        elif number == 3 and isinstance(value, bytes):
            logs.append(_log(value))
    return Status(tuple(vertexes), tuple(logs))


def decode_aux(aux: object) -> Status | None:
    """The Status a trace line's aux carries, or None for anything that is not one."""
    if not isinstance(aux, str):
        return None
    try:
        return parse_status(base64.b64decode(aux, validate=True))
    except (TraceError, binascii.Error, ValueError):
        return None
