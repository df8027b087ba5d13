"""compose.yaml for a plan: one service that builds and runs the image. Pure.

`envforge dockerize --compose` writes it beside the Dockerfile, stamped like the Dockerfile
(envforge rewrites it only while nobody has edited it). The service:

- ``build``: the Dockerfile envforge wrote, with the revision build argument taken from the
  shell (``ENVFORGE_REVISION=$(git rev-parse HEAD) docker compose build``; empty otherwise).
- ``image``: the tag `envforge build` gives (``<name>:<version>``), so both tools agree;
  for a dynamic version ``<name>:latest``, as build's git tag would change the file per commit.
- ``environment``: ``[tool.envforge] env``. The image already has these (ENV): they are
  repeated here to be changed per run without a rebuild.
- ``ports``: ``[tool.envforge] ports``, published on the same host port.
- ``volumes``: ``./data`` at ``/app/data``. The .dockerignore keeps ``data`` out of the image
  (large data sets do not belong in layers); the service mounts it from the host instead.
  A project that ships ``data`` in the image (``[tool.envforge] include``) gets no mount: it
  would hide the shipped copy.
- GPU images only: ``deploy.resources.reservations.devices`` (every NVIDIA GPU, as
  ``--gpus all`` does) and ``shm_size: 1gb``. Docker gives a container 64 MB of /dev/shm;
  PyTorch's DataLoader workers pass batches through shared memory and NCCL sets up its
  transports there, and both fail in 64 MB (PyTorch's README tells container users to raise
  it with --shm-size or --ipc=host). The size is a ceiling on a tmpfs, not memory reserved.

A plan with a CA bundle (``--ca-bundle``) builds only with the bundle at
``.envforge/ca-bundle.crt``, as with plain ``docker build``; the file says so.

Every string is written with ``$`` doubled where compose would otherwise interpolate it,
except the build argument, which is meant to come from the shell.
"""

from __future__ import annotations

from typing import Any

import yaml

from envforge.image.layout import APP_DIR, APP_UID, CA_IN_CONTEXT
from envforge.image.ownership import stamp
from envforge.image.plan import Plan

DATA_DIR = "data"
GPU_SHM_SIZE = "1gb"
GPU_RESERVATION = {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}


def compose_dict(plan: Plan) -> dict[str, Any]:
    """The compose file as data: ``{"services": {name: service}}``, keys in writing order."""
    service: dict[str, Any] = {
        "build": {
            "context": ".",
            "dockerfile": "Dockerfile",
            "args": {plan.revision_arg: f"${{{plan.revision_arg}:-}}"},
        },
        "image": _literal(compose_tag(plan)),
    }
    if plan.env:
        service["environment"] = {key: _literal(str(value)) for key, value in plan.env.items()}
    if plan.ports:
        service["ports"] = [_Quoted(f"{port}:{port}") for port in plan.ports]
    if DATA_DIR in plan.dockerignore:  # not shipped in the image: mounted from the host
        service["volumes"] = [f"./{DATA_DIR}:{APP_DIR}/{DATA_DIR}"]
    if plan.gpu.uses_gpu:
        service["shm_size"] = GPU_SHM_SIZE
        service["deploy"] = {
            "resources": {"reservations": {"devices": [dict(GPU_RESERVATION)]}},
        }
    return {"services": {plan.project.normalized_name: service}}


def compose_tag(plan: Plan) -> str:
    """The service's image: build's tag, except for a dynamic version, whose git tag would
    change the file at every commit: then `<name>:latest`, the same on every checkout."""
    if plan.version_from_revision:
        return f"{plan.project.normalized_name}:latest"
    return plan.default_tag


def render_compose(plan: Plan) -> str:
    """compose.yaml, stamped: deterministic, so `dockerize --compose` twice is byte-identical."""
    body = _explain(plan) + yaml.dump(
        compose_dict(plan),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )
    return stamp(body, what="compose.yaml")


def _explain(plan: Plan) -> str:
    lines = [
        "# docker compose up --build: builds the Dockerfile beside this file and runs the image.",
        "# For the revision label: ENVFORGE_REVISION=$(git rev-parse HEAD) docker compose build",
    ]
    if plan.ca_bundle:
        lines.append(f"# The build needs {CA_IN_CONTEXT} here, as for `docker build`.")
    if plan.version_from_revision:
        lines.append(
            f"# A dynamic version: envforge build tags {plan.project.normalized_name}:git-<short sha>; "
            f"compose tags {compose_tag(plan)}."
        )
    if DATA_DIR in plan.dockerignore:
        lines += [
            f"# ./{DATA_DIR} stays out of the image (.dockerignore): it is mounted at "
            f"{APP_DIR}/{DATA_DIR} instead;",
            f"# the image runs as uid {APP_UID}, which must be able to read it (and write, if the",
            "# code writes there).",
        ]
    if plan.gpu.uses_gpu:
        lines += [
            "# GPUs: every NVIDIA GPU is reserved (needs the NVIDIA Container Toolkit; `envforge",
            "# doctor` checks it). shm_size: Docker's 64 MB /dev/shm is too small for PyTorch's",
            "# DataLoader workers and NCCL.",
        ]
    return "\n".join(lines) + "\n\n"


def _literal(text: str) -> str:
    """A value compose must not interpolate: `$` written as `$$`."""
    return text.replace("$", "$$")


class _Quoted(str):
    """Written in double quotes: "8000:8000", never a YAML 1.1 base-60 number ("22:22")."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """safe_dump's dumper, with list items indented under their key (as compose docs write)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_quoted(dumper: yaml.SafeDumper, data: _Quoted) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(_Quoted, _represent_quoted)
