"""The default command starts: a package's __main__, and a library's `python`, built in the lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.conftest import Lab, build_copy, envforge

PROJECTS = REPO / "tests" / "fixtures" / "projects"


@pytest.fixture(scope="module")
def images(lab: Lab, docker_client, tmp_path_factory, unique_tag) -> dict[str, str]:
    built = {}
    for name in ("main-module", "lib-only"):
        tag = f"{unique_tag}/wheels-{name}:0.1.0"
        build_copy(lab, PROJECTS / name, tmp_path_factory.mktemp(name) / name, tag)
        built[name] = tag
    yield built
    for tag in built.values():
        docker_client.images.remove(tag, force=True)


def run(lab: Lab, tag: str, *args: str) -> tuple[int, str]:
    done = envforge("run", tag, "--no-tty", *args, env=lab.cli_env())
    return done.returncode, done.stdout + done.stderr


def test_a_package_with_a_main_runs_it(images: dict[str, str], lab: Lab, docker_client) -> None:
    tag = images["main-module"]
    assert docker_client.images.get(tag).attrs["Config"]["Entrypoint"] == [
        "/app/.venv/bin/python", "-m", "runme",
    ]  # fmt: skip
    code, out = run(lab, tag)
    assert (code, out.strip()) == (0, "runme ran (six 1.17.0)")


def test_a_library_starts_python_and_runs_what_follows(
    images: dict[str, str], lab: Lab, docker_client
) -> None:
    tag = images["lib-only"]
    assert docker_client.images.get(tag).attrs["Config"]["Entrypoint"] == ["/app/.venv/bin/python"]
    assert run(lab, tag) == (0, "")  # the interpreter, with nothing on stdin
    code, out = run(lab, tag, "--", "-c", "import lib_only; print(lib_only.GREETING)")
    assert (code, out.strip()) == (0, "lib-only imported")


def test_readme_of_a_library_says_how_to_run_it(tmp_path: Path, lab: Lab) -> None:
    import shutil

    root = tmp_path / "lib-only"
    shutil.copytree(PROJECTS / "lib-only", root)
    done = envforge("readme", str(root), "--create", env=lab.cli_env())
    assert done.returncode == 0, done.stderr
    text = (root / "README.md").read_text()
    assert "The image's command is `python`" in text
    assert "envforge run . -- -m <module>" in text
