"""examples/cpu-sklearn built with BuildKit through the Engine API, against a classic build."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from tests.conftest import EXAMPLES
from tests.integration.conftest import Lab, envforge

KNOWN_LINE = "cpu-sklearn accuracy=0.9040 seed=0 samples=2000"


def _build(lab: Lab, root: Path, tag: str, builder: str, *args: str) -> str:
    done = envforge(
        "build", str(root), "--tag", tag, "--builder", builder, *args, env=lab.cli_env()
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    return done.stdout


def test_buildkit_builds_the_same_image_as_classic(
    lab: Lab, docker_client, tmp_path: Path, unique_tag: str
) -> None:
    root = tmp_path / "cpu-sklearn"
    shutil.copytree(EXAMPLES / "cpu-sklearn", root, ignore=shutil.ignore_patterns(".venv"))
    kit, classic = f"{unique_tag}/bk-kit:0.1.0", f"{unique_tag}/bk-classic:0.1.0"
    try:
        output = _build(lab, root, kit, "buildkit").splitlines()
        assert "builder   buildkit (--builder buildkit)" in output
        network = output[output.index("builder   buildkit (--builder buildkit)") + 1]
        assert network == (
            "network   bridge (the engine's default: each RUN in a network sandbox of its own)"
        )
        # The BuildKit Dockerfile's sync, in the runtime stage, its mounts shown as one word:
        # `[stage-5 4/6] RUN --mount=... cd /tmp/envforge-project  && uv sync ...`.
        synced = [line for line in output if line.startswith("[stage-") and "uv sync" in line]
        assert synced and "RUN --mount=... " in synced[0], "\n".join(output)
        assert not any(line.startswith("Step ") for line in output)
        assert f"built     {kit}" in output
        assert "check     imports cpu_sklearn ok" in output
        done = envforge("run", kit, "--no-tty", env=lab.cli_env())
        assert (done.returncode, done.stdout.strip()) == (0, KNOWN_LINE), done.stderr
        # The classic builder on the host's network: the same image either way.
        output = _build(lab, root, classic, "classic", "--network", "host").splitlines()
        assert any(line.startswith("network   host (--network host: ") for line in output)
        kit_labels = docker_client.images.get(kit).labels
        assert kit_labels == docker_client.images.get(classic).labels
        assert kit_labels["org.opencontainers.image.title"] == "cpu-sklearn"
    finally:
        for tag in (kit, classic):
            with contextlib.suppress(Exception):  # not built: nothing to remove
                docker_client.images.remove(tag, force=True)


def test_a_failing_run_step_is_named_with_its_output(
    lab: Lab, tmp_path: Path, unique_tag: str
) -> None:
    broken = tmp_path / "cpu-sklearn"
    shutil.copytree(EXAMPLES / "cpu-sklearn", broken, ignore=shutil.ignore_patterns(".venv"))
    shutil.rmtree(broken / "src")  # nothing left for the wheel: the project step must fail
    done = envforge(
        "build", str(broken), "--tag", f"{unique_tag}/bk-broken:0", "--builder", "buildkit",
        env=lab.cli_env(),
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: Image build failed at step '[project ")
    assert "uv build" in first
    assert "exit code: 1" in first
    tail = [line for line in done.stderr.splitlines() if line.startswith("  | ")]
    assert any("envforge: building the project failed" in line for line in tail)
