"""`envforge verify` on examples/cpu-sklearn built in the offline lab: it passes on the image
as built, and fails, naming what differs, once a package is added by hand or the lock moves."""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import Lab, build_copy, envforge

SITE = "/app/.venv/lib/python3.11/site-packages"
SUMMARY = re.compile(
    r"^verified: (\S+) holds the 11 packages uv\.lock gives Python 3\.11\.\d+ on linux/"
    r"(x86_64|aarch64), and its lock hash$"
)


@dataclass(frozen=True)
class Built:
    root: Path
    tag: str


@pytest.fixture(scope="module")
def built(lab: Lab, docker_client, tmp_path_factory, unique_tag) -> Built:
    root = tmp_path_factory.mktemp("verify") / "cpu-sklearn"
    tag = f"{unique_tag}/verify-cpu-sklearn:0.1.0"
    build_copy(lab, EXAMPLES / "cpu-sklearn", root, tag)
    yield Built(root, tag)
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def sneaky(built: Built, docker_client, unique_tag) -> str:
    """The built image with one package more, added by hand as root."""
    tag = f"{unique_tag}/verify-sneaky:0.1.0"
    dockerfile = (
        f"FROM {built.tag}\n"
        "USER root\n"
        f"RUN mkdir -p {SITE}/sneaky-1.0.dist-info \\\n"
        " && printf 'Metadata-Version: 2.1\\nName: sneaky\\nVersion: 1.0\\n' "
        f"> {SITE}/sneaky-1.0.dist-info/METADATA\n"
        "USER app\n"
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def verify(lab: Lab, image: str, root: Path) -> tuple[int, str, str]:
    done = envforge("verify", image, str(root), env=lab.cli_env(), timeout=300)
    return done.returncode, done.stdout, done.stderr


def no_container_left(docker_client, image: str) -> bool:
    return not docker_client.containers.list(all=True, filters={"ancestor": image})


def test_the_image_as_built_is_verified(built: Built, lab: Lab, docker_client) -> None:
    code, out, err = verify(lab, built.tag, built.root)
    assert code == 0, out + err
    lines = out.splitlines()
    assert len(lines) == 1
    match = SUMMARY.match(lines[0])
    assert match, lines[0]
    assert match.group(1) == built.tag
    assert no_container_left(docker_client, built.tag)


def test_a_package_added_by_hand_fails_naming_it(
    built: Built, sneaky: str, lab: Lab, docker_client
) -> None:
    code, out, err = verify(lab, sneaky, built.root)
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith(f"not verified: {sneaky} differs from uv.lock (Python 3.11.")
    assert lines[0].endswith("extras: none; groups: none): 1 difference")
    assert lines[1:] == ["+ extra    sneaky==1.0"]
    assert "Traceback" not in err
    assert no_container_left(docker_client, sneaky)


def test_a_different_lock_fails_naming_the_lock_hash(
    built: Built, lab: Lab, tmp_path: Path
) -> None:
    from envforge.project.lockfile import lock_hash

    moved = tmp_path / "cpu-sklearn"
    shutil.copytree(built.root, moved)
    lock = moved / "uv.lock"
    lock.write_bytes(lock.read_bytes() + b"\n")  # a harmless byte: the same packages
    code, out, err = verify(lab, built.tag, moved)
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].endswith("1 difference")
    label = lock_hash((built.root / "uv.lock").read_bytes())
    assert lines[1:] == [
        f"! lock hash  image label {label}, uv.lock {lock_hash(lock.read_bytes())}"
    ]


def test_an_image_not_built_by_envforge_cannot_be_verified(built: Built, lab: Lab) -> None:
    from tests.integration.conftest import LAB_PYTHON

    code, out, err = verify(lab, LAB_PYTHON, built.root)
    assert code == 2
    assert out == ""
    assert err.splitlines()[0] == (
        f"error: Image '{LAB_PYTHON}' was not built by envforge: it has no "
        "'dev.envforge.lock-hash' label, so its lock, extras and groups are unknown"
    )


def test_a_missing_image_is_a_clear_error(built: Built, lab: Lab) -> None:
    code, _, err = verify(lab, "envforge-test/absent:0", built.root)
    assert code == 2
    assert err.splitlines()[0] == "error: No image 'envforge-test/absent:0' in the Docker engine"
