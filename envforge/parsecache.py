"""Parses and computations remembered under XDG_CACHE_HOME/envforge/parsed/.

A file's parse by the sha256 of its bytes: tomllib takes ~70 ms of CPU on a 200 kB uv.lock
and PyYAML (its import included) ~40 ms on the catalogs, where JSON takes ~2 ms. A pure
computation (the rendered Dockerfile) by the sha256 of its inputs and of envforge's own
files. Each entry is named and tagged by its kind and key, so the same key always gives the
same data and any change computes afresh. Only a parse that JSON gives back unchanged is
stored (not a TOML date or a YAML mapping with number keys); errors are raised as always;
a cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envforge import safeio
from envforge.errors import InputError

_KEPT = 8  # the newest parses kept of each kind: a project's recent locks, a few projects


def _folder() -> Path:
    return safeio.cache_dir() / "parsed"


def parsed(kind: str, data: bytes, parse: Callable[[bytes], Any]) -> Any:
    """parse(data), or the stored result of an earlier parse of the same bytes."""
    digest = hashlib.sha256(data).hexdigest()
    found, stored = _load(kind, digest)
    if found:
        return stored
    result = parse(data)
    with contextlib.suppress(TypeError, ValueError, RecursionError):
        text = json.dumps({"sha256": digest, "data": result}, allow_nan=False)
        if json.loads(text)["data"] == result:
            _save(kind, digest, text)
    return result


def _load(kind: str, digest: str) -> tuple[bool, Any]:
    """(True, the data stored under digest), or (False, None): absent, corrupt, another's."""
    try:
        # a FIFO there is refused, not read
        stored = json.loads(safeio.read_bytes(_folder() / f"{kind}-{digest}.json"))
    except (InputError, ValueError, RecursionError):
        return False, None
    if isinstance(stored, dict) and stored.get("sha256") == digest and "data" in stored:
        return True, stored["data"]
    return False, None


def _save(kind: str, digest: str, text: str) -> None:
    path = _folder() / f"{kind}-{digest}.json"
    with contextlib.suppress(OSError, InputError):
        path.parent.mkdir(parents=True, exist_ok=True)
        safeio.write_text_atomic(path, text)
        _prune(path.parent, kind)


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


# --- a computation remembered by its inputs -------------------------------------------------


class Unkeyable(Exception):
    """A value with no faithful canonical form: its computation is not remembered."""


def remembered(kind: str, inputs: Any, compute: Callable[[], dict[str, str]]) -> dict[str, str]:
    """compute(), or its stored result for the same inputs and the same envforge code.

    The key is the sha256 of the inputs' canonical form (every dataclass field, type-tagged,
    mappings in their order) and of every file of the envforge package (its code, templates
    and catalogs): a changed input or a changed envforge computes afresh. Inputs holding a
    value of a type the canonical form does not know are computed every time."""
    try:
        canonical = json.dumps([_code_digest(), _canonical(inputs)], separators=(",", ":"))
    except (Unkeyable, OSError, RecursionError, ValueError):
        return compute()
    key = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    found, stored = _load(kind, key)
    if found and isinstance(stored, dict) and all(isinstance(v, str) for v in stored.values()):
        return {str(k): v for k, v in stored.items()}
    result = compute()
    _save(kind, key, json.dumps({"sha256": key, "data": result}))
    return result


_CODE: list[str] = []


def _code_digest() -> str:
    """sha256 over every file of the envforge package, read once per process."""
    if not _CODE:
        package = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".j2", ".yaml", ".json", ".toml"):
                digest.update(path.relative_to(package).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
        _CODE.append(digest.hexdigest())
    return _CODE[0]


def _canonical(value: Any) -> Any:
    import dataclasses
    import enum
    from collections.abc import Mapping
    from pathlib import PurePath

    kind = type(value)
    if value is None or kind in (bool, int, str):
        return [kind.__name__, value]
    if kind is float:
        return ["float", repr(value)]
    if isinstance(value, enum.Enum):
        return ["enum", _name(kind), _canonical(value.value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [[f.name, _canonical(getattr(value, f.name))] for f in dataclasses.fields(value)]
        return ["dataclass", _name(kind), fields]
    if isinstance(value, Mapping):
        return ["mapping", [[_canonical(k), _canonical(v)] for k, v in value.items()]]
    if kind in (tuple, list):
        return [kind.__name__, [_canonical(v) for v in value]]
    if kind in (set, frozenset):
        return ["set", sorted(json.dumps(_canonical(v)) for v in value)]
    if isinstance(value, PurePath):
        return ["path", str(value)]
    if _name(kind) in _BY_TEXT:
        return ["text", _name(kind), str(value)]
    raise Unkeyable(_name(kind))


# packaging's values, whose text is their normalized form (what a template would print).
_BY_TEXT = frozenset(
    {
        "packaging.requirements.Requirement",
        "packaging.specifiers.SpecifierSet",
        "packaging.specifiers.Specifier",
        "packaging.version.Version",
        "packaging.markers.Marker",
    }
)


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"
