"""Podman behind its Docker-compatible socket: recognised from /version, built with the
classic Dockerfile (buildah's log read), and `--gpus` refused before 5.4, a CDI request
from 5.4 on."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from envforge.engine import build
from envforge.engine import client as engine
from envforge.engine import run as engine_run
from envforge.engine.builder import builder_for, choose_builder
from envforge.engine.podman import device_request_kwargs, podman_version
from envforge.errors import BuildError, PodmanGpuError
from envforge.host.gate import parse_gpus

# What Debian 12's podman 4.3.1 answers on /version (checked), cut to what is read.
PODMAN_43 = {
    "Version": "4.3.1",
    "ApiVersion": "1.41",
    "Components": [
        {"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}},
        {"Name": "Conmon", "Version": "conmon version 2.1.6, commit: unknown"},
    ],
}
DOCKER_20 = {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "Components": [{"Name": "Engine"}]}


def podman(version: str) -> dict[str, Any]:
    return {**PODMAN_43, "Components": [{"Name": "Podman Engine", "Version": version}]}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (PODMAN_43, (4, 3, 1)),
        (podman("5.4.0-rc2"), (5, 4, 0)),
        (podman("v5"), (0,)),  # Podman, its number unreadable: older than any feature
        (DOCKER_20, None),
        ({"Version": "4.3.1"}, None),
        ({"Components": "Podman Engine"}, None),
    ],
)
def test_podman_is_recognised_from_its_version_components(
    answer: dict[str, Any], expected: tuple[int, ...] | None
) -> None:
    assert podman_version(answer) == expected


def test_auto_keeps_podman_on_the_classic_dockerfile_and_says_why() -> None:
    assert builder_for(PODMAN_43) == (
        "classic",
        "Podman Engine 4.3.1 builds with buildah, which does not rebuild a RUN "
        "--mount=type=bind layer when the bound uv.lock changes: the classic Dockerfile",
    )


class _Client:
    def __init__(self, version: object) -> None:
        self._version = version

    def version(self) -> object:
        if isinstance(self._version, Exception):
            raise self._version
        return self._version


def test_builder_buildkit_on_podman_falls_back_to_classic_and_says_so() -> None:
    chosen, why = choose_builder(_Client(PODMAN_43), "buildkit")
    assert chosen == "classic"
    assert why.startswith("--builder buildkit: Podman Engine 4.3.1 has no BuildKit; it builds")
    assert choose_builder(_Client(DOCKER_20), "buildkit") == ("buildkit", "--builder buildkit")
    assert choose_builder(_Client(OSError("gone")), "buildkit") == (
        "buildkit",
        "--builder buildkit",
    )
    assert choose_builder(_Client(PODMAN_43), "auto")[0] == "classic"
    assert choose_builder(_Client(DOCKER_20), "auto")[0] == "buildkit"


# -- the build: buildah's log through the classic request ----------------------------------


class _BuildClient:
    """A client whose /build answers as Podman's compat endpoint does (checked lines)."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        outer = self

        class Api:
            def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
                outer.asked = kwargs
                return iter(chunks)

        class Images:
            def get(self, ref: str) -> Any:
                image = SimpleNamespace(attrs={"Id": ref, "Size": 5_000_000})
                return image

        self.api = Api()
        self.images = Images()


def test_podmans_build_log_is_read_through_the_classic_request(tmp_path: Any) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    client = _BuildClient([
        {"stream": "[1/2] STEP 1/2: FROM base AS deps\n"},
        {"stream": "--> 75ded0f5fe3\n"},
        {"stream": "Successfully built 3b038a914c6b\n"},
        {"aux": {"ID": "sha256:3b038a914c6b"}},
    ])  # fmt: skip
    lines: list[str] = []
    built = engine.build_image(client, tmp_path, "t:1", out=lines.append)  # type: ignore[arg-type]
    assert built.id == "sha256:3b038a914c6b"
    assert client.asked["custom_context"] is True
    assert lines[0] == "[1/2] STEP 1/2: FROM base AS deps"


def test_a_failed_buildah_step_is_named_with_its_output() -> None:
    client = _BuildClient([
        {"stream": "[2/2] STEP 3/3: RUN echo out; exit 3\n"},
        {"stream": "out\n"},
        {"errorDetail": {"message": 'building at STEP "RUN echo out; exit 3": while running '
                         "runtime: exit status 3\n"},
         "error": "building at STEP ..."},
    ])  # fmt: skip
    progress = build._BuildProgress()
    with pytest.raises(BuildError) as caught:
        for chunk in client.api.build():
            build._consume(chunk, progress, lambda line: None)
    assert caught.value.step == "[2/2] 3/3 RUN echo out; exit 3"
    assert caught.value.log_tail == ["[2/2] STEP 3/3: RUN echo out; exit 3", "out"]
    assert build._step("STEP 2/4: COPY . /src") == "2/4 COPY . /src"
    assert build._step("Step 2/4 : COPY . /src") == "2/4 COPY . /src"
    assert build._step("STEP 2/4 COPY") is None


# -- --gpus ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("all", ["nvidia.com/gpu=all"]),
        ("2", ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]),
        ("device=1,GPU-8f3c", ["nvidia.com/gpu=1", "nvidia.com/gpu=GPU-8f3c"]),
    ],
)
def test_podman_5_4_gets_a_cdi_device_request(value: str, ids: list[str]) -> None:
    assert device_request_kwargs(parse_gpus(value), (5, 4, 0)) == {
        "driver": "cdi",
        "device_ids": ids,
    }
    assert device_request_kwargs(parse_gpus(value), (6, 0)) == {"driver": "cdi", "device_ids": ids}


def test_docker_keeps_its_device_request() -> None:
    request = parse_gpus("device=0,1")
    assert device_request_kwargs(request, None) == request.sdk_kwargs()


def test_podman_before_5_4_refuses_gpus_rather_than_run_on_the_cpu() -> None:
    with pytest.raises(PodmanGpuError) as caught:
        device_request_kwargs(parse_gpus("all"), (5, 3, 2))
    assert caught.value.message == (
        "refusing --gpus on Podman Engine 5.3.2: before 5.4 its Docker-compatible API "
        "ignores GPU requests, so the container would run without GPUs"
    )
    assert caught.value.hint and "Podman 5.4" in caught.value.hint
    assert "podman run --device nvidia.com/gpu=all" in caught.value.hint


class _RunClient(_Client):
    def __init__(self, version: object) -> None:
        super().__init__(version)
        outer = self
        self.created: list[dict[str, Any]] = []

        class Containers:
            def create(self, image: str, **kwargs: Any) -> Any:
                outer.created.append(kwargs)
                raise AssertionError("no container may be made")

        self.containers = Containers()


def test_run_gpus_on_podman_4_is_refused_before_any_container_exists() -> None:
    client = _RunClient(PODMAN_43)
    spec = engine.RunSpec(image="img:1", gpus=parse_gpus("all"))
    with pytest.raises(PodmanGpuError, match=r"Podman Engine 4\.3\.1"):
        engine.run_container(client, spec)  # type: ignore[arg-type]
    assert client.created == []


def test_run_spec_on_podman_5_4_becomes_a_cdi_request() -> None:
    from docker.types import DeviceRequest

    spec = engine.RunSpec(image="img:1", gpus=parse_gpus("all"))
    (request,) = engine_run._host_config(spec, (5, 4))["device_requests"]
    assert isinstance(request, DeviceRequest)
    assert (request.driver, request.device_ids) == ("cdi", ["nvidia.com/gpu=all"])
