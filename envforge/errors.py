"""One root exception, with subclasses that carry what went wrong and how to fix it.

Every error a user can cause is an EnvforgeError: the CLI prints it as one message
and exits with its ``exit_code``, never with a traceback.
"""

from __future__ import annotations


class EnvforgeError(Exception):
    """Root of every error envforge reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(EnvforgeError):
    """The user's project or arguments are wrong: usage errors exit with 2."""

    exit_code = 2


class ProjectNotFoundError(InputError):
    def __init__(self, path: str, *, missing: bool = False) -> None:
        self.path = path
        super().__init__(
            f"No such path: '{path}'" if missing else f"No pyproject.toml in '{path}'",
            hint="Pass the folder of a uv project (one with pyproject.toml and uv.lock).",
        )


class InvalidProjectError(InputError):
    """A value in pyproject.toml, .python-version or [tool.envforge] is invalid."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "pyproject.toml",
        hint: str | None = None,
        placed: bool = False,
    ):
        """placed: the message names the file already (envforge.fields' messages do)."""
        self.file = file
        super().__init__(
            message if placed else f"{message} in {file}", hint=hint or f"Fix that value in {file}."
        )

    @classmethod
    def from_fields(cls, message: str) -> InvalidProjectError:
        """The error of a value envforge.fields refused in pyproject.toml."""
        return cls(message, placed=True)


class LockError(InputError):
    """uv.lock is missing, unreadable, of an unknown version, or stale."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "Regenerate the lock with 'uv lock'.")


class CatalogError(EnvforgeError):
    """Package data failed validation: a bug in envforge, not in the user's project."""


class HostFactsError(InputError):
    """Recorded host facts (a doctor --json report) do not have the shape envforge reads."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            hint='Give the JSON that `envforge doctor --json` writes (or its "host").',
        )


class ProbeOutputError(ValueError):
    """What NVML or nvidia-smi returned is not in the shape envforge reads. Not an
    EnvforgeError: the probe reports it as the driver status "error", never raises it."""


class GpuGateRefused(EnvforgeError):
    """`run --gpus` refused before any container exists: checks failed."""

    def __init__(self, image: str, failed: int) -> None:
        self.image = image
        self.failed = failed
        super().__init__(
            f"refusing to start {image} with --gpus: {failed} check(s) failed",
            hint=f"Fix what failed above (`envforge doctor --image {image}` shows the whole "
            "report), or pass --skip-checks to start it anyway.",
        )


class RenderError(EnvforgeError):
    """A value that cannot be written safely reached a template: a bug in envforge, since
    envforge.validate refuses such values where they come in."""


class PlanError(InputError):
    """No image can be planned from these inputs (no base image for a Python, say)."""


class FileConflictError(InputError):
    """A file envforge would write was written or edited by someone else."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"Refusing to overwrite '{path}': it was not written by envforge, "
            "or was edited after envforge wrote it",
            hint="Keep your file, print envforge's version with --stdout, "
            "or replace it with --force.",
        )


class DockerUnavailableError(EnvforgeError):
    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(
            f"Cannot reach the Docker engine at {where}: {reason}",
            hint="Start dockerd (or Docker Desktop), or point DOCKER_HOST at a running engine.",
        )


class EngineError(EnvforgeError):
    """The engine answered, but not as the Docker API does (a 500, broken JSON, a timeout)."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(
            f"The Docker engine failed {what}: {reason}",
            hint="Check the engine (docker info, dockerd's log) or DOCKER_HOST, then retry.",
        )


class BuildError(EnvforgeError):
    def __init__(self, step: str | None, reason: str, log_tail: list[str]) -> None:
        self.step = step
        self.reason = reason
        self.log_tail = log_tail
        where = f" at step '{step}'" if step else ""
        super().__init__(
            f"Image build failed{where}: {reason}",
            hint="The log above shows the step's output; fix the project or the Dockerfile, "
            "then build again.",
        )


class ImageNotFoundError(InputError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(
            f"No image '{ref}' in the Docker engine",
            # A digest reference names a pushed image: envforge never pulls, docker does.
            hint=f"Pull it first: docker pull {ref}"
            if "@sha256:" in ref
            else "Build it first with 'envforge build', or name an existing image.",
        )


class PushError(EnvforgeError):
    """The registry, or the engine on its way there, refused a push. docker-py raises on
    none of these: they come inside the push's stream."""

    def __init__(self, registry: str, ref: str, reason: str, *, hint: str) -> None:
        self.registry = registry
        self.ref = ref
        self.reason = reason
        super().__init__(f"Cannot push '{ref}' to {registry}: {reason}", hint=hint)


class RunError(EnvforgeError):
    """The engine refused to create or start a container (a bad volume, a port in use...)."""

    def __init__(self, image: str, reason: str) -> None:
        self.image = image
        self.reason = reason
        super().__init__(
            f"Cannot run '{image}': {reason}",
            hint="Check the image and the Docker engine (docker info), then retry.",
        )


class PodmanGpuError(EnvforgeError):
    """`run --gpus` against a Podman that would drop the GPU request and run on the CPU."""

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(
            f"refusing --gpus on Podman Engine {version}: before 5.4 its Docker-compatible "
            "API ignores GPU requests, so the container would run without GPUs",
            hint="Use Podman 5.4 or later with CDI specs for the GPUs (`nvidia-ctk cdi "
            "generate --output=/etc/cdi/nvidia.yaml`), run it with `podman run --device "
            "nvidia.com/gpu=all IMAGE`, or point DOCKER_HOST at a Docker engine with the "
            "NVIDIA Container Toolkit.",
        )


class SmokeCheckError(EnvforgeError):
    """The image was built but does not start. Exit 1; the image is kept."""

    def __init__(self, image: str, summary: str, log_tail: list[str], hint: str) -> None:
        self.image = image
        self.log_tail = log_tail
        super().__init__(f"the image was built but does not start: {summary}", hint=hint)


class LabelError(InputError):
    """An image label envforge reads holds a value it never writes: the image's labels
    were edited, and a check that trusted them would mislead."""

    def __init__(self, key: str, value: str, expected: str) -> None:
        self.key = key
        super().__init__(
            f"The image's label {key}={value[:80]!r} is not {expected}",
            hint="Rebuild the image with 'envforge build', or fix the label.",
        )


class NotEnvforgeImageError(InputError):
    """The image has no envforge labels: what it was built from cannot be known."""

    def __init__(self, image: str, label: str) -> None:
        super().__init__(
            f"Image '{image}' was not built by envforge: it has no '{label}' label, "
            "so its lock, extras and groups are unknown",
            hint="Build it with 'envforge build' (or 'docker build' on envforge's Dockerfile), "
            "then verify that image.",
        )


class ImageInspectionError(InputError):
    """The image's Python could not report what it holds (no Python in it, say)."""


class RecordError(EnvforgeError):
    """The run's record could not be written."""
