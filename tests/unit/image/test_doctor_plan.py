"""doctor judges the plan build makes: same flags, same host, same install set.

On a lock made by real `uv lock` (stub wheels in local flat indexes, offline): a virtual
torch project whose cpu and gpu extras hold torch 2.5.1+cpu and 2.5.1+cu124 (with
nvidia-cuda-runtime-cu12). `envforge plan --json` and `envforge doctor --json`, for the
recorded H100 and for a host without a GPU, must pick the same variant and so the same
packages.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.image.bases import load_catalog
from envforge.project.installset import Target, installed_packages
from envforge.project.loader import load_project
from tests.conftest import REPO

runner = CliRunner()
FIXTURE = REPO / "tests/fixtures/locks/torch-variants"
H100 = REPO / "tests/fixtures/gpu/h100-device-run/doctor-host.json"


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("make_lock", FIXTURE / "make_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root: Path = module.make(tmp_path_factory.mktemp("torch-variants"))
    return root


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lock check (uv lock --check) reads only the local flat indexes.
    monkeypatch.setenv("UV_OFFLINE", "1")


@pytest.fixture(scope="module")
def no_gpu_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    host = json.loads(H100.read_text())["host"]
    host["driver"] = {
        "status": "no-driver", "source": "none", "driver_version": None,
        "cuda_driver_version": None, "gpus": [], "detail": "libnvidia-ml.so.1 not found",
    }  # fmt: skip
    path = tmp_path_factory.mktemp("hosts") / "no-gpu.json"
    path.write_text(json.dumps({"host": host}))
    return path


def cli_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def install_set(root: Path, python: str, extras: list[str], groups: list[str]) -> set[str]:
    """name==version of what `uv sync` installs for that choice (as build's image gets it)."""
    loaded = load_project(root, check_lock=False)
    image = load_catalog().python_image(python, loaded.project.envforge.debian)
    assert image is not None
    installed = installed_packages(
        loaded.lock, Target(image.python_patch), extras=tuple(extras), groups=tuple(groups)
    )
    return {f"{p.name}=={p.version}" for p in installed.values() if p is not loaded.lock.root}


def test_the_fixture_is_a_real_uv_lock(variants: Path) -> None:
    lock = (variants / "uv.lock").read_text()
    assert "conflicts = [[" in lock
    assert 'version = "2.5.1+cpu"' in lock and 'version = "2.5.1+cu124"' in lock
    assert 'name = "nvidia-cuda-runtime-cu12"' in lock


@pytest.mark.parametrize(
    ("host", "flags", "extra", "torch", "cuda"),
    [
        ("h100", [], "gpu", "2.5.1+cu124", "12.4.1"),
        ("none", [], "cpu", "2.5.1+cpu", None),
        ("h100", ["--cpu"], "cpu", "2.5.1+cpu", None),
        ("none", ["--cuda", "12.4"], "gpu", "2.5.1+cu124", "12.4.1"),
        ("h100", ["--extra", "cpu"], "cpu", "2.5.1+cpu", None),
        ("none", ["--extra", "gpu", "--python", "3.11"], "gpu", "2.5.1+cu124", "12.4.1"),
    ],
)
def test_doctor_and_plan_agree_on_the_install_set(
    variants: Path,
    no_gpu_host: Path,
    host: str,
    flags: list[str],
    extra: str,
    torch: str,
    cuda: str | None,
) -> None:
    facts = str(H100 if host == "h100" else no_gpu_host)
    plan = cli_json("plan", str(variants), "--host-facts", facts, "--json", *flags)
    doctor = cli_json("doctor", str(variants), "--host-facts", facts, "--json", *flags)

    judged = doctor["plan"]
    assert judged["extras"] == plan["extras"] == [extra]
    assert (judged["python"], judged["groups"], judged["sync_flags"]) == (
        plan["python"], plan["groups"], plan["sync_flags"],
    )  # fmt: skip
    assert ["--extra", extra] == plan["sync_flags"][2:4]

    packages = install_set(variants, plan["python"], plan["extras"], plan["groups"])
    expected = {f"torch=={torch}"} | (
        {"nvidia-cuda-runtime-cu12==12.4.127"} if torch.endswith("cu124") else set()
    )
    assert packages == expected
    frameworks = {f["name"]: f["version"] for f in doctor["needs"]["frameworks"]}
    assert frameworks == {"torch": torch}
    assert doctor["needs"]["cuda"] == cuda
    assert doctor["needs"]["target"].startswith(f"Python {plan['python']}.")


def test_doctor_says_which_variant_it_judged(variants: Path, no_gpu_host: Path) -> None:
    on_h100 = runner.invoke(app, ["doctor", str(variants), "--host-facts", str(H100)])
    assert on_h100.exit_code == 0, on_h100.output
    lines = on_h100.stdout.splitlines()
    assert lines[2] == "ok    variant  judged the image `envforge build` makes here: extra gpu"
    assert lines[3].startswith(
        "ok    project  torch-variants needs CUDA 12.4.1 and cuDNN 9.1.0 (from nvidia-* wheels"
    )
    bare = runner.invoke(app, ["doctor", str(variants), "--host-facts", str(no_gpu_host)])
    assert bare.exit_code == 0, bare.output
    assert bare.stdout.splitlines()[2:4] == [
        "ok    variant  judged the image `envforge build` makes here: extra cpu",
        "ok    project  torch-variants needs no CUDA: torch 2.5.1+cpu (CPU build)",
    ]


def test_plan_host_facts_decides_the_variant(variants: Path, no_gpu_host: Path) -> None:
    on_h100 = cli_json("plan", str(variants), "--host-facts", str(H100), "--json")
    variant = next(d for d in on_h100["decisions"] if d["topic"] == "variant")
    assert variant["choice"] == "extra gpu"
    assert "this host has an NVIDIA GPU" in variant["reason"]
    bare = cli_json("plan", str(variants), "--host-facts", str(no_gpu_host), "--json")
    assert next(d for d in bare["decisions"] if d["topic"] == "variant")["choice"] == "extra cpu"
