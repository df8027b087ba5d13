"""Run a generated Slurm script as a compute node would, with fakes on PATH: nvidia-smi
prints a driver version (the recorded H100's, or an older one), apptainer and srun record
their argv (one JSON list per line) instead of running anything."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import H100_RECORDING


def recorded_driver() -> str:
    """The driver the recorded H100 reported to nvidia-smi's query (580.159.04)."""
    header, row = (H100_RECORDING / "query.csv").read_text("utf-8").splitlines()[:2]
    columns = [c.strip() for c in header.split(",")]
    return row.split(",")[columns.index("driver_version")].strip()


OLD_DRIVER = "550.163.01"  # a 550 release: CUDA 12.4's branch, below CUDA 13's floor

_NVIDIA_SMI = """#!/bin/sh
# nvidia-smi on a node: the driver of $FAKE_DRIVER (one line per GPU), else no driver.
if [ "$*" != "--query-gpu=driver_version --format=csv,noheader" ]; then
  echo "fake nvidia-smi: no answer for '$*'" >&2; exit 2
fi
if [ -z "${FAKE_DRIVER:-}" ]; then
  echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2
  exit 9
fi
i=0
while [ "$i" -lt "${FAKE_GPUS:-1}" ]; do echo "$FAKE_DRIVER"; i=$((i + 1)); done
"""
# Records its argv; `apptainer pull|build FILE SOURCE` also creates FILE, as the real one.
_RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
if os.path.basename(sys.argv[0]) == "apptainer" and sys.argv[1:2] in (["pull"], ["build"]):
    open(sys.argv[2], "w").close()
"""


@dataclass
class NodeRun:
    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]  # argv of each apptainer/srun call


def fake_bin(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("nvidia-smi", _NVIDIA_SMI), ("apptainer", _RECORDER), ("srun", _RECORDER)):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)
    return folder


def run_on_node(
    script: str, workdir: Path, *, driver: str | None, gpus: int = 1, timeout: float = 30
) -> NodeRun:
    """The script run with bash in workdir, the fakes first on PATH, HOME in workdir."""
    workdir.mkdir(parents=True, exist_ok=True)
    job = workdir / "job.sh"
    job.write_text(script, encoding="utf-8")
    log = workdir / "calls.jsonl"
    log.write_text("", encoding="utf-8")
    env = {
        "PATH": f"{fake_bin(workdir / 'bin')}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(workdir / "home"),
        "FAKE_LOG": str(log),
        "FAKE_GPUS": str(gpus),
        "SLURM_JOB_ID": "4242",
    }
    if driver is not None:
        env["FAKE_DRIVER"] = driver
    done = subprocess.run(
        ["bash", str(job)], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    calls = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    return NodeRun(done.returncode, done.stdout, done.stderr, calls)
