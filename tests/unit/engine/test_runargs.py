"""`envforge run`'s -e, -v and -p parsers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from envforge.engine.runargs import parse_env, parse_ports, parse_volumes
from envforge.errors import InputError


def input_error(parse: Callable[[list[str]], Any], value: str) -> str:
    with pytest.raises(InputError) as info:
        parse([value])
    assert info.value.exit_code == 2
    return info.value.message


# --- -e -----------------------------------------------------------------------------


def test_env_values_and_host_passthrough() -> None:
    env = parse_env(
        ["A=1", "EMPTY=", "URL=postgres://u:p@h/db?x=1", "HOME", "NOT_SET", "_under=score"],
        {"HOME": "/home/me", "OTHER": "x"},
    )
    assert env == {
        "A": "1",
        "EMPTY": "",
        "URL": "postgres://u:p@h/db?x=1",
        "HOME": "/home/me",
        "_under": "score",
    }


def test_env_later_value_wins() -> None:
    assert parse_env(["A=1", "A=2"], {}) == {"A": "2"}


@pytest.mark.parametrize("value", ["=x", "", "1A=x", "MY-VAR=x", "A B=x", "$A=x"])
def test_env_bad_key(value: str) -> None:
    message = input_error(lambda v: parse_env(v, {}), value)
    assert message == f"Invalid -e {value!r}: expected KEY=VALUE or KEY"


# --- -v -----------------------------------------------------------------------------


def test_volume_relative_host_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert parse_volumes(["./data:/data", "../shared:/shared:ro", ".:/app:rw"]) == [
        f"{work}/data:/data",
        f"{tmp_path}/shared:/shared:ro",
        f"{work}:/app:rw",
    ]


def test_volume_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_volumes(["~/models:/models:ro"]) == [f"{tmp_path}/models:/models:ro"]


def test_volume_absolute_path_is_normalized() -> None:
    assert parse_volumes(["/srv//data/:/data"]) == ["/srv/data:/data"]


def test_volume_named_volume_is_kept() -> None:
    # As with docker: a bare name is a named volume, not a folder.
    assert parse_volumes(["hf-cache:/root/.cache/huggingface"]) == [
        "hf-cache:/root/.cache/huggingface"
    ]


@pytest.mark.parametrize("value", ["/data", ":/data", "/data:data", "/data:", "/a:/b:ro:z", "data"])
def test_volume_bad_shape(value: str) -> None:
    assert input_error(parse_volumes, value) == (
        f"Invalid -v {value!r}: expected HOST:CONTAINER[:ro], with an absolute CONTAINER path"
    )


@pytest.mark.parametrize("mode", ["rx", "RO", "", "z"])
def test_volume_bad_mode(mode: str) -> None:
    value = f"/a:/b:{mode}"
    assert input_error(parse_volumes, value) == f"Invalid -v {value!r}: the mode must be ro or rw"


# --- -p -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8000", {"8000/tcp": None}),
        ("53/udp", {"53/udp": None}),
        ("127.0.0.1:8080:80", {"80/tcp": ("127.0.0.1", 8080)}),
        ("0.0.0.0:5353:53/udp", {"53/udp": ("0.0.0.0", 5353)}),
        ("[::1]:8080:80", {"80/tcp": ("::1", 8080)}),
    ],
)
def test_ports(value: str, expected: dict[str, Any]) -> None:
    assert parse_ports([value]) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8080:80", {"80/tcp": 8080}), ("5353:53/udp", {"53/udp": 5353})],
)
def test_ports_host_to_container(value: str, expected: dict[str, Any]) -> None:
    assert parse_ports([value]) == expected


def test_ports_several() -> None:
    assert parse_ports(["8000", "127.0.0.1:9000:9000/udp"]) == {
        "8000/tcp": None,
        "9000/udp": ("127.0.0.1", 9000),
    }


@pytest.mark.parametrize("value", ["", "http", "80/sctp", "80/", "-1", "a:80", "1.2.3.4:8080:80:1"])
def test_ports_bad_shape(value: str) -> None:
    assert input_error(parse_ports, value) == (
        f"Invalid -p {value!r}: expected [IP:][HOST:]CONTAINER[/tcp|udp]"
    )


def test_ports_ip_without_host_port() -> None:
    assert input_error(parse_ports, "127.0.0.1:80").startswith("Invalid -p '127.0.0.1:80'")


def test_ports_out_of_range_host_port_is_refused() -> None:
    assert "70000:80" in input_error(parse_ports, "70000:80")


@pytest.mark.parametrize("value", ["KEY\n=v", "KEY\n", "\u212a=1"])
def test_env_names_take_no_trailing_newline_or_kelvin_sign(value: str) -> None:
    with pytest.raises(InputError):
        parse_env([value], {})


@pytest.mark.parametrize("value", ["8000\n", "\uff18\uff10"])
def test_ports_take_no_trailing_newline_or_unicode_digits(value: str) -> None:
    with pytest.raises(InputError):
        parse_ports([value])
