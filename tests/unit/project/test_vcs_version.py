"""Versions from git: which backends are detected, what the project stage tells them, and
the labels (tests/fixtures/projects/vcs-version, hatchling + hatch-vcs)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from envforge.image.bases import load_catalog
from envforge.image.plan import Plan, make_plan
from envforge.image.render import render_dockerfile
from envforge.pipeline import build_args
from envforge.project import vcsversion
from envforge.project.facts import ProjectFacts
from envforge.project.lockfile import Lock, lock_hash
from envforge.project.pyproject import Project
from tests.conftest import REPO

FIXTURE = REPO / "tests/fixtures/projects/vcs-version"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _data(requires: list[str], tool: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "project": {"name": "My.Pkg", "dynamic": ["version"]},
        "build-system": {"requires": requires, "build-backend": "hatchling.build"},
        "tool": tool or {},
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("requires", "tool", "backends"),
    [
        (["setuptools>=64", "setuptools_scm>=8"], {}, ("setuptools-scm",)),
        (["setuptools>=64"], {"setuptools_scm": {}}, ("setuptools-scm",)),
        (["hatchling", "hatch-vcs"], {"hatch": {"version": {"source": "vcs"}}}, ("hatch-vcs",)),
        (["hatchling"], {"hatch": {"version": {"source": "vcs"}}}, ("hatch-vcs",)),
        (
            ["hatchling", "uv-dynamic-versioning"],
            {"hatch": {"version": {"source": "uv-dynamic-versioning"}}},
            ("uv-dynamic-versioning",),
        ),
        (["poetry-core", "poetry-dynamic-versioning>=1"], {}, ("poetry-dynamic-versioning",)),
        (["pdm-backend"], {"pdm": {"version": {"source": "scm"}}}, ("pdm-backend (scm)",)),
        (["setuptools", "versioningit"], {"versioningit": {}}, ("versioningit",)),
        # A version from a file is not from git.
        (["hatchling"], {"hatch": {"version": {"path": "src/p/__init__.py"}}}, ()),
        (["pdm-backend"], {"pdm": {"version": {"source": "file", "path": "p.py"}}}, ()),
        (["flit_core>=3.4"], {}, ()),
    ],
)
def test_detection(requires: list[str], tool: dict[str, Any], backends: tuple[str, ...]) -> None:
    assert Project.from_dict(_data(requires, tool)).version_backends == backends


def test_the_uv_dynamic_versioning_backend_is_detected() -> None:
    data = _data(["uv-dynamic-versioning"])
    data["build-system"]["build-backend"] = "uv_dynamic_versioning.backend"
    assert Project.from_dict(data).version_backends == ("uv-dynamic-versioning",)


def test_a_static_version_or_no_package_detects_nothing() -> None:
    static = _data(["setuptools-scm"])
    static["project"] = {"name": "p", "version": "1.0"}
    assert Project.from_dict(static).version_backends == ()
    virtual = _data(["setuptools-scm"], {"uv": {"package": False}})
    assert Project.from_dict(virtual).version_backends == ()


def test_env_names() -> None:
    assert vcsversion.env_names(("hatch-vcs",), "My.Pkg") == (
        "SETUPTOOLS_SCM_PRETEND_VERSION",
        "SETUPTOOLS_SCM_PRETEND_VERSION_FOR_MY_PKG",
    )
    assert vcsversion.env_names(("uv-dynamic-versioning",), "p") == (
        "UV_DYNAMIC_VERSIONING_BYPASS",
    )
    assert vcsversion.env_names(("poetry-dynamic-versioning",), "p") == (
        "POETRY_DYNAMIC_VERSIONING_BYPASS",
    )
    assert vcsversion.env_names(("pdm-backend (scm)",), "p") == ("PDM_BUILD_SCM_VERSION",)
    assert vcsversion.env_names(("versioningit",), "p") == ()


@pytest.mark.parametrize(
    ("revision", "version"),
    [
        (SHA, "0.0.0+g0123456"),
        (f"{SHA}-dirty", "0.0.0+g0123456.dirty"),
        (None, None),
        ("", None),
        ("not-a-sha", None),
    ],
)
def test_from_revision(revision: str | None, version: str | None) -> None:
    assert vcsversion.from_revision(revision) == version


def _plan(revision: str | None, locked: str | None = None) -> Plan:
    data = tomllib.loads((FIXTURE / "pyproject.toml").read_text())
    project = Project.from_dict(data)
    raw = (FIXTURE / "uv.lock").read_bytes()
    lock = Lock.from_dict(tomllib.loads(raw.decode()), project_name=project.name)
    if locked is not None:
        assert lock.root is not None
        lock = replace(lock, root=replace(lock.root, version=locked))
    facts = ProjectFacts(lock_hash=lock_hash(raw), revision=revision)
    return make_plan(project, lock, facts, load_catalog())


def test_the_plan_says_the_version_the_wheel_gets() -> None:
    plan = _plan(SHA)
    assert plan.vcs is not None
    assert (plan.vcs.version, plan.vcs.default) == ("0.0.0+g0123456", "0.0.0")
    decision = next(d for d in plan.decisions if d.topic == "version from git")
    assert decision.choice == "hatch-vcs: 0.0.0+g0123456"
    assert decision.reason.startswith(
        "the image's wheel gets version 0.0.0+g0123456 via SETUPTOOLS_SCM_PRETEND_VERSION, "
    )
    assert ".git stays out of the build context" in decision.reason
    assert plan.default_tag == "envforge-vcs-version:git-0123456"


def test_the_locked_version_wins_and_outside_git_it_is_0_0_0() -> None:
    assert _plan(SHA, locked="1.2.3").vcs.version == "1.2.3"  # type: ignore[union-attr]
    plan = _plan(None)
    assert plan.vcs is not None and plan.vcs.version == "0.0.0"
    assert not any("from the git revision" in d.reason for d in plan.decisions)


def test_the_dockerfile_holds_no_revision_and_sets_the_version_in_the_project_stage() -> None:
    text = render_dockerfile(_plan(SHA))
    assert text == render_dockerfile(_plan(f"{SHA}-dirty"))  # a new commit: the same file
    assert "0123456" not in text
    uv, deps, project, final = text.split("\nFROM ")[1:5]
    assert uv.split("\n", 1)[0].endswith(" AS uv")
    assert "ENVFORGE_VERSION" not in deps  # a new commit never reruns the deps stage
    assert project.index("ARG ENVFORGE_VERSION=0.0.0") < project.index("RUN uv build")
    assert 'SETUPTOOLS_SCM_PRETEND_VERSION="${ENVFORGE_VERSION}" \\' in project
    assert (
        'SETUPTOOLS_SCM_PRETEND_VERSION_FOR_ENVFORGE_VCS_VERSION="${ENVFORGE_VERSION}"' in project
    )
    # The final stage's version label is the wheel's version; the revision label the commit.
    assert "ARG ENVFORGE_VERSION=0.0.0" in final
    assert 'org.opencontainers.image.version="${ENVFORGE_VERSION}"' in final
    assert 'org.opencontainers.image.revision="${ENVFORGE_REVISION}"' in final
    assert "PRETEND" not in final


def test_the_locked_version_is_the_dockerfiles_default() -> None:
    assert "ARG ENVFORGE_VERSION=1.2.3\n" in render_dockerfile(_plan(SHA, locked="1.2.3"))


def test_build_args_strip_dirty_from_the_revision() -> None:
    plan = _plan(f"{SHA}-dirty")
    assert build_args(plan, f"{SHA}-dirty") == {
        "ENVFORGE_REVISION": SHA,
        "ENVFORGE_VERSION": "0.0.0+g0123456.dirty",
    }
    static = replace(plan, vcs=None)
    assert build_args(static, None) == {"ENVFORGE_REVISION": ""}


def test_no_backend_from_git_sets_nothing(tmp_path: Path) -> None:
    plan = replace(_plan(SHA), vcs=None)
    text = render_dockerfile(plan)
    assert "ENVFORGE_VERSION" not in text and "PRETEND" not in text
    assert 'org.opencontainers.image.version="${ENVFORGE_REVISION:-latest}"' in text


def test_an_epoch_in_the_locked_version_is_no_dockerfile_default() -> None:
    plan = _plan(SHA, locked="1!2.0")
    assert plan.vcs is not None and (plan.vcs.version, plan.vcs.default) == ("1!2.0", "0.0.0")
    assert "ARG ENVFORGE_VERSION=0.0.0\n" in render_dockerfile(plan)
