"""EnvforgeSettings.from_dict: the [tool.envforge] table."""

from __future__ import annotations

from typing import Any

import pytest

from envforge.errors import InvalidProjectError
from envforge.project.settings import EnvforgeSettings

KNOWN_KEYS = (
    "apt-packages, base-image, build-apt-packages, command, compile-bytecode, cuda, cuda-devel, "
    "debian, env, "
    "exclude, extras, "
    "groups, heavy-wheel-mb, include, ports, python, python-source, uv-source"
)


def invalid(table: Any) -> InvalidProjectError:
    with pytest.raises(InvalidProjectError) as info:
        EnvforgeSettings.from_dict(table)
    assert info.value.exit_code == 2
    return info.value


def test_empty_table_gives_defaults() -> None:
    assert EnvforgeSettings.from_dict({}) == EnvforgeSettings()


def test_every_key_parses() -> None:
    settings = EnvforgeSettings.from_dict(
        {
            "command": ["python", "-m", "app", "--port", "8000"],
            "python": "3.12",
            "base-image": "nvcr.io/nvidia/pytorch:24.05-py3",
            "debian": "bookworm",
            "apt-packages": ["libgomp1", "libpq5=15.3-0+deb12u1"],
            "build-apt-packages": ["g++", "libpq-dev"],
            "ports": [8000, 1, 65535],
            "extras": ["cuda"],
            "groups": ["serve"],
            "env": {"OMP_NUM_THREADS": "1", "_X": ""},
            "exclude": ["notebooks"],
            "include": ["data/keep.csv"],
            "uv-source": "pip",
        }
    )
    assert settings == EnvforgeSettings(
        command=("python", "-m", "app", "--port", "8000"),
        python="3.12",
        base_image="nvcr.io/nvidia/pytorch:24.05-py3",
        debian="bookworm",
        apt_packages=("libgomp1", "libpq5=15.3-0+deb12u1"),
        build_apt_packages=("g++", "libpq-dev"),
        ports=(8000, 1, 65535),
        extras=("cuda",),
        groups=("serve",),
        env={"OMP_NUM_THREADS": "1", "_X": ""},
        exclude=("notebooks",),
        include=("data/keep.csv",),
        uv_source="pip",
    )


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("serve --port 8000", ("serve", "--port", "8000")),
        ("python -c 'print(1 + 1)'", ("python", "-c", "print(1 + 1)")),
        ('app --name "two words"', ("app", "--name", "two words")),
    ],
)
def test_command_string_is_shlex_split(command: str, argv: tuple[str, ...]) -> None:
    assert EnvforgeSettings.from_dict({"command": command}).command == argv


@pytest.mark.parametrize("command", ["", "   ", []])
def test_empty_command(command: Any) -> None:
    assert (
        invalid({"command": command}).message
        == "'tool.envforge.command' is empty in pyproject.toml"
    )


def test_command_of_wrong_type() -> None:
    message = invalid({"command": ["python", 3]}).message
    assert message == (
        "Invalid 'tool.envforge.command[1]' in pyproject.toml: expected a string, got 3"
    )


def test_command_with_unbalanced_quote_is_a_project_error() -> None:
    error = invalid({"command": "python -c 'print(1)"})
    assert "tool.envforge.command" in error.message


def test_unknown_key_names_it_and_lists_known_keys() -> None:
    error = invalid({"python": "3.11", "base_image": "x", "apt": ["y"]})
    # The first unknown key in sorted order is named.
    assert error.message == "Unknown key 'tool.envforge.apt' in pyproject.toml"
    assert error.hint == f"Known keys: {KNOWN_KEYS}."


def test_table_must_be_a_table() -> None:
    message = invalid(["python"]).message
    assert message == "Invalid 'tool.envforge' in pyproject.toml: expected a table, got ['python']"


@pytest.mark.parametrize("python", ["3.x", "3", "3.11.7", "py3.11", "2.7", "3.100", " 3.11"])
def test_bad_python_version(python: str) -> None:
    error = invalid({"python": python})
    assert (
        error.message
        == f"Invalid Python version {python!r} in 'tool.envforge.python' in pyproject.toml"
    )
    assert error.hint == 'Give major.minor, such as "3.11".'


@pytest.mark.parametrize(("python", "expected"), [(3.11, "a string"), ("", "a non-empty string")])
def test_python_must_be_a_non_empty_string(python: Any, expected: str) -> None:
    message = invalid({"python": python}).message
    assert message == (
        f"Invalid 'tool.envforge.python' in pyproject.toml: expected {expected}, got {python!r}"
    )


@pytest.mark.parametrize("ports", [[0], [70000], [65536], [True], ["8000"], [-1], 8000, [8000.0]])
def test_bad_ports(ports: Any) -> None:
    message = invalid({"ports": ports}).message
    expected = "an array of port numbers (1-65535)" if isinstance(ports, list) else "an array"
    assert message == (
        f"Invalid 'tool.envforge.ports' in pyproject.toml: expected {expected}, got {ports!r}"
    )


@pytest.mark.parametrize("key", ["apt-packages", "build-apt-packages"])
@pytest.mark.parametrize(
    "package",
    ["LibFoo", "a", "-foo", "foo bar", "foo;rm -rf /", "foo=", "libfoo=1 2", "libfoo/bookworm"],
)
def test_bad_apt_package_names(key: str, package: str) -> None:
    message = invalid({key: ["libgomp1", package]}).message
    assert (
        message
        == f"Invalid Debian package name {package!r} in 'tool.envforge.{key}' in pyproject.toml"
    )


@pytest.mark.parametrize(
    "package",
    [
        "libgomp1",
        "g++",
        "libstdc++6",
        "python3.11-dev",
        "libpq5=15.3-0+deb12u1",
        "tzdata=2024a-0+deb12u1",
    ],
)
def test_good_apt_package_names(package: str) -> None:
    assert EnvforgeSettings.from_dict({"apt-packages": [package]}).apt_packages == (package,)


@pytest.mark.parametrize("key", ["1BAD", "MY-VAR", "", "OK\n", "\u212a"])
def test_bad_env_names(key: str) -> None:
    error = invalid({"env": {key: "x"}})
    assert error.message == (
        f"Invalid environment variable name {key!r} in 'tool.envforge.env' in pyproject.toml"
    )
    assert error.hint


@pytest.mark.parametrize("value", ["a\nRUN x", "a\r\nb", "\x1b[31m", "a\x00", "x" * 5000])
def test_env_values_stay_on_one_line(value: str) -> None:
    error = invalid({"env": {"OK": value}})
    assert error.message.startswith("Invalid text ")
    assert "'tool.envforge.env.OK'" in error.message


@pytest.mark.parametrize(
    ("env", "where", "expected", "got"),
    [
        ({"OK": 1}, "env.OK", "a string", "1"),
        ({"OK": True}, "env.OK", "a string", "True"),
        (["OK=1"], "env", "a table", "['OK=1']"),
        ("OK=1", "env", "a table", "'OK=1'"),
    ],
)
def test_bad_env(env: Any, where: str, expected: str, got: str) -> None:
    message = invalid({"env": env}).message
    assert message == (
        f"Invalid 'tool.envforge.{where}' in pyproject.toml: expected {expected}, got {got}"
    )


@pytest.mark.parametrize("source", ["image", "pip"])
def test_uv_source_values(source: str) -> None:
    assert EnvforgeSettings.from_dict({"uv-source": source}).uv_source == source


def test_unknown_uv_source() -> None:
    error = invalid({"uv-source": "conda"})
    assert error.message == "Invalid value 'conda' in 'tool.envforge.uv-source' in pyproject.toml"
    assert error.hint == "Use one of: image, pip."


@pytest.mark.parametrize("key", ["extras", "groups", "exclude", "include"])
@pytest.mark.parametrize(
    ("value", "where", "expected", "got"),
    [
        ("cuda", "", "an array", "'cuda'"),
        (["ok", 1], "[1]", "a string", "1"),
        ({"a": "b"}, "", "an array", "{'a': 'b'}"),
    ],
)
def test_string_arrays(key: str, value: Any, where: str, expected: str, got: str) -> None:
    message = invalid({key: value}).message
    assert message == (
        f"Invalid 'tool.envforge.{key}{where}' in pyproject.toml: expected {expected}, got {got}"
    )


@pytest.mark.parametrize("key", ["base-image", "debian", "uv-source"])
def test_optional_strings_must_not_be_empty(key: str) -> None:
    message = invalid({key: ""}).message
    assert message == (
        f"Invalid 'tool.envforge.{key}' in pyproject.toml: expected a non-empty string, got ''"
    )


def test_compile_bytecode_is_on_unless_turned_off() -> None:
    assert EnvforgeSettings.from_dict({}).compile_bytecode is True
    assert EnvforgeSettings.from_dict({"compile-bytecode": False}).compile_bytecode is False
    error = invalid({"compile-bytecode": "no"})
    assert error.message == (
        "Invalid 'tool.envforge.compile-bytecode' in pyproject.toml: expected true or false, "
        "got 'no'"
    )
