"""sources.source_modules: the project's import packages and their __main__ modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envforge.project import sources
from envforge.project.sources import source_modules


def make(root: Path, *files: str) -> Path:
    for file in files:
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return root


def scan(
    root: Path, data: dict[str, Any] | None = None, *, package: bool = True
) -> tuple[set[str], set[str]]:
    packages, mains = source_modules(root, data or {}, is_package=package)
    return set(packages), set(mains)


def test_flat_and_src_layouts(tmp_path: Path) -> None:
    make(tmp_path, "flat/__init__.py", "src/app/__init__.py", "src/app/__main__.py")
    assert scan(tmp_path) == ({"flat", "app"}, {"app"})


def test_a_non_package_counts_only_its_top_level(tmp_path: Path) -> None:
    make(tmp_path, "tool/__main__.py", "src/app/__init__.py", "src/app/__main__.py")
    assert scan(tmp_path, package=False) == ({"tool"}, {"tool"})


def test_folders_that_are_not_the_projects_package(tmp_path: Path) -> None:
    make(
        tmp_path,
        "tests/__init__.py",
        "docs/__main__.py",
        ".venv/x/__main__.py",
        ".hidden/__init__.py",
        "node_modules/__init__.py",
        "not-an-identifier/__init__.py",
        "data/weights.bin",
    )
    assert scan(tmp_path) == (set(), set())


def test_uv_build_module_name_and_root(tmp_path: Path) -> None:
    make(tmp_path, "python/trainer/__init__.py", "python/trainer/cli/__main__.py")
    data = {
        "tool": {"uv": {"build-backend": {"module-name": "trainer.cli", "module-root": "python"}}}
    }
    assert scan(tmp_path, data) == ({"trainer"}, {"trainer.cli"})


def test_flit_hatch_and_setuptools_settings(tmp_path: Path) -> None:
    make(tmp_path, "lib/flitpkg/__main__.py", "code/hatchpkg/__main__.py")
    data = {
        "tool": {
            "flit": {"module": {"name": "flitpkg"}},
            "setuptools": {"package-dir": {"": "lib"}},
            "hatch": {"build": {"targets": {"wheel": {"packages": ["code/hatchpkg"]}}}},
        }
    }
    assert scan(tmp_path, data)[1] == {"flitpkg", "hatchpkg"}


def test_settings_never_lead_outside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "p"
    make(tmp_path, "outside/evil/__main__.py")
    project.mkdir()
    data = {"tool": {"uv": {"build-backend": {"module-root": "../outside", "module-name": "evil"}}}}
    assert scan(project, data) == (set(), set())


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    elsewhere = make(tmp_path / "elsewhere", "pkg/__init__.py", "pkg/__main__.py")
    project = tmp_path / "p"
    project.mkdir()
    (project / "pkg").symlink_to(elsewhere / "pkg")
    (project / "src").symlink_to(elsewhere)
    make(project, "real/__init__.py")
    (project / "real" / "__main__.py").symlink_to(elsewhere / "pkg" / "__main__.py")
    assert scan(project) == ({"real"}, set())


def test_the_scan_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "SCAN_MAX_ENTRIES", 5)
    make(tmp_path, *(f"p{i:02}/__init__.py" for i in range(20)))
    packages, _ = scan(tmp_path)
    assert len(packages) <= 5


def test_examples(tmp_path: Path) -> None:
    root = Path(__file__).parents[3] / "examples"
    assert scan(root / "cpu-sklearn") == ({"cpu_sklearn"}, {"cpu_sklearn"})
    assert scan(root / "gpu-torch") == ({"gpu_torch"}, {"gpu_torch"})
