"""scriptscan: what a console script's module imports on load, read with ast, bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envforge.project import scriptscan
from envforge.project.scriptscan import entry_module, script_imports


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return root


def imports(root: Path, entry: str = "app.cli:main", *, bases: tuple[str, ...] = ("", "src")):
    found = script_imports(root, [root / b for b in bases], {"app": entry})
    return set(found["app"]) if "app" in found else None


def test_entry_module() -> None:
    assert entry_module("mcp.cli:app [cli]") == "mcp.cli"
    assert entry_module("pkg.mod:obj.attr") == "pkg.mod"
    assert entry_module("pkg") == "pkg"
    assert entry_module("pkg.mod:main [a, b]") == "pkg.mod"
    for junk in ("", ":main", "pkg mod:main", "1pkg:main", "pkg..mod:x", "pkg:$(id)"):
        assert entry_module(junk) is None, junk


def test_the_module_and_the_packages_on_its_path(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/app/__init__.py": "import numpy\n",
            "src/app/cli.py": "import click\nfrom rich.console import Console\nimport os.path\n",
            "src/app/other.py": "import never_loaded\n",
        },
    )
    assert imports(tmp_path) == {"numpy", "click", "rich", "os"}


def test_relative_imports_are_followed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/cli/__init__.py": "from .main import run\nfrom . import helpers\n",
            "app/cli/main.py": "import click\nfrom ..core import engine\n",
            "app/cli/helpers.py": "import rich\n",
            "app/core/__init__.py": "",
            "app/core/engine.py": "import numpy\n",
        },
    )
    assert imports(tmp_path, "app.cli:run") == {"click", "rich", "numpy"}


def test_absolute_imports_of_its_own_package_are_followed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/app/__init__.py": "",
            "src/app/cli.py": "from app.server import serve\nimport app.util\n",
            "src/app/server.py": "import uvicorn\n",
            "src/app/util.py": "import yaml\n",
        },
    )
    assert imports(tmp_path) == {"uvicorn", "yaml"}


def test_following_stops_a_few_files_deep(tmp_path: Path) -> None:
    chain = {"app/__init__.py": "", "app/cli.py": "from . import m1\n"}
    for i in range(1, 8):
        chain[f"app/m{i}.py"] = f"import dep{i}\nfrom . import m{i + 1}\n"
    write(tmp_path, chain)
    found = imports(tmp_path)
    assert found is not None
    assert "dep1" in found and "dep7" not in found
    assert len(found) == scriptscan.MAX_DEPTH


def test_guarded_imports_do_not_count(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/cli.py": (
                "from __future__ import annotations\n"
                "from typing import TYPE_CHECKING\n"
                "import typing\n"
                "if TYPE_CHECKING:\n    import typecheck_only\n"
                "if typing.TYPE_CHECKING:\n    import typecheck_too\nelse:\n    import at_run\n"
                "try:\n    import optional_a\nexcept ImportError:\n    optional_a = None\n"
                "try:\n    import optional_b\nexcept (ModuleNotFoundError, OSError):\n    pass\n"
                "try:\n    import optional_c\nexcept Exception:\n    pass\nelse:\n    import c_extra\n"
                "with contextlib.suppress(ImportError):\n    import optional_d\n"
                "if __name__ == '__main__':\n    import only_as_main\n"
                "if TYPE_CHECKING or _peft_available:\n    import peft\nelse:\n    pass\n"
                "if is_torch_available():\n    import torch\n"
                "if utils.HAS_RICH:\n    import rich\n"
                "if not TYPE_CHECKING:\n    import at_run_too\n"
                "def later():\n    import lazy\n"
                "class K:\n    import in_class\n"
            ),
        },
    )
    assert imports(tmp_path) == {"__future__", "typing", "at_run", "at_run_too"}


def test_a_handler_that_gives_up_makes_the_import_needed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/cli.py": (
                "import sys\n"
                "try:\n    import typer\nexcept ImportError:\n"
                "    print('pip install app[cli]')\n    sys.exit(1)\n"
                "try:\n    import rich\nexcept ImportError as e:\n"
                "    raise RuntimeError('needs rich') from e\n"
                "try:\n    import yaml\nexcept KeyError:\n    pass\n"
                "try:\n    import toml\nfinally:\n    import always\n"
                "with open('x') as f:\n    import in_with\n"
                "if sys.version_info >= (3, 11):\n    import tomllib\nelse:\n    import tomli\n"
            ),
        },
    )
    assert imports(tmp_path) == {
        "sys", "typer", "rich", "yaml", "toml", "always", "in_with", "tomllib", "tomli",
    }  # fmt: skip


def test_a_module_outside_the_source_gives_no_entry(tmp_path: Path) -> None:
    write(tmp_path, {"app/__init__.py": "import x\n"})
    assert imports(tmp_path, "app.missing:main") is None
    assert imports(tmp_path, "elsewhere:main") is None
    assert imports(tmp_path, "not an entry point") is None
    # A namespace package (no __init__.py) is found as Python finds it.
    write(tmp_path, {"ns/cli.py": "import y\n"})
    assert imports(tmp_path, "ns.cli:main") == {"y"}


def test_first_base_holding_the_package_wins(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "import flat\n",
            "app/cli.py": "",
            "src/app/__init__.py": "import src\n",
        },
    )
    assert imports(tmp_path) == {"flat"}


@pytest.mark.parametrize(
    "source",
    [
        "import click\ndef broken(:\n",  # syntax error
        b"\x00\x01\x02import click\x00",  # binary
        b"import click\n\xff\xfe\n",  # not UTF-8
        "x = 1\n" * 200_000,  # over the size cap
        "if x:\n"
        + "".join("    " * i + "if x:\n" for i in range(1, 120))
        + "    " * 120
        + "import click\n",
        "(" * 5000 + ")" * 5000 + "\nimport click\n",  # too deep for the parser
        "import click\n'\\d'\n",  # a SyntaxWarning, silenced
    ],
    ids=["syntax", "binary", "utf8", "huge", "nesting", "parser-depth", "warning"],
)
def test_hostile_source_never_crashes(
    tmp_path: Path, source: str | bytes, recwarn: pytest.WarningsRecorder
) -> None:
    write(tmp_path, {"app/__init__.py": "import base\n", "app/cli.py": source})
    found = imports(tmp_path)
    assert found is not None and "base" in found
    assert not recwarn.list
    if not (isinstance(source, str) and source.endswith("'\\d'\n")):
        assert "click" not in found  # unreadable: skipped, not guessed


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = write(
        tmp_path / "outside", {"evil/__init__.py": "import stolen\n", "evil.py": "import x\n"}
    )
    root = write(tmp_path / "proj", {"app/__init__.py": "", "app/cli.py": "from . import linked\n"})
    os.symlink(outside / "evil.py", root / "app" / "linked.py")
    os.symlink(outside / "evil", root / "app" / "sub")
    os.symlink(outside / "evil", root / "other")
    assert imports(root) == set()
    assert imports(root, "app.sub:main") is None
    assert imports(root, "other:main") is None
    # A symlinked package folder among the bases is not looked into.
    os.symlink(outside, root / "src")
    assert imports(root, "evil:main") is None


def test_file_counts_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "app/__init__.py": "",
        "app/cli.py": "".join(f"from . import m{i}\n" for i in range(200)),
    }
    files |= {f"app/m{i}.py": f"import dep{i}\n" for i in range(200)}
    write(tmp_path, files)
    found = imports(tmp_path)
    assert found is not None and len(found) < scriptscan.MAX_FILES_PER_SCRIPT
    monkeypatch.setattr(scriptscan, "MAX_FILES", 5)
    found = script_imports(tmp_path, [tmp_path], {f"s{i}": "app.cli:main" for i in range(3)})
    assert all(len(v) <= 5 for v in found.values())


def test_many_scripts_share_the_parsed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"app/__init__.py": "import base\n", "app/cli.py": "import click\n"})
    calls: list[str | None] = []
    real = scriptscan._module_imports
    monkeypatch.setattr(scriptscan, "_module_imports", lambda s: calls.append(s) or real(s))
    found = script_imports(tmp_path, [tmp_path], {f"s{i}": "app.cli:main" for i in range(10)})
    assert found == {f"s{i}": frozenset({"base", "click"}) for i in range(10)}
    assert len(calls) == 2


def test_huge_names_and_import_lists_stay_cheap(tmp_path: Path) -> None:
    import time

    dotted = ".".join(["app"] * 20_000)
    names = ", ".join(f"m{i}" for i in range(30_000))
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/cli.py": f"import {dotted}\nfrom app import ({names})\n"
            + "".join(f"import dep{i}\n" for i in range(5000)),
        },
    )
    start = time.perf_counter()
    found = imports(tmp_path)
    assert found is not None and len(found) < 1000
    assert imports(tmp_path, dotted + ":main") is None
    # A bound against a blow-up (quadratic work on the names), not a speed goal: it failed
    # at 5 s once on a loaded 2-core machine.
    assert time.perf_counter() - start < 30
