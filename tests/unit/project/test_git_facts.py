"""What git tells the plan: the OCI source label (an https URL) and, for a dynamic version,
the image's tag and version label (the revision)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.cuda.catalog import load_cuda_catalog
from envforge.image.bases import load_catalog
from envforge.image.plan import BuildOptions, make_plan, revision_tag
from envforge.image.readme import render_section
from envforge.image.render import render_dockerfile
from envforge.project import git as gitfacts
from envforge.project import loader
from envforge.project.loader import load_project
from envforge.validate import source_url

runner = CliRunner()
SHA = "0123456789abcdef0123456789abcdef01234567"
# The revision build passes; without one (plain docker build) the tag's version outside git.
VERSION_LABEL = 'org.opencontainers.image.version="${ENVFORGE_REVISION:-0.1.0}"'

# --- the source label -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:o/r.git", "https://github.com/o/r"),
        ("github.com:o/r", "https://github.com/o/r"),
        ("ssh://git@github.com/o/r.git", "https://github.com/o/r"),
        ("ssh://git@gitlab.corp:2222/group/sub/r.git", "https://gitlab.corp/group/sub/r"),
        ("git://git.kernel.org/pub/scm/r.git", "https://git.kernel.org/pub/scm/r"),
        ("git+ssh://git@h.io/o/r.git", "https://h.io/o/r"),
        ("https://user:token@github.com/o/r.git", "https://github.com/o/r"),
        ("https://oauth2@gitlab.com/o/r/", "https://gitlab.com/o/r"),
        ("https://github.com/o/r", "https://github.com/o/r"),
        ("https://git.corp:8443/o/r.git", "https://git.corp:8443/o/r"),
        ("http://gitea.local:3000/o/r", "https://gitea.local:3000/o/r"),  # the label is https
    ],
)
def test_remotes_become_web_urls(remote: str, url: str) -> None:
    assert source_url(remote) == url


@pytest.mark.parametrize(
    "remote",
    [
        "/srv/git/r.git",
        "./r",
        "../r.git",
        "file:///srv/git/r.git",
        "C:\\src\\r",
        "",
        "https://github.com",
        "ssh://host/~me/r.git",
        "git@github.com:o/r.git\nLABEL x=1",
        "https://github.com/o/r with space",
        "https://github.com/o/\x1b[31mr",
    ],
)
def test_local_or_unparsable_remotes_give_no_label(remote: str) -> None:
    assert source_url(remote) is None


# --- a project in a real git checkout ----------------------------------------------------


def _git(root: Path, *args: str) -> str:
    env_args = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    done = subprocess.run(
        ["git", *env_args, "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def dynamic(example_copy) -> Path:
    """cpu-sklearn with a dynamic version, committed in a fresh git repository."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root: Path = example_copy("cpu-sklearn")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text().replace('version = "0.1.0"\n', 'dynamic = ["version"]\n')
    pyproject.write_text(text)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "init")
    return root


def plan_of(root: Path, options: BuildOptions = BuildOptions()):
    loaded = load_project(root, check_lock=False)
    return make_plan(
        loaded.project, loaded.lock, loaded.facts, load_catalog(), options, load_cuda_catalog()
    )


def test_source_label_from_an_scp_remote(dynamic: Path) -> None:
    _git(dynamic, "remote", "add", "origin", "git@github.com:octo/cpu-sklearn.git")
    labels = plan_of(dynamic).labels
    assert labels["org.opencontainers.image.source"] == "https://github.com/octo/cpu-sklearn"


def test_a_local_remote_gives_no_source_label(dynamic: Path, tmp_path: Path) -> None:
    _git(dynamic, "remote", "add", "origin", str(tmp_path / "bare.git"))
    assert "org.opencontainers.image.source" not in plan_of(dynamic).labels


def test_dynamic_version_tags_with_the_revision(dynamic: Path) -> None:
    head = _git(dynamic, "rev-parse", "HEAD")
    plan = plan_of(dynamic)
    assert plan.default_tag == f"cpu-sklearn:git-{head[:7]}"
    decision = next(d for d in plan.decisions if d.topic == "version")
    assert decision.choice == f"git-{head[:7]}"
    assert "project.version is dynamic" in decision.reason
    # The label is the revision build passes, so the Dockerfile does not change per commit.
    assert "org.opencontainers.image.version" not in plan.labels
    assert VERSION_LABEL in render_dockerfile(plan)

    (dynamic / "src/cpu_sklearn/experiment.py").write_text("# edited\n")
    assert plan_of(dynamic).default_tag == f"cpu-sklearn:git-{head[:7]}-dirty"


def test_envforges_own_files_do_not_make_the_tree_dirty(dynamic: Path) -> None:
    head = _git(dynamic, "rev-parse", "HEAD")
    for name in ("Dockerfile", ".dockerignore", "compose.yaml"):
        (dynamic / name).write_text("# written by envforge\n")
    assert loader.git_revision(dynamic) == head
    (dynamic / "notes.txt").write_text("mine\n")
    assert loader.git_revision(dynamic) == f"{head}-dirty"


def test_dynamic_version_without_git(dynamic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitfacts.shutil, "which", lambda name: None)
    plan = plan_of(dynamic)
    # cpu-sklearn's lock records its root at 0.1.0: without git, that version.
    assert plan.default_tag == "cpu-sklearn:0.1.0"
    decision = next(d for d in plan.decisions if d.topic == "version")
    assert decision.reason.startswith(
        "project.version is dynamic and no git revision could be read (not a git checkout, "
        "or git is not installed)"
    )
    assert VERSION_LABEL in render_dockerfile(plan)


def test_dynamic_version_without_git_nor_locked_version(
    dynamic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitfacts.shutil, "which", lambda name: None)
    loaded = load_project(dynamic, check_lock=False)
    root = loaded.lock.root
    assert root is not None
    lock = replace(loaded.lock, root=replace(root, version=None))  # what the tag reads
    plan = make_plan(loaded.project, lock, loaded.facts, load_catalog(), BuildOptions())
    assert plan.default_tag == "cpu-sklearn:latest"
    decision = next(d for d in plan.decisions if d.topic == "version")
    assert (decision.choice, decision.reason.endswith(": tagged :latest")) == ("latest", True)


def test_a_static_version_keeps_its_tag_and_label(example_copy) -> None:
    plan = plan_of(example_copy("cpu-sklearn"))
    assert plan.default_tag == "cpu-sklearn:0.1.0"
    assert plan.labels["org.opencontainers.image.version"] == "0.1.0"
    assert "version" not in {d.topic for d in plan.decisions}
    assert (
        "${ENVFORGE_REVISION"
        not in render_dockerfile(plan).split("org.opencontainers.image.revision")[0]
    )


def test_revision_tag() -> None:
    assert revision_tag(SHA) == "git-0123456"
    assert revision_tag(f"{SHA}-dirty") == "git-0123456-dirty"


def test_plan_cli_shows_the_revision_tag(dynamic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "check_lock_fresh", lambda *a: "checked")
    head = _git(dynamic, "rev-parse", "--short=7", "HEAD")
    result = runner.invoke(app, ["plan", str(dynamic)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"version       git-{head}" in lines
    assert f"tag           cpu-sklearn:git-{head}" in lines


def test_readme_names_the_revision_without_this_checkouts_sha(dynamic: Path) -> None:
    head = _git(dynamic, "rev-parse", "HEAD")
    plan = plan_of(dynamic, BuildOptions(host_gpu=False))
    text = render_section(plan, load_cuda_catalog())
    tag = '"cpu-sklearn:git-$(git rev-parse --short=7 HEAD)"'  # quoted: one shell word
    assert f"docker build -t {tag} --build-arg ENVFORGE_REVISION=$(git rev-parse HEAD) .\n" in text
    assert f"docker run --rm {tag}\n" in text
    assert head[:7] not in text


def test_compose_does_not_change_per_commit(dynamic: Path) -> None:
    from envforge.image.compose import compose_dict, render_compose

    plan = plan_of(dynamic)
    assert plan.default_tag.startswith("cpu-sklearn:git-")
    assert compose_dict(plan)["services"]["cpu-sklearn"]["image"] == "cpu-sklearn:latest"
    first = render_compose(plan)
    _git(dynamic, "commit", "-q", "--allow-empty", "-m", "next")
    assert render_compose(plan_of(dynamic)) == first
    assert "# A dynamic version: envforge build tags cpu-sklearn:git-<short sha>" in first
