"""markers: each distinct marker parsed once, verdicts per target and active extras."""

from __future__ import annotations

import pytest
from packaging.markers import InvalidMarker, Marker

from envforge.project import markers
from envforge.project.markers import Target

PY311 = Target("3.11.16")
CONFLICT = (
    "(sys_platform == 'linux' and extra == 'extra-3-app-cu124') "
    "or (extra != 'extra-3-app-cu124' and python_full_version < '3.12')"
)


def test_each_text_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    markers.clear()
    built: list[str] = []
    real = markers.Marker

    class Counting(Marker):
        def __init__(self, text: str) -> None:
            built.append(text)
            super().__init__(text)

    monkeypatch.setattr(markers, "Marker", Counting)
    for active in (frozenset(), frozenset({"extra-3-app-cu124"}), frozenset({"x"})):
        for target in (PY311, Target("3.12.3"), Target("3.11.16", "darwin", "arm64")):
            markers.holds(CONFLICT, target, active)
    assert built == [CONFLICT]
    monkeypatch.setattr(markers, "Marker", real)
    markers.clear()


@pytest.mark.parametrize(
    ("target", "active", "expected"),
    [
        (PY311, frozenset(), True),  # extra != cu124, Python < 3.12
        (Target("3.12.3"), frozenset(), False),
        (Target("3.12.3"), frozenset({"extra-3-app-cu124"}), True),
        (Target("3.12.3", "darwin", "arm64"), frozenset({"extra-3-app-cu124"}), False),
        # uv means a set of active extras: another one active changes nothing
        (PY311, frozenset({"extra-3-app-cpu"}), True),
    ],
)
def test_extras_are_a_set(target: Target, active: frozenset[str], expected: bool) -> None:
    assert markers.holds(CONFLICT, target, active) is expected


def test_both_extras_of_a_conflict_active() -> None:
    both = "extra == 'extra-3-app-cpu' and extra == 'extra-3-app-cu124'"
    assert markers.holds(both, PY311, frozenset({"extra-3-app-cpu", "extra-3-app-cu124"}))
    assert not markers.holds(both, PY311, frozenset({"extra-3-app-cpu"}))


def test_extra_names_compare_normalized() -> None:
    assert markers.holds("extra == 'Extra_3_App.GPU'", PY311, frozenset({"extra-3-app-gpu"}))


def test_a_marker_that_does_not_parse() -> None:
    with pytest.raises(InvalidMarker):
        markers.holds("python_version >>> '3'", PY311, frozenset())


def test_environment_is_a_copy() -> None:
    env = PY311.environment()
    env["sys_platform"] = "win32"
    assert PY311.environment()["sys_platform"] == "linux"


def _by_text(text: str, target: Target, active: frozenset[str]) -> bool:
    """The reference: each extra comparison decided in the text, the rest by packaging."""
    import re

    from packaging.utils import canonicalize_name

    def decide(match: re.Match[str]) -> str:
        on = (canonicalize_name(match[3]) in active) == (match[1] == "==")
        return "extra == ''" if on else "extra != ''"

    text = re.sub(r"""\bextra\s*(==|!=)\s*(['"])(.*?)\2""", decide, text)
    return Marker(text).evaluate({**target.environment(), "extra": ""})


@pytest.mark.parametrize(
    "text",
    [
        CONFLICT,
        "extra == 'gpu'",
        "extra != 'gpu' or extra == 'cpu'",
        "(python_version >= '3.12' or extra == 'gpu') and platform_machine == 'x86_64'",
        "sys_platform == 'darwin' and (extra == 'a' or (extra == 'b' and extra != 'c'))",
        "platform_system == 'Linux' and implementation_name == 'cpython'",
    ],
)
def test_the_walk_agrees_with_packaging_on_the_text(text: str) -> None:
    # holds() walks packaging's parsed form (a private one): held to the public evaluation.
    for target in (PY311, Target("3.12.3"), Target("3.11.16", "darwin", "arm64")):
        for active in (frozenset(), frozenset({"gpu"}), frozenset({"a", "b"}), frozenset("abc")):
            assert markers.holds(text, target, active) is _by_text(text, target, active)


def test_an_extra_on_the_right() -> None:
    # The text substitution this replaced missed this spelling (uv does not write it).
    assert markers.holds("'gpu' == extra", PY311, frozenset({"gpu"}))
    assert not markers.holds("'gpu' != extra", PY311, frozenset({"gpu"}))


@pytest.mark.parametrize(
    "text",
    [
        CONFLICT,
        "extra != 'gpu' or extra == 'cpu'",
        "sys_platform == 'darwin' and (extra == 'a' or (extra == 'b' and extra != 'c'))",
        "'gpu' == extra or python_version < '3.12'",
        'extra == "Extra-9-App-GPU" and platform_machine == "x86_64"',
    ],
)
def test_the_public_path_gives_the_walks_verdicts(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A packaging that renames its private parser gets the substitution path: same answers."""
    targets = (PY311, Target("3.12.3"), Target("3.11.16", "darwin", "arm64"))
    actives = (
        frozenset(),
        frozenset({"gpu"}),
        frozenset({"a", "b"}),
        frozenset({"extra-9-app-gpu"}),
    )
    walked = {
        (t, a): markers.holds(t_text, t, a) for t_text in (text,) for t in targets for a in actives
    }
    markers.clear()
    monkeypatch.setattr(markers, "_PARSED_TREE", False)
    for (target, active), verdict in walked.items():
        assert markers.holds(text, target, active) is verdict
    markers.clear()
