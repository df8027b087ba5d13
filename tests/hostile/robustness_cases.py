"""The hostile corpus for envforge's robustness: generated, not hand-listed.

``cases()`` returns every case: each writes a small project (or a host-facts file, a
folder of run records, a fake engine) into a fresh folder and names the envforge command
to run on it and what must come of it. test_robustness.py runs them all and asserts: no
traceback, no hang, the documented exit code (2 for bad input, 1 for the engine), exactly
one ``error:`` line with a ``hint:``, no raw control character on stderr, and nothing
outside the project touched (the ``outside`` folder, where the symbolic links point, is
compared byte for byte before and after).

Classes: every uv.lock field x wrong types (int, string, array, table, bool, 10,000-deep
nesting); pyproject.toml fields x wrong types; bytes (invalid UTF-8, BOM, NUL, duplicate
keys, deep nesting); a FIFO, a directory and symbolic links (out of the project, a loop,
dangling) in place of each file envforge reads or writes; a read-only project folder;
host-facts JSON (a 'banana' driver, NaN, huge numbers, deep nesting, wrong types); run
records (NaN, inf, year 99999, negative durations, wrong types) and --runs-dir; terminal
control characters in values; engine fakes (500, broken JSON, garbage build streams, an
engine that never answers).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from tests.hostile.fake_engine import (
    GOOD_IMAGE,
    IMAGE_ID,
    FakeEngine,
    Route,
    everything,
    json_reply,
    on,
)

DEEP = 10_000
_DEEP_MARK = "@@DEEP@@"
_RAW_MARK = "@@RAW:"

BASE_PYPROJECT = """\
[project]
name = "hostile"
version = "0.1.0"
description = "A small project for the hostile corpus."
requires-python = ">=3.11"
dependencies = ["six>=1.16"]

[tool.uv]
package = false
"""

BASE_LOCK = """\
version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "hostile"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "six" },
]

[package.metadata]
requires-dist = [{ name = "six", specifier = ">=1.16" }]

[[package]]
name = "six"
version = "1.17.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/six-1.17.0.tar.gz", hash = "sha256:ff", size = 1 }
wheels = [
    { url = "https://files.pythonhosted.org/packages/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:ff", size = 1 },
]
"""

GOOD_HOST: dict[str, Any] = {
    "driver": {
        "status": "ok",
        "source": "nvml",
        "driver_version": "580.65.06",
        "cuda_driver_version": "13.0",
        "gpus": [
            {
                "index": 0,
                "name": "NVIDIA H100 80GB HBM3",
                "compute_capability": [9, 0],
                "memory_total_bytes": 85899345920,
                "uuid": "GPU-0",
                "mig_enabled": False,
            }
        ],
        "detail": None,
    },
    "engine": {
        "reachable": True,
        "where": "unix:///var/run/docker.sock",
        "version": "27.3.1",
        "runtimes": ["nvidia", "runc"],
        "default_runtime": "runc",
        "cdi_specs": [],
        "cdi_kinds": [],
        "nvidia_ctk_version": "1.17.8",
        "nvidia_hook_on_path": True,
        "detail": None,
    },
}

GOOD_RECORD: dict[str, Any] = {
    "schema": 1,
    "envforge": "0.1.0",
    "image": {"ref": "hostile:0.1.0", "id": IMAGE_ID, "digest": None},
    "lock_hash": None,
    "project": {"name": "hostile", "version": "0.1.0"},
    "git": None,
    "command": ["python"],
    "gpus": None,
    "host": None,
    "started": "2026-01-01T00:00:00Z",
    "duration_s": 1.5,
    "exit_code": 0,
    "error": None,
}

# The wrong types every field is tried with.
WRONG: dict[str, Any] = {
    "int": 7,
    "str": "x",
    "array": [1, 2],
    "table": {"a": 1},
    "bool": True,
    "deep": _DEEP_MARK,
}


@dataclass
class Workspace:
    """One case's folders: the project, and `outside` (where links point; must not change)."""

    root: Path
    project: Path
    outside: Path
    env: dict[str, str | None] = field(default_factory=dict)
    engines: list[FakeEngine] = field(default_factory=list)
    readonly: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    id: str
    prepare: Callable[[Workspace], list[str]]  # writes the inputs; returns the argv
    exits: frozenset[int]  # the documented exit codes
    error_line: bool = True  # a non-zero exit says exactly one error: and one hint:
    warning: bool = False  # a 'warning: skipping' line on stderr is expected
    json_out: bool = False  # stdout is strict JSON (no NaN)
    max_s: float = 20.0
    subprocess: bool = False  # also run as `python -m envforge` in a child process
    raw_stdout_ok: bool = True  # False: stdout must hold no raw control character either


# ---------------------------------------------------------------- writers


def deep_array(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {}) if isinstance(data, dict) else data[key]
    data[path[-1]] = value


def dump_toml(data: dict[str, Any]) -> str:
    text = tomlkit.dumps(data)
    text = text.replace(f'"{_DEEP_MARK}"', deep_array())
    while _RAW_MARK in text:  # "@@RAW:...@@" -> the raw text
        start = text.index(f'"{_RAW_MARK}')
        end = text.index('@@"', start + 1)
        text = text[:start] + text[start + len(_RAW_MARK) + 1 : end] + text[end + 3 :]
    return text


def write_project(
    ws: Workspace, *, pyproject: str | bytes | None = None, lock: str | bytes | None = None
) -> None:
    ws.project.mkdir(parents=True, exist_ok=True)
    for name, content, default in (
        ("pyproject.toml", pyproject, BASE_PYPROJECT),
        ("uv.lock", lock, BASE_LOCK),
    ):
        data = content if content is not None else default
        (ws.project / name).write_bytes(data.encode() if isinstance(data, str) else data)


def mutated(base: str, path: tuple[Any, ...], value: Any) -> str:
    data = tomllib.loads(base)
    _set(data, path, value)
    return dump_toml(data)


def project_args(ws: Workspace, command: str = "plan", *extra: str) -> list[str]:
    return [command, str(ws.project), "--cpu", *extra]


# ---------------------------------------------------------------- classes


def lock_field_cases() -> Iterator[Case]:
    fields: list[tuple[str, tuple[Any, ...]]] = [
        ("version", ("version",)),
        ("revision", ("revision",)),
        ("requires-python", ("requires-python",)),
        ("package", ("package",)),
        ("root.dependencies", ("package", 0, "dependencies")),
        ("root.dependencies[0]", ("package", 0, "dependencies", 0)),
        ("root.dependencies[0].marker", ("package", 0, "dependencies", 0, "marker")),
        ("root.dependencies[0].extra", ("package", 0, "dependencies", 0, "extra")),
        ("root.optional-dependencies", ("package", 0, "optional-dependencies")),
        ("root.dev-dependencies", ("package", 0, "dev-dependencies")),
        ("root.metadata", ("package", 0, "metadata")),
        ("root.metadata.requires-dist", ("package", 0, "metadata", "requires-dist")),
        ("root.metadata.requires-dist[0]", ("package", 0, "metadata", "requires-dist", 0)),
        ("root.metadata.requires-dev", ("package", 0, "metadata", "requires-dev")),
        ("root.metadata.provides-extras", ("package", 0, "metadata", "provides-extras")),
        ("root.source", ("package", 0, "source")),
        ("six.name", ("package", 1, "name")),
        ("six.version", ("package", 1, "version")),
        ("six.source", ("package", 1, "source")),
        ("six.wheels", ("package", 1, "wheels")),
        ("six.wheels[0]", ("package", 1, "wheels", 0)),
        ("six.wheels[0].url", ("package", 1, "wheels", 0, "url")),
        ("six.sdist", ("package", 1, "sdist")),
        ("six.resolution-markers", ("package", 1, "resolution-markers")),
    ]
    for name, path in fields:
        for kind, value in WRONG.items():
            text = mutated(BASE_LOCK, path, value)

            def prepare(ws: Workspace, text: str = text) -> list[str]:
                write_project(ws, lock=text)
                return project_args(ws)

            tolerated = kind != "deep" and (name, kind) in LOCK_TOLERATED
            yield Case(f"lock-{name}-{kind}", prepare, frozenset({0} if tolerated else {2}))


# (field, wrong type) that uv.lock may hold without harm: read as a string, or unused.
LOCK_TOLERATED = {
    ("revision", "int"),
    ("six.version", "int"),  # uv writes strings; a number reads as one
    ("six.version", "str"),  # any string: uv's versions are checked against the index
    ("six.wheels[0].url", "str"),
    ("six.sdist", "table"),  # envforge only asks whether there is an sdist
}


def lock_marker_cases() -> Iterator[Case]:
    for i, marker in enumerate(
        [
            "python_version ~= 'abc'",
            "platform_machine ~= '1.0'",
            "os_name <> 'posix'",
            "python_version >",
            "extra == ",
            "banana == 'x'",
            "python_version < 'banana' and",
        ]
    ):
        text = mutated(BASE_LOCK, ("package", 0, "dependencies", 0, "marker"), marker)

        def prepare(ws: Workspace, text: str = text) -> list[str]:
            write_project(ws, lock=text)
            return project_args(ws)

        yield Case(f"lock-marker-{i}", prepare, frozenset({2}))


def pyproject_field_cases() -> Iterator[Case]:
    fields: list[tuple[str, tuple[Any, ...]]] = [
        ("project", ("project",)),
        ("project.name", ("project", "name")),
        ("project.version", ("project", "version")),
        ("project.description", ("project", "description")),
        ("project.requires-python", ("project", "requires-python")),
        ("project.dependencies", ("project", "dependencies")),
        ("project.dependencies[0]", ("project", "dependencies", 0)),
        ("project.optional-dependencies", ("project", "optional-dependencies")),
        ("project.scripts", ("project", "scripts")),
        ("dependency-groups", ("dependency-groups",)),
        ("tool.uv", ("tool", "uv")),
        ("tool.envforge", ("tool", "envforge")),
        ("tool.envforge.apt-packages", ("tool", "envforge", "apt-packages")),
        ("tool.envforge.command", ("tool", "envforge", "command")),
        ("tool.envforge.env", ("tool", "envforge", "env")),
        ("tool.envforge.ports", ("tool", "envforge", "ports")),
    ]
    for name, path in fields:
        for kind, value in WRONG.items():
            text = mutated(BASE_PYPROJECT, path, value)

            def prepare(ws: Workspace, text: str = text) -> list[str]:
                write_project(ws, pyproject=text)
                return project_args(ws)

            tolerated = (name, kind) in PYPROJECT_TOLERATED
            yield Case(f"pyproject-{name}-{kind}", prepare, frozenset({0} if tolerated else {2}))


PYPROJECT_TOLERATED = {
    ("project.description", "str"),
    ("tool.uv", "table"),
    ("tool.envforge.command", "str"),  # a command line, split like a shell's
    ("tool.envforge.ports", "array"),  # [1, 2] are ports
}


# A table declared twice: [project] in pyproject.toml, a key twice in a lock's package.
DUP_TABLE = {
    True: '\n[project]\nname = "again"\n',
    False: "\n[[package]]\nname = 'a'\nname = 'b'\n",
}


def bytes_cases() -> Iterator[Case]:
    variants: dict[str, Callable[[str], bytes]] = {
        "invalid-utf8": lambda base: base.encode() + b"\n# \xff\xfe\xc3\x28\n",
        "bom": lambda base: b"\xef\xbb\xbf" + base.encode(),
        "nul-raw": lambda base: base.encode() + b"\x00\n",
        "nul-in-string": lambda base: base.replace(
            'version = "0.1.0"', 'version = "0.1\\u0000"'
        ).encode(),
        "dup-key": lambda base: base.replace(
            'name = "hostile"', 'name = "hostile"\nname = "b"', 1
        ).encode(),
        "dup-table": lambda base: (base + DUP_TABLE[base.startswith("[project]")]).encode(),
        "dup-inline": lambda base: (base + "\nx = { a = 1, a = 2 }\n").encode(),
        "deep-array": lambda base: (
            base.split("[", 1)[0] + f"\nzz = {deep_array()}\n" + "[" + base.split("[", 1)[1]
        ).encode(),
        "deep-inline": lambda base: (
            "zz = " + "{ a = " * DEEP + "1" + " }" * DEEP + "\n" + base
        ).encode(),
        "empty": lambda base: b"",
        "crlf": lambda base: base.replace("\n", "\r\n").encode(),
        "cr-only": lambda base: base.replace("\n", "\r").encode(),
    }
    fine = {"crlf"}
    for file, base in (("pyproject", BASE_PYPROJECT), ("lock", BASE_LOCK)):
        for name, make in variants.items():
            data = make(base)

            def prepare(ws: Workspace, data: bytes = data, file: str = file) -> list[str]:
                if file == "pyproject":
                    write_project(ws, pyproject=data)
                else:
                    write_project(ws, lock=data)
                return project_args(ws)

            exits = {0} if name in fine else {2}
            if (file, name) == ("pyproject", "nul-in-string"):
                exits = {0, 2}  # a NUL in the version: PEP 440 checks are the injection corpus's
            if name == "bom":
                exits = {
                    0,
                    2,
                }  # a BOM is refused by the TOML parsers or read past: either way one message
            yield Case(
                f"bytes-{file}-{name}",
                prepare,
                frozenset(exits),
                subprocess=name == "deep-array" and file == "lock",
            )


def _outside_copy(ws: Workspace, name: str, text: str) -> Path:
    ws.outside.mkdir(parents=True, exist_ok=True)
    target = ws.outside / name
    target.write_text(text)
    return target


def _replace(ws: Workspace, name: str, kind: str, link_text: str) -> None:
    path = ws.project / name
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
        (path / "inside").write_text("x")
    elif kind == "link-out":
        path.symlink_to(_outside_copy(ws, name.lstrip(".") + ".target", link_text))
    elif kind == "link-loop":
        path.symlink_to(path.name)
    elif kind == "link-dangling":
        path.symlink_to(ws.outside / "nothing-here")
    elif kind == "link-dir-out":
        ws.outside.mkdir(parents=True, exist_ok=True)
        path.symlink_to(ws.outside)


FILE_KINDS = ("fifo", "dir", "link-out", "link-loop", "link-dangling", "link-dir-out")


def file_kind_cases() -> Iterator[Case]:
    reads = {
        "pyproject.toml": (BASE_PYPROJECT, "plan"),
        "uv.lock": (BASE_LOCK, "plan"),
        ".python-version": ("3.11\n", "plan"),
    }
    for name, (text, command) in reads.items():
        for kind in FILE_KINDS:

            def prepare(
                ws: Workspace, name: str = name, kind: str = kind, text: str = text
            ) -> list[str]:
                write_project(ws)
                _replace(ws, name, kind, text)
                return project_args(ws, "plan")

            # Reading through a link to a regular file is fine: nothing is written there.
            exits = {0} if kind == "link-out" else {2}
            yield Case(
                f"file-{name}-{kind}-{command}",
                prepare,
                frozenset(exits),
                subprocess=(name, kind) == ("pyproject.toml", "fifo"),
            )
    writes = {
        "Dockerfile": ("FROM scratch\n", [["dockerize"], ["dockerize", "--force"], ["build"]]),
        ".dockerignore": ("*\n", [["dockerize"], ["dockerize", "--force"]]),
        "README.md": ("# outside\n", [["readme", "--create"]]),
    }
    for name, (text, commands) in writes.items():
        for kind in FILE_KINDS:
            for command in commands:

                def prepare(
                    ws: Workspace,
                    name: str = name,
                    kind: str = kind,
                    text: str = text,
                    command: list[str] = command,
                ) -> list[str]:
                    write_project(ws)
                    _replace(ws, name, kind, text)
                    if command[0] == "build":  # a healthy engine: the file is refused first
                        _engine(ws, [])
                    if command[0] == "readme":
                        return ["readme", str(ws.project), "--create"]
                    return [command[0], str(ws.project), "--cpu", *command[1:]]

                exits = {2}
                if command[0] == "build" and kind in ("link-dangling",):
                    exits = {2}
                yield Case(
                    f"file-{name}-{kind}-{'-'.join(c.lstrip('-') for c in command)}",
                    prepare,
                    frozenset(exits),
                    subprocess=(name, kind, tuple(command))
                    == ("Dockerfile", "link-out", ("dockerize", "--force")),
                )


def ca_bundle_cases() -> Iterator[Case]:
    """--ca-bundle (or ENVFORGE_CA_BUNDLE) in place of a PEM file."""
    for kind in ("fifo", "dir", "link-loop", "link-dangling", "empty", "invalid-utf8"):

        def prepare(ws: Workspace, kind: str = kind) -> list[str]:
            write_project(ws)
            ca = ws.project / "ca.pem"
            if kind == "empty":
                ca.write_text("")
            elif kind == "invalid-utf8":
                ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n\xff\xfe\n")
            else:
                _replace(ws, "ca.pem", kind, "")
            return project_args(ws, "plan", "--ca-bundle", str(ca))

        yield Case(f"file-ca-bundle-{kind}", prepare, frozenset({2}))

    def cache_fifo(ws: Workspace) -> list[str]:
        # The image-Python cache (XDG_CACHE_HOME) is a FIFO: read past, never blocking.
        write_project(ws)
        _engine(ws, [on("GET", _IMAGE_JSON, json_reply(GOOD_IMAGE))])
        cache = Path(str(ws.env["XDG_CACHE_HOME"])) / "envforge"
        cache.mkdir(parents=True)
        os.mkfifo(cache / "image-python.json")
        return project_args(ws, "plan", "--base-image", "envforge-lab/python:3.11-slim-bookworm")

    yield Case("file-image-python-cache-fifo", cache_fifo, frozenset({0, 2}))


def readonly_cases() -> Iterator[Case]:
    for command in (["dockerize"], ["dockerize", "--force"], ["readme", "--create"]):

        def prepare(ws: Workspace, command: list[str] = command) -> list[str]:
            write_project(ws)
            ws.readonly.append(ws.project)
            if command[0] == "readme":
                return ["readme", str(ws.project), "--create"]
            return [command[0], str(ws.project), "--cpu", *command[1:]]

        yield Case(f"readonly-{'-'.join(c.lstrip('-') for c in command)}", prepare, frozenset({2}))


def control_char_cases() -> Iterator[Case]:
    values = {
        "name-esc": ("project", "name", "\x1b[31mred\x1b[0m"),
        "description-osc": ("project", "description", "ok\x1b]0;pwned\x07"),
        "dep-cr": ("project", "dependencies", ["six>=1.16\r\x1b[2Kok"]),
        "python-c1": ("project", "requires-python", ">=3.11\x9b2J"),
    }
    for case, (table, key, value) in values.items():
        text = mutated(BASE_PYPROJECT, (table, key), value)

        def prepare(ws: Workspace, text: str = text) -> list[str]:
            write_project(ws, pyproject=text)
            return project_args(ws)

        # A description is free text: planned (0), but never printed raw.
        exits = {0} if case.startswith("description") else {2}
        yield Case(f"control-{case}", prepare, frozenset(exits), raw_stdout_ok=False)

    def path_arg(ws: Workspace) -> list[str]:
        return ["plan", str(ws.root / "no\x1b[2Jsuch\rpath"), "--cpu"]

    yield Case("control-path-argument", path_arg, frozenset({2}))


def _host_value(kind: str) -> Any:
    return {
        "int": 7,
        "banana": "banana",
        "array": [1],
        "table": {"a": 1},
        "bool": True,
        "null": None,
        "nan": f"{_RAW_MARK}NaN@@",
        "huge": f"{_RAW_MARK}1e400@@",
        "bigint": f"{_RAW_MARK}{'9' * 5000}@@",
        "deep": _DEEP_MARK,
    }[kind]


def dump_json(data: Any) -> str:
    text = json.dumps(data, indent=1)
    text = text.replace(f'"{_DEEP_MARK}"', deep_array())
    while _RAW_MARK in text:
        start = text.index(f'"{_RAW_MARK}')
        end = text.index('@@"', start + 1)
        text = text[:start] + text[start + len(_RAW_MARK) + 1 : end] + text[end + 3 :]
    return text


def host_facts_cases() -> Iterator[Case]:
    fields: list[tuple[str, tuple[Any, ...]]] = [
        ("host", ()),
        ("driver", ("driver",)),
        ("driver.status", ("driver", "status")),
        ("driver.driver_version", ("driver", "driver_version")),
        ("driver.cuda_driver_version", ("driver", "cuda_driver_version")),
        ("driver.gpus", ("driver", "gpus")),
        ("driver.gpus[0]", ("driver", "gpus", 0)),
        ("driver.gpus[0].index", ("driver", "gpus", 0, "index")),
        ("driver.gpus[0].compute_capability", ("driver", "gpus", 0, "compute_capability")),
        ("driver.gpus[0].memory_total_bytes", ("driver", "gpus", 0, "memory_total_bytes")),
        ("engine", ("engine",)),
        ("engine.reachable", ("engine", "reachable")),
        ("engine.runtimes", ("engine", "runtimes")),
    ]
    kinds = ("int", "banana", "array", "table", "bool", "null", "nan", "huge", "bigint", "deep")
    for name, path in fields:
        for kind in kinds:
            data: Any = json.loads(json.dumps(GOOD_HOST))
            value = _host_value(kind)
            if path:
                _set(data, path, value)
            else:
                data = value
            text = dump_json({"host": data} if name == "driver" else data)

            def prepare(ws: Workspace, text: str = text) -> list[str]:
                ws.project.mkdir(parents=True, exist_ok=True)
                facts = ws.project / "host.json"
                facts.write_text(text)
                return ["doctor", "--host-facts", str(facts)]

            # A value of the right type is judged (0 ok, 1 a failed check); the rest refused.
            exits = {2} if kind in ("nan", "huge", "bigint", "deep") else {0, 1, 2}
            if (name, kind) in HOST_MUST_REFUSE:
                exits = {2}
            yield Case(
                f"hostfacts-{name}-{kind}",
                prepare,
                frozenset(exits),
                subprocess=(name, kind) == ("driver.driver_version", "banana"),
            )
    for kind in ("fifo", "dir", "link-loop", "empty", "not-json", "nul"):

        def prepare_file(ws: Workspace, kind: str = kind) -> list[str]:
            ws.project.mkdir(parents=True, exist_ok=True)
            facts = ws.project / "host.json"
            if kind == "empty":
                facts.write_text("")
            elif kind == "not-json":
                facts.write_text("{driver: ok")
            elif kind == "nul":
                facts.write_bytes(b'{"driver": "\x00"}')
            else:
                _replace(ws, "host.json", kind, "")
            return ["doctor", "--host-facts", str(facts)]

        yield Case(f"hostfacts-file-{kind}", prepare_file, frozenset({2}))


HOST_MUST_REFUSE = {
    ("driver.driver_version", "banana"),
    ("driver.cuda_driver_version", "banana"),
    ("driver.status", "banana"),
    ("driver.gpus", "banana"),
    ("driver.gpus[0].index", "banana"),
    ("engine.reachable", "banana"),
    ("host", "banana"),
    ("host", "array"),
}


def _record_value(kind: str) -> Any:
    return _host_value(kind)


def record_cases() -> Iterator[Case]:
    bad: dict[str, tuple[tuple[Any, ...], Any]] = {
        "duration-nan": (("duration_s",), f"{_RAW_MARK}NaN@@"),
        "duration-inf": (("duration_s",), f"{_RAW_MARK}Infinity@@"),
        "duration-minus-inf": (("duration_s",), f"{_RAW_MARK}-Infinity@@"),
        "duration-1e400": (("duration_s",), f"{_RAW_MARK}1e400@@"),
        "duration-negative": (("duration_s",), -5),
        "duration-str": (("duration_s",), "5s"),
        "started-year-99999": (("started",), "99999-01-01T00:00:00Z"),
        "started-year-1-east": (("started",), "0001-01-01T00:00:00+14:00"),
        "started-year-9999-west": (("started",), "9999-12-31T23:59:59-14:00"),
        "started-int": (("started",), 5),
        "started-banana": (("started",), "banana"),
        "exit-str": (("exit_code",), "x"),
        "exit-float": (("exit_code",), 1.5),
        "exit-huge": (("exit_code",), 10**30),
        "exit-nan": (("exit_code",), f"{_RAW_MARK}NaN@@"),
        "image-str": (("image",), "x"),
        "image-ref-int": (("image", "ref"), 5),
        "git-commit-int": (("git",), {"commit": 5}),
        "host-gpus-str": (("host",), {"gpus": "x"}),
        "gpus-int": (("gpus",), 5),
        "deep": (("command",), _DEEP_MARK),
        "nan-anywhere": (("project",), f"{_RAW_MARK}NaN@@"),
    }
    for name, (path, value) in bad.items():
        record = json.loads(json.dumps(GOOD_RECORD))
        _set(record, path, value)
        text = dump_json(record)
        for as_json in (True, False):

            def prepare(ws: Workspace, text: str = text, as_json: bool = as_json) -> list[str]:
                runs = ws.project / "runs"
                runs.mkdir(parents=True)
                (runs / "20260101T000000Z-good-aaaaaa.json").write_text(json.dumps(GOOD_RECORD))
                (runs / "20260102T000000Z-bad-bbbbbb.json").write_text(text)
                return ["runs", str(runs), *(["--json"] if as_json else [])]

            yield Case(
                f"records-{name}-{'json' if as_json else 'table'}",
                prepare,
                frozenset({0}),
                error_line=False,
                warning=True,
                json_out=as_json,
            )
    for kind in ("fifo", "dir", "link-loop", "invalid-utf8", "nul", "not-json", "array"):

        def prepare_file(ws: Workspace, kind: str = kind) -> list[str]:
            runs = ws.project / "runs"
            runs.mkdir(parents=True)
            (runs / "20260101T000000Z-good-aaaaaa.json").write_text(json.dumps(GOOD_RECORD))
            bad_path = runs / "20260102T000000Z-bad-bbbbbb.json"
            if kind == "invalid-utf8":
                bad_path.write_bytes(b'{"schema": 1, "x": "\xff"}')
            elif kind == "nul":
                bad_path.write_bytes(b"\x00\x00")
            elif kind == "not-json":
                bad_path.write_text("{")
            elif kind == "array":
                bad_path.write_text("[]")
            elif kind == "fifo":
                os.mkfifo(bad_path)
            elif kind == "dir":
                bad_path.mkdir()
            elif kind == "link-loop":
                bad_path.symlink_to(bad_path.name)
            return ["runs", str(runs), "--json"]

        warns = kind not in ("fifo", "dir", "link-loop")  # not files: passed over in silence
        yield Case(
            f"records-file-{kind}",
            prepare_file,
            frozenset({0}),
            error_line=False,
            warning=warns,
            json_out=True,
        )


# ---------------------------------------------------------------- engine fakes


def _engine(ws: Workspace, routes: list[Route], *, hang: bool = False) -> FakeEngine:
    fake = FakeEngine(ws.root, routes, hang=hang)
    ws.engines.append(fake)
    ws.env["DOCKER_HOST"] = fake.url
    return fake


IMAGE = "hostile:0.1.0"
_IMAGE_JSON = r"/images/[^/]+/json"
_ERROR_500 = json_reply({"message": "engine exploded"}, 500)
_BROKEN = (200, "application/json", '{"Id": "sha256:ab", "Config": {')


def _stream(*lines: str) -> tuple[int, str, list[str]]:
    return 200, "application/json", list(lines)


ENGINE_BEHAVIOURS: dict[str, list[Route]] = {
    "all-500": [everything(_ERROR_500)],
    "version-broken-json": [on("GET", "/version", _BROKEN)],
    "version-garbage": [on("GET", "/version", (200, "text/html", "<html>hello</html>"))],
    "ping-500": [on("GET", "/_ping", _ERROR_500)],
    "image-500": [on("GET", _IMAGE_JSON, _ERROR_500)],
    "image-broken-json": [on("GET", _IMAGE_JSON, _BROKEN)],
    "image-array": [on("GET", _IMAGE_JSON, json_reply([]))],
    "image-config-str": [on("GET", _IMAGE_JSON, json_reply({"Id": IMAGE_ID, "Config": "x"}))],
    "image-labels-int": [
        on("GET", _IMAGE_JSON, json_reply({"Id": IMAGE_ID, "Config": {"Labels": {"a": 5}}}))
    ],
    "create-500": [
        on("GET", _IMAGE_JSON, json_reply(GOOD_IMAGE)),
        on("POST", "/containers/create", _ERROR_500),
    ],
    "create-broken-json": [
        on("GET", _IMAGE_JSON, json_reply(GOOD_IMAGE)),
        on("POST", "/containers/create", _BROKEN),
    ],
    "info-array": [on("GET", "/info", json_reply([1, 2]))],
    "info-500": [on("GET", "/info", _ERROR_500)],
}

BUILD_STREAMS: dict[str, list[Route]] = {
    "build-500": [on("POST", "/build", _ERROR_500)],
    "build-not-json": [
        on("POST", "/build", _stream('{"stream": "Step 1/2 : FROM x"}\n', "garbage{{\n"))
    ],
    "build-array-line": [on("POST", "/build", _stream("[1, 2, 3]\n"))],
    "build-string-line": [on("POST", "/build", _stream('"just a string"\n'))],
    "build-aux-id-int": [on("POST", "/build", _stream('{"aux": {"ID": 5}}\n'))],
    "build-error-detail-str": [
        on("POST", "/build", _stream('{"error": "boom", "errorDetail": "not a table"}\n'))
    ],
    "build-stream-int": [on("POST", "/build", _stream('{"stream": 5}\n'))],
    "build-then-image-500": [
        on("POST", "/build", _stream(f'{{"aux": {{"ID": "{IMAGE_ID}"}}}}\n')),
        on("GET", _IMAGE_JSON, _ERROR_500),
    ],
    "build-then-image-broken": [
        on("POST", "/build", _stream(f'{{"aux": {{"ID": "{IMAGE_ID}"}}}}\n')),
        on("GET", _IMAGE_JSON, _BROKEN),
    ],
    "build-binary": [on("POST", "/build", _stream("\x00\xff\xfe\x1b[2J\n"))],
}


_PUSH_TO = "127.0.0.1:5999/team/hostile:1"
_PUSH_DIGEST = "sha256:" + "cd" * 32
_TAGGED = [
    on("GET", _IMAGE_JSON, json_reply(GOOD_IMAGE)),
    on("POST", r"/images/.+/tag", (201, "text/plain", "")),
]
_PUSH = r"/images/.+/push"

# `envforge push`'s stream as a broken engine sends it: (routes, the exit codes allowed).
PUSH_STREAMS: dict[str, tuple[list[Route], frozenset[int]]] = {
    "tag-500": ([on("GET", _IMAGE_JSON, json_reply(GOOD_IMAGE)),
                 on("POST", r"/images/.+/tag", _ERROR_500)], frozenset({1})),
    "push-500": ([*_TAGGED, on("POST", _PUSH, _ERROR_500)], frozenset({1})),
    "push-not-json": (
        [*_TAGGED, on("POST", _PUSH, _stream('{"status": "Preparing", "id": "a"}\n', "garbage{{\n"))],
        frozenset({1}),
    ),
    "push-array-line": ([*_TAGGED, on("POST", _PUSH, _stream("[1, 2, 3]\n"))], frozenset({1})),
    "push-string-line": ([*_TAGGED, on("POST", _PUSH, _stream('"just a string"\n'))], frozenset({1})),
    "push-error-detail-str": (
        [*_TAGGED, on("POST", _PUSH, _stream('{"error": "boom", "errorDetail": "not a table"}\n'))],
        frozenset({1}),
    ),
    "push-no-digest": (
        [*_TAGGED, on("POST", _PUSH, _stream('{"status": "Pushed", "id": "abc"}\n'))],
        frozenset({1}),
    ),
    "push-aux-digest-int": (
        [*_TAGGED, on("POST", _PUSH, _stream('{"aux": {"Digest": 5, "Size": "x"}}\n'))],
        frozenset({1}),
    ),
    "push-ends-mid-line": ([*_TAGGED, on("POST", _PUSH, _stream('{"status": "Pu'))], frozenset({1})),
    "push-binary": ([*_TAGGED, on("POST", _PUSH, _stream("\x00\xff\xfe\x1b[2J\n"))], frozenset({1})),
    "push-odd-but-complete": (
        [*_TAGGED, on("POST", _PUSH, _stream(
            '{"status": "Pushing", "id": 5, "progressDetail": "x"}\n',
            '{"status": "Pushing", "id": "a\\u001b[2J", "progressDetail": {"total": "big"}}\n',
            f'{{"status": "1: digest: {_PUSH_DIGEST} size: 9"}}\n',
        ))],
        frozenset({0}),
    ),
}  # fmt: skip


def engine_cases() -> Iterator[Case]:
    commands: dict[str, Callable[[Workspace], list[str]]] = {
        "build": lambda ws: ["build", str(ws.project), "--cpu"],
        "run": lambda ws: ["run", IMAGE],
        "verify": lambda ws: ["verify", IMAGE, str(ws.project)],
        "doctor": lambda ws: ["doctor", "--json"],
    }
    for behaviour, routes in ENGINE_BEHAVIOURS.items():
        for command, argv in commands.items():

            def prepare(
                ws: Workspace,
                routes: list[Route] = routes,
                argv: Callable[[Workspace], list[str]] = argv,
            ) -> list[str]:
                write_project(ws)
                _engine(ws, routes)
                return argv(ws)

            # doctor reports an engine's state (exit 0 or 1), it does not fail on it.
            doctor = command == "doctor"
            yield Case(
                f"engine-{behaviour}-{command}",
                prepare,
                frozenset({0, 1} if doctor else {1}),
                error_line=not doctor,
            )
    for behaviour, routes in BUILD_STREAMS.items():

        def prepare_build(ws: Workspace, routes: list[Route] = routes) -> list[str]:
            write_project(ws)
            _engine(ws, routes)
            return ["build", str(ws.project), "--cpu"]

        yield Case(f"engine-{behaviour}-build", prepare_build, frozenset({1}))
    for behaviour, (routes, exits) in PUSH_STREAMS.items():

        def prepare_push(ws: Workspace, routes: list[Route] = routes) -> list[str]:
            _engine(ws, routes)
            return ["push", IMAGE, _PUSH_TO]

        yield Case(f"engine-{behaviour}-push", prepare_push, exits)

    def prepare_push_hang(ws: Workspace) -> list[str]:
        _engine(ws, [], hang=True)
        return ["push", IMAGE, _PUSH_TO]

    yield Case("engine-never-answers-push", prepare_push_hang, frozenset({1}), max_s=10.0)
    for command, argv in commands.items():

        def prepare_hang(ws: Workspace, argv: Callable[[Workspace], list[str]] = argv) -> list[str]:
            write_project(ws)
            _engine(ws, [], hang=True)
            return argv(ws)

        doctor = command == "doctor"
        yield Case(
            f"engine-never-answers-{command}",
            prepare_hang,
            frozenset({0, 1} if doctor else {1}),
            error_line=not doctor,
            max_s=10.0,
            subprocess=command in ("build", "doctor"),
        )
    for value in ("banana", "0", "-1", "inf", "nan"):

        def prepare_timeout(ws: Workspace, value: str = value) -> list[str]:
            write_project(ws)
            _engine(ws, [])
            ws.env["ENVFORGE_DOCKER_TIMEOUT"] = value
            return ["build", str(ws.project), "--cpu"]

        yield Case(f"engine-timeout-env-{value}", prepare_timeout, frozenset({2}))


def runs_dir_cases() -> Iterator[Case]:
    for kind in ("file", "fifo", "link-loop", "readonly", "under-a-file"):

        def prepare(ws: Workspace, kind: str = kind) -> list[str]:
            write_project(ws)
            _engine(
                ws,
                [
                    on("GET", _IMAGE_JSON, json_reply(GOOD_IMAGE)),
                    on("POST", "/containers/create", _ERROR_500),
                ],
            )
            runs = ws.project / "runs"
            if kind == "file":
                runs.write_text("x")
            elif kind == "fifo":
                os.mkfifo(runs)
            elif kind == "link-loop":
                runs.symlink_to("runs")
            elif kind == "readonly":
                runs.mkdir()
                ws.readonly.append(runs)
            elif kind == "under-a-file":
                (ws.project / "afile").write_text("x")
                runs = ws.project / "afile" / "runs"
            return ["run", IMAGE, "--record", "--runs-dir", str(runs)]

        yield Case(f"runs-dir-{kind}", prepare, frozenset({2}))


def cases() -> list[Case]:
    generators = (
        lock_field_cases,
        lock_marker_cases,
        pyproject_field_cases,
        bytes_cases,
        file_kind_cases,
        ca_bundle_cases,
        readonly_cases,
        control_char_cases,
        host_facts_cases,
        record_cases,
        engine_cases,
        runs_dir_cases,
    )
    found = [case for make in generators for case in make()]
    ids = [c.id for c in found]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return found
