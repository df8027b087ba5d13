"""Images in the engine: one described (its inspect data checked), and the Python it holds."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envforge.engine.connect import get_json_over_socket
from envforge.engine.reasons import api_message, short
from envforge.engine.run import run_captured
from envforge.errors import EngineError, ImageNotFoundError, InputError, RunError

if TYPE_CHECKING:
    import docker


def get_image(client: docker.DockerClient, ref: str) -> Any:
    import docker.errors
    import requests.exceptions

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise ImageNotFoundError(ref) from None
    except docker.errors.APIError as exc:
        raise EngineError(f"to describe the image '{ref}'", api_message(exc)) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"to describe the image '{ref}'", short(exc)) from None
    except Exception as exc:  # a body that is not JSON, or not an image's ("Can't create Image")
        raise EngineError(
            f"to describe the image '{ref}'", f"its answer is not an image's ({short(exc)})"
        ) from None
    checked_attrs(image)
    return image


def checked_attrs(image: Any) -> Mapping[str, Any]:
    """An image's inspect data, checked where envforge and docker-py read it."""
    attrs = getattr(image, "attrs", {})
    if not isinstance(attrs, Mapping):
        raise EngineError("to describe an image", "its answer is not a JSON object")
    config = attrs.get("Config", {})
    if attrs and not isinstance(config, Mapping):  # docker-py's Image.labels reads it
        raise EngineError("to describe an image", "its 'Config' is not a JSON object")
    labels = config.get("Labels") if isinstance(config, Mapping) else None
    if labels is not None and not (
        isinstance(labels, Mapping) and all(isinstance(v, str) for v in labels.values())
    ):
        raise EngineError("to describe an image", "its 'Config.Labels' are not strings")
    return attrs


def _probe_cache() -> Path:
    from envforge import safeio

    return safeio.cache_dir() / "image-python.json"


def image_python(client: docker.DockerClient, ref: str) -> str | None:
    """The Python a local image holds ("3.12.3"), "" when it has none, None when unknown
    (not a local image: envforge does not pull to find out). Answers are cached by image
    id, which is content-addressed: the same id always holds the same Python."""
    import json

    try:
        image_id = str(client.images.get(ref).id)
    except Exception:  # not a local image, or an engine that does not answer as one
        return None
    known = _known_pythons()
    if image_id in known:
        return known[image_id]
    found = _probe_python(client, ref)
    if found is not None:
        from envforge import safeio

        cache = _probe_cache()
        with contextlib.suppress(OSError, InputError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            safeio.write_text_atomic(cache, json.dumps({**known, image_id: found}))
    return found


def known_image_python(ref: str) -> str | None:
    """image_python's cached answer, asked without docker-py (its import alone is ~0.25 s of
    `envforge plan`): the image's id from one GET over the engine's unix socket. None when
    the cache does not know the image or the engine is not reached that way: then ask
    image_python."""
    from urllib.parse import quote

    attrs = get_json_over_socket(f"/images/{quote(ref, safe='/:@')}/json")
    image_id = attrs.get("Id") if isinstance(attrs, Mapping) else None
    return _known_pythons().get(image_id) if isinstance(image_id, str) else None


def _known_pythons() -> dict[str, str]:
    import json

    from envforge import safeio

    known: Any
    try:
        known = json.loads(safeio.read_bytes(_probe_cache()))  # a FIFO there is refused, not read
    except (InputError, ValueError, RecursionError):
        known = {}
    if not isinstance(known, dict) or not all(isinstance(v, str) for v in known.values()):
        return {}
    return {str(k): v for k, v in known.items()}


def _probe_python(client: docker.DockerClient, ref: str) -> str | None:
    try:
        status, out, _ = run_captured(
            client, ref, ["-c", "import platform; print(platform.python_version())"],
            entrypoint=["python3"], timeout=60,
        )  # fmt: skip
    except ImageNotFoundError:
        return None
    except RunError as exc:
        return (
            ""
            if "executable file not found" in exc.reason or "no such file" in exc.reason
            else None
        )
    return out.strip() if status == 0 and out.strip() else ""
