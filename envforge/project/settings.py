"""[tool.envforge]: a project's overrides of envforge's choices. Pure."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envforge import validate
from envforge.errors import InvalidProjectError

_TABLE = "tool.envforge"
UV_SOURCES = ("image", "pip")
# Where the image's Python comes from: the base image's own, or uv's managed Python.
PYTHON_SOURCES = ("base", "uv")
COMMAND_MAX = 16384  # the ENTRYPOINT line: Docker refuses a line over 64 KB


@dataclass(frozen=True)
class EnvforgeSettings:
    command: tuple[str, ...] | None = None
    python: str | None = None
    base_image: str | None = None
    debian: str | None = None
    apt_packages: tuple[str, ...] = ()
    build_apt_packages: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    uv_source: str | None = None
    compile_bytecode: bool = True
    cuda: str | None = None
    cuda_devel: bool = False
    python_source: str | None = None

    @classmethod
    def from_dict(cls, table: Any) -> EnvforgeSettings:
        if not isinstance(table, Mapping):
            raise InvalidProjectError(f"'{_TABLE}' must be a table")
        known = {
            "command", "python", "base-image", "debian", "apt-packages", "build-apt-packages", "ports",
            "extras", "groups", "env", "exclude", "include", "uv-source", "compile-bytecode",
            "cuda", "cuda-devel", "python-source",
        }  # fmt: skip
        unknown = sorted(set(table) - known)
        if unknown:
            raise InvalidProjectError(
                f"Unknown key '{_TABLE}.{unknown[0]}'",
                hint=f"Known keys: {', '.join(sorted(known))}.",
            )
        command = table.get("command")
        if isinstance(command, str):
            try:
                command = shlex.split(command)
            except ValueError as exc:
                raise InvalidProjectError(
                    f"Cannot split {command!r} in '{_TABLE}.command' ({exc})",
                    hint='Balance the quotes, or give an array: command = ["python", "-m", "app"].',
                ) from None
        if command is not None:
            command = _strings(command, "command")
            if not command:
                raise InvalidProjectError(
                    f"'{_TABLE}.command' is empty", hint='Give a command: ["python", "-m", "app"].'
                )
            if sum(len(word) + 4 for word in command) > COMMAND_MAX:
                raise InvalidProjectError(
                    f"'{_TABLE}.command' is over {COMMAND_MAX} characters",
                    hint="Put a long command in a script, and run the script.",
                )
            for i, word in enumerate(command):
                if "\x00" in word:
                    validate.fail(
                        "command word", word, f"'{_TABLE}.command[{i}]'",
                        "A program's arguments cannot hold a NUL character.", "pyproject.toml",
                    )  # fmt: skip

        python = _opt_str(table, "python")
        if python is not None:
            validate.python_minor(python, f"'{_TABLE}.python'", "pyproject.toml")
        apt = _apt(table, "apt-packages")
        build_apt = _apt(table, "build-apt-packages")
        ports = table.get("ports", [])
        if not isinstance(ports, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports
        ):
            raise InvalidProjectError(
                f"'{_TABLE}.ports' must be an array of port numbers (1-65535)"
            )
        env = table.get("env", {})
        if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
            raise InvalidProjectError(
                f"'{_TABLE}.env' must be a table of NAME = \"value\" strings",
                hint='Write env = { MY_VAR = "value" }.',
            )
        for key, value in env.items():
            validate.env_key(key, f"'{_TABLE}.env'")
            validate.env_value(value, f"'{_TABLE}.env.{key}'")
        uv_source = _choice(table, "uv-source", UV_SOURCES)
        compile_bytecode = _bool(table, "compile-bytecode", True)
        cuda = _opt_str(table, "cuda")
        if cuda is not None:
            validate.cuda_version(cuda, f"'{_TABLE}.cuda'", "pyproject.toml")
        python_source = _choice(table, "python-source", PYTHON_SOURCES)
        cuda_devel = _bool(table, "cuda-devel", False)
        return cls(
            cuda=cuda,
            cuda_devel=cuda_devel,
            python_source=python_source,
            compile_bytecode=compile_bytecode,
            command=command,
            python=python,
            base_image=_checked(table, "base-image", validate.image_ref),
            debian=_checked(table, "debian", validate.debian_release),
            apt_packages=apt,
            build_apt_packages=build_apt,
            ports=tuple(ports),
            extras=_names(table, "extras"),
            groups=_names(table, "groups"),
            env=dict(env),
            exclude=_patterns(table, "exclude"),
            include=_patterns(table, "include"),
            uv_source=uv_source,
        )


def _choice(table: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = _opt_str(table, key)
    if value is not None and value not in choices:
        raise InvalidProjectError(
            f"Invalid value {value!r} in '{_TABLE}.{key}'",
            hint=f"Use one of: {', '.join(choices)}.",
        )
    return value


def _bool(table: Mapping[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise InvalidProjectError(f"'{_TABLE}.{key}' must be true or false")
    return value


def _opt_str(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidProjectError(
            f"'{_TABLE}.{key}' must be a non-empty string", hint=f'Write {key} = "...".'
        )
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidProjectError(
            f"'{_TABLE}.{key}' must be an array of strings", hint=f'Write {key} = ["..."].'
        )
    return tuple(value)


def _apt(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    packages = _strings(table.get(key, []), key)
    for pkg in packages:
        validate.apt_package(pkg, f"'{_TABLE}.{key}'")
    return packages


def _names(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    names = _strings(table.get(key, []), key)
    for i, name in enumerate(names):
        validate.extra_or_group_name(name, f"'{_TABLE}.{key}[{i}]'", "pyproject.toml")
    return names


def _patterns(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    patterns = _strings(table.get(key, []), key)
    for i, pattern in enumerate(patterns):
        validate.ignore_pattern(pattern, f"'{_TABLE}.{key}[{i}]'")
    return patterns


def _checked(table: Mapping[str, Any], key: str, check: Callable[..., str]) -> str | None:
    value = _opt_str(table, key)
    return None if value is None else check(value, f"'{_TABLE}.{key}'", "pyproject.toml")
