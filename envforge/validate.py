"""One validation kit for every string that can reach a generated file. Pure.

Each function takes the value and WHERE it came from ("'tool.envforge.base-image'",
"--base-image", "ENVFORGE_UV_IMAGE"), returns the value (normalised where that is the
rule) and raises, with a hint, for anything else: InvalidProjectError when ``file`` is
given (pyproject.toml, uv.lock, .python-version), else InputError (a flag or variable).

Every pattern is matched with ``re.fullmatch`` and ``re.ASCII``: no trailing newline slips
through a ``$``, and no Kelvin sign (U+212A) passes for a K under IGNORECASE.
The renderer (envforge/image/render.py) quotes what passes; this module decides what may pass.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any, NoReturn, TypeVar

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envforge.errors import InputError, InvalidProjectError

# Docker's reference grammar (distribution/reference): [registry[:port]/]path[:tag][@digest].
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[0-9a-f]{64}"
_IMAGE_REF = re.compile(rf"(?:(?P<domain>{_DOMAIN})/)?{_PATH}(?::{_TAG})?(?:@{_DIGEST})?", re.A)
_MIRROR = re.compile(rf"{_DOMAIN}(?:/{_PATH})?", re.ASCII)
_IMAGE_NAME_MAX = 255

_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)
_APT = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?", re.ASCII)
# A PEP 517 object reference: dotted module, optionally ":" and a dotted attribute.
_OBJECT_REF = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?",
    re.ASCII,
)
# A console script's name becomes a file in the image's bin/ and its ENTRYPOINT.
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*", re.ASCII)
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_PYTHON_MINOR = re.compile(r"3\.[0-9]{1,2}", re.ASCII)
_CUDA = re.compile(r"[0-9]{2}\.[0-9]{1,2}(?:\.[0-9]{1,3})?", re.ASCII)
_HTTPS_URL = re.compile(
    r"https://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?", re.A
)
# What a terminal or a line-based file acts on: C0 and C1 controls, DEL, the Unicode line
# and paragraph separators, and the bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Where .dockerignore or COPY would read a character as more than itself.
_PATH_SPECIAL = re.compile(r"[$\\*?\[\]]")

DESCRIPTION_MAX = 512  # an image label; Docker refuses a Dockerfile line over 64 KB


def _shown(value: object, limit: int = 60) -> str:
    """The value as an error message shows it: repr (escapes every control character), cut."""
    text = repr(value)
    return (
        text
        if len(text) <= limit
        else text[: limit - 5] + "...'" + f" ({len(str(value))} characters)"
    )


def fail(what: str, value: object, where: str, hint: str, file: str | None = None) -> NoReturn:
    message = f"Invalid {what} {_shown(value)} in {where}"
    if file is None:
        raise InputError(message, hint=hint)
    raise InvalidProjectError(message, file=file, hint=hint)


def _string(value: object, what: str, where: str, file: str | None, max_len: int = 255) -> str:
    """The value as a str of at most max_len characters (a Dockerfile line must stay short)."""
    if not isinstance(value, str):
        fail(what, value, where, f"Give a string, not {type(value).__name__}.", file)
    if len(value) > max_len:
        fail(what, value, where, f"Keep it under {max_len} characters.", file)
    return value


def has_control(text: str) -> bool:
    """Whether text holds a control character, a line break or a bidirectional override."""
    return _CONTROL.search(text) is not None


def single_line_text(value: object, where: str, max_len: int, file: str | None = None) -> str:
    """Text written on one line (a label, an ENV value): no control character, bounded."""
    text = _string(value, "text", where, file, max_len)
    if has_control(text):
        fail("text", text, where, "Write it on one line, without control characters.", file)
    return text


def summary(value: str, max_len: int = DESCRIPTION_MAX) -> tuple[str, bool]:
    """A one-line summary of free text (a description): runs of whitespace and control
    characters become one space, and past max_len it is cut with an ellipsis.
    Returns (text, whether it was cut)."""
    text = " ".join(_CONTROL.sub(" ", value).split())
    if len(text) <= max_len:
        return text, False
    return text[: max_len - 3].rstrip() + "...", True


def image_ref(value: object, where: str, file: str | None = None) -> str:
    """A Docker image reference: [registry[:port]/]path[:tag][@sha256:<64 hex>]."""
    text = _string(value, "image reference", where, file, 512)
    if not _IMAGE_REF.fullmatch(text) or len(text.split("@", 1)[0]) > _IMAGE_NAME_MAX:
        fail(
            "image reference",
            text,
            where,
            "Write [registry[:port]/]path[:tag][@sha256:<64 hex digits>], with a lowercase "
            "path and nothing else: python:3.11-slim-bookworm, "
            "registry.example:5000/team/base:1.0@sha256:....",
            file,
        )
    return text


def push_ref(value: object, where: str) -> str:
    """Where `envforge push` sends an image: registry[:port]/path[:tag], the registry named
    (never Docker Hub by default: docker.io/USER/NAME says it), no digest (the registry
    gives that)."""
    text = image_ref(value, where)
    domain = _domain(text)
    if "@" in text or domain is None:
        fail(
            "registry reference",
            text,
            where,
            "Name the registry and the repository, with an optional tag and no digest: "
            "registry.example:5000/team/name:1.0 (docker.io/USER/NAME:TAG for Docker Hub).",
        )
    return text


def digest_ref(value: object, where: str) -> str:
    """An image pinned by its registry digest: [registry[:port]/]path[:tag]@sha256:<64 hex>."""
    text = image_ref(value, where)
    if "@" not in text:
        fail(
            "digest reference",
            text,
            where,
            "Give the reference `envforge push` prints: registry.example:5000/team/name@sha256:....",
        )
    return text


def _domain(ref: str) -> str | None:
    """The registry host of a valid image reference, as docker reads it: a first component
    with a '.' or ':', or localhost; None when there is none (Docker Hub)."""
    first, slash, _ = ref.partition("/")
    if not slash:
        return None
    return first if ("." in first or ":" in first or first == "localhost") else None


def registry_host(ref: str) -> str:
    """The registry of a reference that push_ref or digest_ref accepted ("docker.io" when
    it names none)."""
    return _domain(ref) or "docker.io"


def repository(ref: str) -> str:
    """A reference without its tag or digest: registry.example:5000/team/app."""
    name = ref.split("@", 1)[0]
    head, sep, last = name.rpartition("/")
    return f"{head}{sep}{last.split(':', 1)[0]}"


def repo_digest_for(ref: str, repo_digests: Sequence[str]) -> str | None:
    """The RepoDigests entry that pins ref: the one of ref's repository when the image has
    one there, else its first; None for an image never pushed or pulled."""
    name = repository(ref)
    same = [d for d in repo_digests if d.split("@", 1)[0] == name]
    found = same or list(repo_digests)
    return found[0] if found else None


def registry_mirror(value: object, where: str, file: str | None = None) -> str:
    """host[:port][/prefix]: where catalog images are pulled from instead."""
    text = _string(value, "registry mirror", where, file).rstrip("/")
    if not _MIRROR.fullmatch(text):
        fail(
            "registry mirror",
            value,
            where,
            "Give host[:port][/prefix], such as mirror.example:5000 or mirror.example/hub.",
            file,
        )
    return text


def extra_or_group_name(value: object, where: str, file: str | None = None) -> str:
    """An extra or dependency-group name as PEP 685 / PEP 735 allow it (returned as given;
    ``canonicalize_name`` gives the normalised form)."""
    text = _string(value, "name", where, file)
    if not _NAME.fullmatch(text):
        fail(
            "name",
            text,
            where,
            "Names are ASCII letters, digits, '.', '_' and '-', starting and ending with a "
            "letter or digit (PEP 685).",
            file,
        )
    return text


def normalized_name(value: str) -> str:
    return canonicalize_name(value)


def debian_release(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    text = _string(value, "Debian release", where, file)
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", text, re.ASCII):
        fail("Debian release", text, where, "Give a release name, such as bookworm.", file)
    return text


def project_name(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    text = _string(value, "project name", where, file)
    if not _NAME.fullmatch(text):
        fail(
            "project name",
            text,
            where,
            "A project name is ASCII letters, digits, '.', '_' and '-', starting and ending "
            "with a letter or digit (PEP 508).",
            file,
        )
    return text


def script_name(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    text = _string(value, "console script name", where, file, max_len=128)
    if not _SCRIPT_NAME.fullmatch(text):
        fail(
            "console script name",
            text,
            where,
            "Name it with ASCII letters, digits, '.', '_', '+' and '-' (it becomes a file in bin/).",
            file,
        )
    return text


def object_reference(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    text = _string(value, "build backend", where, file)
    if not _OBJECT_REF.fullmatch(text):
        fail(
            "build backend",
            text,
            where,
            'Name an importable object, such as "hatchling.build".',
            file,
        )
    return text


def apt_package(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    text = _string(value, "Debian package name", where, file)
    if not _APT.fullmatch(text):
        fail(
            "Debian package name",
            text,
            where,
            "Give a Debian package name, optionally pinned: curl, libgomp1=12.2.0-14.",
            file,
        )
    return text


def env_key(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    text = _string(value, "environment variable name", where, file)
    if not _ENV_KEY.fullmatch(text):
        fail(
            "environment variable name",
            text,
            where,
            "Names are ASCII letters, digits and '_', not starting with a digit: MY_VAR.",
            file,
        )
    return text


def env_value(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    """An ENV value: any one-line text (the Dockerfile has no way to write a line break)."""
    return single_line_text(value, where, 4096, file)


def python_minor(value: object, where: str, file: str | None = None) -> str:
    text = _string(value, "Python version", where, file)
    if not _PYTHON_MINOR.fullmatch(text):
        fail("Python version", text, where, 'Give major.minor, such as "3.11".', file)
    return text


_Choice = TypeVar("_Choice", bound=str)


def one_of(
    value: str, choices: tuple[_Choice, ...], what: str, where: str, file: str | None = None
) -> _Choice:
    """A value from a fixed set (the tuples beside settings' Literals: PYTHON_SOURCES ...),
    returned as the matching choice so that it keeps the Literal's type."""
    for choice in choices:
        if value == choice:
            return choice
    fail(what, value, where, f"Use one of: {', '.join(choices)}.", file)


def cuda_version(value: object, where: str, file: str | None = None) -> str:
    text = _string(value, "CUDA version", where, file)
    if not _CUDA.fullmatch(text):
        fail("CUDA version", text, where, "Give a CUDA release such as 12.4 or 12.4.1.", file)
    return text


def pep440_version(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    """A version as PEP 440 writes it (it becomes an image tag and a label)."""
    text = _string(value, "version", where, file)
    try:
        if has_control(text) or text != text.strip():
            raise InvalidVersion(text)
        Version(text)
    except InvalidVersion:
        fail("version", text, where, 'Give a PEP 440 version, such as "1.0.2" or "2.0rc1".', file)
    return text


def relative_path(value: object, where: str, file: str | None = None) -> str:
    """A folder inside the project, as COPY reads it: relative, no '..', no line break, and
    none of $ \\ * ? [ ] (COPY expands variables and wildcards). Returned normalised."""
    import posixpath

    text = _string(value, "path", where, file, 1024)
    hint = (
        "Give a folder inside the project, relative to it, on one line and without "
        "$ \\ * ? [ ] (COPY expands them)."
    )
    if not text or has_control(text) or _PATH_SPECIAL.search(text):
        fail("path", text, where, hint, file)
    norm = posixpath.normpath(text)
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
        fail("path", text, where, "A Docker build sees only the project folder: " + hint, file)
    return norm


def ignore_pattern(value: object, where: str, file: str | None = "pyproject.toml") -> str:
    """One .dockerignore pattern: one line, not a comment, not a re-include ('!'): envforge
    writes the '!' lines itself, from [tool.envforge] include."""
    text = _string(value, "pattern", where, file, 1024)
    if not text.strip() or has_control(text) or text.lstrip().startswith(("!", "#")):
        fail(
            "pattern",
            text,
            where,
            "Give one path or glob per entry (data, **/*.log), without a leading '!' or '#': "
            "list what to ship under include, what to leave out under exclude.",
            file,
        )
    return text


_SCP_RE = re.compile(
    r"(?:[^@/:\s]+@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?!//)(?P<path>[^\s]+)", re.ASCII
)
_URL_RE = re.compile(
    r"(?:git\+)?(?P<scheme>https?|ssh|git)://(?:[^@/\s]*@)?"
    r"(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*)(?::(?P<port>[0-9]{1,5}))?(?P<path>/[^\s]*)?",
    re.ASCII,
)


def source_url(remote: str | None) -> str | None:
    """A git remote as the https URL the OCI source label carries, or None.

    scp-style (git@github.com:o/r.git), ssh:// and git:// remotes become
    https://host/path (their ports are not https's, so dropped); http(s) keeps its scheme
    and port. Credentials and a trailing .git are dropped; a local path, file:// or
    anything unparsable (spaces, control characters) gives None: no label.
    """
    if remote is None or not remote.isprintable() or remote != remote.strip():
        return None
    if match := _URL_RE.fullmatch(remote):
        scheme, host, port = match["scheme"], match["host"], match["port"]
        path = match["path"] or ""
        if scheme in ("ssh", "git"):
            scheme, port = "https", None
        scheme = "https"  # the label is a web page: http's own port is kept
        # ssh://host/~user/repo is a home-relative path: no web page says where.
        if path.startswith("/~"):
            return None
    elif "://" not in remote and (match := _SCP_RE.fullmatch(remote)):
        scheme, host, port = "https", match["host"], None
        path = "/" + match["path"].lstrip("/")
        if len(host) == 1:  # C:\repo, a Windows drive
            return None
    else:
        return None
    path = path.rstrip("/").removesuffix(".git").rstrip("/")
    if not path.strip("/"):
        return None
    url = f"{scheme}://{host}{f':{port}' if port else ''}{path}"
    return url if _HTTPS_URL.fullmatch(url) else None


def for_terminal(text: str) -> str:
    """Text safe to print: every control character but newline and tab is shown escaped
    (\\x1b, \\u202e), so nothing from a project can move the cursor or recolour a screen."""

    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        if char in "\n\t":
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(escape, text)


def one_line(text: str) -> str:
    """for_terminal, with newlines escaped too: for a value printed on one line."""
    return for_terminal(text.replace("\n", "\\n").replace("\t", " "))


def matching(value: object, pattern: re.Pattern[str], what: str, where: str, hint: str) -> str:
    """VALUE as a string that PATTERN matches whole, or one error saying what and where."""
    text = _string(value, what, where, None, 1024)
    if not pattern.fullmatch(text):
        fail(what, text, where, hint)
    return text


def string(value: object, what: str, where: str, max_len: int) -> str:
    """VALUE as a string of at most MAX_LEN characters, or one error saying what and where."""
    return _string(value, what, where, None, max_len)


# ---------------------------------------------------------------- JSON


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def loads_json(text: str) -> Any:
    """JSON as the standard has it: NaN, Infinity and numbers that overflow to inf refused."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
