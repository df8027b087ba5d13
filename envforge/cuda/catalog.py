"""The CUDA catalog: drivers, GPU architectures, framework builds and nvidia/cuda images.

Package data (envforge/data/cuda.yaml), validated when loaded: ``CudaCatalog.from_dict`` is
pure; ``load_cuda_catalog`` reads the copy shipped in the package. Every row names its
source, and the rows (or parts of rows) not confirmed against a primary source say so, so a
finding built on them can say so too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

from envforge.errors import CatalogError

CUDA_CATALOG_SCHEMA = 1
FAMILIES = (
    "Kepler",
    "Maxwell",
    "Pascal",
    "Volta",
    "Turing",
    "Ampere",
    "Ada",
    "Hopper",
    "Blackwell",
)
CUDNN_TAG_WORDS = ("cudnn8", "cudnn9", "cudnn")
IMAGE_KINDS = ("base", "runtime", "devel", "cudnn-runtime", "cudnn-devel")

_DRIVER_RE = re.compile(r"^\d{3}(?:\.\d{1,3}){0,2}\Z")
_CUDA_MINOR_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\Z")
_CUDA_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})(?:\.(\d{1,3}))?\Z")
_SM_RE = re.compile(r"^(\d{1,2})\.(\d)\Z")
_SM_LOOSE_RE = re.compile(r"^(?:sm_)?(\d{1,2})(\d)\Z")
_VARIANT_RE = re.compile(r"^cu(\d{1,2})(\d)\Z")
_COMPONENT_RE = re.compile(r"^\d+(?:\.\d+){1,3}\Z")
_RELEASE_RE = re.compile(r"^\d+(?:\.\d+){0,3}\Z")
_WILDCARD_RE = re.compile(r"^(\d+)\.(\d+)\.\*\Z")
_UBUNTU_RE = re.compile(r"^\d{2}\.\d{2}\Z")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
_OPERATORS = (">=", "<=", ">", "<")


# --- driver versions ------------------------------------------------------------------


def parse_driver_version(text: str) -> tuple[int, ...]:
    """'580.159.04' -> (580, 159, 4); '580' -> (580,). Raises ValueError for anything else.

    Tuples compare part by part as numbers ('580.95.05' < '580.159.04'), and a branch alone
    ('580') sorts before every release of it, so ``parse(host) >= parse(floor)`` works.
    """
    stripped = text.strip() if isinstance(text, str) else ""
    if not _DRIVER_RE.match(stripped):
        raise ValueError(f"Not an NVIDIA driver version: {text!r}")
    return tuple(int(part) for part in stripped.split("."))


@dataclass(frozen=True, order=True)
class DriverVersion:
    """An NVIDIA driver version, ordered by its numeric parts."""

    parts: tuple[int, ...]
    text: str = field(compare=False)

    @classmethod
    def parse(cls, text: str) -> DriverVersion:
        return cls(parse_driver_version(text), text.strip())

    def __str__(self) -> str:
        return self.text


# --- SMs and CUDA versions ------------------------------------------------------------


def normalize_sm(text: str) -> str | None:
    """'9.0', 'sm_90', '90', 'sm_120' -> '9.0' / '12.0'; None when it is none of these."""
    if not isinstance(text, str):
        return None
    stripped = text.strip().lower()
    match = _SM_RE.match(stripped) or _SM_LOOSE_RE.match(stripped)
    return f"{int(match[1])}.{match[2]}" if match else None


def _sm_tuple(sm: str) -> tuple[int, int] | None:
    normal = normalize_sm(sm)
    if normal is None:
        return None
    major, minor = normal.split(".")
    return int(major), int(minor)


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


def cuda_for_variant(variant: str) -> str | None:
    """The CUDA major.minor of a PyTorch index variant: 'cu124' -> '12.4'; None for 'cpu'."""
    match = _VARIANT_RE.match(variant) if isinstance(variant, str) else None
    return f"{int(match[1])}.{match[2]}" if match else None


def _cuda_tuple(text: str) -> tuple[int, int, int | None] | None:
    match = _CUDA_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    return int(match[1]), int(match[2]), None if match[3] is None else int(match[3])


def _minor_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


# --- version sets ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Interval:
    lo: Version | None
    lo_open: bool
    hi: Version | None
    hi_open: bool

    def contains(self, v: Version) -> bool:
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return not (self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)))

    def before(self, other: _Interval) -> bool:
        """Whether this interval ends before ``other`` starts."""
        if self.hi is None or other.lo is None:
            return False
        return self.hi < other.lo or (self.hi == other.lo and (self.hi_open or other.lo_open))


@dataclass(frozen=True)
class VersionSet:
    """Releases written as in the reference: "2.5.1", "2.1.2-2.3.1", "2.7.*", ">=12.4.1",
    comma-separated alternatives. Matched by version comparison, never by string."""

    text: str
    intervals: tuple[_Interval, ...]

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


def _interval(part: str) -> _Interval:
    wildcard = _WILDCARD_RE.match(part)
    if wildcard:
        major, minor = int(wildcard[1]), int(wildcard[2])
        lo, hi = Version(f"{major}.{minor}.dev0"), Version(f"{major}.{minor + 1}.dev0")
        return _Interval(lo, False, hi, True)
    for op in _OPERATORS:
        if part.startswith(op):
            v = _release(part[len(op) :].strip())
            if op.startswith(">"):
                return _Interval(v, op == ">", None, False)
            return _Interval(None, False, v, op == "<")
    if part.count("-") == 1:
        first, last = (_release(p.strip()) for p in part.split("-"))
        if first > last:
            raise ValueError(part)
        return _Interval(first, False, last, False)
    v = _release(part)
    return _Interval(v, False, v, False)


def _version_set(value: Any, where: str) -> VersionSet:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"Invalid version set {value!r} in '{where}'")
    try:
        intervals = tuple(_interval(p.strip()) for p in value.split(","))
    except (InvalidVersion, ValueError):
        raise CatalogError(f"Invalid version set {value!r} in '{where}'") from None
    return VersionSet(value, intervals)


def _check_overlaps(rows: Sequence[tuple[str, VersionSet]], what: str) -> None:
    for i, (where_a, a) in enumerate(rows):
        for where_b, b in rows[i + 1 :]:
            if a.overlaps(b):
                raise CatalogError(
                    f"Overlapping {what} rows: '{where_a}' ({a.text}) and '{where_b}' ({b.text})"
                )


# --- rows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Toolkit:
    """The driver a CUDA minor release needs: its GA release's, and each update's."""

    cuda: str
    driver: str
    updates: Mapping[str, str]
    source: str
    unverified: frozenset[str] = frozenset()

    @property
    def verified(self) -> bool:
        return not self.unverified


@dataclass(frozen=True)
class ToolkitDriver:
    """The driver CUDA ``cuda`` needs for full support, and whose requirement it is."""

    cuda: str
    release: str  # "12.4" (the GA release) or the update it belongs to, "12.4.1"
    driver: str
    verified: bool
    source: str


@dataclass(frozen=True)
class MinorCompat:
    major: int
    driver: str
    source: str


@dataclass(frozen=True)
class CompatLimit:
    text: str
    source: str
    verified: bool = True


@dataclass(frozen=True)
class Architecture:
    sm: str
    family: str
    examples: tuple[str, ...]
    first_cuda: str | None
    removed_in: str | None
    source: str
    verified: bool = True

    @property
    def label(self) -> str:
        """'sm_90', the name compilers and torch.cuda.get_arch_list() use."""
        return "sm_" + self.sm.replace(".", "")


@dataclass(frozen=True)
class TorchRow:
    torch: VersionSet
    variants: tuple[str, ...] | None
    cudart: str
    cudnn: str | None
    cudnn_range: tuple[str, str] | None
    arch_list: tuple[str, ...] | None
    ptx: bool
    source: str
    unverified: frozenset[str] = frozenset()


@dataclass(frozen=True)
class IndexArchList:
    torch: VersionSet | None
    variant: str
    arch_list: tuple[str, ...]
    ptx: bool
    source: str
    verified: bool = True


@dataclass(frozen=True)
class TorchBuild:
    """One torch wheel: the PyPI default build (variant None), or +cuNNN / +cpu from the
    PyTorch index. None in a field means the catalog does not know it."""

    torch: str
    variant: str | None
    cuda: str | None
    cudart: str | None
    cudnn: str | None
    cudnn_range: tuple[str, str] | None
    arch_list: tuple[str, ...] | None
    ptx: bool
    verified: bool
    source: str
    arch_source: str | None = None

    def runs_on(self, sm: str) -> bool | None:
        """Whether this build has kernels for compute capability ``sm`` (None: unknown)."""
        if self.arch_list is None:
            return None
        return arch_list_runs_on(self.arch_list, self.ptx, sm)


@dataclass(frozen=True)
class RuntimeWheel:
    wheel: str
    cuda: str
    source: str


@dataclass(frozen=True)
class TensorflowRow:
    tensorflow: VersionSet
    cuda: str
    cudnn: str
    source: str
    verified: bool = True


@dataclass(frozen=True)
class TensorflowBuild:
    tensorflow: str
    cuda: str
    cudnn: str
    verified: bool
    source: str


@dataclass(frozen=True)
class CudnnTagWord:
    cuda: VersionSet
    word: str
    source: str
    verified: bool = True


@dataclass(frozen=True)
class UbuntuVersions:
    cuda: VersionSet
    versions: tuple[str, ...]
    source: str
    verified: bool = True


@dataclass(frozen=True)
class ImageRelease:
    cuda: str
    cudnn: str | None
    digest: str | None
    source: str
    verified: bool = True


@dataclass(frozen=True)
class CudaImage:
    """What the catalog knows of the nvidia/cuda images of one CUDA release."""

    cuda: str
    cudnn: str | None
    cudnn_tag: str | None
    ubuntu: tuple[str, ...] | None
    digest: str | None
    verified: bool
    sources: tuple[str, ...]

    def tag(self, kind: str, ubuntu: str) -> str:
        """'12.4.1-cudnn-runtime-ubuntu22.04'; ``kind`` is one of IMAGE_KINDS."""
        if kind not in IMAGE_KINDS:
            raise ValueError(f"Unknown nvidia/cuda image kind {kind!r}")
        if not _UBUNTU_RE.match(ubuntu):
            raise ValueError(f"Not an Ubuntu version: {ubuntu!r}")
        if kind.startswith("cudnn"):
            if self.cudnn_tag is None:
                raise ValueError(f"The cuDNN tag word of CUDA {self.cuda} images is unknown")
            kind = self.cudnn_tag + kind[len("cudnn") :]
        return f"{self.cuda}-{kind}-ubuntu{ubuntu}"


# --- the catalog ----------------------------------------------------------------------


@dataclass(frozen=True)
class CudaCatalog:
    revision: int
    updated: str
    sources: Mapping[str, str]
    toolkits: tuple[Toolkit, ...]
    minor_compat: tuple[MinorCompat, ...]
    compat_limits: tuple[CompatLimit, ...]
    architectures: tuple[Architecture, ...]
    torch: tuple[TorchRow, ...]
    index_arch_lists: tuple[IndexArchList, ...]
    runtime_rule: str
    runtime_wheels: tuple[RuntimeWheel, ...]
    tensorflow: tuple[TensorflowRow, ...]
    cudnn_tags: tuple[CudnnTagWord, ...]
    ubuntu: tuple[UbuntuVersions, ...]
    image_releases: tuple[ImageRelease, ...]

    # drivers

    def cudas(self) -> list[str]:
        """Every CUDA minor release with a toolkit row, oldest first."""
        return sorted((t.cuda for t in self.toolkits), key=_minor_tuple)

    def toolkit(self, cuda: str) -> Toolkit | None:
        """The row of CUDA ``cuda`` ("12.4" or "12.4.1")."""
        parts = _cuda_tuple(cuda)
        if parts is None:
            return None
        return next((t for t in self.toolkits if _minor_tuple(t.cuda) == parts[:2]), None)

    def toolkit_driver_info(self, cuda: str) -> ToolkitDriver | None:
        """The driver CUDA ``cuda`` needs for full support: the update's own when Table 3
        lists it, else that of the nearest earlier listed update, else the GA driver."""
        parts = _cuda_tuple(cuda)
        row = self.toolkit(cuda)
        if parts is None or row is None:
            return None
        release, driver = row.cuda, row.driver
        patch = parts[2]
        if patch is not None:
            for key, value in sorted(row.updates.items(), key=lambda kv: int(kv[0].split(".")[2])):
                if int(key.split(".")[2]) <= patch:
                    release, driver = key, value
        verified = ("driver" if release == row.cuda else release) not in row.unverified
        return ToolkitDriver(cuda.strip(), release, driver, verified, row.source)

    def toolkit_driver(self, cuda: str) -> str | None:
        """'12.4' -> '550.54.14'; '12.4.1' -> '550.54.15'. See toolkit_driver_info."""
        info = self.toolkit_driver_info(cuda)
        return info.driver if info else None

    def minor_compat_floor(self, major: int) -> str | None:
        """The oldest driver that runs CUDA ``major``.x under minor-version compatibility."""
        return next((m.driver for m in self.minor_compat if m.major == major), None)

    # GPUs

    def architecture(self, sm: str) -> Architecture | None:
        """The row of compute capability ``sm`` ('9.0', 'sm_90')."""
        normal = normalize_sm(sm)
        return next((a for a in self.architectures if a.sm == normal), None)

    def cuda_supports_sm(self, cuda: str, sm: str) -> bool | None:
        """Whether CUDA ``cuda`` can build for and run on SM ``sm``; None when unknown
        (an SM or a CUDA the catalog does not know, or no bound that decides)."""
        parts = _cuda_tuple(cuda)
        arch = self.architecture(sm)
        if parts is None or arch is None:
            return None
        version = parts[:2]
        if arch.removed_in is not None and version >= _minor_tuple(arch.removed_in):
            return False
        if arch.first_cuda is not None and version < _minor_tuple(arch.first_cuda):
            return False
        known = [_minor_tuple(c) for c in self.cudas()]
        if not known or version > known[-1]:
            return None  # a future CUDA may drop it
        if arch.first_cuda is None and version < known[0]:
            return None
        return True

    # frameworks

    def torch_build(self, version: str, variant: str | None = None) -> TorchBuild | None:
        """The torch build ``version`` ("2.5.1", "2.5.1+cu124") of ``variant`` (None for the
        PyPI default, "cu124", "cpu"); None when the catalog has no row for it."""
        try:
            parsed = Version(version)
        except InvalidVersion:
            return None
        if parsed.local is not None:
            if variant is not None and variant != parsed.local:
                raise ValueError(f"torch {version} is a {parsed.local} build, not {variant}")
            variant = parsed.local
        public = parsed.public
        row = next((r for r in self.torch if r.torch.contains(public)), None)
        if row is None:
            return None
        default = TorchBuild(
            torch=public,
            variant=None,
            cuda=_major_minor(row.cudart),
            cudart=row.cudart,
            cudnn=row.cudnn,
            cudnn_range=row.cudnn_range,
            arch_list=row.arch_list,
            ptx=row.ptx,
            verified=not (row.unverified & {"cudart", "cudnn", "arch_list"}),
            source=row.source,
            arch_source=row.source,
        )
        if variant is None:
            return default
        # What the default build says of its runtime, cuDNN and SMs holds of no other build.
        other = replace(
            default,
            cuda=None,
            cudart=None,
            cudnn=None,
            cudnn_range=None,
            arch_list=None,
            ptx=False,
            arch_source=None,
        )
        if variant == "cpu":
            return replace(other, variant="cpu", arch_list=(), verified=True)
        cuda = cuda_for_variant(variant)
        if cuda is None or (row.variants is not None and variant not in row.variants):
            return None
        verified = "variants" not in row.unverified
        if cuda == default.cuda:  # the PyPI default is this very build
            build = replace(default, variant=variant, verified=verified and default.verified)
        else:
            build = replace(other, variant=variant, cuda=cuda, verified=verified)
        index = self._index_arch_list(public, variant)
        if index is None:
            return build
        if cuda == default.cuda:
            verified = verified and not (row.unverified & {"cudart", "cudnn"})
        return replace(
            build,
            arch_list=index.arch_list,
            ptx=index.ptx,
            arch_source=index.source,
            verified=verified and index.verified,
        )

    def _index_arch_list(self, version: str, variant: str) -> IndexArchList | None:
        rows = [r for r in self.index_arch_lists if r.variant == variant]
        specific = [r for r in rows if r.torch is not None and r.torch.contains(version)]
        if specific:
            return specific[0]
        if not any(variant in (r.variants or ()) for r in self.torch if r.torch.contains(version)):
            return None
        return next((r for r in rows if r.torch is None), None)

    def first_torch_with_sm(self, sm: str) -> str | None:
        """The oldest torch release whose PyPI default build runs on ``sm`` (later releases
        may have dropped it again: check torch_build for the one you lock)."""
        if normalize_sm(sm) is None:
            return None
        for row in sorted(self.torch, key=lambda r: r.torch.lowest() or Version("0")):
            lowest = row.torch.lowest()
            arch_list = row.arch_list
            if lowest is not None and arch_list and arch_list_runs_on(arch_list, row.ptx, sm):
                return str(lowest)
        return None

    def cuda_for_runtime_wheel(self, version: str) -> str:
        """The CUDA of an nvidia-cuda-runtime wheel: '12.4.127' -> '12.4.1' when the catalog
        knows the update, else major.minor ('12.1.105' -> '12.1'). ValueError if invalid."""
        try:
            parsed = Version(version)
        except InvalidVersion:
            raise ValueError(f"Not an nvidia-cuda-runtime version: {version!r}") from None
        if len(parsed.release) < 2:
            raise ValueError(f"Not an nvidia-cuda-runtime version: {version!r}")
        for row in self.runtime_wheels:
            if Version(row.wheel) == Version(parsed.public):
                return row.cuda
        return f"{parsed.release[0]}.{parsed.release[1]}"

    def tensorflow_build(self, version: str) -> TensorflowBuild | None:
        """The CUDA and cuDNN tensorflow[and-cuda] ``version`` brings; None when unknown."""
        try:
            public = Version(version).public
        except InvalidVersion:
            return None
        row = next((r for r in self.tensorflow if r.tensorflow.contains(public)), None)
        if row is None:
            return None
        return TensorflowBuild(public, row.cuda, row.cudnn, row.verified, row.source)

    # images

    def cuda_image(self, cuda: str) -> CudaImage | None:
        """What is known of the nvidia/cuda images of release ``cuda`` ("12.4.1"; "12.4"
        reads as 12.4.0); None when nothing is."""
        parts = _cuda_tuple(cuda)
        if parts is None:
            return None
        release = f"{parts[0]}.{parts[1]}.{parts[2] or 0}"
        word = next((w for w in self.cudnn_tags if w.cuda.contains(release)), None)
        ubuntu = next((u for u in self.ubuntu if u.cuda.contains(release)), None)
        rel = next((r for r in self.image_releases if r.cuda == release), None)
        used: list[CudnnTagWord | UbuntuVersions | ImageRelease] = [
            x for x in (word, ubuntu, rel) if x is not None
        ]
        if not used:
            return None
        return CudaImage(
            cuda=release,
            cudnn=rel.cudnn if rel else None,
            cudnn_tag=word.word if word else None,
            ubuntu=ubuntu.versions if ubuntu else None,
            digest=rel.digest if rel else None,
            verified=all(x.verified for x in used),
            sources=tuple(dict.fromkeys(x.source for x in used)),
        )

    # every row, for checks over the whole catalog

    def row_sources(self) -> list[tuple[str, str]]:
        """(section, source) of every row."""
        groups: list[tuple[str, Iterable[Any]]] = [
            ("toolkits", self.toolkits),
            ("minor_version_compat.floors", self.minor_compat),
            ("minor_version_compat.limits", self.compat_limits),
            ("architectures", self.architectures),
            ("torch", self.torch),
            ("index_arch_lists", self.index_arch_lists),
            ("cuda_runtime_versions.releases", self.runtime_wheels),
            ("tensorflow", self.tensorflow),
            ("cuda_images.cudnn_tags", self.cudnn_tags),
            ("cuda_images.ubuntu", self.ubuntu),
            ("cuda_images.releases", self.image_releases),
        ]
        return [(name, str(row.source)) for name, rows in groups for row in rows]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CudaCatalog:
        if not isinstance(data, Mapping) or data.get("schema") != CUDA_CATALOG_SCHEMA:
            schema = data.get("schema") if isinstance(data, Mapping) else None
            raise CatalogError(
                f"Unsupported CUDA catalog schema {schema!r} in 'schema' "
                f"(this envforge reads {CUDA_CATALOG_SCHEMA})"
            )
        sources = data.get("sources")
        if not isinstance(sources, Mapping) or not sources:
            raise CatalogError("CUDA catalog has no 'sources'")
        for key, text in sources.items():
            if not isinstance(key, str) or not isinstance(text, str) or not text.strip():
                raise CatalogError(f"Source {key!r} in 'sources' needs a citation")

        toolkits = tuple(
            _toolkit(r, f"toolkits[{i}]", sources) for i, r in enumerate(_rows(data, "toolkits"))
        )
        _no_duplicates([(t.cuda, f"CUDA {t.cuda}") for t in toolkits], "toolkits")

        mvc = _section(data, "minor_version_compat")
        floors = tuple(
            _floor(r, f"minor_version_compat.floors[{i}]", sources)
            for i, r in enumerate(_rows(mvc, "floors", "minor_version_compat.floors"))
        )
        _no_duplicates([(f.major, f"CUDA {f.major}") for f in floors], "minor_version_compat")
        limits = tuple(
            _limit(r, f"minor_version_compat.limits[{i}]", sources)
            for i, r in enumerate(_rows(mvc, "limits", "minor_version_compat.limits", False))
        )

        archs = tuple(
            _architecture(r, f"architectures[{i}]", sources)
            for i, r in enumerate(_rows(data, "architectures"))
        )
        _no_duplicates([(a.sm, f"SM {a.sm}") for a in archs], "architectures")
        known_sms = frozenset(a.sm for a in archs)

        torch = tuple(
            _torch(r, f"torch[{i}]", sources, known_sms) for i, r in enumerate(_rows(data, "torch"))
        )
        _check_overlaps([(f"torch[{i}]", r.torch) for i, r in enumerate(torch)], "torch")

        index = tuple(
            _index_list(r, f"index_arch_lists[{i}]", sources, known_sms)
            for i, r in enumerate(_rows(data, "index_arch_lists", required=False))
        )
        for variant in {r.variant for r in index}:
            rows = [
                (f"index_arch_lists[{i}]", r) for i, r in enumerate(index) if r.variant == variant
            ]
            if sum(r.torch is None for _, r in rows) > 1:
                raise CatalogError(f"Duplicate index_arch_lists row for every {variant} build")
            specific = [(w, r.torch) for w, r in rows if r.torch is not None]
            _check_overlaps(specific, f"index_arch_lists {variant}")

        runtime = _section(data, "cuda_runtime_versions")
        rule = runtime.get("rule")
        if not isinstance(rule, str) or not rule.strip():
            raise CatalogError("No rule in 'cuda_runtime_versions.rule'")
        wheels = tuple(
            _runtime_wheel(r, f"cuda_runtime_versions.releases[{i}]", sources)
            for i, r in enumerate(
                _rows(runtime, "releases", "cuda_runtime_versions.releases", False)
            )
        )
        _no_duplicates([(w.wheel, f"wheel {w.wheel}") for w in wheels], "cuda_runtime_versions")

        tf = tuple(
            _tensorflow(r, f"tensorflow[{i}]", sources)
            for i, r in enumerate(_rows(data, "tensorflow", required=False))
        )
        _check_overlaps(
            [(f"tensorflow[{i}]", r.tensorflow) for i, r in enumerate(tf)], "tensorflow"
        )

        images = _section(data, "cuda_images")
        words = tuple(
            _tag_word(r, f"cuda_images.cudnn_tags[{i}]", sources)
            for i, r in enumerate(_rows(images, "cudnn_tags", "cuda_images.cudnn_tags", False))
        )
        _check_overlaps(
            [(f"cuda_images.cudnn_tags[{i}]", w.cuda) for i, w in enumerate(words)],
            "cuda_images.cudnn_tags",
        )
        ubuntu = tuple(
            _ubuntu(r, f"cuda_images.ubuntu[{i}]", sources)
            for i, r in enumerate(_rows(images, "ubuntu", "cuda_images.ubuntu", False))
        )
        _check_overlaps(
            [(f"cuda_images.ubuntu[{i}]", u.cuda) for i, u in enumerate(ubuntu)],
            "cuda_images.ubuntu",
        )
        releases = tuple(
            _image_release(r, f"cuda_images.releases[{i}]", sources)
            for i, r in enumerate(_rows(images, "releases", "cuda_images.releases", False))
        )
        _no_duplicates([(r.cuda, f"CUDA {r.cuda}") for r in releases], "cuda_images.releases")

        return cls(
            revision=int(data.get("revision", 0)),
            updated=str(data.get("updated", "")),
            sources=dict(sources),
            toolkits=toolkits,
            minor_compat=floors,
            compat_limits=limits,
            architectures=archs,
            torch=torch,
            index_arch_lists=index,
            runtime_rule=rule,
            runtime_wheels=wheels,
            tensorflow=tf,
            cudnn_tags=words,
            ubuntu=ubuntu,
            image_releases=releases,
        )


def _major_minor(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"{int(major)}.{int(minor)}"


# --- validation helpers ---------------------------------------------------------------


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = data.get(key)
    if not isinstance(section, Mapping):
        raise CatalogError(f"CUDA catalog has no '{key}' table")
    return section


def _rows(
    data: Mapping[str, Any], key: str, where: str | None = None, required: bool = True
) -> list[Any]:
    rows = data.get(key)
    if rows is None and not required:
        return []
    if not isinstance(rows, list) or (required and not rows):
        raise CatalogError(f"CUDA catalog has no '{where or key}' rows")
    return rows


def _table(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"'{where}' must be a table")
    return raw


def _no_duplicates(keys: Sequence[tuple[object, str]], section: str) -> None:
    seen: set[object] = set()
    for key, label in keys:
        if key in seen:
            raise CatalogError(f"Duplicate {section} row for {label}")
        seen.add(key)


def _source(value: Any, sources: Mapping[str, str], where: str) -> str:
    if not isinstance(value, str) or value not in sources:
        raise CatalogError(f"Unknown source {value!r} in '{where}'")
    return value


def _quote_hint(value: Any) -> str:
    return (
        " (quote it in YAML)"
        if isinstance(value, float | int) and not isinstance(value, bool)
        else ""
    )


def _driver(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DRIVER_RE.match(value):
        raise CatalogError(f"Invalid driver version {value!r} in '{where}'{_quote_hint(value)}")
    return value


def _cuda_minor(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _CUDA_MINOR_RE.match(value):
        raise CatalogError(f"Invalid CUDA version {value!r} in '{where}'{_quote_hint(value)}")
    return value


def _cuda_release(value: Any, where: str) -> str:
    parts = _cuda_tuple(value) if isinstance(value, str) else None
    if parts is None or parts[2] is None:
        raise CatalogError(f"Invalid CUDA release {value!r} in '{where}'{_quote_hint(value)}")
    return str(value)


def _optional_cuda_minor(value: Any, where: str) -> str | None:
    return None if value is None else _cuda_minor(value, where)


def _component(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not _COMPONENT_RE.match(value):
        raise CatalogError(f"Invalid {what} version {value!r} in '{where}'{_quote_hint(value)}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogError(f"'{where}' must be true or false, not {value!r}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogError(f"'{where}' must be a list of strings")
    return tuple(value)


def _unverified(row: Mapping[str, Any], where: str, parts: Iterable[str]) -> frozenset[str]:
    """The parts of a row not verified: none, the ones `unverified` names, or all of them."""
    verified = _bool(row.get("verified", True), f"{where}.verified")
    named = row.get("unverified")
    if named is None:
        return frozenset() if verified else frozenset(parts)
    if verified:
        raise CatalogError(f"'{where}.unverified' needs 'verified: false'")
    allowed = set(parts)
    for name in _strings(named, f"{where}.unverified"):
        if name not in allowed:
            raise CatalogError(f"Unknown part {name!r} in '{where}.unverified'")
    return frozenset(named)


def _sm(value: Any, where: str, known: frozenset[str] | None = None) -> str:
    if not isinstance(value, str) or not _SM_RE.match(value):
        hint = " (write PTX as 'ptx: true')" if isinstance(value, str) and "PTX" in value else ""
        raise CatalogError(f"Invalid SM {value!r} in '{where}'{hint or _quote_hint(value)}")
    if known is not None and value not in known:
        raise CatalogError(f"Unknown SM {value!r} in '{where}' (not in 'architectures')")
    return value


def _arch_list(value: Any, where: str, known: frozenset[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise CatalogError(f"'{where}' must be a list of SMs")
    sms = tuple(_sm(v, f"{where}[{i}]", known) for i, v in enumerate(value))
    if list(sms) != sorted(set(sms), key=_minor_tuple):
        raise CatalogError(f"'{where}' must list each SM once, oldest first")
    return sms


def _toolkit(raw: Any, where: str, sources: Mapping[str, str]) -> Toolkit:
    row = _table(raw, where)
    cuda = _cuda_minor(row.get("cuda"), f"{where}.cuda")
    driver = _driver(row.get("driver"), f"{where}.driver")
    raw_updates = row.get("updates", {})
    if not isinstance(raw_updates, Mapping):
        raise CatalogError(f"'{where}.updates' must be a table")
    updates: dict[str, str] = {}
    for key, value in raw_updates.items():
        if not isinstance(key, str) or not re.fullmatch(re.escape(cuda) + r"\.[1-9]\d?", key):
            raise CatalogError(f"'{where}.updates' key {key!r} is not a CUDA {cuda} update")
        updates[key] = _driver(value, f'{where}.updates["{key}"]')
    previous = driver
    for key in sorted(updates, key=lambda k: int(k.split(".")[2])):
        if parse_driver_version(updates[key]) < parse_driver_version(previous):
            raise CatalogError(
                f"Driver {updates[key]} of CUDA {key} in '{where}.updates' is older than "
                f"{previous}, the driver of an earlier {cuda} release"
            )
        previous = updates[key]
    return Toolkit(
        cuda=cuda,
        driver=driver,
        updates=updates,
        source=_source(row.get("source"), sources, f"{where}.source"),
        unverified=_unverified(row, where, ["driver", *updates]),
    )


def _floor(raw: Any, where: str, sources: Mapping[str, str]) -> MinorCompat:
    row = _table(raw, where)
    major = row.get("major")
    if not isinstance(major, int) or isinstance(major, bool) or not 1 <= major <= 99:
        raise CatalogError(f"Invalid CUDA major {major!r} in '{where}.major'")
    driver = _driver(row.get("driver"), f"{where}.driver")
    _unverified(row, where, ["driver"])
    return MinorCompat(major, driver, _source(row.get("source"), sources, f"{where}.source"))


def _limit(raw: Any, where: str, sources: Mapping[str, str]) -> CompatLimit:
    row = _table(raw, where)
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CatalogError(f"No text in '{where}.text'")
    return CompatLimit(
        text,
        _source(row.get("source"), sources, f"{where}.source"),
        not _unverified(row, where, ["text"]),
    )


def _architecture(raw: Any, where: str, sources: Mapping[str, str]) -> Architecture:
    row = _table(raw, where)
    sm = _sm(row.get("sm"), f"{where}.sm")
    family = row.get("family")
    if family not in FAMILIES:
        raise CatalogError(f"Unknown architecture family {family!r} in '{where}.family'")
    first = _optional_cuda_minor(row.get("first_cuda"), f"{where}.first_cuda")
    removed = _optional_cuda_minor(row.get("removed_in"), f"{where}.removed_in")
    if first is not None and removed is not None and _minor_tuple(first) >= _minor_tuple(removed):
        raise CatalogError(f"'{where}': first_cuda {first} is not before removed_in {removed}")
    return Architecture(
        sm=sm,
        family=str(family),
        examples=_strings(row.get("examples", []), f"{where}.examples"),
        first_cuda=first,
        removed_in=removed,
        source=_source(row.get("source"), sources, f"{where}.source"),
        verified=not _unverified(row, where, ["examples", "first_cuda", "removed_in"]),
    )


def _torch(raw: Any, where: str, sources: Mapping[str, str], known_sms: frozenset[str]) -> TorchRow:
    row = _table(raw, where)
    spec = _version_set(row.get("torch"), f"{where}.torch")
    variants: tuple[str, ...] | None = None
    if row.get("variants") is not None:
        variants = _strings(row["variants"], f"{where}.variants")
        for i, variant in enumerate(variants):
            if not _VARIANT_RE.match(variant):
                raise CatalogError(f"Invalid variant {variant!r} in '{where}.variants[{i}]'")
    cudart = _component(row.get("cudart"), f"{where}.cudart", "nvidia-cuda-runtime")
    cudnn = (
        None if row.get("cudnn") is None else _component(row["cudnn"], f"{where}.cudnn", "cuDNN")
    )
    cudnn_range: tuple[str, str] | None = None
    if row.get("cudnn_range") is not None:
        bounds = row["cudnn_range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise CatalogError(f"'{where}.cudnn_range' must be [oldest, newest]")
        lo, hi = (_component(b, f"{where}.cudnn_range", "cuDNN") for b in bounds)
        if Version(lo) > Version(hi):
            raise CatalogError(f"'{where}.cudnn_range' must be [oldest, newest]")
        cudnn_range = (lo, hi)
    arch_list = None
    if row.get("arch_list") is not None:
        arch_list = _arch_list(row["arch_list"], f"{where}.arch_list", known_sms)
    ptx = _bool(row.get("ptx", False), f"{where}.ptx")
    if ptx and arch_list is None:
        raise CatalogError(f"'{where}.ptx' needs an arch_list")
    return TorchRow(
        torch=spec,
        variants=variants,
        cudart=cudart,
        cudnn=cudnn,
        cudnn_range=cudnn_range,
        arch_list=arch_list,
        ptx=ptx,
        source=_source(row.get("source"), sources, f"{where}.source"),
        unverified=_unverified(row, where, ["variants", "cudart", "cudnn", "arch_list"]),
    )


def _index_list(
    raw: Any, where: str, sources: Mapping[str, str], known_sms: frozenset[str]
) -> IndexArchList:
    row = _table(raw, where)
    spec = None if row.get("torch") is None else _version_set(row["torch"], f"{where}.torch")
    variant = row.get("variant")
    if not isinstance(variant, str) or not _VARIANT_RE.match(variant):
        raise CatalogError(f"Invalid variant {variant!r} in '{where}.variant'")
    return IndexArchList(
        torch=spec,
        variant=variant,
        arch_list=_arch_list(row.get("arch_list"), f"{where}.arch_list", known_sms),
        ptx=_bool(row.get("ptx", False), f"{where}.ptx"),
        source=_source(row.get("source"), sources, f"{where}.source"),
        verified=not _unverified(row, where, ["arch_list"]),
    )


def _runtime_wheel(raw: Any, where: str, sources: Mapping[str, str]) -> RuntimeWheel:
    row = _table(raw, where)
    wheel = _component(row.get("wheel"), f"{where}.wheel", "nvidia-cuda-runtime")
    cuda = _cuda_release(row.get("cuda"), f"{where}.cuda")
    if _major_minor(wheel) != _major_minor(cuda):
        raise CatalogError(f"'{where}': wheel {wheel} is not a CUDA {_major_minor(cuda)} runtime")
    _unverified(row, where, ["cuda"])
    return RuntimeWheel(wheel, cuda, _source(row.get("source"), sources, f"{where}.source"))


def _tensorflow(raw: Any, where: str, sources: Mapping[str, str]) -> TensorflowRow:
    row = _table(raw, where)
    return TensorflowRow(
        tensorflow=_version_set(row.get("tensorflow"), f"{where}.tensorflow"),
        cuda=_cuda_minor(row.get("cuda"), f"{where}.cuda"),
        cudnn=_component(row.get("cudnn"), f"{where}.cudnn", "cuDNN"),
        source=_source(row.get("source"), sources, f"{where}.source"),
        verified=not _unverified(row, where, ["cuda", "cudnn"]),
    )


def _tag_word(raw: Any, where: str, sources: Mapping[str, str]) -> CudnnTagWord:
    row = _table(raw, where)
    word = row.get("word")
    if word not in CUDNN_TAG_WORDS:
        raise CatalogError(f"Unknown cuDNN tag word {word!r} in '{where}.word'")
    return CudnnTagWord(
        cuda=_version_set(row.get("cuda"), f"{where}.cuda"),
        word=str(word),
        source=_source(row.get("source"), sources, f"{where}.source"),
        verified=not _unverified(row, where, ["word"]),
    )


def _ubuntu(raw: Any, where: str, sources: Mapping[str, str]) -> UbuntuVersions:
    row = _table(raw, where)
    versions = _strings(row.get("versions"), f"{where}.versions")
    for i, v in enumerate(versions):
        if not _UBUNTU_RE.match(v):
            raise CatalogError(f"Invalid Ubuntu version {v!r} in '{where}.versions[{i}]'")
    return UbuntuVersions(
        cuda=_version_set(row.get("cuda"), f"{where}.cuda"),
        versions=versions,
        source=_source(row.get("source"), sources, f"{where}.source"),
        verified=not _unverified(row, where, ["versions"]),
    )


def _image_release(raw: Any, where: str, sources: Mapping[str, str]) -> ImageRelease:
    row = _table(raw, where)
    cudnn = (
        None if row.get("cudnn") is None else _component(row["cudnn"], f"{where}.cudnn", "cuDNN")
    )
    digest = row.get("digest")
    if digest is not None and (not isinstance(digest, str) or not _DIGEST_RE.match(digest)):
        raise CatalogError(f"Invalid digest {digest!r} in '{where}.digest'")
    return ImageRelease(
        cuda=_cuda_release(row.get("cuda"), f"{where}.cuda"),
        cudnn=cudnn,
        digest=digest,
        source=_source(row.get("source"), sources, f"{where}.source"),
        verified=not _unverified(row, where, ["cudnn", "digest"]),
    )


@cache
def load_cuda_catalog() -> CudaCatalog:
    import yaml

    text = resources.files("envforge").joinpath("data/cuda.yaml").read_text("utf-8")
    return CudaCatalog.from_dict(yaml.safe_load(text))
