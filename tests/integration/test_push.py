"""`envforge push` against a real registry (Debian's docker-registry, distribution 2.8) that
each test module starts on a free port of 127.0.0.1, which dockerd pushes to over plain HTTP
without configuration; then `envforge run`/`doctor --image` of the digest it printed.

The registry comes from tests/lab/prepare.sh (apt: docker-registry, apache2-utils). Without
it these tests fail in CI (CI=true) and are skipped elsewhere, as a missing engine is.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import LAB_PYTHON, Lab, build_copy, envforge

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
PINNED = re.compile(r"(?P<repo>[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})\Z")
KNOWN_LINE = "cpu-sklearn accuracy=0.9040 seed=0 samples=2000"


def need(tool: str) -> str:
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        message = f"{tool} is not installed (tests/lab/prepare.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    auth: tuple[str, str] | None

    def manifest_digest(self, name: str, tag: str) -> str:
        """The registry's own Docker-Content-Digest for name:tag."""
        request = urllib.request.Request(
            f"http://{self.host}/v2/{name}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": MANIFEST_V2, **self._authorization()},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return str(answer.headers["Docker-Content-Digest"])

    def _authorization(self) -> dict[str, str]:
        if self.auth is None:
            return {}
        token = base64.b64encode(":".join(self.auth).encode()).decode()
        return {"Authorization": f"Basic {token}"}


def start_registry(
    tmp: Path, *, auth: tuple[str, str] | None = None
) -> tuple[Registry, subprocess.Popen[bytes]]:
    binary = need("docker-registry")
    port = free_port()
    (tmp / "storage").mkdir(parents=True)
    # The packaged /etc/docker/registry/config.yml turns on htpasswd auth with a directory
    # as the file (every request gets 401): always our own config.
    config = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'storage'}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: '127.0.0.1:{port}'}}",
    ]
    if auth is not None:
        htpasswd = need("htpasswd")
        hashed = subprocess.run(
            [htpasswd, "-Bbn", *auth], capture_output=True, text=True, check=True
        ).stdout
        (tmp / "htpasswd").write_text(hashed)
        config.append(f"auth: {{htpasswd: {{realm: envforge-test, path: {tmp / 'htpasswd'}}}}}")
    (tmp / "config.yml").write_text("\n".join(config) + "\n")
    log = (tmp / "registry.log").open("wb")
    process = subprocess.Popen(
        [binary, "serve", str(tmp / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
            break
        except urllib.error.HTTPError as exc:  # 401 with auth on: it answers
            if exc.code == 401:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"docker-registry did not start:\n{(tmp / 'registry.log').read_text()}")
        time.sleep(0.2)
    return Registry(f"127.0.0.1:{port}", auth), process


@pytest.fixture(scope="module")
def registries(tmp_path_factory) -> Iterator[Callable[..., Registry]]:
    """Start registries (each on its own port and storage folder), killed at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*, auth: tuple[str, str] | None = None) -> Registry:
        registry, process = start_registry(tmp_path_factory.mktemp("registry"), auth=auth)
        started.append(process)
        return registry

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def registry(registries) -> Registry:
    return registries()


@pytest.fixture(scope="module")
def small_image(lab: Lab, docker_client) -> Iterator[str]:
    """A tiny image on the lab's Python: its one layer is the base's, so a push is cheap."""
    import io

    tag = f"envforge-test-{uuid.uuid4().hex[:8]}/push-small:1"
    dockerfile = (
        f"FROM {LAB_PYTHON}\n"
        f"LABEL dev.envforge.test-push={tag}\n"
        'CMD ["python3", "-c", "print(\'pushed ok\')"]\n'
    )
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    remove_image(docker_client, image.id)


def remove_image(docker_client, image_id: str) -> None:
    """Every tag of an image this module made, and the image."""
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(image_id, force=True)


def push(*args: str, lab: Lab, stdin: str | None = None, env: dict[str, str] | None = None):
    done = subprocess.run(
        ["envforge", "push", *args], input=stdin, capture_output=True, text=True,
        env={**lab.cli_env(), **(env or {})}, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


def pinned_of(stdout: str) -> re.Match[str]:
    last = stdout.splitlines()[-1]
    found = PINNED.fullmatch(last)
    assert found, stdout
    return found


def test_push_prints_the_digest_the_registry_holds(
    registry: Registry, small_image: str, lab: Lab, docker_client
) -> None:
    ref = f"{registry.host}/team/small:1.0"
    done = push(small_image, ref, lab=lab)
    assert done.returncode == 0, done.stderr
    pinned = pinned_of(done.stdout)
    assert done.stdout == f"{pinned.group(0)}\n"  # the reference alone, for $(...)
    assert pinned.group("repo") == f"{registry.host}/team/small"
    assert pinned.group("digest") == registry.manifest_digest("team/small", "1.0")
    lines = done.stderr.splitlines()
    assert lines[0] == f"pushing   {small_image} to {ref}"
    assert lines[-1] == f"digest    {pinned.group('digest')}"
    layers = [line for line in lines if line.startswith("layer     ")]
    assert layers and all(
        re.fullmatch(r"layer     [0-9a-f]{12} (pushing .+|pushed)", x) for x in layers
    )
    # The engine knows the image by that digest now.
    assert pinned.group(0) in docker_client.images.get(small_image).attrs["RepoDigests"]

    again = push(small_image, ref, lab=lab)
    assert again.returncode == 0, again.stderr
    assert again.stdout == done.stdout
    assert [x.rsplit(" ", 1)[1] for x in again.stderr.splitlines() if x.startswith("layer")] == [
        "exists"
    ] * len({x.split()[1] for x in layers})


def test_run_and_doctor_take_the_digest_reference(
    registry: Registry, small_image: str, lab: Lab, docker_client, tmp_path: Path
) -> None:
    done = push(small_image, f"{registry.host}/team/runs", lab=lab)
    assert done.returncode == 0, done.stderr
    pinned = pinned_of(done.stdout).group(0)
    ran = envforge("run", "--no-tty", "--record", "--runs-dir", str(tmp_path), pinned,
                   env=lab.cli_env(), timeout=300)  # fmt: skip
    assert (ran.returncode, ran.stdout) == (0, "pushed ok\n"), ran.stderr
    (record,) = [json.loads(p.read_text()) for p in tmp_path.iterdir()]
    assert record["image"]["ref"] == record["image"]["digest"] == pinned
    doctor = envforge("doctor", "--image", pinned, env=lab.cli_env())
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr

    # Gone from the engine: envforge says to pull it (it never pulls); pulled, it runs.
    other = f"{registry.host}/team/copy:1"
    copied = push(small_image, other, lab=lab)
    assert copied.returncode == 0, copied.stderr
    copy_pinned = pinned_of(copied.stdout).group(0)
    docker_client.images.remove(other)  # dockerd drops the repository's digest reference too
    missing = envforge("run", "--no-tty", copy_pinned, env=lab.cli_env())
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[-1] == f"hint: Pull it first: docker pull {copy_pinned}"
    docker_client.images.pull(copy_pinned)
    ran = envforge("run", "--no-tty", copy_pinned, env=lab.cli_env(), timeout=300)
    assert (ran.returncode, ran.stdout) == (0, "pushed ok\n"), ran.stderr


def test_a_registry_with_htpasswd_auth(
    registries, small_image: str, lab: Lab, tmp_path: Path
) -> None:
    registry = registries(auth=("pusher", "s3cret-pw"))
    ref = f"{registry.host}/team/private:1"
    no_config = {"DOCKER_CONFIG": str(tmp_path / "empty")}

    refused = push(small_image, ref, lab=lab, env=no_config)
    assert refused.returncode == 1
    assert refused.stdout == ""
    error, hint = refused.stderr.splitlines()[1:]
    assert error.startswith(f"error: Cannot push '{ref}' to {registry.host}: ")
    assert error.endswith(": no basic auth credentials")
    assert hint == (
        f"hint: Log in first (`docker login {registry.host}`), or pass --username USER "
        "--password-stdin with the password on stdin."
    )

    wrong = push(small_image, ref, "--username", "pusher", "--password-stdin",
                 lab=lab, stdin="nope\n", env=no_config)  # fmt: skip
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines()[1] == (
        f"error: Cannot push '{ref}' to {registry.host}: unauthorized: authentication required"
    )
    assert wrong.stderr.splitlines()[2].startswith("hint: The registry refused these credentials")

    done = push(small_image, ref, "--username", "pusher", "--password-stdin",
                lab=lab, stdin="s3cret-pw\n", env=no_config)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert pinned_of(done.stdout).group("digest") == registry.manifest_digest("team/private", "1")

    # No flags: docker-py sends what the docker config (`docker login`) holds for the host.
    config = tmp_path / "docker-config"
    config.mkdir()
    token = base64.b64encode(b"pusher:s3cret-pw").decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    logged_in = push(small_image, f"{registry.host}/team/private:2", lab=lab,
                     env={"DOCKER_CONFIG": str(config)})  # fmt: skip
    assert logged_in.returncode == 0, logged_in.stderr
    assert pinned_of(logged_in.stdout).group("digest") == registry.manifest_digest(
        "team/private", "2"
    )


def test_a_registry_that_is_down(small_image: str, lab: Lab, docker_client) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    ref = f"{host}/team/small:1"
    done = push(small_image, ref, lab=lab)
    docker_client.images.remove(ref)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"pushing   {small_image} to {ref}\n"
        f"error: Cannot push '{ref}' to {host}: Get \"http://{host}/v2/\": dial tcp {host}: "
        "connect: connection refused\n"
        f"hint: Is the registry up at {host}? Check the host and port, then retry.\n"
    )


def test_a_project_folder_pushes_its_default_tag(
    registry: Registry, small_image: str, lab: Lab, docker_client, tmp_path: Path
) -> None:
    """PATH pushes the tag `envforge build PATH` gives (name:version), as `run PATH` runs it."""
    name = f"envforge-push-{uuid.uuid4().hex[:8]}"
    project = tmp_path / name
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\nrequires-python = ">=3.11"\n'
        "dependencies = []\n"
    )
    subprocess.run(["uv", "lock", "--offline", "-q"], cwd=project, check=True, timeout=120)
    docker_client.images.get(small_image).tag(name, "1.0")
    ref = f"{registry.host}/team/{name}:1.0"
    done = push(str(project), ref, lab=lab)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"pushing   {name}:1.0 to {ref}\n")
    assert pinned_of(done.stdout).group("digest") == registry.manifest_digest(f"team/{name}", "1.0")


def test_a_built_project_pushed_then_run_by_digest(
    registry: Registry, lab: Lab, docker_client, tmp_path: Path
) -> None:
    """examples/cpu-sklearn built by envforge, pushed, run by the digest printed; its
    README's section then says to pull that digest."""
    root = tmp_path / "cpu-sklearn"
    tag = f"envforge-test-{uuid.uuid4().hex[:8]}/cpu-sklearn:0.1.0"
    build_copy(lab, EXAMPLES / "cpu-sklearn", root, tag)
    built = docker_client.images.get(tag)
    try:
        ref = f"{registry.host}/team/cpu-sklearn:0.1.0"
        done = push(tag, ref, lab=lab)
        assert done.returncode == 0, done.stderr
        pinned = pinned_of(done.stdout)
        assert pinned.group("digest") == registry.manifest_digest("team/cpu-sklearn", "0.1.0")
        ran = envforge("run", "--no-tty", pinned.group(0), env=lab.cli_env(), timeout=300)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == KNOWN_LINE

        readme = envforge("readme", str(root), "--image", pinned.group(0), env=lab.cli_env())
        assert readme.returncode == 0, readme.stderr
        assert f"docker pull {pinned.group(0)}\n" in (root / "README.md").read_text()
    finally:
        remove_image(docker_client, built.id)
