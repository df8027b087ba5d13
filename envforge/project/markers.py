"""PEP 508 markers of a uv.lock, parsed once each and evaluated once per target. Pure.

A large universal lock repeats a few hundred distinct markers tens of thousands of times
(every edge of a GPU project carries one), and planning walks the lock once per extra and
group it weighs: parsing each occurrence anew was nearly all of `plan`'s time on a
500-package lock. Both caches are keyed by the marker's text (a verdict also by the target
and the active extras) and live as long as the process, which is one command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

# packaging's parsed form and its evaluator, what Marker.evaluate runs minus re-parsing: not
# public API, so a packaging that renames them gets the public (slower) path below instead.
try:
    from packaging._parser import Variable
    from packaging.markers import _evaluate_markers

    _PARSED_TREE = hasattr(Marker("extra == 'x'"), "_markers")
except ImportError:  # pragma: no cover - depends on the installed packaging
    _PARSED_TREE = False

# `extra == 'x'` / `extra != 'x'`, either way round, as uv writes them (quotes of either kind).
_EXTRA_TEST = re.compile(
    r"""\bextra\s*(==|!=)\s*(['"])([^'"]*)\2|(['"])([^'"]*)\4\s*(==|!=)\s*extra\b"""
)


@dataclass(frozen=True)
class Target:
    """The environment an image runs in, as PEP 508 markers see it."""

    python_full_version: str  # "3.11.16": the base image's own patch release
    sys_platform: str = "linux"
    platform_machine: str = "x86_64"

    @cached_property
    def _environment(self) -> dict[str, str]:
        major_minor = ".".join(self.python_full_version.split(".")[:2])
        return {
            "python_full_version": self.python_full_version,
            "python_version": major_minor,
            "implementation_version": self.python_full_version,
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "sys_platform": self.sys_platform,
            "platform_system": "Linux" if self.sys_platform == "linux" else self.sys_platform,
            "platform_machine": self.platform_machine,
            "os_name": "posix",
            "platform_release": "",
            "platform_version": "",
            "extra": "",
        }

    def environment(self) -> dict[str, str]:
        return dict(self._environment)


@cache
def parse(text: str) -> Marker:
    """The marker of this text (InvalidMarker when it does not parse)."""
    return Marker(text)


@cache
def holds(text: str, target: Target, active: frozenset[str]) -> bool:
    """Whether a lock's marker holds for target with these (canonical) extras active.

    uv encodes conflicting extras and groups as extra names ('extra-9-gpu-torch-cu124') and
    means a set: `extra != 'x'` holds when x is not active, whatever else is. So each
    `extra == / != 'x'` is decided by the active set, and the rest by packaging, on the
    marker parsed once whatever the extras.
    """
    env = target.environment()
    if "extra" not in text:
        return parse(text).evaluate(env)
    if not _PARSED_TREE:
        return _substituted(text, active).evaluate(env)  # env's extra is ''
    return _walk(parse(text)._markers, env, active)


def _substituted(text: str, active: frozenset[str]) -> Marker:
    """The marker with each extra test replaced by its verdict for the active set: the same
    answer as the walk, through packaging's public API only."""

    def verdict(match: re.Match[str]) -> str:
        op = match.group(1) or match.group(6)
        name = match.group(3) if match.group(1) else match.group(5)
        holds_now = (canonicalize_name(name) in active) == (op == "==")
        return "extra == ''" if holds_now else "extra != ''"  # evaluated with extra ''

    return parse(_EXTRA_TEST.sub(verdict, text))


def _walk(nodes: list[Any], env: dict[str, str], active: frozenset[str]) -> bool:
    """packaging's own evaluation (an 'or' of 'and' groups), over a parsed marker's nodes."""
    groups: list[list[bool]] = [[]]
    for node in nodes:
        if isinstance(node, list):
            groups[-1].append(_walk(node, env, active))
        elif node == "or":
            groups.append([])
        elif isinstance(node, tuple):
            groups[-1].append(_atom(node, env, active))
    return any(all(group) for group in groups)


def _atom(node: tuple[Any, Any, Any], env: dict[str, str], active: frozenset[str]) -> bool:
    # Only == and != test an extra against the active set; `'a' in extra` (which uv never
    # writes) is packaging's substring test on an empty extra.
    lhs, op, rhs = node
    value = rhs if isinstance(lhs, Variable) else lhs
    name = lhs if isinstance(lhs, Variable) else rhs
    if name.value == "extra" and op.value in ("==", "!="):
        wanted = bool(op.value == "==")
        return (canonicalize_name(value.value) in active) == wanted
    return bool(_evaluate_markers([node], {**env, "extra": ""}))


def clear() -> None:
    """Forget every parsed marker and verdict (a benchmark's cold start)."""
    parse.cache_clear()
    holds.cache_clear()
