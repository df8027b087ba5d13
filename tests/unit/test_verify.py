"""`envforge verify`: the lock's install set for an image against what the image holds. Pure
parts on examples/cpu-sklearn's lock and small synthetic locks; the command on a fake engine."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.engine import client as engine
from envforge.errors import ImageNotFoundError
from envforge.project.installset import Target
from envforge.project.lockfile import Lock, lock_hash
from envforge.project.pyproject import Project
from envforge.verify import (
    Diff,
    ImageFacts,
    ImageInspectionError,
    Mismatch,
    NotEnvforgeImageError,
    compare,
    expected_packages,
    judge,
    parse_probe,
    render_diff,
    verify_image,
)
from tests.conftest import EXAMPLES

CPU = EXAMPLES / "cpu-sklearn"
CPU_311 = {
    "cloudpickle": "3.1.2",
    "cpu-sklearn": "0.1.0",
    "joblib": "1.6.0",
    "narwhals": "2.29.0",
    "numpy": "2.4.6",
    "pandas": "3.1.1",
    "python-dateutil": "4.0.0",
    "scikit-learn": "1.9.1",
    "scipy": "1.17.1",
    "threadpoolctl": "3.8.0",
    "tzdata": "2026.6",
}


def cpu_project() -> tuple[Project, Lock]:
    project = Project.from_dict(tomllib.loads((CPU / "pyproject.toml").read_text()))
    lock = Lock.from_dict(tomllib.loads((CPU / "uv.lock").read_text()), project_name=project.name)
    return project, lock


def synthetic(*, package: bool = True, version: str | None = "1.0") -> tuple[Project, Lock]:
    """app: needs requests; extra 'plot' adds matplotlib; group 'test' adds pytest."""
    pyproject: dict[str, Any] = {
        "project": {
            "name": "app",
            **({"version": version} if version else {"dynamic": ["version"]}),
            "dependencies": ["requests"],
            "optional-dependencies": {"plot": ["matplotlib"]},
        },
        "dependency-groups": {"test": ["pytest"]},
    }
    if package:
        pyproject["build-system"] = {"requires": ["hatchling"], "build-backend": "hatchling.build"}
    root: dict[str, Any] = {
        "name": "app",
        "source": {"editable": "."} if package else {"virtual": "."},
        "dependencies": [{"name": "requests"}],
        "optional-dependencies": {"plot": [{"name": "matplotlib"}]},
        "dev-dependencies": {"test": [{"name": "pytest"}]},
    }
    if version:
        root["version"] = version
    registry = {"registry": "https://pypi.org/simple"}
    lock = {
        "version": 1,
        "package": [
            root,
            {"name": "requests", "version": "2.32.0", "source": registry},
            {"name": "matplotlib", "version": "3.9.0", "source": registry},
            {"name": "pytest", "version": "8.3.0", "source": registry},
        ],
    }
    return Project.from_dict(pyproject), Lock.from_dict(lock, project_name="app")


# -- expected_packages ------------------------------------------------------------------------


def test_expected_for_cpu_example_includes_the_project_and_no_dev_group() -> None:
    project, lock = cpu_project()
    assert expected_packages(lock, Target("3.11.16"), (), (), project) == CPU_311


def test_expected_follows_the_image_python_and_groups() -> None:
    project, lock = cpu_project()
    py310 = expected_packages(lock, Target("3.10.2"), (), ("dev",), project)
    assert (py310["numpy"], py310["pandas"], py310["pytest"]) == ("2.2.6", "2.3.3", "9.2.0")
    assert py310["cpu-sklearn"] == "0.1.0"


def test_expected_extras_and_groups() -> None:
    project, lock = synthetic()
    t = Target("3.11.16")
    assert expected_packages(lock, t, (), (), project) == {"app": "1.0", "requests": "2.32.0"}
    assert expected_packages(lock, t, ("plot",), ("test",), project) == {
        "app": "1.0",
        "requests": "2.32.0",
        "matplotlib": "3.9.0",
        "pytest": "8.3.0",
    }


def test_a_virtual_project_is_not_expected() -> None:
    project, lock = synthetic(package=False)
    assert expected_packages(lock, Target("3.11.16"), (), (), project) == {"requests": "2.32.0"}


def test_a_dynamic_version_is_expected_at_any_version() -> None:
    project, lock = synthetic(version=None)
    expected = expected_packages(lock, Target("3.11.16"), (), (), project)
    assert expected["app"] is None
    assert not compare(expected, {"app": "7.3.dev1", "requests": "2.32.0"})


# -- compare and render_diff -------------------------------------------------------------------


def test_identical_sets_do_not_differ() -> None:
    diff = compare(CPU_311, dict(CPU_311))
    assert not diff and diff.count == 0 and render_diff(diff) == ""


def test_missing_extra_and_mismatch_each_named() -> None:
    installed = dict(CPU_311)
    del installed["numpy"]
    installed["sneaky"] = "1.0"
    installed["pandas"] = "3.0.0"
    diff = compare(CPU_311, installed)
    assert diff == Diff(
        missing=(("numpy", "2.4.6"),),
        extra=(("sneaky", "1.0"),),
        mismatched=(Mismatch("pandas", "3.1.1", "3.0.0"),),
    )
    assert render_diff(diff).splitlines() == [
        "- missing  numpy==2.4.6",
        "~ version  pandas: lock 3.1.1, image 3.0.0",
        "+ extra    sneaky==1.0",
    ]


def test_versions_compare_as_pep440() -> None:
    assert not compare({"a": "2.0"}, {"a": "2.0.0"})
    assert not compare({"a": "1.0.post0"}, {"a": "1.0-post0"})
    assert not compare({"torch": "2.15.0+cu132"}, {"torch": "2.15.0+cu132"})


def test_local_versions_are_kept_exact() -> None:
    diff = compare({"torch": "2.15.0+cu132"}, {"torch": "2.15.0+cpu"})
    assert render_diff(diff) == "~ version  torch: lock 2.15.0+cu132, image 2.15.0+cpu"
    assert compare({"torch": "2.15.0+cu132"}, {"torch": "2.15.0"})
    assert compare({"torch": "2.15.0"}, {"torch": "2.15.0+cu132"})


def test_non_pep440_versions_compare_as_text() -> None:
    assert not compare({"odd": "banana"}, {"odd": "banana"})
    assert compare({"odd": "banana"}, {"odd": "apple"}).mismatched


def test_names_are_canonicalized() -> None:
    assert not compare({"scikit-learn": "1.9.1"}, {"Scikit_Learn": "1.9.1"})


def test_a_package_installed_twice_is_a_difference() -> None:
    diff = compare({"a": "1.0"}, {"a": "1.0"}, {"a": ("1.0", "2.0")})
    assert diff.count == 1
    assert render_diff(diff) == "! twice    a: image has 1.0, 2.0"


# -- the probe's report ------------------------------------------------------------------------


def probe_output(dists: dict[str, str], *, python: str = "3.11.16", machine: str = "x86_64") -> str:
    report = {
        "python": python,
        "machine": machine,
        "sys_platform": "linux",
        "prefix": "/app/.venv",
        "base_prefix": "/usr/local",
        "distributions": [[n, v] for n, v in dists.items()],
    }
    return "some noise from a start-up hook\nenvforge-verify:" + json.dumps(report) + "\n"


def test_parse_probe_reads_target_and_distributions() -> None:
    facts = parse_probe(probe_output({"NumPy": "2.4.6"}, machine="aarch64"), "img")
    assert facts.target == Target("3.11.16", "linux", "aarch64")
    assert facts.in_venv
    assert facts.installed() == ({"numpy": "2.4.6"}, {})


def test_parse_probe_without_report_is_an_inspection_error() -> None:
    with pytest.raises(ImageInspectionError, match="printed no package report"):
        parse_probe("Traceback...\n", "img")
    with pytest.raises(ImageInspectionError, match="Unreadable"):
        parse_probe("envforge-verify:{not json", "img")


def test_duplicates_in_the_image_are_found() -> None:
    facts = ImageFacts(
        python="3.11.16",
        machine="x86_64",
        sys_platform="linux",
        in_venv=True,
        distributions=(("a", "1.0"), ("A", "2.0")),
    )
    assert facts.installed() == ({"a": "1.0"}, {"a": ("1.0", "2.0")})


# -- judge: labels and packages together -------------------------------------------------------


def labels_for(lock_bytes_hash: str, **more: str) -> dict[str, str]:
    return {
        "dev.envforge.lock-hash": lock_bytes_hash,
        "dev.envforge.python": "3.11",
        "dev.envforge.extras": "",
        "dev.envforge.groups": "",
        **{f"dev.envforge.{k}": v for k, v in more.items()},
    }


def facts_of(dists: dict[str, str], python: str = "3.11.16") -> ImageFacts:
    return ImageFacts(
        python=python,
        machine="x86_64",
        sys_platform="linux",
        in_venv=True,
        distributions=tuple(dists.items()),
    )


def test_judge_passes_with_the_summary_line() -> None:
    project, lock = cpu_project()
    verdict = judge("img:1", labels_for("sha256:ab"), facts_of(CPU_311), lock, "sha256:ab", project)
    assert verdict.ok
    assert verdict.render() == (
        "verified: img:1 holds the 11 packages uv.lock gives Python 3.11.16 on linux/x86_64, "
        "and its lock hash"
    )


def test_judge_reports_a_lock_hash_mismatch_on_its_own_line() -> None:
    project, lock = cpu_project()
    verdict = judge("img:1", labels_for("sha256:ab"), facts_of(CPU_311), lock, "sha256:cd", project)
    assert not verdict.ok
    assert verdict.render().splitlines() == [
        "not verified: img:1 differs from uv.lock (Python 3.11.16 on linux/x86_64; "
        "extras: none; groups: none): 1 difference",
        "! lock hash  image label sha256:ab, uv.lock sha256:cd",
    ]


def test_judge_reads_extras_and_groups_from_labels() -> None:
    project, lock = synthetic()
    labels = labels_for("h", extras="plot", groups="test")
    facts = facts_of({"app": "1.0", "requests": "2.32.0", "matplotlib": "3.9.0"})
    verdict = judge("img", labels, facts, lock, "h", project)
    assert (verdict.extras, verdict.groups) == (("plot",), ("test",))
    assert verdict.render().splitlines() == [
        "not verified: img differs from uv.lock (Python 3.11.16 on linux/x86_64; "
        "extras: plot; groups: test): 1 difference",
        "- missing  pytest==8.3.0",
    ]


def test_judge_names_a_python_that_is_not_the_labelled_one() -> None:
    project, lock = synthetic()
    facts = facts_of({"app": "1.0", "requests": "2.32.0"}, python="3.12.4")
    verdict = judge("img", labels_for("h"), facts, lock, "h", project)
    assert verdict.label_problems == ("! python     image label 3.11, image's Python 3.12.4",)


# -- verify_image on a fake engine -----------------------------------------------------------


class FakeContainer:
    def __init__(self, output: str, status: int, stderr: str = "") -> None:
        self.id = "c0ffee"
        self.output, self.status, self.stderr = output, status, stderr
        self.started = self.removed = False

    def start(self) -> None:
        self.started = True

    def wait(self, timeout: int | None = None) -> dict[str, int]:
        return {"StatusCode": self.status}

    def remove(self, force: bool = False) -> None:
        self.removed = True


class FakeImage:
    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels


class FakeClient:
    def __init__(self, images: dict[str, FakeImage], container: FakeContainer) -> None:
        self._images, self.container = images, container
        self.created: dict[str, Any] = {}
        outer = self

        class Images:
            def get(self, ref: str) -> FakeImage:
                import docker.errors

                if ref not in outer._images:
                    raise docker.errors.ImageNotFound(ref)
                return outer._images[ref]

        class Containers:
            def create(self, image: str, **kwargs: Any) -> FakeContainer:
                outer.created = {"image": image, **kwargs}
                return outer.container

        class Api:
            def attach(
                self, cid: str, **kwargs: Any
            ) -> Iterator[tuple[bytes | None, bytes | None]]:
                yield outer.container.output.encode(), None
                if outer.container.stderr:
                    yield None, outer.container.stderr.encode()

        self.images, self.containers, self.api = Images(), Containers(), Api()

    def ping(self) -> bool:
        return True


CPU_HASH = lock_hash((CPU / "uv.lock").read_bytes())


def fake(
    dists: dict[str, str], labels: dict[str, str] | None = None, status: int = 0
) -> FakeClient:
    image = FakeImage(labels_for(CPU_HASH) if labels is None else labels)
    return FakeClient({"img:1": image}, FakeContainer(probe_output(dists), status))


def test_verify_image_passes_and_removes_its_container() -> None:
    client = fake(CPU_311)
    verdict = verify_image("img:1", CPU, client=client)
    assert verdict.ok
    assert verdict.render() == (
        "verified: img:1 holds the 11 packages uv.lock gives Python 3.11.16 on linux/x86_64, "
        "and its lock hash"
    )
    assert client.container.started and client.container.removed
    # One short container: Python as the entrypoint, no network.
    assert client.created["entrypoint"] == ["python"]
    assert client.created["command"][:3] == ["-I", "-B", "-c"]
    assert client.created["network_disabled"] is True


def test_verify_image_fails_naming_the_extra_package() -> None:
    verdict = verify_image("img:1", CPU, client=fake({**CPU_311, "sneaky": "1.0"}))
    assert not verdict.ok
    assert verdict.render().splitlines()[-1] == "+ extra    sneaky==1.0"


def test_an_image_without_envforge_labels_is_an_input_error() -> None:
    client = fake(CPU_311, labels={"maintainer": "someone"})
    with pytest.raises(NotEnvforgeImageError, match="was not built by envforge") as info:
        verify_image("img:1", CPU, client=client)
    assert info.value.exit_code == 2
    assert client.created == {}  # no container was started for it


def test_a_missing_image_is_image_not_found() -> None:
    with pytest.raises(ImageNotFoundError):
        verify_image("absent:0", CPU, client=fake(CPU_311))


def test_a_failing_probe_is_an_inspection_error_and_still_removed() -> None:
    client = FakeClient(
        {"img:1": FakeImage(labels_for(CPU_HASH))},
        FakeContainer("", 1, stderr="Traceback...\nImportError: boom\n"),
    )
    with pytest.raises(ImageInspectionError, match=r"\(exit 1\): ImportError: boom"):
        verify_image("img:1", CPU, client=client)
    assert client.container.removed


def test_cli_verify_exit_codes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runner = CliRunner()
    client = fake({**CPU_311, "pandas": "3.0.0"})
    monkeypatch.setattr(engine, "connect", lambda: client)
    failed = runner.invoke(app, ["verify", "img:1", str(CPU)])
    assert failed.exit_code == 1
    assert failed.stdout.splitlines()[-1] == "~ version  pandas: lock 3.1.1, image 3.0.0"

    monkeypatch.setattr(engine, "connect", lambda: fake(CPU_311, labels={}))
    foreign = runner.invoke(app, ["verify", "img:1", str(CPU)])
    assert foreign.exit_code == 2
    assert foreign.stderr.startswith("error: Image 'img:1' was not built by envforge")
    assert "Traceback" not in foreign.output

    missing = runner.invoke(app, ["verify", "img:1", str(tmp_path)])
    assert missing.exit_code == 2
    assert missing.stderr.startswith(f"error: No pyproject.toml in '{tmp_path}'")


def test_the_probe_script_runs_and_reports_one_line() -> None:
    """The script the probe container runs, run by this Python: one marked line, parsed."""
    import subprocess
    import sys

    from envforge.verify import _PROBE

    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _PROBE], capture_output=True, text=True, check=True
    )
    assert done.stdout.endswith("\n") and done.stdout.count("\n") == 1
    facts = parse_probe(done.stdout, "this python")
    assert facts.python == ".".join(map(str, sys.version_info[:3]))
    assert facts.distributions
