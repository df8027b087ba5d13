"""The heavy packages: installed first, in a layer of their own, from the lock's pins and hashes.

torch, nvidia-*, triton, jaxlib and tensorflow wheels weigh hundreds of MB each and change far
less often than the rest of a lock. The BuildKit Dockerfile installs every package whose wheel
for the image is at least HEAVY_MB (uv.lock records each wheel's size) in one RUN that names
only their exact versions and hashes, so that a lock change which leaves them alone reuses that
layer and re-syncs only the small rest on top. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envforge.image.decision import Decision
from envforge.image.selection import Selection
from envforge.project.installset import Target, installed_packages
from envforge.project.lockfile import Lock, LockedPackage
from envforge.project.settings import HEAVY_WHEEL_MB
from envforge.project.wheeltags import UNKNOWN_GLIBC, wheel_fits

HEAVY_MB = HEAVY_WHEEL_MB  # [tool.envforge] heavy-wheel-mb's default: see its reasons there
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
# Heavy by name when the index records no size (the PyTorch index gives none): the families
# whose Linux wheels are 100 MB and more.
_HEAVY_BY_NAME = re.compile(
    r"torch|triton|jaxlib|jax-cuda\d+-plugin|tensorflow(-cpu|-gpu)?|tf-nightly|xformers"
    r"|flash-attn|vllm|onnxruntime-gpu|cupy-cuda\w+|nvidia-[a-z0-9-]+"
)
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # canonical: all that may reach the RUN line


@dataclass(frozen=True, kw_only=True)
class HeavyPin:
    name: str  # canonical
    version: str
    index: str  # the registry the lock took it from: uv pip install --index-url
    hashes: tuple[str, ...]  # of the lock's wheels that fit the image
    size: int  # bytes of the largest of them; 0 when the index recorded no size
    # False: under the threshold, but needed by a heavy one (torch's sympy, networkx, jinja2):
    # it changes when they do, and its bytecode is as slow to compile as theirs.
    heavy: bool = True

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


def _pin(pkg: LockedPackage, python: str, glibc: tuple[int, int]) -> HeavyPin | None:
    """pkg as a pin, when its wheel for the image is fully recorded (an index, its hashes)."""
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
    pins = {name: _pin(pkg, python, UNKNOWN_GLIBC) for name, pkg in installed.items()}
    threshold = heavy_mb * 1_000_000
    heavy = {
        name
        for name, pin in pins.items()
        if pin is not None
        and (pin.size >= threshold or (pin.size == 0 and _HEAVY_BY_NAME.fullmatch(name)))
    }
    # What the heavy ones need, as far as it is installed here and can be pinned: a lock
    # change that adds a small package then re-syncs only it and the project's own others.
    needed, todo = set(heavy), sorted(heavy)
    while todo:
        for edge in installed[todo.pop()].dependencies:
            name = canonicalize_name(edge.name)
            if name in installed and pins.get(name) is not None and name not in needed:
                needed.add(name)
                todo.append(name)
    return tuple(
        replace(pin, heavy=name in heavy)
        for name, pin in sorted(pins.items())
        if pin is not None and name in needed
    )


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
    big = [p for p in pins if p.heavy]
    total = sum(p.size for p in big)
    # Unsized first (torch from the PyTorch index), then the biggest.
    biggest = sorted(big, key=lambda p: (p.size != 0, -p.size))[:3]
    named = ", ".join(
        f"{p.name} {p.version} ({_mb(p.size) if p.size else 'size not recorded'})" for p in biggest
    )
    more = f" and {len(big) - len(biggest)} more" if len(big) > len(biggest) else ""
    needed = len(pins) - len(big)
    return Decision(
        "heavy layer",
        f"{len(big)} package{'s' if len(big) != 1 else ''} ({_mb(total)} of wheels)"
        + (f" and the {needed} they need" if needed else ""),
        f"{named}{more}: each wheel for the image is over {heavy_mb} MB "
        "([tool.envforge] heavy-wheel-mb), or of a family that is when its index records no "
        "size (torch, triton, nvidia-*...); they and what they need are installed first, from "
        "uv.lock's exact versions and hashes, in a layer of their own; a lock change that "
        "leaves them alone re-syncs only the rest on top",
    )
