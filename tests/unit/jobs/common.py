"""The jobs every test here starts from: examples/gpu-torch's plan, by a fixed digest."""

from __future__ import annotations

import functools

from envforge.image.options import BuildOptions
from envforge.jobs import model
from tests.conftest import EXAMPLES

DIGEST = "sha256:" + "5e" * 32
REF = f"registry.example:5000/team/gpu-torch@{DIGEST}"


@functools.cache
def gpu_torch(ref: str = REF) -> model.ImageFacts:
    """examples/gpu-torch's image (its plan, as build makes it here), named ref."""
    return model.project_facts(EXAMPLES / "gpu-torch", BuildOptions(), ref)


def spec(target: str, *args: str, **options: object) -> model.JobSpec:
    """A checked job for gpu-torch: options as JobOptions takes them, args after `--`."""
    return model.check_options(
        model.JobOptions(target=target, args=args or None, **options),  # type: ignore[arg-type]
        gpu_torch(),
    )
