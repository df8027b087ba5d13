"""envforge's bytecode compiler (envforge/image/compile_bytecode.py), run as the Dockerfile
runs it: a separate Python process over a folder, then written out by the Dockerfile's printf."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from envforge.image.options import Builder, BuildOptions
from envforge.image.render import render_dockerfile
from tests.conftest import EXAMPLES, REPO
from tests.unit.helpers import plan_for

SCRIPT = REPO / "envforge/image/compile_bytecode.py"


def _pyc(path: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(path)))


def _run(*roots: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, roots)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _tree(root: Path) -> dict[str, Path]:
    files = {
        "top": root / "top.py",
        "module": root / "pkg/module.py",
        "deep": root / "pkg/sub/deep.py",
        "suite": root / "pkg/tests/test_pkg.py",
        "single": root / "test/helper.py",
        "broken": root / "pkg/broken.py",
        "data": root / "pkg/data.txt",
    }
    for name, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("def (:\n" if name == "broken" else f"VALUE = {name!r}\n")
    return files


def test_compiles_every_module_but_test_suites_and_broken_files(tmp_path: Path) -> None:
    files = _tree(tmp_path)
    done = _run(tmp_path)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    for name in ("top", "module", "deep"):
        assert _pyc(files[name]).is_file(), name
    for name in ("suite", "single", "broken"):
        assert not _pyc(files[name]).exists(), name
    assert sorted(p.name for p in tmp_path.rglob("*.pyc")) == sorted(
        _pyc(files[n]).name for n in ("top", "module", "deep")
    )


def test_a_fresh_pyc_is_kept_and_a_stale_one_compiled_again(tmp_path: Path) -> None:
    """The second install's run compiles only what it added or changed (uv's step walks all)."""
    files = _tree(tmp_path)
    assert _run(tmp_path).returncode == 0
    kept, changed = _pyc(files["top"]), _pyc(files["module"])
    os.utime(kept, ns=(1_000_000_000, 1_000_000_000))  # a mark: rewritten files lose it
    os.utime(changed, ns=(1_000_000_000, 1_000_000_000))
    files["module"].write_text("VALUE = 'a new release, another size'\n")
    os.utime(files["module"], (2_000_000_000, 2_000_000_000))
    assert _run(tmp_path).returncode == 0
    assert kept.stat().st_mtime_ns == 1_000_000_000
    assert changed.stat().st_mtime_ns != 1_000_000_000
    # What it wrote is what Python would: the import takes the new value from the .pyc.
    code = importlib.util.MAGIC_NUMBER + b"\0\0\0\0"
    assert changed.read_bytes().startswith(code)
    header = changed.read_bytes()[8:12]
    assert int.from_bytes(header, "little") == 2_000_000_000


def test_without_a_folder_it_compiles_the_running_pythons_site_packages(tmp_path: Path) -> None:
    """The Dockerfile runs it with the environment's own Python and no argument."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path)], check=True)
    python = tmp_path / "bin/python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    module = Path(purelib) / "installed.py"
    module.write_text("VALUE = 1\n")
    done = subprocess.run([str(python), str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _pyc(module).is_file()


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_the_dockerfile_writes_the_script_as_it_is(builder: Builder, tmp_path: Path) -> None:
    """The printf in the Dockerfile, run by a real shell, gives back the file byte for byte."""
    text = render_dockerfile(plan_for(EXAMPLES / "cpu-sklearn", BuildOptions(builder=builder)))
    match = re.search(r"^RUN (printf '%s\\n' \\\n(?:    .* \\\n)+)    > (\S+)$", text, re.M)
    assert match is not None
    command = match.group(1).replace(" \\\n", " ") + f"> {tmp_path / 'out.py'}"
    subprocess.run(["sh", "-c", command], check=True)
    assert (tmp_path / "out.py").read_bytes() == SCRIPT.read_bytes()
    target = match.group(2)
    assert target == (
        "/compile-bytecode.py" if builder == "buildkit" else "/opt/envforge-compile-bytecode.py"
    )
