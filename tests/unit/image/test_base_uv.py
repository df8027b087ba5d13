"""The base image (image/base.py) and uv (image/uv.py): the catalog's pins, a named
base, a registry mirror."""

from __future__ import annotations

from envforge.image.bases import load_catalog
from tests.unit.image.planning import (
    PY311_DIGEST,
    plan,
    plan_error,
    sklearn,
    with_tool,
)


def test_debian_setting_picks_the_row() -> None:
    p = plan(with_tool(sklearn(), envforge={"debian": "bookworm"}))
    row = load_catalog().python_image("3.11", "bookworm")
    assert row is not None and row.digest is not None
    assert p.base_ref == f"python:3.11-slim-bookworm@{row.digest}"
    assert p.base_digest == row.digest


def test_debian_setting_without_such_row() -> None:
    error = plan_error(with_tool(sklearn(), envforge={"debian": "bookworm"}), python="3.14")
    assert error.message == "No python:3.14-slim-bookworm in envforge's catalog (has: trixie)"


def test_registry_mirror_rewrites_base_and_uv() -> None:
    p = plan(registry_mirror="mirror.example:5000")
    assert p.base_ref == f"mirror.example:5000/library/python:3.11-slim-trixie@{PY311_DIGEST}"
    assert p.uv_ref == "mirror.example:5000/astral-sh/uv:0.13.9"
    # The label keeps the canonical name: the mirror is how it was pulled, not what it is.
    assert (
        p.labels["org.opencontainers.image.base.name"]
        == "docker.io/library/python:3.11-slim-trixie"
    )


def test_registry_mirror_trailing_slash() -> None:
    assert (
        plan(registry_mirror="mirror.example:5000/").uv_ref
        == "mirror.example:5000/astral-sh/uv:0.13.9"
    )


def test_default_uv_ref() -> None:
    p = plan()
    assert (p.uv_source, p.uv_ref, p.uv_version) == (
        "image",
        "ghcr.io/astral-sh/uv:0.13.9",
        "0.13.9",
    )


def test_uv_from_pip() -> None:
    p = plan(uv_source="pip")
    assert (p.uv_source, p.uv_ref) == ("pip", "uv==0.13.9")
    assert plan(with_tool(sklearn(), envforge={"uv-source": "pip"})).uv_ref == "uv==0.13.9"


def test_uv_image_override() -> None:
    assert plan(uv_image="lab/uv:0.13.9").uv_ref == "lab/uv:0.13.9"


def test_base_image_override_with_digest() -> None:
    digest = "sha256:" + "1" * 64
    p = plan(base_image=f"nvcr.io/nvidia/cuda:12.4.1-runtime@{digest}")
    assert p.base_ref == f"nvcr.io/nvidia/cuda:12.4.1-runtime@{digest}"
    assert p.base_name == "nvcr.io/nvidia/cuda:12.4.1-runtime"
    assert p.base_digest == digest
    assert p.labels["org.opencontainers.image.base.digest"] == digest


def test_base_image_override_without_digest() -> None:
    p = plan(base_image="nvcr.io/nvidia/cuda:12.4.1-runtime")
    assert (p.base_ref, p.base_name, p.base_digest) == (
        "nvcr.io/nvidia/cuda:12.4.1-runtime",
        "nvcr.io/nvidia/cuda:12.4.1-runtime",
        None,
    )
    assert "org.opencontainers.image.base.digest" not in p.labels


def test_base_image_override_ignores_the_mirror() -> None:
    p = plan(base_image="corp/python:3.11", registry_mirror="mirror.example:5000")
    assert p.base_ref == "corp/python:3.11"
