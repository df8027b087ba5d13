"""The smoke check at the end of `envforge build`, on the offline lab's real engine.

gitpython-app imports GitPython at the top of its package, and GitPython fails at import
when there is no git program: the slim base has none. Its packages are right (verify says
so), yet the image does not start; the check says why and what fixes it.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO
from tests.integration.conftest import Lab, build_copy, envforge

GITPYTHON_APP = REPO / "tests/fixtures/projects/gitpython-app"


def test_cpu_example_passes_the_check(lab: Lab, docker_client, tmp_path: Path, unique_tag) -> None:
    tag = f"{unique_tag}/smoke-cpu:0.1.0"
    try:
        out = build_copy(lab, EXAMPLES / "cpu-sklearn", tmp_path / "cpu-sklearn", tag)
        checks = [line for line in out.splitlines() if line.startswith("check ")]
        assert checks == [
            "check     distribution cpu-sklearn ok",
            "check     imports cpu_sklearn ok",
            "check     console script cpu-sklearn ok",
            "check     command /app/.venv/bin/cpu-sklearn ok",
        ]
    finally:
        docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def gitpython_tag(unique_tag, docker_client):
    tag = f"{unique_tag}/smoke-gitpython:0.1.0"
    yield tag
    import docker.errors

    for ref in (tag, tag.replace(":0.1.0", "-git:0.1.0")):
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(ref, force=True)


def test_missing_git_fails_the_check_and_keeps_the_image(
    lab: Lab, docker_client, tmp_path: Path, gitpython_tag: str
) -> None:
    root = tmp_path / "gitpython-app"
    shutil.copytree(GITPYTHON_APP, root)
    done = envforge("build", str(root), "--tag", gitpython_tag, env=lab.cli_env())
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    assert "check     imports gitpython_app FAILED" in done.stdout.splitlines()
    err = done.stderr.splitlines()
    assert err[0] == (
        "error: the image was built but does not start: imports gitpython_app: "
        "ImportError: Failed to initialize: Bad git executable. (and 1 more check(s) failed)"
    )
    assert "  |     import git" in err
    assert "Traceback" not in done.stderr[: done.stderr.index("  |")]
    assert err[-1].startswith("hint: GitPython needs the git program, which the image lacks; ")
    assert '[tool.envforge] apt-packages = ["git"]' in err[-1]
    assert f"envforge run {gitpython_tag} --entrypoint sh" in err[-1]
    docker_client.images.get(gitpython_tag)  # kept for inspection

    # The packages are exactly the lock's: only the smoke check sees what is wrong.
    verified = envforge("verify", gitpython_tag, str(root), env=lab.cli_env())
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"verified: {gitpython_tag} holds the 4 packages")

    # --no-check builds the same image (from the cache) and says it did not check.
    skipped = envforge("build", str(root), "--tag", gitpython_tag, "--no-check", env=lab.cli_env())
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.splitlines()[-1] == "check     skipped (--no-check)"


def test_the_hint_fixes_it(lab: Lab, tmp_path: Path, gitpython_tag: str) -> None:
    root = tmp_path / "gitpython-app"
    shutil.copytree(GITPYTHON_APP, root)
    with (root / "pyproject.toml").open("a") as f:
        f.write('\n[tool.envforge]\napt-packages = ["git"]\n')
    tag = gitpython_tag.replace(":0.1.0", "-git:0.1.0")
    out = build_copy(lab, root, tmp_path / "with-git", tag)
    checks = [line for line in out.splitlines() if line.startswith("check ")]
    assert checks == [
        "check     distribution gitpython-app ok",
        "check     imports gitpython_app ok",
        "check     console script gitpython-app ok",
        "check     command /app/.venv/bin/gitpython-app ok",
    ]
    ran = envforge("run", tag, "--no-tty", env=lab.cli_env())
    assert ran.returncode == 0 and ran.stdout.startswith("git 2."), ran.stdout + ran.stderr
