"""make_plan and its helpers: every choice behind an image, on plain data."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from envforge import __version__
from envforge.catalog import load_catalog
from envforge.errors import InvalidProjectError, PlanError
from envforge.lockfile import Lock
from envforge.plan import (
    BuildOptions,
    Plan,
    ProjectFacts,
    dockerignore_patterns,
    make_plan,
    parse_python_version_file,
)
from envforge.project import Project
from envforge.report import plan_json, plan_text

from .conftest import CPU_SKLEARN, read_toml

LOCK_HASH = "sha256:" + "0" * 64
PY311_DIGEST = "sha256:3c1dfceb3f1267d4d378e7883cddf35c58757bab98d70bba30b6e02e808fa21d"
FACTS = ProjectFacts(
    lock_hash=LOCK_HASH,
    python_version_file="3.11\n",
    top_level=frozenset({"pyproject.toml", "uv.lock", "src"}),
)
NO_PIN = replace(FACTS, python_version_file=None)
SKLEARN_PYPROJECT = read_toml(CPU_SKLEARN / "pyproject.toml")
SKLEARN_LOCK = read_toml(CPU_SKLEARN / "uv.lock")


def sklearn(**changes: Any) -> dict[str, Any]:
    """The example's pyproject, with top-level tables replaced or merged in."""
    data = copy.deepcopy(SKLEARN_PYPROJECT)
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def with_tool(data: dict[str, Any], **tables: dict[str, Any]) -> dict[str, Any]:
    """data with [tool.<name>] tables, such as with_tool(d, envforge={...}, uv={...})."""
    data.setdefault("tool", {}).update(tables)
    return data


def plan(
    pyproject: dict[str, Any] | None = None,
    facts: ProjectFacts = FACTS,
    lock: dict[str, Any] | None = None,
    **options: Any,
) -> Plan:
    project = Project.from_dict(pyproject if pyproject is not None else sklearn())
    lock_data = lock if lock is not None else SKLEARN_LOCK
    return make_plan(
        project,
        Lock.from_dict(lock_data, project_name=project.name),
        facts,
        load_catalog(),
        BuildOptions(**options),
    )


def bare_lock(requires_python: str | None = None) -> dict[str, Any]:
    return {"version": 1} | ({"requires-python": requires_python} if requires_python else {})


def plan_error(*args: Any, **kwargs: Any) -> PlanError:
    with pytest.raises(PlanError) as info:
        plan(*args, **kwargs)
    assert info.value.exit_code == 2
    return info.value


# --- python and base image ----------------------------------------------------------


def test_example_plan_python_and_base() -> None:
    p = plan()
    assert p.python == "3.11"
    assert p.base_ref == f"python:3.11-slim-trixie@{PY311_DIGEST}"
    assert p.base_name == "docker.io/library/python:3.11-slim-trixie"
    assert p.base_digest == PY311_DIGEST
    assert p.copy_python_version is True
    assert p.install_project is True
    assert p.default_tag == "cpu-sklearn:0.1.0"


def test_python_decision_names_python_version_file() -> None:
    decision = next(d for d in plan().decisions if d.topic == "python")
    assert decision.choice == "3.11"
    assert decision.reason == ".python-version asks for 3.11; requires-python is '>=3.10'"


def test_without_pin_the_newest_allowed_python_wins() -> None:
    p = plan(facts=NO_PIN)
    assert p.python == "3.14"
    assert p.copy_python_version is False


def test_upper_bound_limits_the_newest_python() -> None:
    data = sklearn(project={"requires-python": ">=3.10,<3.13"})
    assert plan(data, NO_PIN, lock=bare_lock(">=3.10, <3.13")).python == "3.12"


def test_lock_requires_python_also_limits() -> None:
    # pyproject.toml says >=3.10, but the lock was made for <3.13: both must hold.
    assert plan(sklearn(), NO_PIN, lock=bare_lock(">=3.10, <3.13")).python == "3.12"


def test_no_requires_python_at_all_takes_the_newest() -> None:
    data = sklearn()
    del data["project"]["requires-python"]
    assert plan(data, NO_PIN, lock=bare_lock()).python == load_catalog().pythons()[-1]


@pytest.mark.parametrize(
    ("kwargs", "envforge", "expected"),
    [
        ({"python": "3.12"}, {}, "3.12"),  # --python beats .python-version
        ({}, {"python": "3.13"}, "3.13"),  # [tool.envforge] python beats .python-version
        ({"python": "3.12"}, {"python": "3.13"}, "3.12"),  # --python beats both
    ],
)
def test_python_precedence(kwargs: dict[str, Any], envforge: dict[str, Any], expected: str) -> None:
    assert plan(with_tool(sklearn(), envforge=envforge), **kwargs).python == expected


def test_python_version_file_below_requires_python() -> None:
    error = plan_error(facts=replace(FACTS, python_version_file="3.9\n"))
    assert (
        error.message == "Python 3.9 from .python-version does not satisfy requires-python '>=3.10'"
    )


def test_no_catalog_python_satisfies_requires_python() -> None:
    data = sklearn(project={"requires-python": ">=3.20"})
    error = plan_error(data, NO_PIN, lock=bare_lock(">=3.20"))
    assert error.message == (
        "No Python in envforge's catalog (3.10, 3.11, 3.12, 3.13, 3.14) "
        "satisfies requires-python '>=3.20'"
    )


def test_unknown_python_without_base_image() -> None:
    error = plan_error(python="3.15")
    assert error.message == (
        "No base image for Python 3.15 (from --python) in envforge's catalog "
        "(it knows 3.10, 3.11, 3.12, 3.13, 3.14)"
    )
    assert error.hint is not None and "--base-image" in error.hint


def test_unknown_python_with_base_image() -> None:
    p = plan(python="3.15", base_image="registry.example/python:3.15-rc")
    assert p.python == "3.15"
    assert p.base_ref == "registry.example/python:3.15-rc"
    assert p.base_digest is None


def test_unknown_python_with_base_image_from_settings() -> None:
    data = with_tool(sklearn(), envforge={"python": "3.15", "base-image": "corp/python:3.15"})
    assert plan(data).base_ref == "corp/python:3.15"


def test_catalog_image_must_satisfy_requires_python_patch() -> None:
    data = sklearn(project={"requires-python": "==3.11.7"})
    with pytest.raises(PlanError):
        plan(data, NO_PIN, lock=bare_lock("==3.11.7"))


def test_debian_setting_picks_the_row() -> None:
    p = plan(with_tool(sklearn(), envforge={"debian": "bookworm"}))
    row = load_catalog().python_image("3.11", "bookworm")
    assert row is not None and row.digest is not None
    assert p.base_ref == f"python:3.11-slim-bookworm@{row.digest}"
    assert p.base_digest == row.digest


def test_debian_setting_without_such_row() -> None:
    error = plan_error(with_tool(sklearn(), envforge={"debian": "bookworm"}), python="3.14")
    assert error.message == "No python:3.14-slim-bookworm in envforge's catalog (has: trixie)"


def test_registry_mirror_rewrites_base_and_uv() -> None:
    p = plan(registry_mirror="mirror.example:5000")
    assert p.base_ref == f"mirror.example:5000/library/python:3.11-slim-trixie@{PY311_DIGEST}"
    assert p.uv_ref == "mirror.example:5000/astral-sh/uv:0.13.9"
    # The label keeps the canonical name: the mirror is how it was pulled, not what it is.
    assert (
        p.labels["org.opencontainers.image.base.name"]
        == "docker.io/library/python:3.11-slim-trixie"
    )


def test_registry_mirror_trailing_slash() -> None:
    assert (
        plan(registry_mirror="mirror.example:5000/").uv_ref
        == "mirror.example:5000/astral-sh/uv:0.13.9"
    )


def test_default_uv_ref() -> None:
    p = plan()
    assert (p.uv_source, p.uv_ref, p.uv_version) == (
        "image",
        "ghcr.io/astral-sh/uv:0.13.9",
        "0.13.9",
    )


def test_uv_from_pip() -> None:
    p = plan(uv_source="pip")
    assert (p.uv_source, p.uv_ref) == ("pip", "uv==0.13.9")
    assert plan(with_tool(sklearn(), envforge={"uv-source": "pip"})).uv_ref == "uv==0.13.9"


def test_uv_image_override() -> None:
    assert plan(uv_image="lab/uv:0.13.9").uv_ref == "lab/uv:0.13.9"


def test_base_image_override_with_digest() -> None:
    digest = "sha256:" + "1" * 64
    p = plan(base_image=f"nvcr.io/nvidia/cuda:12.4.1-runtime@{digest}")
    assert p.base_ref == f"nvcr.io/nvidia/cuda:12.4.1-runtime@{digest}"
    assert p.base_name == "nvcr.io/nvidia/cuda:12.4.1-runtime"
    assert p.base_digest == digest
    assert p.labels["org.opencontainers.image.base.digest"] == digest


def test_base_image_override_without_digest() -> None:
    p = plan(base_image="nvcr.io/nvidia/cuda:12.4.1-runtime")
    assert (p.base_ref, p.base_name, p.base_digest) == (
        "nvcr.io/nvidia/cuda:12.4.1-runtime",
        "nvcr.io/nvidia/cuda:12.4.1-runtime",
        None,
    )
    assert "org.opencontainers.image.base.digest" not in p.labels


def test_base_image_override_ignores_the_mirror() -> None:
    p = plan(base_image="corp/python:3.11", registry_mirror="mirror.example:5000")
    assert p.base_ref == "corp/python:3.11"


# --- dependencies: uv sync flags ----------------------------------------------------


def test_default_sync_flags() -> None:
    p = plan()
    assert p.sync_flags == ("--locked", "--no-dev", "--no-editable")
    assert (p.extras, p.groups) == ((), ())


def test_groups_switch_off_default_groups() -> None:
    p = plan(groups=("dev",))
    assert p.sync_flags == ("--locked", "--no-default-groups", "--group", "dev", "--no-editable")
    assert p.groups == ("dev",)


def test_groups_from_settings_and_deduplicated() -> None:
    data = with_tool(sklearn(), envforge={"groups": ["dev", "dev"]})
    assert plan(data).groups == ("dev",)


def test_other_default_groups_are_all_left_out() -> None:
    data = with_tool(
        sklearn(**{"dependency-groups": {"lint": ["ruff>=0.6"]}}),
        uv={"default-groups": ["dev", "lint"]},
    )
    p = plan(data)
    assert p.sync_flags == ("--locked", "--no-default-groups", "--no-editable")


def test_extras() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    p = plan(data, extras=("plots",))
    assert p.extras == ("plots",)
    assert p.sync_flags == ("--locked", "--no-dev", "--extra", "plots", "--no-editable")


def test_all_extras() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    p = plan(data, all_extras=True)
    assert p.extras == ("gpu", "plots")
    assert p.sync_flags == ("--locked", "--no-dev", "--all-extras", "--no-editable")
    assert p.labels["dev.envforge.extras"] == "gpu,plots"


def test_unknown_extra_names_the_known_ones() -> None:
    data = sklearn(project={"optional-dependencies": {"plots": ["matplotlib"], "gpu": ["cupy"]}})
    error = plan_error(data, extras=("cuda",))
    assert error.message == "Unknown extra 'cuda'"
    assert error.hint == "The project's extras: gpu, plots."


def test_unknown_extra_when_there_are_none() -> None:
    assert plan_error(extras=("cuda",)).hint == "The project's extras: none."


def test_unknown_group_names_the_known_ones() -> None:
    error = plan_error(groups=("docs",))
    assert error.message == "Unknown dependency group 'docs'"
    assert error.hint == "The project's groups: dev."


# --- entrypoint ---------------------------------------------------------------------


def entrypoint_of(data: dict[str, Any], top_level: set[str] | None = None) -> tuple[str, ...]:
    facts = FACTS if top_level is None else replace(FACTS, top_level=frozenset(top_level))
    return plan(data, facts).entrypoint


def test_one_console_script() -> None:
    assert entrypoint_of(sklearn()) == ("cpu-sklearn",)


def test_settings_command_wins() -> None:
    data = with_tool(sklearn(), envforge={"command": "python -m cpu_sklearn --seed 1"})
    assert entrypoint_of(data) == ("python", "-m", "cpu_sklearn", "--seed", "1")


def test_several_scripts_run_the_module() -> None:
    data = sklearn(project={"scripts": {"a": "cpu_sklearn.a:main", "b": "cpu_sklearn.b:main"}})
    assert entrypoint_of(data) == ("python", "-m", "cpu_sklearn")


def test_no_scripts_run_the_module() -> None:
    data = sklearn()
    del data["project"]["scripts"]
    assert entrypoint_of(data) == ("python", "-m", "cpu_sklearn")


def test_non_package_with_main_py() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    assert entrypoint_of(data, {"pyproject.toml", "uv.lock", "main.py"}) == ("python", "main.py")
    assert plan(data).install_project is False


def test_non_package_without_main_py_runs_the_module() -> None:
    data = with_tool(sklearn(), uv={"package": False})
    assert entrypoint_of(data, {"pyproject.toml", "uv.lock", "app.py"}) == (
        "python",
        "-m",
        "cpu_sklearn",
    )


def test_package_with_main_py_still_uses_its_script() -> None:
    assert entrypoint_of(sklearn(), {"pyproject.toml", "main.py"}) == ("cpu-sklearn",)


# --- labels, settings passed through, report -----------------------------------------


def test_labels() -> None:
    labels = plan(facts=replace(FACTS, git_source="https://git.example/x.git")).labels
    assert labels == {
        "org.opencontainers.image.title": "cpu-sklearn",
        "org.opencontainers.image.version": "0.1.0",
        "org.opencontainers.image.description": SKLEARN_PYPROJECT["project"]["description"],
        "org.opencontainers.image.source": "https://git.example/x.git",
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
    assert data["entrypoint"] == ["cpu-sklearn"]
    text = plan_text(p, "uv lock --check", "examples/cpu-sklearn")
    assert text.startswith("envforge plan for cpu-sklearn 0.1.0 (examples/cpu-sklearn)\n\n")
    assert "cpu-sklearn:0.1.0" in text and LOCK_HASH in text
    assert all(len(line) <= 96 for line in text.splitlines() if line.startswith(" "))


# --- .dockerignore ------------------------------------------------------------------


def test_default_dockerignore() -> None:
    lines = dockerignore_patterns((), ())
    for pattern in (
        ".venv",
        ".git",
        "**/*.pem",
        "**/*.key",
        ".env",
        "data",
        "models",
        "**/__pycache__",
    ):
        assert pattern in lines
    assert not any(line.startswith("!") for line in lines)
    assert plan().dockerignore == lines


def test_include_removes_a_default() -> None:
    lines = dockerignore_patterns((), ("data",))
    assert "data" not in lines
    assert "!data" not in lines
    assert "models" in lines


def test_include_under_a_default_is_reincluded() -> None:
    lines = dockerignore_patterns((), ("data/keep.csv",))
    assert "data" in lines
    assert lines[-2:] == ("# From [tool.envforge] include", "!data/keep.csv")
    assert lines.index("data") < lines.index("!data/keep.csv")  # later lines win in Docker


def test_exclude_adds_lines() -> None:
    lines = dockerignore_patterns(("notebooks", "*.parquet"), ())
    assert lines[-3:] == ("# From [tool.envforge] exclude", "notebooks", "*.parquet")


def test_including_a_whole_section_drops_its_comment() -> None:
    lines = dockerignore_patterns((), (".git", ".hg", ".svn"))
    assert not any("Version control" in line for line in lines)


def test_settings_reach_the_plans_dockerignore() -> None:
    data = with_tool(sklearn(), envforge={"include": ["models"], "exclude": ["scratch"]})
    lines = plan(data).dockerignore
    assert "models" not in lines and "scratch" in lines


# --- .python-version ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.11", "3.11"),
        ("3.11\n", "3.11"),
        ("3.11.7\n", "3.11"),
        ("cpython-3.12\n", "3.12"),
        ("cpython@3.13.1\n", "3.13"),
        ("cpython-3.12.3-linux-x86_64-gnu\n", "3.12"),
        ("3.13+freethreaded\n", "3.13"),
        ("# pinned by uv python pin\n\n  3.10  \n", "3.10"),
        ("3.12 # the team's Python\n", "3.12"),
        ("\n\n3.14\n3.11\n", "3.14"),  # the first request wins
    ],
)
def test_parse_python_version_file(text: str, expected: str) -> None:
    assert parse_python_version_file(text) == expected


@pytest.mark.parametrize("text", ["pypy3.10\n", "3\n", "python3.11\n", "latest\n", "2.7.18\n"])
def test_parse_python_version_file_rejects(text: str) -> None:
    with pytest.raises(InvalidProjectError) as info:
        parse_python_version_file(text)
    request = text.strip()
    assert info.value.message == f"Unsupported Python request {request!r} in .python-version"
    assert info.value.file == ".python-version"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_parse_python_version_file_empty(text: str) -> None:
    with pytest.raises(InvalidProjectError) as info:
        parse_python_version_file(text)
    assert info.value.message == "No Python version in .python-version"


def test_bad_python_version_file_fails_the_plan() -> None:
    with pytest.raises(InvalidProjectError):
        plan(facts=replace(FACTS, python_version_file="pypy3.10\n"))


def test_path_dependencies_inside_the_project_are_copied_outside_refused(tmp_path) -> None:
    import shutil

    from envforge.errors import PlanError
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
        ("git@github.com:o/r.git", "https://github.com/o/r.git"),
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


def test_sync_flags_are_argv_words() -> None:
    p = plan(sklearn(), groups=("dev",))
    assert "--group" in p.sync_flags and "dev" in p.sync_flags
