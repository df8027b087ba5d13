"""Parsing of `envforge run`'s -e, -v and -p values into what the Docker SDK takes. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from envforge.errors import InputError

_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
_PORT_RE = re.compile(
    r"^(?:(?P<ip>\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?"
    r"(?:(?P<host>\d+):)?(?P<ctr>\d+)(?:/(?P<proto>tcp|udp))?\Z",
    re.ASCII,
)


def parse_env(values: Sequence[str], host_env: Mapping[str, str]) -> dict[str, str]:
    """-e KEY=VALUE, or -e KEY to pass the host's value (skipped when unset, as docker does)."""
    env: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not _ENV_RE.match(key):
            raise InputError(f"Invalid -e {value!r}: expected KEY=VALUE or KEY")
        if sep:
            env[key] = val
        elif key in host_env:
            env[key] = host_env[key]
    return env


def parse_volumes(values: Sequence[str]) -> list[str]:
    """-v HOST:CONTAINER[:ro|rw]; the host side may be relative to the current folder."""
    import os

    out = []
    for value in values:
        parts = value.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
            raise InputError(
                f"Invalid -v {value!r}: expected HOST:CONTAINER[:ro], with an absolute CONTAINER path"
            )
        if len(parts) == 3 and parts[2] not in ("ro", "rw"):
            raise InputError(f"Invalid -v {value!r}: the mode must be ro or rw")
        host = parts[0]
        if host.startswith((".", "/", "~")):
            host = os.path.abspath(os.path.expanduser(host))
        out.append(":".join([host, *parts[1:]]))
    return out


def parse_ports(values: Sequence[str]) -> dict[str, int | tuple[str, int] | None]:
    """-p [IP:][HOST:]CONTAINER[/PROTO] as the SDK's ports mapping."""
    ports: dict[str, int | tuple[str, int] | None] = {}
    for value in values:
        match = _PORT_RE.match(value)
        if not match:
            raise InputError(f"Invalid -p {value!r}: expected [IP:][HOST:]CONTAINER[/tcp|udp]")
        for port in (match["host"], match["ctr"]):
            if port is not None and not 0 < int(port) < 65536:
                raise InputError(f"Invalid -p {value!r}: port {port} is not in 1-65535")
        key = f"{match['ctr']}/{match['proto'] or 'tcp'}"
        host = int(match["host"]) if match["host"] else None
        if match["ip"]:
            if host is None:
                raise InputError(
                    f"Invalid -p {value!r}: an IP needs a host port (IP:HOST:CONTAINER)"
                )
            ports[key] = (match["ip"].strip("[]"), host)
        else:
            ports[key] = host
    return ports
