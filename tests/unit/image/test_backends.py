"""Sources and build backends: git in the builder only, compiled backends named in the plan,
their dynamic build requirements installed, and the backend's log shown on failure."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from envforge.errors import InvalidProjectError
from envforge.image.bases import load_catalog
from envforge.image.options import BuildOptions
from envforge.image.plan import Plan, make_plan
from envforge.image.render import render_dockerfile
from envforge.project.facts import ProjectFacts
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from envforge.project.sources import build_markers
from tests.conftest import REPO
from tests.unit.helpers import plan_for

FIXTURES = REPO / "tests/fixtures/projects"
FACTS = ProjectFacts(lock_hash="sha256:" + "0" * 64, python_version_file="3.11\n")


def pyproject(backend: str | None, *requires: str, **envforge: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "project": {"name": "demo", "version": "0.1.0", "requires-python": ">=3.11"},
        "build-system": {"requires": list(requires)},
    }
    if backend is not None:
        data["build-system"]["build-backend"] = backend
    if envforge:
        data["tool"] = {"envforge": {k.replace("_", "-"): v for k, v in envforge.items()}}
    return data


def lock(*extra: dict[str, Any]) -> dict[str, Any]:
    root = {"name": "demo", "version": "0.1.0", "source": {"editable": "."}}
    root["dependencies"] = [{"name": p["name"]} for p in extra]
    return {"version": 1, "requires-python": ">=3.11", "package": [root, *extra]}


def plan(data: dict[str, Any], facts: ProjectFacts = FACTS, lock_data: Any = None) -> Plan:
    project = Project.from_dict(data)
    return make_plan(
        project,
        Lock.from_dict(lock_data or lock(), project_name=project.name),
        facts,
        load_catalog(),
        BuildOptions(),
    )


def decision(p: Plan, topic: str) -> tuple[str, str] | None:
    found = [(d.choice, d.reason) for d in p.decisions if d.topic == topic]
    return found[0] if found else None


def stages(text: str) -> list[str]:
    return text.split("\nFROM ")


GIT_ATTRS = {
    "name": "attrs",
    "version": "25.3.0",
    "source": {"git": "https://github.com/python-attrs/attrs?tag=25.3.0#217f20b7"},
}


# --- git sources -------------------------------------------------------------------------


def test_git_source_installs_git_in_the_builder_and_says_why() -> None:
    p = plan(pyproject("hatchling.build", "hatchling"), lock_data=lock(GIT_ATTRS))
    assert p.build_apt_packages == ("git",)
    choice, reason = decision(p, "git") or ("", "")
    assert "builder stages only" in choice
    assert "attrs (https://github.com/python-attrs/attrs)" in reason
    assert "never in the final image" in reason


def test_git_joins_the_build_apt_packages_once() -> None:
    data = pyproject("hatchling.build", "hatchling", build_apt_packages=["git", "gcc"])
    assert plan(data, lock_data=lock(GIT_ATTRS)).build_apt_packages == ("git", "gcc")
    data = pyproject("hatchling.build", "hatchling", build_apt_packages=["gcc"])
    assert plan(data, lock_data=lock(GIT_ATTRS)).build_apt_packages == ("gcc", "git")


def test_no_git_without_git_sources() -> None:
    p = plan(pyproject("hatchling.build", "hatchling"))
    assert p.build_apt_packages == ()
    assert decision(p, "git") is None


def test_git_fixture_renders_git_in_deps_and_not_in_the_final_stage() -> None:
    text = render_dockerfile(plan_for(FIXTURES / "git-source"))
    parts = stages(text)
    deps = next(s for s in parts if " AS deps" in s.splitlines()[0])
    final = parts[-1]
    assert "apt-get install -y --no-install-recommends git" in deps
    assert deps.index("install -y --no-install-recommends git") < deps.index("RUN uv sync")
    assert (
        "git"
        not in final.replace("org.opencontainers", "").replace("digest", "").split("LABEL", 1)[0]
    )


# --- build backends ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "requires", "markers", "apt", "hook"),
    [
        ("scikit_build_core.build", ["scikit-build-core"], set(), "build-essential", "deps"),
        ("mesonpy", ["meson-python"], {"meson.build"}, "build-essential", "deps"),
        ("maturin", ["maturin>=1,<2"], {"Cargo.toml"}, '"cargo", "rustc"', "deps"),
        ("setuptools.build_meta", ["setuptools", "setuptools-rust"], {"setup.py"}, "cargo", "project"),
        ("setuptools.build_meta", ["setuptools"], {"setup.py", "setup.py:ext_modules"}, "build-essential", "project"),
        ("setuptools.build_meta", ["setuptools", "cython"], set(), "build-essential", None),
        (None, ["setuptools"], {"setup.py", "native-sources"}, "build-essential", "project"),
        ("hatchling.build", ["hatchling", "hatch-cython"], set(), "build-essential", None),
    ],
)  # fmt: skip
def test_compiling_backends_are_named_with_their_apt_packages(
    backend: str | None, requires: list[str], markers: set[str], apt: str, hook: str | None
) -> None:
    p = plan(pyproject(backend, *requires), replace(FACTS, build_markers=frozenset(markers)))
    choice, reason = decision(p, "build backend") or ("", "")
    assert choice.endswith("(compiles)")
    assert "build-apt-packages = [" in reason and apt in reason
    assert p.build_requires_hook == hook
    if hook:
        assert "get_requires_for_build_wheel" in reason


def test_apt_packages_already_set_are_acknowledged() -> None:
    data = pyproject(
        "scikit_build_core.build", "scikit-build-core", build_apt_packages=["build-essential"]
    )
    _, reason = decision(plan(data), "build backend") or ("", "")
    assert "build-apt-packages has build-essential" in reason
    assert "likely needs" not in reason


@pytest.mark.parametrize(
    ("backend", "requires", "markers"),
    [
        ("hatchling.build", ["hatchling"], set()),
        ("uv_build", ["uv_build>=0.8"], set()),
        ("flit_core.buildapi", ["flit_core"], set()),
        ("setuptools.build_meta", ["setuptools"], set()),
    ],
)
def test_pure_python_backends_add_nothing(
    backend: str, requires: list[str], markers: set[str]
) -> None:
    p = plan(pyproject(backend, *requires), replace(FACTS, build_markers=frozenset(markers)))
    assert decision(p, "build backend") is None
    assert p.build_requires_hook is None


def test_setup_py_without_extensions_still_asks_setup_requires() -> None:
    p = plan(
        pyproject("setuptools.build_meta", "setuptools"),
        replace(FACTS, build_markers=frozenset({"setup.py"})),
    )
    assert decision(p, "build backend") is None
    assert p.build_requires_hook == "project"


def test_a_virtual_project_has_no_backend_decision() -> None:
    data = pyproject("scikit_build_core.build", "scikit-build-core")
    data["tool"] = {"uv": {"package": False}}
    p = plan(data)
    assert p.build_requires_hook is None and decision(p, "build backend") is None


def test_invalid_build_backend_is_refused() -> None:
    with pytest.raises(InvalidProjectError, match=r"build-system\.build-backend"):
        Project.from_dict(pyproject("x; touch /tmp/PWN", "setuptools"))
    with pytest.raises(InvalidProjectError, match=r"build-system\.build-backend"):
        Project.from_dict(pyproject("ok.mod\n", "setuptools"))


# --- rendering ---------------------------------------------------------------------------


def test_deps_hook_installs_dynamic_requirements_before_the_project_stage() -> None:
    text = render_dockerfile(plan_for(FIXTURES / "skbuild-cmake-error"))
    deps, project = text.split("\nFROM deps AS project\n")
    assert "get_requires_for_build_wheel" in deps
    assert "scikit_build_core.build /tmp/build-requires.txt" in deps
    assert "-r /tmp/build-requires.txt" in deps
    assert "get_requires_for_build_wheel" not in project


def test_project_hook_runs_where_the_source_is() -> None:
    data = pyproject("setuptools.build_meta", "setuptools")
    text = render_dockerfile(plan(data, replace(FACTS, build_markers=frozenset({"setup.py"}))))
    deps, project = text.split("\nFROM deps AS project\n")
    assert "get_requires_for_build_wheel" not in deps
    hook = project.index("RUN cd /src && /opt/build-env/bin/python -c")
    assert hook < project.index("RUN uv build")


def test_failed_build_shows_the_backends_log() -> None:
    text = render_dockerfile(plan_for(REPO / "examples/cpu-sklearn"))
    line = next(x for x in text.splitlines() if x.startswith("RUN uv build"))
    assert "--quiet" not in line and "> /tmp/build.log 2>&1" in line
    assert "|| { tail -n 300 /tmp/build.log;" in text
    assert "exit 1; }" in text


def test_hook_snippet_runs_a_backend(tmp_path: Path) -> None:
    """The rendered python -c line, run here against a tiny in-tree backend."""
    import shlex
    import subprocess
    import sys

    (tmp_path / "fake_backend.py").write_text(
        "def get_requires_for_build_wheel(config_settings=None):\n    return ['cmake>=3.15', 'ninja']\n"
    )
    text = render_dockerfile(plan_for(FIXTURES / "skbuild-cmake-error"))
    line = next(x for x in text.splitlines() if x.startswith("RUN cd /app && "))
    argv = shlex.split(line.removeprefix("RUN cd /app && ").removesuffix("\\"))
    assert argv[0] == "/opt/build-env/bin/python"
    assert argv[-2:] == ["scikit_build_core.build", "/tmp/build-requires.txt"]
    out = tmp_path / "req.txt"
    argv = [sys.executable, *argv[1:-2], "fake_backend", str(out)]
    subprocess.run(argv, cwd=tmp_path, check=True)
    assert out.read_text() == "cmake>=3.15\nninja\n"


# --- facts from the tree -----------------------------------------------------------------


def test_build_markers(tmp_path: Path) -> None:
    assert build_markers(tmp_path) == frozenset()
    (tmp_path / "CMakeLists.txt").write_text("project(x)\n")
    (tmp_path / "setup.py").write_text(
        "from setuptools import Extension, setup\nsetup(ext_modules=[])\n"
    )
    assert build_markers(tmp_path) == {"CMakeLists.txt", "setup.py", "setup.py:ext_modules"}
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    (deep / "fast.pyx").write_text("")
    assert "native-sources" in build_markers(tmp_path)


def test_build_markers_are_bounded_and_skip_venvs(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.c").write_text("")
    assert build_markers(tmp_path) == frozenset()
    too_deep = tmp_path / "a" / "b" / "c" / "d" / "e"
    too_deep.mkdir(parents=True)
    (too_deep / "x.c").write_text("")
    assert build_markers(tmp_path) == frozenset()
    (tmp_path / "link").symlink_to(too_deep)
    assert build_markers(tmp_path) == frozenset()


def test_git_source_shown_without_control_characters() -> None:
    hostile = dict(GIT_ATTRS, source={"git": "https://example.org/\x1b[31mx\nRUN id?rev=1#abc"})
    _, reason = decision(
        plan(pyproject("hatchling.build", "hatchling"), lock_data=lock(hostile)), "git"
    ) or ("", "")
    assert "\x1b" not in reason and "\n" not in reason
    assert "attrs (https://example.org/\\x1b[31mx\\nRUN id)" in reason  # shown escaped


def test_c_extension_fixture_plans_gcc_in_the_builder_only() -> None:
    p = plan_for(FIXTURES / "skbuild-c-ext")
    assert p.build_apt_packages == ("build-essential",)
    _, reason = decision(p, "build backend") or ("", "")
    assert "build-apt-packages has build-essential" in reason
    final = stages(render_dockerfile(p))[-1]
    assert "build-essential" not in final
