"""The base-image catalog: package data, validated when loaded.

``Catalog.from_dict`` is pure; ``load_catalog`` reads the copy shipped in the package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

from envforge.errors import CatalogError

CATALOG_SCHEMA = 1
PYTHON_REGISTRY = "docker.io/library/python"
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
_PY_RE = re.compile(r"^3\.\d{1,2}\Z")
_DEBIAN = ("bookworm", "trixie")


@dataclass(frozen=True, kw_only=True)
class PythonImage:
    python: str
    debian: str
    python_patch: str
    digest: str | None
    source: str
    default: bool = False

    @property
    def tag(self) -> str:
        return f"{self.python}-slim-{self.debian}"

    @property
    def name(self) -> str:
        """The reference users know, without registry prefix: python:3.11-slim-trixie."""
        return f"python:{self.tag}"


@dataclass(frozen=True, kw_only=True)
class UvImage:
    version: str
    image: str
    digest: str | None
    source: str


@dataclass(frozen=True, kw_only=True)
class Catalog:
    sources: Mapping[str, str]
    python: tuple[PythonImage, ...]
    uv: UvImage

    def pythons(self) -> list[str]:
        """Every minor version with an image, oldest first."""
        return sorted({p.python for p in self.python}, key=Version)

    def python_image(self, python: str, debian: str | None = None) -> PythonImage | None:
        rows = [p for p in self.python if p.python == python]
        if debian is not None:
            return next((p for p in rows if p.debian == debian), None)
        return next((p for p in rows if p.default), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        if data.get("schema") != CATALOG_SCHEMA:
            raise CatalogError(
                f"Unsupported catalog schema {data.get('schema')!r} in 'schema' "
                f"(this envforge reads {CATALOG_SCHEMA})"
            )
        sources = data.get("sources")
        if not isinstance(sources, Mapping) or not sources:
            raise CatalogError("Catalog has no 'sources'")
        rows = data.get("python")
        if not isinstance(rows, list) or not rows:
            raise CatalogError("Catalog has no 'python' rows")
        python = tuple(_python_row(r, i, sources) for i, r in enumerate(rows))
        seen: set[tuple[str, str]] = set()
        for row in python:
            if (row.python, row.debian) in seen:
                raise CatalogError(f"Duplicate python row for {row.name}")
            seen.add((row.python, row.debian))
        for version in {r.python for r in python}:
            defaults = [r for r in python if r.python == version and r.default]
            if len(defaults) != 1:
                raise CatalogError(
                    f"Python {version} needs exactly one default row, has {len(defaults)}"
                )
        uv = data.get("uv")
        if not isinstance(uv, Mapping):
            raise CatalogError("Catalog has no 'uv' table")
        try:
            Version(str(uv.get("version")))
        except InvalidVersion:
            raise CatalogError(f"Invalid version {uv.get('version')!r} in 'uv.version'") from None
        if not isinstance(uv.get("image"), str) or not uv["image"]:
            raise CatalogError("No image in 'uv.image'")
        return cls(
            sources=dict(sources),
            python=python,
            uv=UvImage(
                version=str(uv["version"]),
                image=str(uv["image"]),
                digest=_digest(uv.get("digest"), "uv.digest"),
                source=_source(uv.get("source"), sources, "uv.source"),
            ),
        )


def _digest(value: Any, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not _DIGEST_RE.match(value)):
        raise CatalogError(f"Invalid digest {value!r} in '{where}'")
    return value


def _source(value: Any, sources: Mapping[str, str], where: str) -> str:
    if value not in sources:
        raise CatalogError(f"Unknown source {value!r} in '{where}'")
    return str(value)


def _python_row(raw: Any, index: int, sources: Mapping[str, str]) -> PythonImage:
    where = f"python[{index}]"
    if not isinstance(raw, Mapping):
        raise CatalogError(f"'{where}' must be a table")
    python = raw.get("python")
    if not isinstance(python, str) or not _PY_RE.match(python):
        raise CatalogError(f"Invalid Python version {python!r} in '{where}.python'")
    if raw.get("debian") not in _DEBIAN:
        raise CatalogError(f"Unknown Debian release {raw.get('debian')!r} in '{where}.debian'")
    patch = str(raw.get("python_patch", ""))
    if not patch.startswith(python + "."):
        raise CatalogError(f"'{where}.python_patch' {patch!r} is not a {python} release")
    return PythonImage(
        python=python,
        debian=raw["debian"],
        python_patch=patch,
        digest=_digest(raw.get("digest"), f"{where}.digest"),
        source=_source(raw.get("source"), sources, f"{where}.source"),
        default=bool(raw.get("default", False)),
    )


@cache
def load_catalog() -> Catalog:
    from envforge import parsecache

    data = resources.files("envforge").joinpath("data/base-images.yaml").read_bytes()
    return Catalog.from_dict(parsecache.parsed_yaml("base-images.yaml", data))
