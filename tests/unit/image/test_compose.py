"""compose.yaml from a plan: the YAML for the examples, checked against the compose
specification's shape for every key envforge writes (a subset of compose-spec.json, below)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
import yaml

from envforge.image import ownership
from envforge.image.compose import compose_dict, render_compose
from envforge.image.dockerignore import dockerignore_patterns
from envforge.image.options import BuildOptions
from envforge.image.plan import Plan
from tests.conftest import EXAMPLES
from tests.unit.helpers import plan_for

BUILD = {
    "context": ".",
    "dockerfile": "Dockerfile",
    "args": {"ENVFORGE_REVISION": "${ENVFORGE_REVISION:-}"},
}
GPU_DEVICES = [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]


def loaded(plan: Plan) -> dict[str, Any]:
    text = render_compose(plan)
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


# --- a small schema: the compose specification's rules for the keys envforge writes ------------
# From compose-spec.json (github.com/compose-spec/compose-spec, schema/compose-spec.json):
# "services" names match ^[a-zA-Z0-9._-]+$; a service, build, deploy, resources, reservations
# and device allow no other keys (additionalProperties: false, "x-" extensions aside);
# build.args, environment: a mapping to string | number | boolean | null, or a list;
# ports: number or string items; volumes: short-syntax strings "SOURCE:TARGET[:MODE]";
# shm_size: number or string; devices[]: capabilities (array of strings) required, count
# integer or "all", driver string.

_SIZE = re.compile(r"^\d+(\.\d+)?(b|k|m|g|kb|mb|gb)?$", re.IGNORECASE)
_PORT = re.compile(r"^(\d{1,5}(-\d{1,5})?:)?\d{1,5}(-\d{1,5})?(/(tcp|udp|sctp))?$")
_VOLUME = re.compile(r"^[^:]+:/[^:]*(:(ro|rw|z|Z))?$")
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_SCALAR = (str, int, float, bool, type(None))


def check_keys(where: str, value: Any, allowed: set[str], required: set[str] | None = None) -> None:
    assert isinstance(value, dict), f"{where} must be a mapping"
    unknown = {k for k in value if not k.startswith("x-")} - allowed
    assert not unknown, f"{where}: keys the compose spec does not allow: {sorted(unknown)}"
    missing = (required or set()) - set(value)
    assert not missing, f"{where}: required keys missing: {sorted(missing)}"


def check_mapping_of_scalars(where: str, value: Any) -> None:
    assert isinstance(value, dict), f"{where} must be a mapping"
    for key, item in value.items():
        assert isinstance(key, str) and key, f"{where}: key {key!r}"
        assert isinstance(item, _SCALAR), f"{where}.{key}: {item!r} is not a scalar"


def check_compose_shape(data: Any) -> None:
    check_keys("top level", data, {"version", "name", "services", "volumes", "networks"})
    services = data["services"]
    assert isinstance(services, dict) and services
    for name, service in services.items():
        where = f"services.{name}"
        assert _SERVICE_NAME.match(name), f"{where}: not a valid service name"
        check_keys(
            where,
            service,
            {"build", "image", "environment", "ports", "volumes", "shm_size", "deploy"},
        )
        if "build" in service:
            build = service["build"]
            check_keys(f"{where}.build", build, {"context", "dockerfile", "args"})
            assert isinstance(build["context"], str)
            assert isinstance(build["dockerfile"], str)
            check_mapping_of_scalars(f"{where}.build.args", build.get("args", {}))
        assert isinstance(service.get("image", ""), str)
        check_mapping_of_scalars(f"{where}.environment", service.get("environment", {}))
        for port in service.get("ports", []):
            assert isinstance(port, int) or _PORT.match(port), f"{where}.ports: {port!r}"
        for volume in service.get("volumes", []):
            assert isinstance(volume, str) and _VOLUME.match(volume), f"{where}: {volume!r}"
        if "shm_size" in service:
            size = service["shm_size"]
            assert isinstance(size, int) or _SIZE.match(size), f"{where}.shm_size: {size!r}"
        if "deploy" in service:
            deploy = service["deploy"]
            check_keys(f"{where}.deploy", deploy, {"resources"})
            check_keys(f"{where}.deploy.resources", deploy["resources"], {"reservations"})
            reservations = deploy["resources"]["reservations"]
            check_keys(f"{where}.deploy.resources.reservations", reservations, {"devices"})
            devices = reservations["devices"]
            assert isinstance(devices, list) and devices
            for device in devices:
                check_keys(
                    f"{where}...devices[]",
                    device,
                    {"capabilities", "count", "device_ids", "driver", "options"},
                    required={"capabilities"},
                )
                caps = device["capabilities"]
                assert isinstance(caps, list) and all(isinstance(c, str) for c in caps)
                count = device.get("count", "all")
                assert count == "all" or (isinstance(count, int) and not isinstance(count, bool))
                assert isinstance(device.get("driver", ""), str)


def test_the_schema_check_catches_what_compose_refuses() -> None:
    good = loaded(plan_for(EXAMPLES / "gpu-torch"))
    check_compose_shape(good)
    service = good["services"]["gpu-torch"]
    device = service["deploy"]["resources"]["reservations"]["devices"][0]
    for broken in (
        {**device, "capabilities": "gpu"},  # must be a list
        {**device, "colour": "red"},  # unknown key
        {"driver": "nvidia", "count": "all"},  # capabilities is required
        {**device, "count": "many"},
    ):
        service["deploy"]["resources"]["reservations"]["devices"] = [broken]
        with pytest.raises(AssertionError):
            check_compose_shape(good)
    with pytest.raises(AssertionError):
        check_compose_shape({"services": {"bad name": {}}})
    with pytest.raises(AssertionError):
        check_compose_shape({"services": {"app": {"gpus": "all"}}})


# --- the examples ----------------------------------------------------------------------------


def test_cpu_example() -> None:
    data = loaded(plan_for(EXAMPLES / "cpu-sklearn"))
    assert data == {
        "services": {
            "cpu-sklearn": {
                "build": BUILD,
                "image": "cpu-sklearn:0.1.0",
                "volumes": ["./data:/app/data"],
            }
        }
    }
    check_compose_shape(data)


def test_gpu_example_reserves_the_gpus() -> None:
    plan = plan_for(EXAMPLES / "gpu-torch")
    assert plan.gpu.uses_gpu
    data = loaded(plan)
    assert data == {
        "services": {
            "gpu-torch": {
                "build": BUILD,
                "image": "gpu-torch:0.1.0",
                "volumes": ["./data:/app/data"],
                "shm_size": "1gb",
                "deploy": {"resources": {"reservations": {"devices": GPU_DEVICES}}},
            }
        }
    }
    check_compose_shape(data)


def test_the_gpu_examples_text() -> None:
    text = render_compose(plan_for(EXAMPLES / "gpu-torch"))
    body = text.split("\n\nservices:\n", 1)[1]
    assert body == (
        "  gpu-torch:\n"
        "    build:\n"
        "      context: .\n"
        "      dockerfile: Dockerfile\n"
        "      args:\n"
        "        ENVFORGE_REVISION: ${ENVFORGE_REVISION:-}\n"
        "    image: gpu-torch:0.1.0\n"
        "    volumes:\n"
        "      - ./data:/app/data\n"
        "    shm_size: 1gb\n"
        "    deploy:\n"
        "      resources:\n"
        "        reservations:\n"
        "          devices:\n"
        "            - driver: nvidia\n"
        "              count: all\n"
        "              capabilities:\n"
        "                - gpu\n"
    )
    assert "# GPUs: every NVIDIA GPU is reserved" in text


@pytest.mark.parametrize("options", [BuildOptions(cpu=True), BuildOptions(cuda="12.4")])
def test_the_gpu_variant_decides(options: BuildOptions) -> None:
    plan = plan_for(EXAMPLES / "gpu-torch", options)
    service = loaded(plan)["services"]["gpu-torch"]
    assert ("deploy" in service) == plan.gpu.uses_gpu == ("shm_size" in service)
    assert plan.gpu.uses_gpu == (options.cuda is not None)


def test_stamped_deterministic_and_owned() -> None:
    plan = plan_for(EXAMPLES / "cpu-sklearn")
    text = render_compose(plan)
    assert text == render_compose(plan_for(EXAMPLES / "cpu-sklearn"))
    assert ownership.is_pristine(text)
    assert text.startswith("# envforge-checksum: sha256:")
    assert "# compose.yaml generated by envforge" in text.splitlines()[1]
    assert "# ./data stays out of the image (.dockerignore)" in text
    assert "GPU" not in text


def test_environment_and_ports() -> None:
    plan = replace(
        plan_for(EXAMPLES / "cpu-sklearn"),
        env={"MODE": "production", "PRICE": "5$ or ${HOME}", "EMPTY": ""},
        ports=(8000, 22),
    )
    text = render_compose(plan)
    service = yaml.safe_load(text)["services"]["cpu-sklearn"]
    # `$` doubled: compose would otherwise interpolate ${HOME} from the shell.
    assert service["environment"] == {
        "MODE": "production",
        "PRICE": "5$$ or $${HOME}",
        "EMPTY": "",
    }
    assert service["ports"] == ["8000:8000", "22:22"]
    assert '      - "22:22"\n' in text  # quoted: YAML 1.1 reads 22:22 as a number (1342)
    assert list(service) == ["build", "image", "environment", "ports", "volumes"]
    check_compose_shape(yaml.safe_load(text))


def test_a_shipped_data_folder_is_not_mounted_over() -> None:
    plan = plan_for(EXAMPLES / "cpu-sklearn")
    plan = replace(plan, dockerignore=dockerignore_patterns((), ("data",)))
    service = compose_dict(plan)["services"]["cpu-sklearn"]
    assert "volumes" not in service
    assert "./data" not in render_compose(plan)


def test_a_ca_bundle_build_says_what_it_needs() -> None:
    plan = plan_for(EXAMPLES / "cpu-sklearn", BuildOptions(ca_bundle=True))
    assert "# The build needs .envforge/ca-bundle.crt here" in render_compose(plan)
