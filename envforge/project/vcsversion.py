"""Build backends that take the project's version from git, and how each is told one. Pure.

The default .dockerignore leaves .git out of the build context, so such a backend finds no
repository in the image's project stage: it is given a version through the environment
variable its documentation names instead. Detection is only what pyproject.toml says
plainly (a requirement of [build-system] or a tool table); nothing is guessed from code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Backend -> the variables that set its version, with where each comes from:
# - setuptools-scm: SETUPTOOLS_SCM_PRETEND_VERSION, and _FOR_<NAME> (the distribution name
#   upper-cased, non-alphanumerics as "_"), setuptools-scm's "Environment variables" docs;
# - hatch-vcs runs setuptools-scm, so the same variables (hatch-vcs README);
# - uv-dynamic-versioning: UV_DYNAMIC_VERSIONING_BYPASS (its README, "Environment variables");
# - poetry-dynamic-versioning: POETRY_DYNAMIC_VERSIONING_BYPASS (its README; since 0.14.0);
# - pdm-backend's scm source: PDM_BUILD_SCM_VERSION (pdm-backend docs, "Dynamic version from
#   SCM"; read in pdm/backend/hooks/version resolve_version_from_scm).
# versioningit documents no such variable: it is named in the plan and given none.
SETUPTOOLS_SCM = "setuptools-scm"
HATCH_VCS = "hatch-vcs"
UV_DYNAMIC = "uv-dynamic-versioning"
POETRY_DYNAMIC = "poetry-dynamic-versioning"
PDM_SCM = "pdm-backend (scm)"
VERSIONINGIT = "versioningit"

_BY_REQUIREMENT = {
    "setuptools-scm": SETUPTOOLS_SCM,
    "hatch-vcs": HATCH_VCS,
    "uv-dynamic-versioning": UV_DYNAMIC,
    "poetry-dynamic-versioning": POETRY_DYNAMIC,
    "versioningit": VERSIONINGIT,
}
_ORDER = (SETUPTOOLS_SCM, HATCH_VCS, UV_DYNAMIC, POETRY_DYNAMIC, PDM_SCM, VERSIONINGIT)
DEFAULT_VERSION = "0.0.0"  # the version a plain `docker build` gives when nothing better is known
# PEP 440's local part: a hex commit, then ".dirty" when the tree had changes.
_SHA = re.compile(r"[0-9a-f]{4,64}", re.ASCII)


def env_names(backends: tuple[str, ...], name: str) -> tuple[str, ...]:
    """The environment variables that give these backends a version, in a stable order."""
    names: list[str] = []
    if SETUPTOOLS_SCM in backends or HATCH_VCS in backends:
        dist = re.sub(r"[^A-Za-z0-9]", "_", canonicalize_name(name)).upper()
        names += ["SETUPTOOLS_SCM_PRETEND_VERSION", f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{dist}"]
    if UV_DYNAMIC in backends:
        names.append("UV_DYNAMIC_VERSIONING_BYPASS")
    if POETRY_DYNAMIC in backends:
        names.append("POETRY_DYNAMIC_VERSIONING_BYPASS")
    if PDM_SCM in backends:
        names.append("PDM_BUILD_SCM_VERSION")
    return tuple(names)


def detect(data: Mapping[str, Any], requires: tuple[Requirement, ...]) -> tuple[str, ...]:
    """The git-versioning backends pyproject.toml names, in _ORDER; () when none."""
    found = {
        _BY_REQUIREMENT[canonicalize_name(r.name)]
        for r in requires
        if canonicalize_name(r.name) in _BY_REQUIREMENT
    }
    tool = data.get("tool")
    tool = tool if isinstance(tool, Mapping) else {}
    if isinstance(tool.get("setuptools_scm"), Mapping):
        found.add(SETUPTOOLS_SCM)
    if isinstance(tool.get("versioningit"), Mapping):
        found.add(VERSIONINGIT)
    hatch = tool.get("hatch")
    version = hatch.get("version") if isinstance(hatch, Mapping) else None
    source = version.get("source") if isinstance(version, Mapping) else None
    if source == "vcs":
        found.add(HATCH_VCS)
    elif source == "uv-dynamic-versioning":
        found.add(UV_DYNAMIC)
    pdm = tool.get("pdm")
    pdm_version = pdm.get("version") if isinstance(pdm, Mapping) else None
    if isinstance(pdm_version, Mapping) and pdm_version.get("source") == "scm":
        found.add(PDM_SCM)
    build_system = data.get("build-system")
    backend = build_system.get("build-backend") if isinstance(build_system, Mapping) else None
    if isinstance(backend, str) and backend.startswith("uv_dynamic_versioning"):
        found.add(UV_DYNAMIC)
    return tuple(b for b in _ORDER if b in found)


def from_revision(revision: str | None) -> str | None:
    """0.0.0+g<short sha> (".dirty" added when the tree had changes); None without one."""
    if not revision:
        return None
    sha, dirty = revision.removesuffix("-dirty"), revision.endswith("-dirty")
    if not _SHA.fullmatch(sha):
        return None
    return f"{DEFAULT_VERSION}+g{sha[:7]}" + (".dirty" if dirty else "")


@dataclass(frozen=True)
class VcsVersion:
    """How the project stage gives a git-versioning backend its version."""

    backends: tuple[str, ...]
    env: tuple[str, ...]  # the variables set in the project stage (none for versioningit)
    version: str  # what `envforge build` passes (ENVFORGE_VERSION): the wheel's version
    default: str  # the Dockerfile's default for plain `docker build`: never from the revision
