"""The one typed-reading kit: types checked, locations chained, the reader's error raised."""

from __future__ import annotations

import pytest

from envforge.errors import LockError
from envforge.fields import Fields, is_kind, shown


def lock(data: object) -> Fields:
    return Fields.of(data, file="uv.lock", error=LockError)


def test_a_value_of_the_right_type_comes_back() -> None:
    top = lock({"version": 1, "name": "x", "flags": ["a", "b"]})
    assert top.required("version", int) == 1
    assert top.get("name", str) == "x"
    assert top.get("missing", str) is None
    assert top.get("missing", str, "dflt") == "dflt"
    assert top.strings("flags") == ("a", "b")
    assert top.strings("missing") == ()


def test_an_error_names_the_file_the_location_and_what_was_expected() -> None:
    with pytest.raises(LockError) as info:
        lock({"version": "1"}).required("version", int)
    assert info.value.message == ("Invalid 'version' in uv.lock: expected an integer, got '1'")


def test_locations_chain_through_tables_and_arrays() -> None:
    top = lock({"package": [{"name": "a"}, {"name": "b", "sdist": {"hash": 3}}]})
    second = top.tables("package")[1]
    sdist = second.required_table("sdist")
    with pytest.raises(LockError) as info:
        sdist.get("hash", str)
    assert info.value.message == (
        "Invalid 'package[1].sdist.hash' in uv.lock: expected a string, got 3"
    )


def test_a_missing_required_field_says_so() -> None:
    with pytest.raises(LockError, match=r"^Missing 'package\[0\].name' in uv.lock$"):
        lock({"package": [{}]}).tables("package")[0].required("name", str)


def test_a_non_table_is_refused_where_a_table_must_be() -> None:
    with pytest.raises(LockError, match=r"^Invalid uv.lock: expected a table, got \[1\]$"):
        lock([1])
    with pytest.raises(LockError, match=r"expected a table, got 'x'"):
        lock({"package": ["x"]}).tables("package")


def test_booleans_are_not_integers_and_integers_are_numbers() -> None:
    assert not is_kind(True, int)
    assert is_kind(True, bool)
    assert is_kind(3, float)
    with pytest.raises(LockError, match="expected an integer, got True"):
        lock({"n": True}).get("n", int)


def test_an_array_item_of_the_wrong_type_is_named_by_index() -> None:
    with pytest.raises(LockError, match=r"'flags\[1\]' in uv.lock: expected a string, got 2"):
        lock({"flags": ["a", 2]}).strings("flags")


def test_shown_escapes_and_cuts() -> None:
    assert shown("a\nb") == "'a\\nb'"
    assert len(shown("x" * 500)) == 60
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert shown(deep) == "list"


def test_an_array_item_named_by_a_key_is_named_in_its_errors() -> None:
    top = lock({"package": [{"name": "numpy", "wheels": 3, "sdist": {"hash": 1}}, {"v": 1}]})
    numpy, unnamed = top.tables("package", named_by="name")
    with pytest.raises(LockError) as info:
        numpy.get("wheels", list)
    assert info.value.message == (
        "Invalid 'package[0].wheels' of 'numpy' in uv.lock: expected an array, got 3"
    )
    with pytest.raises(LockError, match=r"^Invalid 'package\[0\]\.sdist\.hash' of 'numpy' in"):
        numpy.required_table("sdist").get("hash", str)
    with pytest.raises(LockError, match=r"^Missing 'package\[1\]\.name' in uv.lock$"):
        unnamed.required("name", str)
