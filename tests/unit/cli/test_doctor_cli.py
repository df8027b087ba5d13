"""`envforge doctor` end to end without a GPU: the isolated host of tests/conftest.py (no
driver, no engine; or its recorded H100), and recorded hosts replayed from --host-facts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from envforge.cli import app
from envforge.host.facts import DriverFacts
from tests.conftest import EXAMPLES, REPO, no_gpu_driver

runner = CliRunner()
H100 = REPO / "tests/fixtures/gpu/h100-device-run/doctor-host.json"


def doctor(*args: str):
    return runner.invoke(app, ["doctor", *args])


def test_a_host_without_a_gpu_gives_a_clean_report() -> None:
    result = doctor("--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["subject"] == "this host"
    assert report["host"]["driver"] == no_gpu_driver().to_dict()
    assert report["host"]["engine"]["reachable"] is False
    assert report["needs"] is None
    assert all(f["level"] != "fail" for f in report["findings"])


def test_the_probed_h100_is_reported(h100_host: DriverFacts) -> None:
    report = json.loads(doctor("--json").stdout)
    assert report["host"]["driver"] == h100_host.to_dict()
    assert report["host"]["driver"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"


def test_json_schema_is_stable() -> None:
    report = json.loads(
        doctor(str(EXAMPLES / "gpu-torch"), "--host-facts", str(H100), "--json").stdout
    )
    assert list(report) == ["schema", "subject", "verdict", "host", "needs", "findings", "plan"]
    assert report["schema"] == 1
    assert list(report["host"]) == ["driver", "engine"]
    assert set(report["needs"]) >= {
        "target", "cuda", "cudnn", "runtime_from", "driver_floor", "driver_toolkit",
        "arch_list", "ptx", "frameworks", "notes",
    }  # fmt: skip
    assert all(list(f) == ["level", "check", "what", "why", "fix"] for f in report["findings"])
    assert list(report["plan"]) == ["python", "extras", "groups", "sync_flags", "gpu", "variant"]


def test_gpu_torch_on_the_recorded_h100() -> None:
    result = doctor(str(EXAMPLES / "gpu-torch"), "--host-facts", str(H100))
    assert result.exit_code == 0  # warnings only
    lines = result.stdout.splitlines()
    assert lines[0] == "envforge doctor: gpu-torch"
    assert lines[2] == (
        "ok    project  gpu-torch needs CUDA 13.2 and cuDNN 9.26.0 (from nvidia-* wheels in the lock) "
        "for Python 3.11.16, linux/x86_64"
    )
    assert lines[3] == (
        "warn  cuda     CUDA 13.2 runs on driver 580.159.04 (CUDA 13.0) under minor-version compatibility"
    )
    assert lines[-1].startswith("verdict: warn (0 failed, ")


def test_a_failing_verdict_exits_1(tmp_path: Path) -> None:
    host = json.loads(H100.read_text())["host"]
    host["driver"]["driver_version"] = "535.104.05"
    host["driver"]["cuda_driver_version"] = "12.2"
    recorded = tmp_path / "old-driver.json"
    recorded.write_text(json.dumps({"host": host}))
    result = doctor(str(EXAMPLES / "gpu-torch"), "--host-facts", str(recorded))
    assert result.exit_code == 1
    fail = next(line for line in result.stdout.splitlines() if line.startswith("fail"))
    assert fail == "fail  cuda     driver 535.104.05 (CUDA 12.2) is too old for CUDA 13.2"


def test_path_and_image_together_is_a_usage_error() -> None:
    result = doctor(str(EXAMPLES / "gpu-torch"), "--image", "x:1")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: Give a project PATH or --image, not both"


def test_unreadable_host_facts(tmp_path: Path) -> None:
    bad = tmp_path / "host.json"
    bad.write_text("{not json")
    result = doctor("--host-facts", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: Cannot read host facts from '{bad}' (")


def test_a_cpu_image_of_cuda_wheels_says_so() -> None:
    result = doctor(str(EXAMPLES / "gpu-torch"), "--cpu", "--host-facts", str(H100))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2] == "ok    gpu      judged the image `envforge build` makes here: none (--cpu)"
    assert lines[3].startswith("ok    project  gpu-torch needs CUDA 13.2")
    report = json.loads(
        doctor(str(EXAMPLES / "gpu-torch"), "--cpu", "--host-facts", str(H100), "--json").stdout
    )
    assert report["findings"][0]["why"].startswith(
        "the locked CUDA 13.2 wheels are still installed"
    )
    assert (report["plan"]["gpu"], report["plan"]["variant"]) == ("cpu", [])
