"""Typed reading of parsed data (TOML, YAML, JSON): one kit for every file envforge reads.

In pypa/packaging's style: a ``Fields`` wraps one table and where it sits in its file, and
its getters return the value with its type or raise the reader's own error, which names the
full location (``Invalid 'version' in uv.lock 'package[3]': expected a string, got 3``).
Nested tables and arrays of tables chain their location (``package[3].sdist``), so an error
deep in a file still says where it happened. Pure: nothing here opens a file.

The reader decides the error class (LockError for uv.lock, CatalogError for package data,
HostFactsError for recorded host facts, ...), so each room keeps its exit code and hint;
what a value may be, and how a wrong one is reported, is decided here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from envforge.errors import EnvforgeError

T = TypeVar("T")
ErrorFactory = Callable[[str], EnvforgeError]

_KINDS: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "an array",
    dict: "a table",
    Mapping: "a table",  # what table() and tables() ask for
}


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message shows it: its repr (every control character escaped), cut,
    and never a failure of its own (an int of 5000 digits, a list 10000 deep)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_KINDS.get(k, k.__name__) for k in kinds)


def is_kind(value: object, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that true and false are never integers or numbers."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, kinds)


@dataclass(frozen=True, kw_only=True)
class Fields:
    """One table of a file: ``data`` read through typed getters; ``where`` its location
    ('' for the top of the file), ``file`` the file's name for messages."""

    data: Mapping[str, Any]
    where: str
    file: str
    error: ErrorFactory
    # What this table is about, for messages: "of 'numpy'" for uv.lock's package[3] (tables()
    # with named_by), kept by the tables nested in it.
    subject: str = ""

    @classmethod
    def of(cls, data: object, *, file: str, error: ErrorFactory, where: str = "") -> Fields:
        if not isinstance(data, Mapping):
            raise error(f"Invalid {_place(file, where)}: expected a table, got {shown(data)}")
        return cls(data=data, where=where, file=file, error=error)

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def place(self, where: str) -> str:
        return _place(self.file, where, self.subject)

    def fail(self, key: str | int, expected: str, value: object) -> EnvforgeError:
        return self.error(
            f"Invalid {self.place(self.path(key))}: expected {expected}, got {shown(value)}"
        )

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> Iterator[str]:
        return iter(self.data)

    @overload
    def get(self, key: str, kind: type[T]) -> T | None: ...
    @overload
    def get(self, key: str, kind: type[T], default: T) -> T: ...
    def get(self, key: str, kind: type[T], default: T | None = None) -> T | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not is_kind(value, kind):
            raise self.fail(key, _kind_name(kind), value)
        return value  # type: ignore[no-any-return]  # checked by is_kind just above

    def required(self, key: str, kind: type[T]) -> T:
        value = self.get(key, kind)
        if value is None:
            raise self.error(f"Missing {self.place(self.path(key))}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        """An array of strings; absent: empty."""
        value = self.get(key, list, [])
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(
                    f"Invalid {self.place(self.path(key) + f'[{index}]')}: "
                    f"expected a string, got {shown(item)}"
                )
        return tuple(value)

    def table(self, key: str) -> Fields | None:
        value = self.get(key, Mapping)  # type: ignore[type-abstract]  # any mapping will do
        if value is None:
            return None
        return Fields(
            data=value,
            where=self.path(key),
            file=self.file,
            error=self.error,
            subject=self.subject,
        )

    def required_table(self, key: str) -> Fields:
        table = self.table(key)
        if table is None:
            raise self.error(f"Missing {self.place(self.path(key))}")
        return table

    def tables(self, key: str, *, named_by: str | None = None) -> list[Fields]:
        """An array of tables; absent: empty. Each keeps its index in its location, and with
        named_by, its name in messages (uv.lock's package[3] is "of 'numpy'")."""
        value = self.get(key, list, [])
        found = []
        for index, item in enumerate(value):
            where = f"{self.path(key)}[{index}]"
            if not isinstance(item, Mapping):
                raise self.error(
                    f"Invalid {self.place(where)}: expected a table, got {shown(item)}"
                )
            name = item.get(named_by) if named_by else None
            subject = f"of {shown(name, 40)}" if isinstance(name, str) else self.subject
            found.append(
                Fields(data=item, where=where, file=self.file, error=self.error, subject=subject)
            )
        return found

    def checked(self, key: str, check: Callable[[Any, str], T]) -> T | None:
        """A value through a validator of envforge.validate's shape: check(value, where)."""
        value = self.data.get(key)
        return None if value is None else check(value, f"'{self.path(key)}'")


def _place(file: str, where: str, subject: str = "") -> str:
    if not where:
        return file
    return f"'{where}' {subject} in {file}" if subject else f"'{where}' in {file}"
