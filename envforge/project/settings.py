"""[tool.envforge]: a project's overrides of envforge's choices. Pure."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from envforge import validate
from envforge.errors import InvalidProjectError
from envforge.fields import Fields, is_kind

_TABLE = "tool.envforge"
# Where the image's uv comes from: its official image, or pip.
UvSource = Literal["image", "pip"]
UV_SOURCES: tuple[UvSource, ...] = get_args(UvSource)
# Where the image's Python comes from: the base image's own, or uv's managed Python.
PythonSource = Literal["base", "uv"]
PYTHON_SOURCES: tuple[PythonSource, ...] = get_args(PythonSource)
COMMAND_MAX = 16384
# heavy-wheel-mb's default: a wheel this big (compressed) gets BuildKit's heavy layer: torch,
# every nvidia-* library, triton, jaxlib, tensorflow, and numpy, scipy, pandas (each 10-40 MB,
# 50-150 MB installed); not scikit-learn (9 MB) or the many small ones. Measured on
# examples/gpu-torch: at 50 MB, nvrtc, nvjitlink and numpy stayed in the sync layer, which a
# lock change then re-exported at 530 MB.
HEAVY_WHEEL_MB = 10  # the ENTRYPOINT line: Docker refuses a line over 64 KB


@dataclass(frozen=True, kw_only=True)
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
    uv_source: UvSource | None = None
    compile_bytecode: bool = True
    cuda: str | None = None
    cuda_devel: bool = False
    python_source: PythonSource | None = None
    # The wheel size (MB) from which a package gets the heavy layer (BuildKit); 0: no split.
    heavy_wheel_mb: int = HEAVY_WHEEL_MB

    @classmethod
    def from_dict(cls, table: Any) -> EnvforgeSettings:
        t = Fields.of(
            table, file="pyproject.toml", error=InvalidProjectError.from_fields, where=_TABLE
        )
        known = {
            "command", "python", "base-image", "debian", "apt-packages", "build-apt-packages", "ports",
            "extras", "groups", "env", "exclude", "include", "uv-source", "compile-bytecode",
            "cuda", "cuda-devel", "python-source", "heavy-wheel-mb",
        }  # fmt: skip
        unknown = sorted(set(t.keys()) - known)
        if unknown:
            raise InvalidProjectError(
                f"Unknown key '{_TABLE}.{unknown[0]}'",
                hint=f"Known keys: {', '.join(sorted(known))}.",
            )
        python = _opt_str(t, "python")
        if python is not None:
            validate.python_minor(python, f"'{_TABLE}.python'", "pyproject.toml")
        ports = t.get("ports", list, [])
        if not all(is_kind(p, int) and 0 < p < 65536 for p in ports):
            raise t.fail("ports", "an array of port numbers (1-65535)", ports)
        env_table = t.table("env")
        env = {key: env_table.required(key, str) for key in env_table.data} if env_table else {}
        for key, value in env.items():
            validate.env_key(key, f"'{_TABLE}.env'")
            validate.env_value(value, f"'{_TABLE}.env.{key}'")
        heavy = t.get("heavy-wheel-mb", int, HEAVY_WHEEL_MB)
        if heavy < 0:
            raise t.fail("heavy-wheel-mb", "a size in MB (0: no heavy layer)", heavy)
        cuda = _opt_str(t, "cuda")
        if cuda is not None:
            validate.cuda_version(cuda, f"'{_TABLE}.cuda'", "pyproject.toml")
        return cls(
            cuda=cuda,
            cuda_devel=t.get("cuda-devel", bool, False),
            python_source=_choice(t, "python-source", PYTHON_SOURCES),
            compile_bytecode=t.get("compile-bytecode", bool, True),
            heavy_wheel_mb=heavy,
            command=_command(t),
            python=python,
            base_image=_checked(t, "base-image", validate.image_ref),
            debian=_checked(t, "debian", validate.debian_release),
            apt_packages=_apt(t, "apt-packages"),
            build_apt_packages=_apt(t, "build-apt-packages"),
            ports=tuple(ports),
            extras=_names(t, "extras"),
            groups=_names(t, "groups"),
            env=env,
            exclude=_patterns(t, "exclude"),
            include=_patterns(t, "include"),
            uv_source=_choice(t, "uv-source", UV_SOURCES),
        )


def _command(t: Fields) -> tuple[str, ...] | None:
    """[tool.envforge] command: an array of words, or one string split as a shell would."""
    command = t.data.get("command")
    if command is None:
        return None
    if isinstance(command, str):
        try:
            words = tuple(shlex.split(command))
        except ValueError as exc:
            raise InvalidProjectError(
                f"Cannot split {command!r} in '{_TABLE}.command' ({exc})",
                hint='Balance the quotes, or give an array: command = ["python", "-m", "app"].',
            ) from None
    else:
        words = t.strings("command")
    if not words:
        raise InvalidProjectError(
            f"'{_TABLE}.command' is empty", hint='Give a command: ["python", "-m", "app"].'
        )
    if sum(len(word) + 4 for word in words) > COMMAND_MAX:
        raise InvalidProjectError(
            f"'{_TABLE}.command' is over {COMMAND_MAX} characters",
            hint="Put a long command in a script, and run the script.",
        )
    for i, word in enumerate(words):
        if "\x00" in word:
            validate.fail(
                "command word", word, f"'{_TABLE}.command[{i}]'",
                "A program's arguments cannot hold a NUL character.", "pyproject.toml",
            )  # fmt: skip
    return words


_Choice = TypeVar("_Choice", bound=str)


def _choice(t: Fields, key: str, choices: tuple[_Choice, ...]) -> _Choice | None:
    value = _opt_str(t, key)
    if value is None:
        return None
    for choice in choices:
        if value == choice:
            return choice
    raise InvalidProjectError(
        f"Invalid value {value!r} in '{_TABLE}.{key}'", hint=f"Use one of: {', '.join(choices)}."
    )


def _opt_str(t: Fields, key: str) -> str | None:
    value = t.get(key, str)
    if value == "":
        raise t.fail(key, "a non-empty string", value)
    return value


def _apt(t: Fields, key: str) -> tuple[str, ...]:
    packages = t.strings(key)
    for pkg in packages:
        validate.apt_package(pkg, f"'{_TABLE}.{key}'")
    return packages


def _names(t: Fields, key: str) -> tuple[str, ...]:
    names = t.strings(key)
    for i, name in enumerate(names):
        validate.extra_or_group_name(name, f"'{_TABLE}.{key}[{i}]'", "pyproject.toml")
    return names


def _patterns(t: Fields, key: str) -> tuple[str, ...]:
    patterns = t.strings(key)
    for i, pattern in enumerate(patterns):
        validate.ignore_pattern(pattern, f"'{_TABLE}.{key}[{i}]'")
    return patterns


def _checked(t: Fields, key: str, check: Callable[..., str]) -> str | None:
    value = _opt_str(t, key)
    return None if value is None else check(value, f"'{_TABLE}.{key}'", "pyproject.toml")
