"""The base-image catalog: the shipped data, and the validation that guards it."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from packaging.version import Version

from envforge.errors import CatalogError
from envforge.image.bases import Catalog, load_catalog

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64

VALID: dict[str, Any] = {
    "schema": 1,
    "revision": 3,
    "updated": "2026-01-01",
    "sources": {"repo-info": "docker-library/repo-info", "uv-pypi": "https://pypi.org/project/uv/"},
    "python": [
        {"python": "3.11", "debian": "bookworm", "python_patch": "3.11.9", "digest": DIGEST_A,
         "source": "repo-info"},
        {"python": "3.11", "debian": "trixie", "python_patch": "3.11.9", "digest": DIGEST_B,
         "source": "repo-info", "default": True},
        {"python": "3.9", "debian": "bookworm", "python_patch": "3.9.20", "digest": None,
         "source": "repo-info", "default": True},
    ],
    "uv": {"version": "0.13.9", "image": "ghcr.io/astral-sh/uv", "digest": None, "source": "uv-pypi"},
}  # fmt: skip


def valid() -> dict[str, Any]:
    return copy.deepcopy(VALID)


def catalog_error(data: dict[str, Any]) -> str:
    with pytest.raises(CatalogError) as info:
        Catalog.from_dict(data)
    # Package data is envforge's own: a bad catalog is a bug, not a usage error.
    assert info.value.exit_code == 1
    return str(info.value)


# --- the shipped catalog ------------------------------------------------------------


def test_shipped_catalog_loads() -> None:
    catalog = load_catalog()
    assert catalog.pythons() == sorted(catalog.pythons(), key=Version)
    assert {"3.10", "3.11", "3.12", "3.13", "3.14"} <= set(catalog.pythons())
    assert catalog.uv.image == "ghcr.io/astral-sh/uv"
    assert Version(catalog.uv.version)


def test_every_shipped_python_row_is_pinned_by_digest() -> None:
    for row in load_catalog().python:
        assert row.digest is not None and DIGEST_RE.match(row.digest), row.name


def test_every_shipped_python_has_exactly_one_default() -> None:
    catalog = load_catalog()
    for python in catalog.pythons():
        defaults = [r for r in catalog.python if r.python == python and r.default]
        assert len(defaults) == 1, python
        assert catalog.python_image(python) == defaults[0]


def test_shipped_rows_cite_a_known_source() -> None:
    catalog = load_catalog()
    for row in catalog.python:
        assert row.source in catalog.sources
        assert row.python_patch.startswith(row.python + ".")
    assert catalog.uv.source in catalog.sources


def test_shipped_digests_are_unique() -> None:
    digests = [r.digest for r in load_catalog().python]
    assert len(digests) == len(set(digests))


# --- lookups ------------------------------------------------------------------------


def test_lookups_on_a_small_catalog() -> None:
    catalog = Catalog.from_dict(valid())
    assert catalog.pythons() == ["3.9", "3.11"]  # numeric order, not string order
    default = catalog.python_image("3.11")
    assert default is not None and default.debian == "trixie"
    assert default.tag == "3.11-slim-trixie"
    assert default.name == "python:3.11-slim-trixie"
    bookworm = catalog.python_image("3.11", "bookworm")
    assert bookworm is not None and bookworm.digest == DIGEST_A
    assert catalog.python_image("3.9", "trixie") is None
    assert catalog.python_image("3.12") is None
    assert catalog.uv.digest is None


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize("schema", [2, None, "1"])
def test_wrong_schema(schema: Any) -> None:
    data = valid()
    data["schema"] = schema
    assert catalog_error(data) == (
        f"Unsupported catalog schema {schema!r} in 'schema' (this envforge reads 1)"
    )


def test_duplicate_row() -> None:
    data = valid()
    data["python"].append({**data["python"][0]})
    assert catalog_error(data) == "Duplicate python row for python:3.11-slim-bookworm"


def test_two_defaults() -> None:
    data = valid()
    data["python"][0]["default"] = True
    assert catalog_error(data) == "Python 3.11 needs exactly one default row, has 2"


def test_no_default() -> None:
    data = valid()
    del data["python"][2]["default"]
    assert catalog_error(data) == "Python 3.9 needs exactly one default row, has 0"


@pytest.mark.parametrize(
    "digest", ["sha256:abc", "sha256:" + "A" * 64, "md5:" + "a" * 32, "a" * 64, 42, ""]
)
def test_bad_digest(digest: Any) -> None:
    data = valid()
    data["python"][1]["digest"] = digest
    assert catalog_error(data) == f"Invalid digest {digest!r} in 'python[1].digest'"


def test_bad_uv_digest() -> None:
    data = valid()
    data["uv"]["digest"] = "sha256:short"
    assert catalog_error(data) == "Invalid digest 'sha256:short' in 'uv.digest'"


def test_unknown_source() -> None:
    data = valid()
    data["python"][2]["source"] = "a blog post"
    assert catalog_error(data) == "Unknown source 'a blog post' in 'python[2].source'"


def test_unknown_uv_source() -> None:
    data = valid()
    del data["uv"]["source"]
    assert catalog_error(data) == "Unknown source None in 'uv.source'"


@pytest.mark.parametrize("patch", ["3.12.1", "3.1.1", "3.11", "", "3.110.1"])
def test_python_patch_not_matching_python(patch: str) -> None:
    data = valid()
    data["python"][0]["python_patch"] = patch
    assert catalog_error(data) == f"'python[0].python_patch' {patch!r} is not a 3.11 release"


@pytest.mark.parametrize("python", ["3", "3.11.2", "2.7", 3.11])
def test_bad_python(python: Any) -> None:
    data = valid()
    data["python"][0]["python"] = python
    assert catalog_error(data) == f"Invalid Python version {python!r} in 'python[0].python'"


def test_unknown_debian() -> None:
    data = valid()
    data["python"][0]["debian"] = "bullseye"
    assert catalog_error(data) == "Unknown Debian release 'bullseye' in 'python[0].debian'"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sources", {}, "Catalog has no 'sources'"),
        ("python", [], "Catalog has no 'python' rows"),
        ("uv", None, "Catalog has no 'uv' table"),
    ],
)
def test_missing_sections(key: str, value: Any, message: str) -> None:
    data = valid()
    data[key] = value
    assert catalog_error(data) == message


def test_row_must_be_a_table() -> None:
    data = valid()
    data["python"][1] = "3.11-slim"
    assert catalog_error(data) == "'python[1]' must be a table"


def test_bad_uv_version_is_a_catalog_error() -> None:
    data = valid()
    data["uv"]["version"] = "latest"
    assert "uv.version" in catalog_error(data)
