"""engine.ignore picks a build context's paths as docker-py's exclude_paths does: both run
on the same trees and patterns here, docker-py being the reference."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from docker.utils import build as dbuild

from envforge.engine.ignore import context_paths

TREE = (
    "Dockerfile", ".dockerignore", "README.md", "uv.lock", "pyproject.toml", ".env", ".env.local",
    "src/pkg/__init__.py", "src/pkg/__pycache__/x.cpython-311.pyc", "src/pkg/data/model.bin",
    "src/pkg/KEY.pem", "tests/test_a.py", "tests/__pycache__/t.pyc", ".venv/bin/python",
    ".venv/lib/site.py", ".git/HEAD", "data/big.csv", "data/keep/small.csv", "docs/a.md",
    "docs/b.txt", "build/lib/x.py", "pkg.egg-info/PKG-INFO", "a[b]/c.txt", "deep/er/still/f.py",
    "notebooks/.ipynb_checkpoints/n.ipynb", "Data/Upper.csv", "dir.py/inside.txt",
)  # fmt: skip

PATTERNS = (
    ".venv", "**/__pycache__", "**/*.py[cod]", ".git", "data", "!data/keep", "!data/keep/small.csv",
    "*.md", "!README.md", "docs/", "/build", "./dist", "**/*.egg-info", ".env", ".env.*",
    "**/*.pem", "**/.ipynb_checkpoints", "deep/**/f.py", "a[b]/*", "[!x]*.lock", "?ocs",
    "src/../tests", "dir.py", "DATA", "!src/pkg/data", "src/pkg/data/*", "**", "!**/*.py",
    "*", "!Dockerfile", "#comment", "  spaced  ", "[", "src/pkg/[a-z]*.py", "!/src",
)  # fmt: skip


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("context")
    for name in TREE:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    (root / "link").symlink_to(root / "src")
    return root


def _docker_py(root: Path, patterns: list[str]) -> set[str]:
    return set(dbuild.exclude_paths(str(root), list(patterns), dockerfile="Dockerfile"))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_pattern_alone(tree: Path, pattern: str) -> None:
    assert context_paths(str(tree), [pattern]) == _docker_py(tree, [pattern])


@pytest.mark.parametrize("pair", list(itertools.combinations(PATTERNS, 2))[::7])
def test_patterns_together(tree: Path, pair: tuple[str, str]) -> None:
    assert context_paths(str(tree), list(pair)) == _docker_py(tree, list(pair))


def test_envforge_own_dockerignore(tree: Path) -> None:
    from envforge.image.render import render_dockerignore
    from tests.conftest import EXAMPLES
    from tests.unit.helpers import plan_for

    text = render_dockerignore(plan_for(EXAMPLES / "cpu-sklearn"))
    lines = [ln.strip() for ln in text.splitlines()]
    patterns = [ln for ln in lines if ln and not ln.startswith("#")]
    assert context_paths(str(tree), patterns) == _docker_py(tree, patterns)
    assert context_paths(str(tree), patterns, dockerfile="Other") == set(
        dbuild.exclude_paths(str(tree), list(patterns), dockerfile="Other")
    )


def test_no_patterns_keep_everything(tree: Path) -> None:
    assert context_paths(str(tree), []) == _docker_py(tree, [])
