"""envforge's bytecode compiler (envforge/image/compile_bytecode.py), as the Dockerfile holds
it (render.compiler_source) and runs it: a separate Python process over a folder."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from envforge.image.options import Builder, BuildOptions
from envforge.image.render import compiler_source, render_dockerfile
from tests.conftest import EXAMPLES, REPO
from tests.unit.helpers import plan_for


@pytest.fixture
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compiler") / "compile-bytecode.py"
    path.write_text(compiler_source())
    return path


def _pyc(path: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(path)))


def _env(**extra: str) -> dict[str, str]:
    drop = ("PYTHONDONTWRITEBYTECODE", "SOURCE_DATE_EPOCH")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def _run(script: Path, *roots: Path, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(script), *map(str, roots)]
    return subprocess.run(command, capture_output=True, text=True, env=_env(**env), timeout=60)


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


def _mark(pyc: Path) -> None:
    os.utime(pyc, ns=(1_000_000_000, 1_000_000_000))  # a rewritten file loses it


def _rewritten(pyc: Path) -> bool:
    return pyc.stat().st_mtime_ns != 1_000_000_000


def test_compiles_every_module_but_test_suites_and_broken_files(
    script: Path, tmp_path: Path
) -> None:
    files = _tree(tmp_path / "site")
    done = _run(script, tmp_path / "site")
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    for name in ("top", "module", "deep"):
        assert _pyc(files[name]).is_file(), name
    for name in ("suite", "single", "broken"):
        assert not _pyc(files[name]).exists(), name
    assert sorted(p.name for p in (tmp_path / "site").rglob("*.pyc")) == sorted(
        _pyc(files[n]).name for n in ("top", "module", "deep")
    )


@pytest.mark.parametrize("change", ["mtime", "size"])
def test_a_fresh_pyc_is_kept_and_a_stale_one_compiled_again(
    script: Path, tmp_path: Path, change: str
) -> None:
    """The second install's run compiles only what it added or changed (uv's step walks all);
    either of the source's mtime and size, changed alone, makes its .pyc stale."""
    files = _tree(tmp_path)
    assert _run(script, tmp_path).returncode == 0
    kept, changed = _pyc(files["top"]), _pyc(files["module"])
    _mark(kept)
    _mark(changed)
    before = files["module"].stat()
    if change == "size":
        files["module"].write_text("VALUE = 'another release'\n")
        os.utime(files["module"], ns=(before.st_atime_ns, before.st_mtime_ns))
    else:
        os.utime(files["module"], (2_000_000_000, 2_000_000_000))
    assert _run(script, tmp_path).returncode == 0
    assert not _rewritten(kept)
    assert _rewritten(changed)
    stat = files["module"].stat()
    header = changed.read_bytes()
    assert header[:8] == importlib.util.MAGIC_NUMBER + b"\0\0\0\0"  # timestamp-based
    assert int.from_bytes(header[8:12], "little") == int(stat.st_mtime)
    assert int.from_bytes(header[12:16], "little") == stat.st_size


def test_hash_based_pycs_are_checked_by_their_hash(script: Path, tmp_path: Path) -> None:
    """SOURCE_DATE_EPOCH (reproducible builds) makes py_compile write hash-based .pyc files:
    a changed source is compiled again, an unchanged one kept."""
    files = _tree(tmp_path)
    assert _run(script, tmp_path, SOURCE_DATE_EPOCH="1").returncode == 0
    kept, changed = _pyc(files["top"]), _pyc(files["module"])
    assert int.from_bytes(changed.read_bytes()[4:8], "little") & 1  # hash-based
    _mark(kept)
    _mark(changed)
    files["module"].write_text("VALUE = 'MODULE'\n")  # the same size: only the hash tells
    assert _run(script, tmp_path, SOURCE_DATE_EPOCH="1").returncode == 0
    assert not _rewritten(kept)
    assert _rewritten(changed)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: one worker, no fork")
def test_every_worker_is_done_when_it_exits(script: Path, tmp_path: Path) -> None:
    """The next command of the RUN starts when the script exits: no worker may still be
    writing. The largest file (quick to compile) is this process's share, the next (slow to
    compile) a forked worker's, so an exit without waiting for it leaves that one out."""
    (tmp_path / "quick.py").write_text(f"X = {'x' * 2_000_000!r}\n")
    (tmp_path / "slow.py").write_text(
        "".join(f"def f{i}(a): return a + {i}\n" for i in range(30_000))
    )
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.DEVNULL,  # no pipe to hold this call until the last worker exits
        stderr=subprocess.DEVNULL,
        env=_env(),
        timeout=120,
    )
    assert done.returncode == 0
    assert _pyc(tmp_path / "quick.py").is_file()
    assert _pyc(tmp_path / "slow.py").is_file()


def test_a_folder_reached_twice_is_walked_once(script: Path, tmp_path: Path) -> None:
    """A venv's lib64 -> lib link (Fedora, RHEL): purelib and platlib are one folder."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib64").symlink_to("lib")
    namespace: dict[str, object] = {"__name__": "compile_bytecode"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    walked: list[list[str]] = []
    namespace["stale_sources"] = lambda roots: walked.append(roots) or []
    main = namespace["main"]
    assert callable(main)
    assert main([str(tmp_path / "lib"), str(tmp_path / "lib64")]) == 0
    assert walked == [[os.path.realpath(tmp_path / "lib")]]


def test_a_worker_that_cannot_start_leaves_its_share_to_this_process(
    script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pids limit or no memory (fork fails): still every file, still exit 0."""
    files = _tree(tmp_path)
    namespace: dict[str, object] = {"__name__": "compile_bytecode"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    main = namespace["main"]
    assert callable(main)
    assert main([str(tmp_path)]) == 0
    for name in ("top", "module", "deep"):
        assert _pyc(files[name]).is_file(), name


def test_without_a_folder_it_compiles_the_running_pythons_site_packages(
    script: Path, tmp_path: Path
) -> None:
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
    command = [str(python), str(script)]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert _pyc(module).is_file()


def test_the_dockerfile_copy_is_the_module_without_docstring_and_comments() -> None:
    source = (REPO / "envforge/image/compile_bytecode.py").read_text()
    code = [line for line in source.splitlines() if line and not line.lstrip().startswith("#")]
    shipped = compiler_source()
    assert '"""Bytecode for' not in shipped and "\n#" not in shipped
    assert [line for line in shipped.splitlines() if line] == code[
        code.index("from __future__ import annotations") :
    ]


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_the_dockerfile_writes_the_script_as_it_is(builder: Builder, tmp_path: Path) -> None:
    """The printf in the Dockerfile, run by a real shell, gives back compiler_source()."""
    text = render_dockerfile(plan_for(EXAMPLES / "cpu-sklearn", BuildOptions(builder=builder)))
    match = re.search(r"^RUN (printf '%s\\n' \\\n(?:    .* \\\n)+)    > (\S+)$", text, re.M)
    assert match is not None
    command = match.group(1).replace(" \\\n", " ") + f"> {tmp_path / 'out.py'}"
    subprocess.run(["sh", "-c", command], check=True)
    assert (tmp_path / "out.py").read_text() == compiler_source()
    expected = (
        "/compile-bytecode.py" if builder == "buildkit" else "/opt/envforge-compile-bytecode.py"
    )
    assert match.group(2) == expected
