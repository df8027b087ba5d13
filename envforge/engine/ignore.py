""".dockerignore as docker-py applies it (docker.utils.build.exclude_paths, after moby's
fileutils.PatternMatcher): the paths a build context holds, picked without importing
docker-py, whose import is ~60-100 ms of `envforge build`'s start-up. The same rules, to
the same paths: tests/unit/engine/test_ignore.py checks both on the same trees.

Linux paths only ("/"), as envforge builds on Linux engines. Rules, as docker-py has them:
each line a pattern, "!" making it an exception; a path is excluded when the last pattern
that matches it, or one of its parent folders, is not an exception; `*` and `?` stay within
one path component, `**` crosses them, `[...]` is a class; patterns match case-blind;
.dockerignore and the Dockerfile always stay in; an excluded folder is not walked unless an
exception names something below it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass


def context_paths(root: str, patterns: list[str], dockerfile: str = "Dockerfile") -> set[str]:
    """The paths under root (files and folders, relative) that the patterns leave in."""
    matcher = _Matcher([*patterns, f"!{dockerfile}"])
    return set(matcher.walk(root))


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part != "."]


@dataclass(frozen=True)
class _Pattern:
    exclusion: bool
    dirs: tuple[str, ...]
    regex: re.Pattern[str]

    @property
    def cleaned(self) -> str:
        return "/".join(self.dirs)

    @classmethod
    def parse(cls, text: str) -> _Pattern:
        exclusion = text.startswith("!")
        if exclusion:
            text = text[1:]
        parts = _split(text.strip())
        i = 0
        while i < len(parts):  # ".." drops the component before it, as Go's filepath.Clean
            if parts[i] == "..":
                del parts[i]
                if i > 0:
                    del parts[i - 1]
                    i -= 1
            else:
                i += 1
        dirs = tuple(parts)
        return cls(exclusion, dirs, re.compile(_translate("/".join(dirs).lower())))

    def match(self, path: str) -> bool:
        return self.regex.match(path.lower()) is not None


def _translate(pattern: str) -> str:
    """A shell pattern as docker-py's fnmatch translates it: `*` within a component, `**`
    across them, `?` one character of one, `[...]` a class, no quoting."""
    i, n = 0, len(pattern)
    out = "^"
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= n else "(.*/)?"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out += "\\["
            else:
                inside = pattern[i:j].replace("\\", "\\\\")
                i = j + 1
                if inside[0] == "!":
                    inside = "^" + inside[1:]
                elif inside[0] == "^":
                    inside = "\\" + inside
                out += f"[{inside}]"
        else:
            out += re.escape(c)
    return out + "$"


class _Matcher:
    def __init__(self, patterns: list[str]) -> None:
        parsed = [_Pattern.parse(p) for p in patterns]
        self.patterns = [p for p in parsed if p.dirs]
        self.patterns.append(_Pattern.parse("!.dockerignore"))

    def excluded(self, path: str) -> bool:
        matched = False
        parent = os.path.dirname(path)
        parent_dirs = _split(parent)
        for pattern in self.patterns:
            match = pattern.match(path)
            if not match and parent and len(pattern.dirs) <= len(parent_dirs):
                match = pattern.match("/".join(parent_dirs[: len(pattern.dirs)]))
            if match:
                matched = not pattern.exclusion
        return matched

    def walk(self, root: str) -> Iterator[str]:
        def walk_in(current: str) -> Iterator[str]:
            for name in os.listdir(current):
                path = os.path.join(os.path.relpath(current, root), name)
                if path.startswith("./"):
                    path = path[2:]
                excluded = self.excluded(path)
                if not excluded:
                    yield path
                full = os.path.join(root, path)
                if not os.path.isdir(full) or os.path.islink(full):
                    continue
                if excluded and not any(
                    p.exclusion and p.cleaned.startswith(path) for p in self.patterns
                ):
                    continue  # nothing below it comes back in: not walked
                yield from walk_in(full)

        return walk_in(root)
