"""The engine's failures as one short reason each, for an error message."""

from __future__ import annotations

from typing import Any


def short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


def api_message(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc)


# The build stream ending mid-line (urllib3's ProtocolError): the engine went away.
DROPPED = (
    "the engine closed the connection during the build (did it stop or crash? its log says "
    "why; dockerd's is in journalctl -u docker)"
)
