"""Run records: the record built from gathered facts, its file name, the listing, and
`recording` around a faked run (no Docker)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge import __version__, records
from envforge.cli import app
from envforge.engine import client as engine
from envforge.errors import InputError, RunError
from envforge.host import nvidia as gpu_probe
from envforge.host.facts import DriverFacts, GpuDevice
from envforge.host.gate import parse_gpus
from envforge.project import loader
from tests.conftest import REPO

H100_HOST = REPO / "tests/fixtures/gpu/h100-device-run/doctor-host.json"
IMAGE_ID = "sha256:" + "ab" * 32
ATTRS: dict[str, Any] = {
    "Id": IMAGE_ID,
    "RepoDigests": ["registry.example/gpu-torch@sha256:" + "cd" * 32, "other@sha256:00"],
    "Config": {
        "Entrypoint": ["/app/.venv/bin/gpu-torch"],
        "Cmd": None,
        "Labels": {
            "dev.envforge.lock-hash": "sha256:" + "ef" * 32,
            "org.opencontainers.image.title": "gpu-torch",
            "org.opencontainers.image.version": "0.1.0",
        },
    },
}
H100 = GpuDevice(
    index=0,
    name="NVIDIA H100 80GB HBM3",
    compute_capability=(9, 0),
    memory_total_bytes=85520809984,
    uuid="GPU-1",
    mig_enabled=False,
)
DRIVER = DriverFacts(
    status="ok",
    source="nvml",
    driver_version="580.159.04",
    cuda_driver_version="13.0",
    gpus=(H100, H100),
)
NO_DRIVER = DriverFacts(
    status="no-driver",
    source="none",
    driver_version=None,
    cuda_driver_version=None,
    detail="NVML Shared Library Not Found",
)
STARTED = "2025-01-31T09:15:02.123Z"
RECORD_TO = ("--record", "--runs-dir")  # `envforge run` options: record, into this folder


def record_for(**changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "image_ref": "gpu-torch:0.1.0",
        "image_attrs": ATTRS,
        "spec": engine.RunSpec(
            image="gpu-torch:0.1.0", args=["--seed", "1"], gpus=parse_gpus("all")
        ),
        "git_revision": "0123456789abcdef0123456789abcdef01234567-dirty",
        "driver": DRIVER,
        "facts_file": None,
        "started": STARTED,
        "duration_s": 12.34567,
        "exit_code": 0,
        "error": None,
    }
    facts.update(changes)
    return records.build_record(**facts)


# --- the record -------------------------------------------------------------------------------


def test_the_record_has_every_key_in_a_stable_order() -> None:
    h100 = {
        "name": "NVIDIA H100 80GB HBM3",
        "compute_capability": [9, 0],
        "memory_total_bytes": 85520809984,
    }
    assert record_for() == {
        "schema": 1,
        "envforge": __version__,
        "image": {
            "ref": "gpu-torch:0.1.0",
            "id": IMAGE_ID,
            "digest": "registry.example/gpu-torch@sha256:" + "cd" * 32,
        },
        "lock_hash": "sha256:" + "ef" * 32,
        "project": {"name": "gpu-torch", "version": "0.1.0"},
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True},
        "command": {"entrypoint": ["/app/.venv/bin/gpu-torch"], "args": ["--seed", "1"]},
        "gpus": "all",
        "host": {
            "status": "ok",
            "source": "nvml",
            "driver_version": "580.159.04",
            "cuda_driver_version": "13.0",
            "gpus": [h100, h100],
            "facts_file": None,
        },
        "started": STARTED,
        "duration_s": 12.346,
        "exit_code": 0,
        "error": None,
    }
    assert list(record_for()) == [
        "schema", "envforge", "image", "lock_hash", "project", "git", "command", "gpus",
        "host", "started", "duration_s", "exit_code", "error",
    ]  # fmt: skip


def test_a_foreign_image_outside_git_on_a_host_without_a_driver() -> None:
    record = record_for(
        image_ref="python:3.11-slim",
        image_attrs={"Id": IMAGE_ID, "RepoDigests": [], "Config": {"Cmd": ["python3"]}},
        spec=engine.RunSpec(image="python:3.11-slim"),
        git_revision=None,
        driver=NO_DRIVER,
        exit_code=None,
        error="Cannot run 'python:3.11-slim': no",
    )
    assert record["image"] == {"ref": "python:3.11-slim", "id": IMAGE_ID, "digest": None}
    assert (record["lock_hash"], record["project"]) == (None, {"name": None, "version": None})
    assert record["git"] is None
    assert record["command"] == {"entrypoint": [], "args": ["python3"]}
    assert record["gpus"] is None
    assert record["host"] == {
        "status": "no-driver",
        "source": "none",
        "driver_version": None,
        "cuda_driver_version": None,
        "gpus": [],
        "facts_file": None,
    }
    assert (record["exit_code"], record["error"]) == (None, "Cannot run 'python:3.11-slim': no")


@pytest.mark.parametrize(
    ("entrypoint", "args", "expected"),
    [
        (None, [], (["/bin/app"], ["--default"])),  # the image's ENTRYPOINT and CMD
        (None, ["--seed", "1"], (["/bin/app"], ["--seed", "1"])),  # args replace CMD
        (["sh", "-c"], ["exit 3"], (["sh", "-c"], ["exit 3"])),
        (["sh"], [], (["sh"], [])),  # a given entrypoint drops the image's CMD, as in Docker
    ],
)
def test_the_command_is_what_the_engine_runs(
    entrypoint: list[str] | None, args: list[str], expected: tuple[list[str], list[str]]
) -> None:
    config = {"Entrypoint": ["/bin/app"], "Cmd": ["--default"]}
    command = records.command_of(entrypoint, args, config)
    assert (command["entrypoint"], command["args"]) == expected


@pytest.mark.parametrize(
    ("revision", "state"),
    [
        (None, None),
        ("", None),
        ("abc123", {"commit": "abc123", "dirty": False}),
        ("abc123-dirty", {"commit": "abc123", "dirty": True}),
    ],
)
def test_git_state(revision: str | None, state: dict[str, Any] | None) -> None:
    assert records.git_state(revision) == state


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("gpu-torch:0.1.0", "gpu-torch"),
        ("envforge-lab/python:3.11-slim-bookworm", "python"),
        ("registry.corp:5000/team/My_Model:v2", "my_model"),
        ("python@sha256:" + "ab" * 32, "python"),
        ("sha256:" + "ab" * 32, "image"),
        ("0123456789ab", "image"),
        ("a" * 80, "a" * 40),
        ("-weird-", "weird"),
    ],
)
def test_image_names_in_file_names(ref: str, name: str) -> None:
    assert records.image_name(ref) == name


def test_file_names_sort_by_start_and_never_collide() -> None:
    moment = datetime(2025, 1, 31, 9, 15, 2, 123456, tzinfo=UTC)
    assert (
        records.record_filename(moment, "gpu-torch:0.1.0", "a1b2c3")
        == "20250131T091502Z-gpu-torch-a1b2c3.json"
    )
    later = datetime(2025, 1, 31, 10, 0, 0, tzinfo=UTC)
    names = [records.record_filename(m, "x", "000000") for m in (later, moment)]
    assert sorted(names) == names[::-1]
    assert records.utc_iso(moment) == STARTED


def test_describe_error() -> None:
    assert records.describe_error(RunError("img", "no GPU")) == "Cannot run 'img': no GPU"
    assert records.describe_error(KeyboardInterrupt()) == "interrupted"
    assert records.describe_error(OSError("broken pipe")) == "OSError: broken pipe"
    assert records.describe_error(RuntimeError()) == "RuntimeError"


# --- reading and listing ----------------------------------------------------------------------


def test_check_record_accepts_what_build_record_writes() -> None:
    record = json.loads(json.dumps(record_for()))
    assert records.check_record(record) == record


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ([], "not a JSON object"),
        ({**record_for(), "schema": 2}, "schema 2, this envforge reads schema 1"),
        ({**record_for(), "image": {}}, "no image.ref"),
        ({**record_for(), "started": "yesterday"}, "started 'yesterday' is not an ISO 8601 time"),
        ({**record_for(), "exit_code": "3"}, "exit_code '3' is not an integer"),
        ({**record_for(), "duration_s": True}, "duration_s True is not a number"),
        ({**record_for(), "git": "abc"}, "git is neither null nor {commit, dirty}"),
    ],
)
def test_check_record_says_why_not(data: Any, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        records.check_record(data)


def test_durations() -> None:
    assert [records.format_duration(s) for s in (None, 0.04, 59.9, 61, 3725.4)] == [
        "-",
        "0.0s",
        "59.9s",
        "1m01s",
        "1h02m05s",
    ]


def test_gpu_column() -> None:
    assert records.format_gpu(record_for(spec=engine.RunSpec(image="x"))) == "-"
    assert records.format_gpu(record_for()) == "all (2x NVIDIA H100 80GB HBM3)"
    assert records.format_gpu(record_for(driver=NO_DRIVER)) == "all (no GPU)"


def test_the_table_newest_first() -> None:
    old = record_for(
        started="2025-01-30T08:00:00.000Z", exit_code=None, error="boom", git_revision=None
    )
    new = record_for(exit_code=3, spec=engine.RunSpec(image="gpu-torch:0.1.0"), duration_s=75)
    ordered = records.newest_first([("b.json", old), ("a.json", new)])
    assert ordered == [new, old]
    assert records.format_table(ordered).splitlines() == [
        "STARTED               EXIT   DURATION  IMAGE            COMMIT              GPU",
        "2025-01-31T09:15:02Z  3      1m15s     gpu-torch:0.1.0  0123456789ab+dirty  -",
        "2025-01-30T08:00:00Z  error  12.3s     gpu-torch:0.1.0  -                   all (2x NVIDIA H100 80GB HBM3)",
    ]  # fmt: skip


def test_same_start_falls_back_to_the_file_name() -> None:
    one, two = record_for(exit_code=1), record_for(exit_code=2)
    assert records.newest_first([("x-aaa.json", one), ("x-bbb.json", two)]) == [two, one]


def write(directory: Path, name: str, content: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def runs(*args: str) -> tuple[str, str]:
    """`envforge runs ARGS`: its stdout and stderr (it always exits 0)."""
    done = CliRunner().invoke(app, ["runs", *args])
    assert done.exit_code == 0, done.output
    return done.stdout, done.stderr


@pytest.mark.parametrize("as_json", [False, True])
def test_no_runs(tmp_path: Path, as_json: bool) -> None:
    for directory in (tmp_path / "missing", tmp_path):
        out, err = runs(str(directory), *(["--json"] if as_json else []))
        message = f"no runs recorded in {directory}\n"
        assert (out, err) == (("[]\n", message) if as_json else (message, ""))
    assert records.list_runs(tmp_path / "missing") == ([], [])


def test_listing_skips_what_it_cannot_read(tmp_path: Path) -> None:
    good = record_for()
    write(tmp_path, "20250131T091502Z-gpu-torch-a1b2c3.json", good)
    broken = write(tmp_path, "20250131T091503Z-gpu-torch-000000.json", "{not json")
    future = write(tmp_path, "20250131T091504Z-gpu-torch-111111.json", {**good, "schema": 2})
    write(tmp_path, ".20250131T091505Z-gpu-torch-222222.json.part", "{half")
    write(tmp_path, "notes.txt", "not a record")

    out, err = runs(str(tmp_path), "--json")
    assert json.loads(out) == [good]
    assert err.splitlines() == [
        f"warning: skipping {broken}: not a run record (Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1))",
        f"warning: skipping {future}: not a run record (schema 2, this envforge reads schema 1)",
    ]
    out, _ = runs(str(tmp_path))
    assert out.splitlines()[1].startswith("2025-01-31T09:15:02Z  0     12.3s     gpu-torch:0.1.0")


def test_only_unreadable_records_is_no_runs(tmp_path: Path) -> None:
    broken = write(tmp_path, "x.json", "[]")
    out, err = runs(str(tmp_path))
    assert out == f"no runs recorded in {tmp_path}\n"
    assert err == f"warning: skipping {broken}: not a run record (not a JSON object)\n"


# --- recording, around a faked run --------------------------------------------------------------


class FakeImage:
    attrs = ATTRS
    id = IMAGE_ID


@pytest.fixture
def gathered(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Git and the driver probe faked; the folders git was asked about."""
    asked: list[Path] = []

    def git_revision(root: Path) -> str | None:
        asked.append(root)
        return "abc123-dirty"

    monkeypatch.setattr(loader, "git_revision", git_revision)
    monkeypatch.setattr(gpu_probe, "probe_driver", lambda: DRIVER)
    return asked


def only_record(directory: Path) -> dict[str, Any]:
    (path,) = directory.iterdir()
    return json.loads(path.read_text())


def test_a_recorded_run(tmp_path: Path, gathered: list[Path]) -> None:
    directory = tmp_path / "deep" / "runs"
    spec = engine.RunSpec(image="gpu-torch:0.1.0", entrypoint=["sh", "-c"], args=["exit 3"])
    with records.recording(
        directory, image=FakeImage(), spec=spec, target="gpu-torch:0.1.0"
    ) as run:
        assert list(directory.iterdir()) == []  # written at the end only
        run.exit_code = 3
    assert run.path.parent == directory
    assert re.fullmatch(r"\d{8}T\d{6}Z-gpu-torch-[0-9a-f]{6}\.json", run.path.name)
    record = only_record(directory)
    assert record == json.loads(run.path.read_text())
    assert (record["exit_code"], record["error"]) == (3, None)
    assert record["started"] == run.started
    assert run.path.name[:16] == datetime.fromisoformat(run.started).strftime("%Y%m%dT%H%M%SZ")
    assert 0 <= record["duration_s"] < 5
    assert record["command"] == {"entrypoint": ["sh", "-c"], "args": ["exit 3"]}
    assert record["git"] == {"commit": "abc123", "dirty": True}
    assert record["host"]["driver_version"] == "580.159.04"
    assert gathered == [Path.cwd()]  # an image ref: the current folder's git
    assert run.notice == f"recorded  {run.path}"  # for the CLI to print


def test_a_failed_run_is_recorded_and_the_error_goes_on(
    tmp_path: Path, gathered: list[Path]
) -> None:
    spec = engine.RunSpec(image="img:1", gpus=parse_gpus("all"))
    with (
        pytest.raises(RunError),
        records.recording(tmp_path, image=FakeImage(), spec=spec, target=str(tmp_path)) as run,
    ):
        raise RunError("img:1", 'could not select device driver "" with capabilities: [[gpu]]')
    assert run.exit_code is None
    assert run.notice == f"recorded  {run.path}"  # the CLI prints it, left by the exception
    record = only_record(tmp_path)
    assert record["exit_code"] is None
    assert record["error"] == (
        "Cannot run 'img:1': could not select device driver \"\" with capabilities: [[gpu]]"
    )
    assert record["gpus"] == "all"
    assert gathered == [tmp_path]  # a project folder: its git


def test_recorded_host_facts_stand_for_this_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "git_revision", lambda root: None)
    monkeypatch.setattr(gpu_probe, "probe_driver", lambda: pytest.fail("probed"))
    runs = tmp_path / "runs"
    with records.recording(
        runs,
        image=FakeImage(),
        spec=engine.RunSpec(image="img:1", gpus=parse_gpus("device=0")),
        target="img:1",
        host_facts=H100_HOST,
    ) as run:
        run.exit_code = 0
    host = only_record(runs)["host"]
    assert host["facts_file"] == str(H100_HOST)
    assert host["gpus"] == [
        {"name": "NVIDIA H100 80GB HBM3", "compute_capability": [9, 0], "memory_total_bytes": 85520809984}
    ]  # fmt: skip


def test_a_folder_that_cannot_be_made_stops_before_the_run(
    tmp_path: Path, gathered: list[Path]
) -> None:
    blocker = write(tmp_path, "file", "x")
    with (
        pytest.raises(InputError, match="Cannot write run records into"),
        records.recording(
            blocker / "runs", image=FakeImage(), spec=engine.RunSpec(image="i"), target="i"
        ),
    ):
        pytest.fail("the run must not start")


def test_a_record_that_cannot_be_written_is_an_error(
    tmp_path: Path, gathered: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, record: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(records, "_write", full)
    with (
        pytest.raises(records.RecordError, match=r"exit code 0\) but its record .* was not"),
        records.recording(
            tmp_path, image=FakeImage(), spec=engine.RunSpec(image="i"), target="i"
        ) as run,
    ):
        run.exit_code = 0


def test_the_real_git_of_a_folder(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("no git on PATH")

    def sh(*args: str) -> None:
        subprocess.run([git, "-C", str(tmp_path), *args], check=True, capture_output=True)

    sh("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    sh("add", "a.txt")
    sh("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "a")
    head = subprocess.run(
        [git, "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert records.git_state(loader.git_revision(tmp_path)) == {"commit": head, "dirty": False}
    (tmp_path / "b.txt").write_text("untracked")
    assert records.git_state(loader.git_revision(tmp_path)) == {"commit": head, "dirty": True}


# --- through the command line -------------------------------------------------------------------


def test_run_record_and_runs_through_the_cli(
    tmp_path: Path, gathered: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    specs: list[engine.RunSpec] = []

    def run_container(client: Any, spec: engine.RunSpec) -> int:
        specs.append(spec)
        return 3

    monkeypatch.chdir(tmp_path)  # nothing lands in the checkout, whatever the options become
    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(engine, "get_image", lambda client, ref: FakeImage())
    monkeypatch.setattr(engine, "run_container", run_container)
    runner = CliRunner()
    runs = tmp_path / "runs"
    done = runner.invoke(
        app,
        [
            "run",
            "--no-tty",
            *RECORD_TO,
            str(runs),
            "--entrypoint",
            "sh -c",
            "img:1",
            "--",
            "exit 3",
        ],
    )
    assert done.exit_code == 3, done.output
    (path,) = runs.iterdir()
    assert done.stderr == f"recorded  {path}\n"
    record = json.loads(path.read_text())
    assert record["command"] == {"entrypoint": ["sh", "-c"], "args": ["exit 3"]}

    listed = runner.invoke(app, ["runs", str(runs), "--json"])
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == [record]
    table = runner.invoke(app, ["runs", str(runs)])
    assert table.stdout.splitlines()[0].split() == [
        "STARTED", "EXIT", "DURATION", "IMAGE", "COMMIT", "GPU",
    ]  # fmt: skip


PUSHED = "sha256:" + "12" * 32
MIRRORED = "mirror.example/gpu-torch@sha256:" + "34" * 32


@pytest.mark.parametrize(
    ("ref", "digests", "expected"),
    [
        # The digest reference run (what `envforge push` printed) is what the record keeps.
        (f"127.0.0.1:5000/team/app@{PUSHED}", [MIRRORED], f"127.0.0.1:5000/team/app@{PUSHED}"),
        (f"127.0.0.1:5000/team/app:1@{PUSHED}", [], f"127.0.0.1:5000/team/app@{PUSHED}"),
        # A tag run: the RepoDigests entry of its repository, else the first.
        ("127.0.0.1:5000/team/app:1", [MIRRORED, f"127.0.0.1:5000/team/app@{PUSHED}"],
         f"127.0.0.1:5000/team/app@{PUSHED}"),
        ("gpu-torch:0.1.0", [MIRRORED], MIRRORED),
        ("gpu-torch:0.1.0", [], None),
        ("gpu-torch:0.1.0", "not a list", None),
    ],
)  # fmt: skip
def test_the_digest_reference_of_what_ran(ref: str, digests: object, expected: str | None) -> None:
    assert records.digest_reference(ref, digests) == expected
