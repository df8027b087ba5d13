"""[tool.envforge]: a project's overrides of envforge's choices. Pure."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envforge.errors import InvalidProjectError

_TABLE = "tool.envforge"
_PYTHON_RE = re.compile(r"^3\.\d{1,2}$")
_APT_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
UV_SOURCES = ("image", "pip")
# Where the image's Python comes from: the base image's own, or uv's managed Python.
PYTHON_SOURCES = ("base", "uv")
_CUDA_RE = re.compile(r"^\d{2}\.\d{1,2}(\.\d{1,3})?$")


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
                raise InvalidProjectError(f"'{_TABLE}.command' is empty")

        python = _opt_str(table, "python")
        if python is not None and not _PYTHON_RE.match(python):
            raise InvalidProjectError(
                f"Invalid Python version {python!r} in '{_TABLE}.python'",
                hint='Give major.minor, such as "3.11".',
            )
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
        if not isinstance(env, Mapping) or not all(
            isinstance(k, str) and _ENV_KEY_RE.match(k) and isinstance(v, str)
            for k, v in env.items()
        ):
            raise InvalidProjectError(f"'{_TABLE}.env' must be a table of NAME = \"value\" strings")
        uv_source = _choice(table, "uv-source", UV_SOURCES)
        compile_bytecode = _bool(table, "compile-bytecode", True)
        cuda = _opt_str(table, "cuda")
        if cuda is not None and not _CUDA_RE.match(cuda):
            raise InvalidProjectError(
                f"Invalid CUDA version {cuda!r} in '{_TABLE}.cuda'",
                hint='Give major.minor, such as "12.4".',
            )
        python_source = _choice(table, "python-source", PYTHON_SOURCES)
        cuda_devel = _bool(table, "cuda-devel", False)
        return cls(
            cuda=cuda,
            cuda_devel=cuda_devel,
            python_source=python_source,
            compile_bytecode=compile_bytecode,
            command=command,
            python=python,
            base_image=_opt_str(table, "base-image"),
            debian=_opt_str(table, "debian"),
            apt_packages=apt,
            build_apt_packages=build_apt,
            ports=tuple(ports),
            extras=_strings(table.get("extras", []), "extras"),
            groups=_strings(table.get("groups", []), "groups"),
            env=dict(env),
            exclude=_strings(table.get("exclude", []), "exclude"),
            include=_strings(table.get("include", []), "include"),
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
        raise InvalidProjectError(f"'{_TABLE}.{key}' must be a non-empty string")
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidProjectError(f"'{_TABLE}.{key}' must be an array of strings")
    return tuple(value)


def _apt(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    packages = _strings(table.get(key, []), key)
    for pkg in packages:
        if not _APT_RE.match(pkg):
            raise InvalidProjectError(f"Invalid Debian package name {pkg!r} in '{_TABLE}.{key}'")
    return packages
