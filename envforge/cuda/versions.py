"""Version primitives of the CUDA world: NVIDIA driver versions, CUDA releases, compute
capabilities (SMs), PyTorch index variants, and the version sets the catalog's rows cover.

Pure and package-data free: the catalog's schema and the host rules build on these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

DRIVER_RE = re.compile(r"^\d{3}(?:\.\d{1,3}){0,2}\Z")
CUDA_MINOR_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\Z")
SM_RE = re.compile(r"^(\d{1,2})\.(\d)\Z")
VARIANT_RE = re.compile(r"^cu(\d{1,2})(\d)\Z")
_CUDA_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})(?:\.(\d{1,3}))?\Z")
_SM_LOOSE_RE = re.compile(r"^(?:sm_)?(\d{1,2})(\d)\Z")
_RELEASE_RE = re.compile(r"^\d+(?:\.\d+){0,3}\Z")
_WILDCARD_RE = re.compile(r"^(\d+)\.(\d+)\.\*\Z")
_OPERATORS = (">=", "<=", ">", "<")


# --- drivers and CUDA releases --------------------------------------------------------


def parse_driver_version(text: str) -> tuple[int, ...]:
    """'580.159.04' -> (580, 159, 4); '580' -> (580,). Raises ValueError for anything else.

    Tuples compare part by part as numbers ('580.95.05' < '580.159.04'), and a branch alone
    ('580') sorts before every release of it, so ``parse(host) >= parse(floor)`` works.
    """
    stripped = text.strip() if isinstance(text, str) else ""
    if not DRIVER_RE.match(stripped):
        raise ValueError(f"Not an NVIDIA driver version: {text!r}")
    return tuple(int(part) for part in stripped.split("."))


def cuda_tuple(text: str) -> tuple[int, int, int | None] | None:
    """'12.4.1' -> (12, 4, 1), '12.4' -> (12, 4, None); None when it is neither."""
    match = _CUDA_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    return int(match[1]), int(match[2]), None if match[3] is None else int(match[3])


def minor_tuple(text: str) -> tuple[int, int]:
    """(major, minor) of a version already known to have both: '12.4.1' -> (12, 4)."""
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def major_minor(version: str) -> str:
    """'12.4.127' -> '12.4' (numbers, so '12.04' reads as '12.4')."""
    major, minor = minor_tuple(version)
    return f"{major}.{minor}"


def cuda_for_variant(variant: str) -> str | None:
    """The CUDA major.minor of a PyTorch index variant: 'cu124' -> '12.4'; None for 'cpu'."""
    match = VARIANT_RE.match(variant) if isinstance(variant, str) else None
    return f"{int(match[1])}.{match[2]}" if match else None


# --- compute capabilities -------------------------------------------------------------


def normalize_sm(text: str) -> str | None:
    """'9.0', 'sm_90', '90', 'sm_120' -> '9.0' / '12.0'; None when it is none of these."""
    if not isinstance(text, str):
        return None
    stripped = text.strip().lower()
    match = SM_RE.match(stripped) or _SM_LOOSE_RE.match(stripped)
    return f"{int(match[1])}.{match[2]}" if match else None


def _sm_tuple(sm: str) -> tuple[int, int] | None:
    normal = normalize_sm(sm)
    return None if normal is None else minor_tuple(normal)


def arch_list_runs_on(arch_list: Sequence[str], ptx: bool, sm: str) -> bool:
    """Whether code built for the SMs of ``arch_list`` runs on a GPU of compute capability ``sm``.

    CUDA's binary compatibility: a cubin for X.y runs on X.z when z >= y (same major: an
    8.9 GPU runs 8.6 code, a 12.0 GPU does not run 9.0 code); PTX, shipped for the newest SM
    of the list when ``ptx``, is compiled by the driver for any newer SM. Source: CUDA C++
    Programming Guide, "Binary Compatibility" and "PTX Compatibility".
    """
    target = _sm_tuple(sm)
    if target is None:
        raise ValueError(f"Not a compute capability: {sm!r}")
    built = [t for t in (_sm_tuple(a) for a in arch_list) if t is not None]
    if any(b[0] == target[0] and b[1] <= target[1] for b in built):
        return True
    return ptx and bool(built) and target >= max(built)


# --- version sets ---------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """Releases from ``lo`` to ``hi`` (None: unbounded), each end open or closed."""

    lo: Version | None
    lo_open: bool
    hi: Version | None
    hi_open: bool

    def contains(self, v: Version) -> bool:
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return not (self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)))

    def before(self, other: Interval) -> bool:
        """Whether this interval ends before ``other`` starts."""
        if self.hi is None or other.lo is None:
            return False
        return self.hi < other.lo or (self.hi == other.lo and (self.hi_open or other.lo_open))


@dataclass(frozen=True)
class VersionSet:
    """Releases written as in the reference: "2.5.1", "2.1.2-2.3.1", "2.7.*", ">=12.4.1",
    comma-separated alternatives. Matched by version comparison, never by string."""

    text: str
    intervals: tuple[Interval, ...]

    @classmethod
    def parse(cls, text: str) -> VersionSet:
        """Raises ValueError when ``text`` is not a version set."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(text)
        try:
            return cls(text, tuple(_interval(p.strip()) for p in text.split(",")))
        except InvalidVersion:
            raise ValueError(text) from None

    def contains(self, version: str | Version) -> bool:
        try:
            v = Version(Version(version).public) if isinstance(version, str) else version
        except InvalidVersion:
            return False
        return any(i.contains(v) for i in self.intervals)

    def overlaps(self, other: VersionSet) -> bool:
        return any(
            not (a.before(b) or b.before(a)) for a in self.intervals for b in other.intervals
        )

    def lowest(self) -> Version | None:
        """The lowest release named, for a set whose every alternative has a lower bound."""
        bounds = [i.lo for i in self.intervals]
        return None if any(b is None for b in bounds) else min(b for b in bounds if b is not None)


def _release(text: str) -> Version:
    if not _RELEASE_RE.match(text):
        raise ValueError(text)
    return Version(text)


def _interval(part: str) -> Interval:
    wildcard = _WILDCARD_RE.match(part)
    if wildcard:
        major, minor = int(wildcard[1]), int(wildcard[2])
        lo, hi = Version(f"{major}.{minor}.dev0"), Version(f"{major}.{minor + 1}.dev0")
        return Interval(lo, False, hi, True)
    for op in _OPERATORS:
        if part.startswith(op):
            v = _release(part[len(op) :].strip())
            if op.startswith(">"):
                return Interval(v, op == ">", None, False)
            return Interval(None, False, v, op == "<")
    if part.count("-") == 1:
        first, last = (_release(p.strip()) for p in part.split("-"))
        if first > last:
            raise ValueError(part)
        return Interval(first, False, last, False)
    v = _release(part)
    return Interval(v, False, v, False)
