"""The engine room's door: what the rest of envforge calls to talk to Docker.

The work is done by topic: `connect` (where the engine is, how long to wait), `images`
(describe an image, the Python it holds), `build` (the classic builder or
BuildKit, as `builder` picks; its log streamed),
`run` (a container streamed to the terminal, or a probe captured and bounded by its
timeout) and `socket_engine` (a BuildKit build over the engine's unix socket, without
docker-py). Callers import this module, so that one name (`engine.run_captured`) is what a
test replaces.
"""

from __future__ import annotations

from envforge.engine.build import BuiltImage, build_image
from envforge.engine.builder import choose_builder
from envforge.engine.connect import connect, connect_timeout, docker_host
from envforge.engine.images import get_image, image_python, known_image_python
from envforge.engine.run import RunSpec, run_captured, run_container
from envforge.engine.socket_engine import connect_socket, docker_client

__all__ = [
    "BuiltImage",
    "RunSpec",
    "build_image",
    "choose_builder",
    "connect",
    "connect_socket",
    "connect_timeout",
    "docker_client",
    "docker_host",
    "get_image",
    "image_python",
    "known_image_python",
    "run_captured",
    "run_container",
]
