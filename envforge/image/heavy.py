"""The heavy packages: installed first, in a layer of their own, from the lock's pins and hashes.

torch, nvidia-*, triton, jaxlib and tensorflow wheels weigh hundreds of MB each and change far
less often than the rest of a lock. The BuildKit Dockerfile installs every package whose wheel
for the image is at least HEAVY_MB (uv.lock records each wheel's size) in one RUN that names
only their exact versions and hashes, so that a lock change which leaves them alone reuses that
layer and re-syncs only the small rest on top. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envforge.image.decision import Decision
from envforge.image.selection import Selection
from envforge.project.installset import Target, installed_packages
from envforge.project.lockfile import Lock, LockedPackage
from envforge.project.wheeltags import UNKNOWN_GLIBC, wheel_fits

# The default ([tool.envforge] heavy-wheel-mb): a wheel this big (compressed) gets the heavy
# layer: torch, every nvidia-* library, triton, jaxlib, tensorflow, and numpy, scipy, pandas
# (each 10-40 MB, 50-150 MB installed); not scikit-learn (9 MB) or the many small ones.
# Measured on examples/gpu-torch: at 50 MB, nvrtc, nvjitlink and numpy stayed in the sync
# layer, which a lock change then re-exported at 530 MB.
HEAVY_MB = 10
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # canonical: all that may reach the RUN line


@dataclass(frozen=True, kw_only=True)
class HeavyPin:
    name: str  # canonical
    version: str
    index: str  # the registry the lock took it from: uv pip install --index-url
    hashes: tuple[str, ...]  # of the lock's wheels that fit the image
    size: int  # bytes of the largest of them

    @property
    def requirement(self) -> str:
        """One line of a requirements file, as uv pip install --require-hashes reads it."""
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


def _index(pkg: LockedPackage) -> str | None:
    """The package's registry when it is a remote index; a local one (a folder) is not pinned."""
    url = pkg.source.get("registry")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in url):
        return None
    return url


def _pin(
    pkg: LockedPackage, python: str, glibc: tuple[int, int], threshold: int
) -> HeavyPin | None:
    """pkg as a heavy pin, when its wheel for the image is heavy and fully recorded."""
    index, name = _index(pkg), canonicalize_name(pkg.name)
    if index is None or pkg.version is None or not _NAME.fullmatch(name):
        return None
    try:
        Version(pkg.version)
    except InvalidVersion:
        return None
    fitting = [w for w in pkg.wheels if wheel_fits(w.ref, python, glibc)]
    if not fitting or any(w.hash is None or not _HASH.fullmatch(w.hash) for w in fitting):
        return None  # without every fitting wheel's hash, uv could not check the one it takes
    size = max(w.size or 0 for w in fitting)
    if size < threshold:
        return None
    hashes = tuple(sorted({w.hash for w in fitting if w.hash}))
    return HeavyPin(name=name, version=pkg.version, index=index, hashes=hashes, size=size)


def heavy_pins(
    lock: Lock, target: Target, python: str, selection: Selection, heavy_mb: int = HEAVY_MB
) -> tuple[HeavyPin, ...]:
    """The heavy packages the image installs, by name. The glibc is the oldest a catalog base
    has: a wheel that needs a newer one is left to uv sync, which picks for the real base."""
    if lock.root is None or heavy_mb <= 0:
        return ()
    installed = installed_packages(lock, target, extras=selection.extras, groups=selection.groups)
    threshold = heavy_mb * 1_000_000
    pins = (_pin(pkg, python, UNKNOWN_GLIBC, threshold) for _, pkg in sorted(installed.items()))
    return tuple(p for p in pins if p is not None)


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.0f} MB"


def heavy_decision(
    pins: tuple[HeavyPin, ...], why_not: str | None, heavy_mb: int = HEAVY_MB
) -> Decision | None:
    """The plan's line on the split: which packages, how big, or why there is none."""
    if why_not:
        return Decision("heavy layer", "none", why_not) if pins else None
    if not pins:
        return None
    total = sum(p.size for p in pins)
    biggest = sorted(pins, key=lambda p: -p.size)[:3]
    named = ", ".join(f"{p.name} {p.version} ({_mb(p.size)})" for p in biggest)
    more = f" and {len(pins) - len(biggest)} more" if len(pins) > len(biggest) else ""
    return Decision(
        "heavy layer",
        f"{len(pins)} package{'s' if len(pins) != 1 else ''}, {_mb(total)} of wheels",
        f"{named}{more}: each wheel for the image is over {heavy_mb} MB "
        "([tool.envforge] heavy-wheel-mb), so they are "
        "installed first, from uv.lock's exact versions and hashes, in a layer of their own; "
        "a lock change that leaves them alone re-syncs only the rest on top",
    )
