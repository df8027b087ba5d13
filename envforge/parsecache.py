"""A file's parse remembered by the sha256 of its bytes: tomllib takes ~70 ms of CPU on a
200 kB uv.lock and PyYAML (its import included) ~40 ms on the catalogs, where JSON takes ~2 ms.

Stored as JSON under XDG_CACHE_HOME/envforge/parsed/, named and tagged by the kind and the
sha256 of the bytes, so the same bytes always give the same data and any edit parses
afresh. Only a parse that JSON gives back unchanged is stored (not a TOML date or a YAML
mapping with number keys); a parser's errors are raised as always; a cache that cannot be
read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envforge import safeio
from envforge.errors import InputError

_KEPT = 8  # the newest parses kept of each kind: a project's recent locks, a few projects


def _folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "envforge" / "parsed"


def parsed(kind: str, data: bytes, parse: Callable[[bytes], Any]) -> Any:
    """parse(data), or the stored result of an earlier parse of the same bytes."""
    digest = hashlib.sha256(data).hexdigest()
    path = _folder() / f"{kind}-{digest}.json"
    try:
        stored = json.loads(safeio.read_bytes(path))  # a FIFO there is refused, not read
    except (InputError, ValueError, RecursionError):
        stored = None
    if isinstance(stored, dict) and stored.get("sha256") == digest and "data" in stored:
        return stored["data"]
    result = parse(data)
    with contextlib.suppress(OSError, InputError, TypeError, ValueError, RecursionError):
        text = json.dumps({"sha256": digest, "data": result}, allow_nan=False)
        if json.loads(text)["data"] != result:
            return result
        path.parent.mkdir(parents=True, exist_ok=True)
        safeio.write_text_atomic(path, text)
        _prune(path.parent, kind)
    return result


def _prune(folder: Path, kind: str) -> None:
    entries = sorted(
        folder.glob(f"{kind}-*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True
    )
    for old in entries[_KEPT:]:
        old.unlink(missing_ok=True)


def parsed_yaml(kind: str, data: bytes) -> Any:
    """PyYAML's safe parse of data (its C loader where PyYAML was built with it), remembered."""
    return parsed(kind, data, _yaml)


def _yaml(data: bytes) -> Any:
    import yaml  # only on a miss: its import is most of the cost

    return yaml.load(data.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
