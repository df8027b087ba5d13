"""The hostile corpus for injection: every field that reaches a generated file, times payloads.

``injection_cases()`` generates the cases programmatically: each Field knows how to put a
value into a copy of examples/cpu-sklearn (a pyproject.toml edit with tomlkit, a uv.lock
edit, a file, an environment variable, a CLI flag, the git remote) and which value is benign.
test_injection.py runs each case through the real commands and compares what they write
with what the benign value gives. ``@CANARY@`` in a value is replaced by a path outside the
project that no command may ever create.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

CANARY = "@CANARY@"
LAB_BASE = "envforge-lab/python:3.11-slim-bookworm"


@dataclass(frozen=True)
class Invocation:
    """What a field's value turns into for one run: extra CLI words, environment, git remote."""

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    git_remote: str | None = None


# A field puts a value into the project folder and says how the commands are to be run.
Apply = Callable[[Path, str], Invocation]


@dataclass(frozen=True)
class Field:
    name: str
    benign: str
    apply: Apply
    kinds: frozenset[str]  # which payload families apply: name, text, path, image, ignore...
    via_env: bool = False  # the value travels in an environment variable (no NUL possible)


@dataclass(frozen=True)
class Case:
    field: Field
    payload: str  # the payload's short name, for the test id
    value: str

    @property
    def id(self) -> str:
        return f"{self.field.name}:{self.payload}"


# --- payloads ---------------------------------------------------------------------------

# Every field gets these: shell and Dockerfile breakouts, terminal escapes, trailing newline.
COMMON: dict[str, str] = {
    "cmd-subst": f"x$(touch {CANARY})",
    "newline-run": f"a\nRUN touch {CANARY}",
    "crlf-run": f"a\r\nRUN touch {CANARY}",
    "dquote-break": f'"; touch {CANARY}; "',
    "squote-break": f"'; touch {CANARY}; '",
    "backticks": f"`touch {CANARY}`",
    "esc-codes": "\x1b[31mred\x1b[0m",
    "trailing-newline": "{benign}\n",
}
# By kind of field: what else that kind of value is likely to be attacked with.
BY_KIND: dict[str, dict[str, str]] = {
    "name": {
        "kelvin": "\u212aelvin",  # K with IGNORECASE matches the Kelvin sign
        "space": "a b",
        "option": "--frozen",
        "nul": "a\x00b",
    },
    "text": {
        "dollar-var": "${PATH}",
        "space": "a b",
        "100kb": "A" * 100_000,
        "nul": "a\x00b",
        "backslash-end": "a\\",
        "line-separator": "a\u2028RUN x",
        "marker": "<!-- envforge:requirements:end -->",
        "fence": "```",
    },
    "path": {
        "space": "libs/a b",
        "dotdot": "../../etc",
        "absolute": "/etc",
        "nul": "libs/a\x00b",
        "dollar-var": "libs/${HOME}",
        "glob": "libs/*",
    },
    "image": {
        "as-platform": "{benign} AS x --platform=$(id)",
        "space": "python 3.11",
        "uppercase-path": "Python:3.11",
        "bad-digest": "python:3.11@sha256:abc",
        "dollar-var": "${BASE}",
    },
    "ignore": {
        "reinclude-pem": "!*.pem",
        "newline-reinclude": "x\n!.env\n!**/*.pem",
        "comment": "# nothing",
        "nul": "a\x00b",
    },
    "version": {
        "not-pep440": "1.0 beta",
        "tag-break": "1.0;id",
        "space": "1.0 1",
        "kelvin": "1.0.\u212a",
    },
    "python": {
        "unicode-digits": "3.\uff11\uff11",
        "three-parts": "3.11.1.1",
        "space": "3.11 AS x",
    },
}


def _payloads(f: Field) -> dict[str, str]:
    chosen = dict(COMMON)
    for kind in sorted(f.kinds):
        chosen.update(BY_KIND[kind])
    chosen = {k: v.replace("{benign}", f.benign) for k, v in chosen.items()}
    if f.via_env:  # an environment variable cannot hold NUL
        chosen = {k: v for k, v in chosen.items() if "\x00" not in v}
    return chosen


# --- how a value gets in ------------------------------------------------------------------


def _edit_toml(path: Path, edit: Callable[[Any], None]) -> None:
    doc = tomlkit.parse(path.read_text("utf-8"))
    edit(doc)
    path.write_text(tomlkit.dumps(doc), "utf-8")


def _envforge(doc: Any) -> Any:
    if "tool" not in doc:
        doc["tool"] = tomlkit.table(is_super_table=True)
    if "envforge" not in doc["tool"]:
        doc["tool"]["envforge"] = tomlkit.table()
    return doc["tool"]["envforge"]


def _setting(key: str, as_list: bool = False) -> Apply:
    def apply(root: Path, value: str) -> Invocation:
        _edit_toml(
            root / "pyproject.toml",
            lambda doc: _envforge(doc).__setitem__(key, [value] if as_list else value),
        )
        return Invocation()

    return apply


def _project_key(key: str) -> Apply:
    def apply(root: Path, value: str) -> Invocation:
        _edit_toml(root / "pyproject.toml", lambda doc: doc["project"].__setitem__(key, value))
        return Invocation()

    return apply


def _extra(how: str) -> Apply:
    """A project extra named `value`, chosen with --extra or [tool.envforge] extras."""

    def apply(root: Path, value: str) -> Invocation:
        def edit(doc: Any) -> None:
            optional = tomlkit.table()
            optional[value] = []
            doc["project"]["optional-dependencies"] = optional
            if how == "settings":
                _envforge(doc)["extras"] = [value]

        _edit_toml(root / "pyproject.toml", edit)
        return Invocation(args=("--extra", value) if how == "cli" else ())

    return apply


def _group(how: str) -> Apply:
    def apply(root: Path, value: str) -> Invocation:
        def edit(doc: Any) -> None:
            doc["dependency-groups"][value] = []
            if how == "settings":
                _envforge(doc)["groups"] = [value]

        _edit_toml(root / "pyproject.toml", edit)
        return Invocation(args=("--group", value) if how == "cli" else ())

    return apply


def _script(root: Path, value: str) -> Invocation:
    def edit(doc: Any) -> None:
        scripts = tomlkit.table()
        scripts[value] = "cpu_sklearn.experiment:main"
        doc["project"]["scripts"] = scripts

    _edit_toml(root / "pyproject.toml", edit)
    return Invocation()


def _build_requires(root: Path, value: str) -> Invocation:
    def edit(doc: Any) -> None:
        doc["build-system"]["requires"] = [f'hatchling>=1.25; platform_release != "{value}"']

    _edit_toml(root / "pyproject.toml", edit)
    return Invocation()


def _env_key(root: Path, value: str) -> Invocation:
    _edit_toml(root / "pyproject.toml", lambda doc: _envforge(doc).__setitem__("env", {value: "1"}))
    return Invocation()


def _env_value(root: Path, value: str) -> Invocation:
    _edit_toml(
        root / "pyproject.toml", lambda doc: _envforge(doc).__setitem__("env", {"GREETING": value})
    )
    return Invocation()


def _lock_source(kind: str) -> Apply:
    """A package of uv.lock installed from a path: its folder is copied into the build."""

    def apply(root: Path, value: str) -> Invocation:
        def edit(doc: Any) -> None:
            package = tomlkit.table()
            package["name"] = "hostile-lib"
            package["version"] = "0.1.0"
            source = tomlkit.inline_table()
            source[kind] = value
            package["source"] = source
            doc["package"].append(package)

        _edit_toml(root / "uv.lock", edit)
        return Invocation()

    return apply


def _lock_root_version(root: Path, value: str) -> Invocation:
    """A dynamic version: the tag comes from the version uv recorded in the lock."""

    def edit_project(doc: Any) -> None:
        del doc["project"]["version"]
        doc["project"]["dynamic"] = ["version"]

    def edit_lock(doc: Any) -> None:
        for package in doc["package"]:
            if package["name"] == "cpu-sklearn":
                package["version"] = value

    _edit_toml(root / "pyproject.toml", edit_project)
    _edit_toml(root / "uv.lock", edit_lock)
    return Invocation()


def _python_version_file(root: Path, value: str) -> Invocation:
    (root / ".python-version").write_text(value + "\n", "utf-8")
    return Invocation(args=("--base-image", LAB_BASE))


def _flag(flag: str, *more: str) -> Apply:
    return lambda root, value: Invocation(args=(flag, value, *more))


def _env_var(name: str) -> Apply:
    return lambda root, value: Invocation(env={name: value})


def _git_remote(root: Path, value: str) -> Invocation:
    return Invocation(git_remote=value)


def _kinds(*names: str) -> frozenset[str]:
    return frozenset(names)


FIELDS: tuple[Field, ...] = (
    Field("project.name", "benign-name", _project_key("name"), _kinds("name")),
    Field("project.version", "0.2.0", _project_key("version"), _kinds("version")),
    Field("project.description", "A benign description", _project_key("description"), _kinds("text")),
    Field("extra --extra", "benign", _extra("cli"), _kinds("name")),
    Field("extra settings", "benign", _extra("settings"), _kinds("name")),
    Field("group --group", "benign", _group("cli"), _kinds("name")),
    Field("group settings", "benign", _group("settings"), _kinds("name")),
    Field("project.scripts", "benign-cli", _script, _kinds("name")),
    Field("build-system.requires marker", "6.0", _build_requires, _kinds("text")),
    Field("tool.envforge.command", "python -m benign", _setting("command"), _kinds("text")),
    Field("tool.envforge.command[]", "benign", _setting("command", as_list=True), _kinds("text")),
    Field("tool.envforge.python", "3.11", _setting("python"), _kinds("python")),
    Field("tool.envforge.base-image", LAB_BASE, _setting("base-image"), _kinds("image")),
    Field("tool.envforge.debian", "bookworm", _setting("debian"), _kinds("name")),
    Field("tool.envforge.apt-packages", "curl", _setting("apt-packages", True), _kinds("name")),
    Field("tool.envforge.build-apt-packages", "gcc", _setting("build-apt-packages", True), _kinds("name")),
    Field("tool.envforge.env key", "BENIGN", _env_key, _kinds("name")),
    Field("tool.envforge.env value", "hello", _env_value, _kinds("text")),
    Field("tool.envforge.exclude", "notes", _setting("exclude", True), _kinds("ignore", "path")),
    Field("tool.envforge.include", "data/keep.csv", _setting("include", True), _kinds("ignore", "path")),
    Field("tool.envforge.cuda", "12.4", _setting("cuda"), _kinds("python")),
    Field("--python", "3.11", _flag("--python", "--base-image", LAB_BASE), _kinds("python")),
    Field("--base-image", LAB_BASE, _flag("--base-image"), _kinds("image")),
    Field("--registry-mirror", "mirror.example:5000", _flag("--registry-mirror"), _kinds("image")),
    Field("--cuda", "12.4", _flag("--cuda"), _kinds("python")),
    Field("ENVFORGE_BASE_IMAGE", LAB_BASE, _env_var("ENVFORGE_BASE_IMAGE"), _kinds("image"), True),
    Field("ENVFORGE_REGISTRY_MIRROR", "mirror.example:5000/hub", _env_var("ENVFORGE_REGISTRY_MIRROR"), _kinds("image"), True),
    Field("ENVFORGE_UV_IMAGE", "envforge-lab/uv:0.13.9", _env_var("ENVFORGE_UV_IMAGE"), _kinds("image"), True),
    Field("ENVFORGE_UV_SOURCE", "pip", _env_var("ENVFORGE_UV_SOURCE"), _kinds("name"), True),
    Field("uv.lock directory source", "libs/benign", _lock_source("directory"), _kinds("path")),
    Field("uv.lock editable source", "libs/benign", _lock_source("editable"), _kinds("path")),
    Field("uv.lock root version", "0.2.0", _lock_root_version, _kinds("version")),
    Field(".python-version", "3.11", _python_version_file, _kinds("python")),
    Field("git remote", "https://example.org/benign.git", _git_remote, _kinds("text")),
)  # fmt: skip


def injection_cases() -> list[Case]:
    """Every field with every payload that applies to it."""
    return [
        Case(f, name, value)
        for f in FIELDS
        for name, value in sorted(_payloads(f).items())
        if value != f.benign
    ]
