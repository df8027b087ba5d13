"""The Docker engine as a GPU host: reachable or not, its version and runtimes, and whether
the NVIDIA container toolkit is installed (nvidia runtime, CDI specs, nvidia-ctk, the hook).

``engine_from_info`` and ``cdi_kind`` are pure; ``probe_engine`` is the thin live part.
An unreachable engine is a state of the host, reported in ``EngineFacts``, never raised.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from envforge.errors import EnvforgeError
from envforge.host.facts import EngineFacts

CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
CDI_SUFFIXES = (".yaml", ".json")
HOOK = "nvidia-container-runtime-hook"
CTK = "nvidia-ctk"
CTK_TIMEOUT_S = 10.0
_CTK_VERSION_RE = re.compile(r"version\s+v?(\d+\.\d+\S*)", re.IGNORECASE)


def engine_from_info(
    info: Mapping[str, Any],
    where: str,
    cdi_specs: Sequence[str] = (),
    ctk_version: str | None = None,
    hook_on_path: bool = False,
    cdi_kinds: Sequence[str] = (),
) -> EngineFacts:
    """Facts from what ``docker info`` returns (``client.info()``), plus the toolkit probes."""
    runtimes = info.get("Runtimes")
    version = info.get("ServerVersion")
    default = info.get("DefaultRuntime")
    return EngineFacts(
        reachable=True,
        where=where,
        version=str(version) if version else None,
        runtimes=tuple(sorted(str(name) for name in runtimes))
        if isinstance(runtimes, Mapping)
        else (),
        default_runtime=str(default) if default else None,
        cdi_specs=tuple(cdi_specs),
        cdi_kinds=tuple(sorted(set(cdi_kinds))),
        nvidia_ctk_version=ctk_version,
        nvidia_hook_on_path=hook_on_path,
    )


def cdi_kind(text: str, *, is_json: bool = False) -> str | None:
    """The device kind a CDI spec declares ("nvidia.com/gpu"); None when it does not parse."""
    import yaml

    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return None
    kind = data.get("kind") if isinstance(data, Mapping) else None
    return kind if isinstance(kind, str) and kind else None


def ctk_version_from_output(text: str) -> str | None:
    """The version in ``nvidia-ctk --version``: "NVIDIA Container Toolkit CLI version 1.17.8"."""
    match = _CTK_VERSION_RE.search(text)
    return match.group(1) if match else None


def find_cdi_specs(
    dirs: Sequence[str | Path] = CDI_DIRS,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(spec files, the kinds they declare) under the CDI directories that exist."""
    specs: list[str] = []
    kinds: set[str] = set()
    for folder in map(Path, dirs):
        try:
            entries = sorted(folder.iterdir())
        except OSError:  # missing, or not readable: no specs there
            continue
        for path in entries:
            if path.suffix not in CDI_SUFFIXES or not path.is_file():
                continue
            specs.append(str(path))
            try:
                kind = cdi_kind(path.read_text("utf-8"), is_json=path.suffix == ".json")
            except (OSError, UnicodeDecodeError):
                kind = None
            if kind:
                kinds.add(kind)
    return tuple(specs), tuple(sorted(kinds))


def probe_ctk(timeout: float = CTK_TIMEOUT_S) -> str | None:
    """``nvidia-ctk --version`` when it is on PATH; None when absent or it fails."""
    ctk = shutil.which(CTK)
    if ctk is None:
        return None
    try:
        done = subprocess.run(
            [ctk, "--version"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ctk_version_from_output(done.stdout) if done.returncode == 0 else None


def probe_engine(
    *, cdi_dirs: Sequence[str | Path] = CDI_DIRS, timeout: float = CTK_TIMEOUT_S
) -> EngineFacts:
    """The engine DOCKER_HOST names (or the default socket), and this machine's toolkit.

    The toolkit probes read this machine; with a remote DOCKER_HOST they say nothing about
    the engine's host.
    """
    from envforge.engine.connect import connect, connect_timeout, docker_host

    where = docker_host()
    specs, kinds = find_cdi_specs(cdi_dirs)
    ctk = probe_ctk(timeout)
    hook = shutil.which(HOOK) is not None
    toolkit: dict[str, Any] = {
        "cdi_specs": specs,
        "cdi_kinds": kinds,
        "nvidia_ctk_version": ctk,
        "nvidia_hook_on_path": hook,
    }
    try:
        # doctor reports, it does not wait: each request gets the connect timeout (5 s).
        client = connect(request_timeout=connect_timeout())
    except EnvforgeError as exc:
        return EngineFacts(reachable=False, where=where, detail=exc.message, **toolkit)
    try:
        info = client.info()
    except Exception as exc:  # the SDK's APIError, or requests' errors on a broken answer
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return EngineFacts(
            reachable=True, where=where, detail=f"docker info failed: {reason}", **toolkit
        )
    finally:
        client.close()
    if not isinstance(info, Mapping):
        return EngineFacts(
            reachable=True, where=where, detail="docker info answered no JSON object", **toolkit
        )
    return engine_from_info(info, where, specs, ctk, hook, kinds)
