"""A file's parse remembered by its sha256: the same data from the cache, a fresh parse for
other bytes, and a cache that is corrupt, unwritable or unfaithful ignored."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from envforge import parsecache
from tests.conftest import EXAMPLES


def counting(calls: list[bytes]) -> Any:
    def parse(data: bytes) -> Any:
        calls.append(data)
        return tomllib.loads(data.decode())

    return parse


def test_the_same_bytes_are_parsed_once() -> None:
    data = (EXAMPLES / "cpu-sklearn" / "uv.lock").read_bytes()
    calls: list[bytes] = []
    first = parsecache.parsed("uv.lock", data, counting(calls))
    assert (
        parsecache.parsed("uv.lock", data, counting(calls)) == first == tomllib.loads(data.decode())
    )
    assert len(calls) == 1
    parsecache.parsed("uv.lock", data + b"\n# edited\n", counting(calls))
    assert len(calls) == 2


def test_errors_are_the_parsers_and_never_stored() -> None:
    calls: list[bytes] = []
    for _ in range(2):
        with pytest.raises(tomllib.TOMLDecodeError):
            parsecache.parsed("uv.lock", b"[[[", counting(calls))
    assert len(calls) == 2


@pytest.mark.parametrize("garbage", [b"{not json", b"[]", b'{"sha256": "0", "data": 1}'])
def test_a_corrupt_entry_is_parsed_afresh(garbage: bytes) -> None:
    data = b"a = 1\n"
    calls: list[bytes] = []
    parsecache.parsed("t", data, counting(calls))
    (entry,) = parsecache._folder().glob("t-*.json")
    entry.write_bytes(garbage)
    assert parsecache.parsed("t", data, counting(calls)) == {"a": 1}
    assert len(calls) == 2


def test_an_unwritable_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    calls: list[bytes] = []
    assert parsecache.parsed("t", b"a = 1\n", counting(calls)) == {"a": 1}
    assert parsecache.parsed("t", b"a = 1\n", counting(calls)) == {"a": 1}
    assert len(calls) == 2


@pytest.mark.parametrize(
    "text", ["when: 2024-01-01\n", "12.4: cuda\n", "x: .nan\n"], ids=["date", "number key", "nan"]
)
def test_what_json_would_change_is_not_stored(text: str) -> None:
    first = parsecache.parsed_yaml("y", text.encode())
    assert parsecache.parsed_yaml("y", text.encode()).keys() == first.keys()
    assert not list(parsecache._folder().glob("y-*.json"))


def test_only_the_newest_of_a_kind_are_kept() -> None:
    for n in range(parsecache._KEPT + 3):
        parsecache.parsed("t", f"a = {n}\n".encode(), counting([]))
    parsecache.parsed("u", b"a = 1\n", counting([]))
    assert len(list(parsecache._folder().glob("t-*.json"))) == parsecache._KEPT
    assert len(list(parsecache._folder().glob("u-*.json"))) == 1
    stored = json.loads(next(parsecache._folder().glob("u-*.json")).read_text())
    assert stored["data"] == {"a": 1}


# --- a computation remembered by its inputs -----------------------------------------------


def test_the_rendered_files_are_remembered_and_identical() -> None:
    from dataclasses import replace

    from envforge.image.options import BuildOptions
    from envforge.image.render import render_dockerfile, render_dockerignore
    from envforge.pipeline import rendered
    from tests.unit.helpers import plan_for

    plan = plan_for(EXAMPLES / "cpu-sklearn", BuildOptions(builder="buildkit"))
    direct = {"Dockerfile": render_dockerfile(plan), ".dockerignore": render_dockerignore(plan)}
    assert rendered(plan) == direct
    assert list(parsecache._folder().glob("rendered-*.json"))
    assert rendered(plan) == direct  # from the cache
    classic = replace(plan, builder="classic")
    assert rendered(classic)["Dockerfile"] == render_dockerfile(classic)


def test_a_computation_reruns_when_its_inputs_or_envforge_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def compute() -> dict[str, str]:
        calls.append(1)
        return {"out": f"run {len(calls)}"}

    inputs = {"a": (1, True, "1", 1.0, None, frozenset({"x", "y"}))}
    first = parsecache.remembered("k", inputs, compute)
    assert parsecache.remembered("k", inputs, compute) == first and len(calls) == 1
    # Each of these differs from the first only by a type or an order: each is its own key.
    for other in (
        {"a": ("1", True, "1", 1.0, None, frozenset({"x", "y"}))},
        {"a": (1, 1, "1", 1.0, None, frozenset({"x", "y"}))},
        {"a": (1, True, "1", 1, None, frozenset({"x", "y"}))},
        {"a": [1, True, "1", 1.0, None, frozenset({"x", "y"})]},
        {"a": (1, True, "1", 1.0, None, frozenset({"x"}))},
    ):
        parsecache.remembered("k", other, compute)
    assert len(calls) == 6
    assert parsecache.remembered("k", {"x": 1, "y": 2}, compute) != parsecache.remembered(
        "k", {"y": 2, "x": 1}, compute
    )  # a mapping's order can reach the output: it is part of the key
    monkeypatch.setattr(parsecache, "_CODE", ["another envforge"])
    parsecache.remembered("k", inputs, compute)
    assert len(calls) == 9


def test_an_unknown_type_is_computed_every_time() -> None:
    calls: list[int] = []

    def compute() -> dict[str, str]:
        calls.append(1)
        return {}

    for _ in range(2):
        parsecache.remembered("k", {"a": object()}, compute)
    assert len(calls) == 2
