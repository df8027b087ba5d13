"""cuda.yaml into the catalog's model: the shape read through ``envforge.fields.Fields``,
and the domain checks that remain (versions, SMs, sources, overlaps) on top.

Pure. Every error is a CatalogError that names the place in the file ('torch[3].arch_list[2]'):
the catalog is envforge's own package data, so a bad row is a bug in envforge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from envforge.cuda.catalog import CudaCatalog
from envforge.cuda.rows import (
    CUDNN_TAG_WORDS,
    FAMILIES,
    UBUNTU_RE,
    Architecture,
    CudnnTag,
    ImageRelease,
    IndexArchList,
    MinorCompat,
    RuntimeWheel,
    Toolkit,
    TorchRow,
    UbuntuVersions,
)
from envforge.cuda.versions import (
    CUDA_MINOR_RE,
    DRIVER_RE,
    SM_RE,
    VARIANT_RE,
    VersionSet,
    cuda_tuple,
    major_minor,
    minor_tuple,
    parse_driver_version,
)
from envforge.errors import CatalogError
from envforge.fields import Fields

CUDA_CATALOG_SCHEMA = 1
FILE = "cuda.yaml"

_COMPONENT_RE = re.compile(r"^\d+(?:\.\d+){1,3}\Z")

T = TypeVar("T")
Check = Callable[[Any, str], T]


def catalog_from_dict(data: Mapping[str, Any]) -> CudaCatalog:
    """The catalog of parsed cuda.yaml; CatalogError at the first invalid value."""
    if not isinstance(data, Mapping) or data.get("schema") != CUDA_CATALOG_SCHEMA:
        schema = data.get("schema") if isinstance(data, Mapping) else None
        raise CatalogError(
            f"Unsupported CUDA catalog schema {schema!r} in 'schema' "
            f"(this envforge reads {CUDA_CATALOG_SCHEMA})"
        )
    top = Fields.of(data, file=FILE, error=CatalogError)
    sources = _sources(top)
    cited: list[str] = []

    def source(row: Fields) -> str:
        name = row.required("source", str)
        if name not in sources:
            raise CatalogError(f"Unknown source {name!r} in '{row.path('source')}'")
        cited.append(name)
        return name

    toolkits = tuple(_toolkit(r, source(r)) for r in _rows(top, "toolkits"))
    _no_duplicates([(t.cuda, f"CUDA {t.cuda}") for t in toolkits], "toolkits")

    mvc = top.required_table("minor_version_compat")
    floors = tuple(_floor(r, source(r)) for r in _rows(mvc, "floors"))
    _no_duplicates([(f.major, f"CUDA {f.major}") for f in floors], "minor_version_compat")

    archs = tuple(_architecture(r, source(r)) for r in _rows(top, "architectures"))
    _no_duplicates([(a.sm, f"SM {a.sm}") for a in archs], "architectures")
    known_sms = frozenset(a.sm for a in archs)

    torch_rows = _rows(top, "torch")
    torch = tuple(_torch(r, source(r), known_sms) for r in torch_rows)
    _check_overlaps([(r.where, t.torch) for r, t in zip(torch_rows, torch, strict=True)], "torch")

    index_rows = top.tables("index_arch_lists")
    index = tuple(_index_list(r, source(r), known_sms) for r in index_rows)
    _check_index_lists(list(zip((r.where for r in index_rows), index, strict=True)))

    runtime = top.required_table("cuda_runtime_versions")
    wheels = tuple(_runtime_wheel(r, source(r)) for r in runtime.tables("releases"))
    _no_duplicates([(w.wheel, f"wheel {w.wheel}") for w in wheels], "cuda_runtime_versions")

    images = top.required_table("cuda_images")
    tag_rows = images.tables("cudnn_tags")
    words = tuple(_tag_word(r, source(r)) for r in tag_rows)
    _check_overlaps(
        [(r.where, w.cuda) for r, w in zip(tag_rows, words, strict=True)],
        images.path("cudnn_tags"),
    )
    ubuntu_rows = images.tables("ubuntu")
    ubuntu = tuple(_ubuntu(r, source(r)) for r in ubuntu_rows)
    _check_overlaps(
        [(r.where, u.cuda) for r, u in zip(ubuntu_rows, ubuntu, strict=True)],
        images.path("ubuntu"),
    )
    releases = tuple(_image_release(r, source(r)) for r in images.tables("releases"))
    _no_duplicates([(r.cuda, f"CUDA {r.cuda}") for r in releases], images.path("releases"))

    unused = [name for name in sources if name not in cited]
    if unused:
        raise CatalogError(f"Source {unused[0]!r} in 'sources' is cited by no row")
    top.get("revision", int)  # bookkeeping for people who edit the file: only its type
    top.get("updated", str)
    return CudaCatalog(
        toolkits=toolkits,
        minor_compat=floors,
        architectures=archs,
        torch=torch,
        index_arch_lists=index,
        runtime_wheels=wheels,
        cudnn_tags=words,
        ubuntu=ubuntu,
        image_releases=releases,
    )


# --- sections -------------------------------------------------------------------------


def _sources(top: Fields) -> dict[str, str]:
    table = top.table("sources")
    if table is None or not table.data:
        raise CatalogError("CUDA catalog has no 'sources'")
    sources = {}
    for key, text in table.data.items():
        if not isinstance(key, str) or not isinstance(text, str) or not text.strip():
            raise CatalogError(f"Source {key!r} in 'sources' needs a citation")
        sources[key] = text
    return sources


def _rows(section: Fields, key: str) -> list[Fields]:
    """A section's array of rows, which must have one at least."""
    rows = section.tables(key)
    if not rows:
        raise CatalogError(f"CUDA catalog has no '{section.path(key)}' rows")
    return rows


def _no_duplicates(keys: Sequence[tuple[object, str]], section: str) -> None:
    seen: set[object] = set()
    for key, label in keys:
        if key in seen:
            raise CatalogError(f"Duplicate {section} row for {label}")
        seen.add(key)


def _check_overlaps(rows: Sequence[tuple[str, VersionSet]], what: str) -> None:
    for i, (where_a, a) in enumerate(rows):
        for where_b, b in rows[i + 1 :]:
            if a.overlaps(b):
                raise CatalogError(
                    f"Overlapping {what} rows: '{where_a}' ({a.text}) and '{where_b}' ({b.text})"
                )


def _check_index_lists(rows: Sequence[tuple[str, IndexArchList]]) -> None:
    """Per variant: one row for every release at most, and specific rows that do not overlap."""
    for variant in dict.fromkeys(r.variant for _, r in rows):
        mine = [(where, r) for where, r in rows if r.variant == variant]
        if sum(r.torch is None for _, r in mine) > 1:
            raise CatalogError(f"Duplicate index_arch_lists row for every {variant} build")
        specific = [(where, r.torch) for where, r in mine if r.torch is not None]
        _check_overlaps(specific, f"index_arch_lists {variant}")


# --- rows -----------------------------------------------------------------------------


def _toolkit(row: Fields, source: str) -> Toolkit:
    cuda = _need(row, "cuda", _cuda_minor)
    driver = _need(row, "driver", _driver)
    table = row.table("updates")
    raw: Mapping[str, Any] = table.data if table is not None else {}
    updates: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not re.fullmatch(re.escape(cuda) + r"\.[1-9]\d?", key):
            raise CatalogError(f"'{row.path('updates')}' key {key!r} is not a CUDA {cuda} update")
        updates[key] = _driver(value, f"'{row.path('updates')}[\"{key}\"]'")
    previous = driver
    for key in sorted(updates, key=lambda k: int(k.split(".")[2])):
        if parse_driver_version(updates[key]) < parse_driver_version(previous):
            raise CatalogError(
                f"Driver {updates[key]} of CUDA {key} in '{row.path('updates')}' is older than "
                f"{previous}, the driver of an earlier {cuda} release"
            )
        previous = updates[key]
    return Toolkit(
        cuda=cuda,
        driver=driver,
        updates=updates,
        source=source,
        unverified=_unverified(row, ["driver", *updates]),
    )


def _floor(row: Fields, source: str) -> MinorCompat:
    major = row.data.get("major")
    if not isinstance(major, int) or isinstance(major, bool) or not 1 <= major <= 99:
        raise CatalogError(f"Invalid CUDA major {major!r} in '{row.path('major')}'")
    driver = _need(row, "driver", _driver)
    _unverified(row, ["driver"])
    return MinorCompat(major=major, driver=driver, source=source)


def _architecture(row: Fields, source: str) -> Architecture:
    sm = _need(row, "sm", _sm)
    family = row.data.get("family")
    if family not in FAMILIES:
        raise CatalogError(f"Unknown architecture family {family!r} in '{row.path('family')}'")
    first = row.checked("first_cuda", _cuda_minor)
    removed = row.checked("removed_in", _cuda_minor)
    if first is not None and removed is not None and minor_tuple(first) >= minor_tuple(removed):
        raise CatalogError(f"'{row.where}': first_cuda {first} is not before removed_in {removed}")
    _unverified(row, ["examples", "first_cuda", "removed_in"])
    return Architecture(
        sm=sm,
        family=family,
        examples=row.strings("examples"),
        first_cuda=first,
        removed_in=removed,
        source=source,
    )


def _torch(row: Fields, source: str, known_sms: frozenset[str]) -> TorchRow:
    spec = _need(row, "torch", _version_set)
    variants = None
    if row.get("variants", list) is not None:
        variants = row.strings("variants")
        for i, variant in enumerate(variants):
            if not VARIANT_RE.match(variant):
                where = row.path("variants") + f"[{i}]"
                raise CatalogError(f"Invalid variant {variant!r} in '{where}'")
    arch_list = _arch_list(row, known_sms) if row.data.get("arch_list") is not None else None
    ptx = row.get("ptx", bool, False)
    if ptx and arch_list is None:
        raise CatalogError(f"'{row.path('ptx')}' needs an arch_list")
    return TorchRow(
        torch=spec,
        variants=variants,
        cudart=_need(row, "cudart", _runtime),
        cudnn=row.checked("cudnn", _cudnn),
        arch_list=arch_list,
        ptx=ptx,
        source=source,
        unverified=_unverified(row, ["variants", "cudart", "cudnn", "arch_list"]),
    )


def _index_list(row: Fields, source: str, known_sms: frozenset[str]) -> IndexArchList:
    variant = row.data.get("variant")
    if not isinstance(variant, str) or not VARIANT_RE.match(variant):
        raise CatalogError(f"Invalid variant {variant!r} in '{row.path('variant')}'")
    return IndexArchList(
        torch=row.checked("torch", _version_set),
        variant=variant,
        arch_list=_arch_list(row, known_sms),
        ptx=row.get("ptx", bool, False),
        source=source,
        verified=not _unverified(row, ["arch_list"]),
    )


def _runtime_wheel(row: Fields, source: str) -> RuntimeWheel:
    wheel = _need(row, "wheel", _runtime)
    cuda = _need(row, "cuda", _cuda_release)
    if major_minor(wheel) != major_minor(cuda):
        raise CatalogError(
            f"'{row.where}': wheel {wheel} is not a CUDA {major_minor(cuda)} runtime"
        )
    _unverified(row, ["cuda"])
    return RuntimeWheel(wheel=wheel, cuda=cuda, source=source)


def _tag_word(row: Fields, source: str) -> CudnnTag:
    word = row.data.get("word")
    if word not in CUDNN_TAG_WORDS:
        raise CatalogError(f"Unknown cuDNN tag word {word!r} in '{row.path('word')}'")
    _unverified(row, ["word"])
    return CudnnTag(cuda=_need(row, "cuda", _version_set), word=word, source=source)


def _ubuntu(row: Fields, source: str) -> UbuntuVersions:
    versions = row.strings("versions")
    if not versions:
        raise CatalogError(f"Missing '{row.path('versions')}' in {FILE}")
    for i, v in enumerate(versions):
        if not UBUNTU_RE.match(v):
            where = row.path("versions") + f"[{i}]"
            raise CatalogError(f"Invalid Ubuntu version {v!r} in '{where}'")
    _unverified(row, ["versions"])
    return UbuntuVersions(cuda=_need(row, "cuda", _version_set), versions=versions, source=source)


def _image_release(row: Fields, source: str) -> ImageRelease:
    _unverified(row, ["cudnn"])
    return ImageRelease(
        cuda=_need(row, "cuda", _cuda_release),
        cudnn=row.checked("cudnn", _cudnn),
        source=source,
    )


# --- parts of rows --------------------------------------------------------------------


def _need(row: Fields, key: str, check: Check[T]) -> T:
    """A value that must be there, through ``check`` (which says what a missing one is)."""
    return check(row.data.get(key), f"'{row.path(key)}'")


def _unverified(row: Fields, parts: Iterable[str]) -> frozenset[str]:
    """The parts of a row not verified: none, the ones `unverified` names, or all of them."""
    verified = row.get("verified", bool, True)
    if row.get("unverified", list) is None:
        return frozenset() if verified else frozenset(parts)
    if verified:
        raise CatalogError(f"'{row.path('unverified')}' needs 'verified: false'")
    named = row.strings("unverified")
    allowed = set(parts)
    for name in named:
        if name not in allowed:
            raise CatalogError(f"Unknown part {name!r} in '{row.path('unverified')}'")
    return frozenset(named)


def _arch_list(row: Fields, known: frozenset[str]) -> tuple[str, ...]:
    value, where = row.data.get("arch_list"), row.path("arch_list")
    if not isinstance(value, list) or not value:
        raise CatalogError(f"'{where}' must be a list of SMs")
    sms = tuple(_sm(v, f"'{where}[{i}]'", known) for i, v in enumerate(value))
    if list(sms) != sorted(set(sms), key=minor_tuple):
        raise CatalogError(f"'{where}' must list each SM once, oldest first")
    return sms


def _quote_hint(value: Any) -> str:
    number = isinstance(value, float | int) and not isinstance(value, bool)
    return " (quote it in YAML)" if number else ""


def _matching(pattern: re.Pattern[str], what: str) -> Check[str]:
    def check(value: Any, where: str) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise CatalogError(f"Invalid {what} {value!r} in {where}{_quote_hint(value)}")
        return value

    return check


_driver = _matching(DRIVER_RE, "driver version")
_cuda_minor = _matching(CUDA_MINOR_RE, "CUDA version")
_runtime = _matching(_COMPONENT_RE, "nvidia-cuda-runtime version")
_cudnn = _matching(_COMPONENT_RE, "cuDNN version")


def _cuda_release(value: Any, where: str) -> str:
    parts = cuda_tuple(value) if isinstance(value, str) else None
    if parts is None or parts[2] is None:
        raise CatalogError(f"Invalid CUDA release {value!r} in {where}{_quote_hint(value)}")
    return cast(str, value)


def _sm(value: Any, where: str, known: frozenset[str] | None = None) -> str:
    if not isinstance(value, str) or not SM_RE.match(value):
        hint = " (write PTX as 'ptx: true')" if isinstance(value, str) and "PTX" in value else ""
        raise CatalogError(f"Invalid SM {value!r} in {where}{hint or _quote_hint(value)}")
    if known is not None and value not in known:
        raise CatalogError(f"Unknown SM {value!r} in {where} (not in 'architectures')")
    return value


def _version_set(value: Any, where: str) -> VersionSet:
    try:
        return VersionSet.parse(value)
    except ValueError:
        raise CatalogError(f"Invalid version set {value!r} in {where}") from None
