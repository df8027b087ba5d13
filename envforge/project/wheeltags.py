"""Which of a lock's files an image can install. Pure: wheel names in, verdicts out.

An image is CPython X.Y on Linux x86_64 with glibc (Debian's slim images). A wheel fits
when one of its tags is in that interpreter's tag set, as pip and uv compute it:
cpXY-cpXY, abi3 from cp32 up to cpXY, cpXY/py3X/py3-none, on `any` or a manylinux
platform no newer than the base's glibc. Free-threaded (cp313t), PyPy (pp310),
musllinux, macOS, Windows and other architectures never fit. A plain `linux_x86_64`
wheel fits too: PyPI refuses them, but other indexes serve them (the PyTorch index's
torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl) and uv and pip install them on Linux.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal
from urllib.parse import unquote, urlsplit

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from envforge.project.lockfile import LockedPackage

# glibc of the catalog's Debian releases; a named base of unknown release is taken to
# have the oldest glibc a current CUDA base has (Ubuntu 22.04's 2.35).
GLIBC = {"bookworm": (2, 36), "trixie": (2, 41)}
UNKNOWN_GLIBC = (2, 35)
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_ARCH = "x86_64"


SupportKind = Literal["wheel", "compile", "sdist", "source", "none"]


@dataclass(frozen=True)
class Support:
    """How one locked package installs on one target."""

    # "wheel": a wheel fits; "compile": an sdist, and wheels for other targets only (so it
    # has code to compile); "sdist": only an sdist (it may compile); "source": a git, path or
    # URL source uv builds; "none": nothing installs.
    kind: SupportKind
    package: str
    version: str | None


def _platforms(glibc: tuple[int, int]) -> list[str]:
    major, top = glibc
    out = [f"manylinux_{major}_{minor}_{_ARCH}" for minor in range(top, 4, -1)]
    out += [f"{legacy}_{_ARCH}" for legacy, floor in _LEGACY_MANYLINUX.items() if floor <= glibc]
    return [*out, f"linux_{_ARCH}"]


@cache
def target_tags(python: str, glibc: tuple[int, int] = GLIBC["bookworm"]) -> frozenset[Tag]:
    """The tags a standard CPython `python` ("3.12") on Linux x86_64 with `glibc` installs."""
    major, minor = (int(p) for p in python.split(".")[:2])
    version = (major, minor)
    platforms = _platforms(glibc)
    interpreter = f"cp{major}{minor}"
    tags = set(cpython_tags(version, abis=[interpreter], platforms=platforms))
    tags |= set(compatible_tags(version, interpreter, platforms))
    return frozenset(tags)


def wheel_name(entry: str) -> str:
    """The file name of a lock's wheel entry: a URL, a path or a bare filename."""
    path = urlsplit(entry).path if "://" in entry else entry
    return unquote(path.replace("\\", "/").rsplit("/", 1)[-1])


@cache
def wheel_tags(entry: str) -> frozenset[Tag]:
    """The tags a wheel's name declares; none when the name is not a wheel's."""
    try:
        return parse_wheel_filename(wheel_name(entry))[3]
    except InvalidWheelFilename:
        return frozenset()


def wheel_fits(entry: str, python: str, glibc: tuple[int, int] = GLIBC["bookworm"]) -> bool:
    return not wheel_tags(entry).isdisjoint(target_tags(python, glibc))


_SOURCE_KINDS = ("git", "path", "directory", "editable", "virtual", "url")


def support(pkg: LockedPackage, python: str, glibc: tuple[int, int] = GLIBC["bookworm"]) -> Support:
    """How uv would install pkg on CPython `python`: a wheel, a build from source, or not at all."""

    def verdict(kind: SupportKind) -> Support:
        return Support(kind, pkg.name, pkg.version)

    if any(wheel_fits(w.ref, python, glibc) for w in pkg.wheels):
        return verdict("wheel")
    if pkg.has_sdist:
        return verdict("compile" if pkg.wheels else "sdist")
    if not pkg.wheels and any(k in pkg.source for k in _SOURCE_KINDS):
        return verdict("source")  # built from its git checkout, folder or archive
    return verdict("none")


def label(found: Support) -> str:
    return f"{found.package} {found.version}" if found.version else found.package


def no_wheel(found: Support, python: str) -> str:
    """'ray 2.49.2 has no cp314 wheel', for a package without a wheel for python."""
    tag = "cp" + "".join(python.split(".")[:2])
    return f"{label(found)} has no {tag} wheel"
