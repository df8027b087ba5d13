"""make_plan as a whole: labels, settings passed through, the report, local sources."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from envforge import __version__
from envforge.errors import InvalidProjectError, PlanError
from envforge.image.report import plan_json, plan_text
from tests.unit.image.planning import (
    FACTS,
    LOCK_HASH,
    PY311_DIGEST,
    SKLEARN_LOCK,
    SKLEARN_PYPROJECT,
    bare_lock,
    plan,
    sklearn,
    with_tool,
)

# --- labels, settings passed through, report -----------------------------------------


def test_labels() -> None:
    labels = plan(facts=replace(FACTS, git_source="https://git.example/x.git")).labels
    assert labels == {
        "org.opencontainers.image.title": "cpu-sklearn",
        "org.opencontainers.image.version": "0.1.0",
        "org.opencontainers.image.description": SKLEARN_PYPROJECT["project"]["description"],
        "org.opencontainers.image.source": "https://git.example/x",
        "org.opencontainers.image.base.name": "docker.io/library/python:3.11-slim-trixie",
        "org.opencontainers.image.base.digest": PY311_DIGEST,
        "dev.envforge.version": __version__,
        "dev.envforge.lock-hash": LOCK_HASH,
        "dev.envforge.python": "3.11",
        "dev.envforge.extras": "",
        "dev.envforge.groups": "",
    }


def test_settings_pass_through() -> None:
    data = with_tool(
        sklearn(),
        envforge={"apt-packages": ["libgomp1"], "build-apt-packages": ["g++"], "ports": [8000],
                  "env": {"OMP_NUM_THREADS": "1"}},
    )  # fmt: skip
    p = plan(data)
    assert (p.apt_packages, p.build_apt_packages, p.ports) == (("libgomp1",), ("g++",), (8000,))
    assert dict(p.env) == {"OMP_NUM_THREADS": "1"}


def test_tag_falls_back_to_the_locked_version() -> None:
    data = sklearn()
    data["project"]["version"] = None
    data["project"]["dynamic"] = ["version"]
    assert plan(data).default_tag == "cpu-sklearn:0.1.0"


def test_tag_without_any_version() -> None:
    data = sklearn()
    data["project"]["version"] = None
    data["project"]["dynamic"] = ["version"]
    assert plan(data, lock=bare_lock(">=3.10")).default_tag == "cpu-sklearn:latest"


def test_every_topic_is_explained() -> None:
    topics = [d.topic for d in plan(ca_bundle=True).decisions]
    assert topics == [
        "python",
        "base image",
        "uv",
        "dependencies",
        "command",
        "layers",
        "bytecode",
        "ca bundle",
        "heavy layer",  # none: the classic builder's plan says why
    ]


def test_report_json_and_text() -> None:
    p = plan()
    data = plan_json(p, "uv lock --check")
    assert data["schema"] == 1
    assert data["lock"] == {"hash": LOCK_HASH, "freshness": "uv lock --check"}
    assert data["base_image"] == {
        "ref": p.base_ref, "name": p.base_name, "digest": PY311_DIGEST,
    }  # fmt: skip
    assert data["sync_flags"] == ["--locked", "--no-dev", "--no-editable"]
    extras = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"]}})
    with_extra = plan_json(plan(extras, extras=("plots",), groups=("dev",)), "uv lock --check")
    assert with_extra["sync_flags"] == [
        "--locked", "--no-default-groups", "--extra", "plots", "--group", "dev", "--no-editable",
    ]  # fmt: skip
    assert data["entrypoint"] == ["cpu-sklearn"]
    text = plan_text(p, "uv lock --check", "examples/cpu-sklearn")
    assert text.startswith("envforge plan for cpu-sklearn 0.1.0 (examples/cpu-sklearn)\n\n")
    assert "cpu-sklearn:0.1.0" in text and LOCK_HASH in text
    assert all(len(line) <= 96 for line in text.splitlines() if line.startswith(" "))


def test_path_dependencies_inside_the_project_are_copied_outside_refused(tmp_path) -> None:
    import shutil

    from tests.conftest import REPO
    from tests.unit.helpers import plan_for

    root = tmp_path / "with-local-lib"
    shutil.copytree(REPO / "tests/fixtures/projects/with-local-lib", root)
    assert plan_for(root).local_paths == ("libs/helper",)
    lock = root / "uv.lock"
    lock.write_text(
        lock.read_text().replace('directory = "libs/helper"', 'directory = "../helper"')
    )
    with pytest.raises(PlanError, match=r"installs helper from '\.\./helper', outside the project"):
        plan_for(root)


def test_a_long_description_is_cut_for_the_label_and_the_plan_says_so() -> None:
    long = "A line\nthat goes on. " * 10_000
    p = plan(sklearn(project={"description": long}))
    label = p.labels["org.opencontainers.image.description"]
    assert len(label) == 512 and label.endswith("...") and "\n" not in label
    (note,) = [d for d in p.decisions if d.topic == "description"]
    assert note.choice == "first 512 characters"


@pytest.mark.parametrize(
    "remote,label",
    [
        ("git@github.com:o/r.git", "https://github.com/o/r"),
        ("https://example.org/r\nLABEL x=y", None),
        ("/srv/git/r", None),
    ],
)
def test_the_source_label_is_an_https_url_or_nothing(remote: str, label: str | None) -> None:
    p = plan(facts=replace(FACTS, git_source=remote))
    assert p.labels.get("org.opencontainers.image.source") == label


@pytest.mark.parametrize(
    "source", ["libs/a\nRUN touch /tmp/PWN", "libs/a\x00", "libs/${HOME}", "libs/*"]
)
def test_a_lock_path_source_that_copy_cannot_take_is_refused(source: str) -> None:
    lock = copy.deepcopy(SKLEARN_LOCK)
    lock["package"].append({"name": "lib", "version": "0.1.0", "source": {"directory": source}})
    with pytest.raises(InvalidProjectError) as caught:
        plan(lock=lock)
    assert caught.value.message.startswith("Invalid path ")
    assert caught.value.message.endswith(" in the source of 'lib' in uv.lock")
