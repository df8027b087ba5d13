"""What the builder stages need to build: git for git sources, and for a backend that
compiles, its toolchain and where its dynamic build requirements are installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from packaging.utils import canonicalize_name

from envforge import validate
from envforge.image.decision import Decision
from envforge.project.facts import ProjectFacts
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project

# The stage that runs the backend's PEP 517 get_requires_for_build_wheel: "deps" (from
# pyproject.toml alone) or "project" (it needs the source: setup.py).
BuildHook = Literal["deps", "project"]
DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"  # PEP 517's fallback without [build-system]
_CC = ("build-essential",)
_RUST = ("cargo", "rustc")
_NATIVE_HELPERS = {"hatch-cython", "cython", "pybind11", "nanobind"}


def choose_build_apt(
    lock: Lock, build_apt: tuple[str, ...]
) -> tuple[tuple[str, ...], Decision | None]:
    """build-apt-packages, with git when uv.lock installs something from git."""
    git = _git_sources(lock)
    if not git:
        return build_apt, None
    if "git" not in build_apt:
        build_apt = (*build_apt, "git")
    shown = ", ".join(git[:3]) + (f" and {len(git) - 3} more" if len(git) > 3 else "")
    return build_apt, Decision(
        "git",
        "apt-get install git, in the builder stages only",
        f"uv.lock installs {shown} from git: uv sync needs the git binary to fetch "
        "it; installed with build-apt-packages in the dependency stage, never in the "
        "final image",
    )


def _git_sources(lock: Lock) -> tuple[str, ...]:
    """The locked packages that uv fetches with git ('name (url)')."""

    def shown(text: str) -> str:  # for the terminal: control characters escaped, bounded
        return validate.one_line(text)[:200]

    return tuple(
        sorted(
            f"{shown(p.name)} ({shown(p.source['git'].split('?')[0].split('#')[0])})"
            for p in lock.packages
            if "git" in p.source
        )
    )


@dataclass(frozen=True)
class _Backend:
    what: str  # how it builds, for the plan
    apt: tuple[str, ...]  # the build-apt-packages it is likely to need; () if it compiles nothing
    hook: BuildHook | None  # where get_requires_for_build_wheel runs


def choose_backend(
    project: Project, facts: ProjectFacts, build_apt: tuple[str, ...]
) -> tuple[BuildHook | None, Decision | None]:
    """Whether the project's build backend compiles, what it likely needs, and where its
    dynamic build requirements (PEP 517 get_requires_for_build_wheel) are installed."""
    if not project.is_package:
        return None, None
    backend = project.build_backend or DEFAULT_BACKEND
    found = _backend(project, facts, backend)
    if found is None or not found.apt:
        return (found.hook if found else None), None
    missing = [p for p in found.apt if p not in build_apt]
    wanted = ", ".join(f'"{p}"' for p in found.apt)
    tools = "Rust toolchain" if found.apt == _RUST else "C/C++ compiler"
    needs = (
        f"likely needs [tool.envforge] build-apt-packages = [{wanted}] (the builder has no "
        f"{tools} otherwise)"
        if missing
        else f"build-apt-packages has {', '.join(found.apt)}"
    )
    where = {
        "deps": "its dynamic build requirements (PEP 517 get_requires_for_build_wheel) are "
        "installed into /opt/build-env in the dependency stage",
        "project": "its dynamic build requirements (PEP 517 get_requires_for_build_wheel, "
        "which runs setup.py) are installed into /opt/build-env in the project stage",
        None: "",
    }[found.hook]
    reason = "; ".join(x for x in (f"{found.what}", needs, where) if x)
    return found.hook, Decision("build backend", f"{backend} (compiles)", reason)


def _backend(project: Project, facts: ProjectFacts, backend: str) -> _Backend | None:
    """How the backend builds; None when it neither compiles nor runs setup.py."""
    requires = {canonicalize_name(r.name) for r in project.build_requires}
    module = backend.split(":", 1)[0].split(".", 1)[0]
    markers = facts.build_markers
    if module == "scikit_build_core":
        return _Backend(
            "scikit-build-core compiles with CMake (cmake and ninja come from PyPI)", _CC, "deps"
        )
    if module == "mesonpy":
        return _Backend("meson-python compiles with Meson (ninja comes from PyPI)", _CC, "deps")
    if module == "maturin":
        return _Backend("maturin compiles Rust with cargo", _RUST, "deps")
    if module == "setuptools":
        hook: BuildHook | None = "project" if "setup.py" in markers else None
        if "setuptools-rust" in requires:
            return _Backend("setuptools-rust compiles Rust with cargo", _RUST, hook)
        if markers & {"setup.py:ext_modules", "native-sources"} or requires & {
            "cython",
            "pybind11",
        }:
            return _Backend("setuptools compiles C/C++ extensions", _CC, hook)
        if hook:  # setup.py may ask for more (setup_requires): asked, not compiled
            return _Backend("setuptools runs setup.py", (), hook)
        return None
    if helpers := requires & _NATIVE_HELPERS:
        return _Backend(f"{module} with {', '.join(sorted(helpers))} compiles C/C++", _CC, None)
    return None
