"""The network a build's RUN steps share: the engine's bridge (the default) or its host's.

On the bridge, the engine gives each RUN a network sandbox of its own (a namespace, a veth
pair, an address): ~0.15 s of every RUN on Docker 20.10 here, a sixth of a rebuild after a
code edit. `--network host` skips it, at a price: the RUNs (the project's build backend,
any sdist in the lock, as root with the container's capabilities) then share the network
namespace of the engine's host, and reach what listens on its loopback (a dockerd on
127.0.0.1:2375 is root on that host), its raw sockets and, on a cloud VM, the metadata
service without the NAT hop that AWS's IMDSv2 hop limit of 1 stops. Docker gates it for that
reason: an engine may refuse it (daemon.json `builder.entitlements.network-host: false`);
BuildKit says so before any step runs, and the build is sent again on the bridge. The classic
builder and Podman have no such gate. A RUN's network is part of BuildKit's cache key: a build
on the other network reruns every RUN once.
"""

from __future__ import annotations

from typing import Literal

BuildNetwork = Literal["bridge", "host"]
BUILD_NETWORKS: tuple[BuildNetwork, ...] = ("bridge", "host")

WHY: dict[BuildNetwork, str] = {
    "bridge": "the engine's default: each RUN in a network sandbox of its own",
    "host": "--network host: the RUNs share the network of the engine's host, its loopback "
    "included, each ~0.15 s sooner; a build on the bridge reruns them once",
}
REFUSED = (
    "bridge (this engine does not allow builds on its host's network: daemon.json "
    "builder.entitlements.network-host is false; --network bridge sends the build once)"
)


def networkmode(network: BuildNetwork) -> dict[str, str]:
    """The build request's `networkmode` parameter: none for the bridge, the engine's
    default (the request every engine has always had)."""
    return {"networkmode": "host"} if network == "host" else {}


def host_refused(explanation: str) -> bool:
    """Whether the engine's answer to a build is its refusal of the host's network
    ("granting entitlement network.host is not allowed by build daemon configuration")."""
    return "network.host" in explanation and "not allowed" in explanation
