"""Is uv.lock up to date with pyproject.toml? uv's verdict when uv runs here
(`uv lock --check`, without the user's uv settings), envforge's own comparison
(project/freshness.py) when it cannot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from envforge import validate
from envforge.errors import EnvforgeError, LockError
from envforge.project import lockverdict
from envforge.project.freshness import lock_drift, path_drift
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project

UV_CHECK_TIMEOUT_S = 60
# How `plan` and `build` say that nothing could tell whether the lock is up to date.
UNCHECKED = "could not be checked"
_FRESH_OFFLINE = "uv lock --check --offline"
# uv's own settings that travel from the user's environment into `uv lock --check` and would
# make it judge another lock than the build's (UV_EXCLUDE_NEWER, UV_INDEX_URL, UV_PRERELEASE,
# ...): all UV_* are dropped, but for these, which change how uv connects, not what it resolves.
_UV_ENV_KEPT = frozenset(
    {"UV_CACHE_DIR", "UV_NATIVE_TLS", "UV_SYSTEM_CERTS", "UV_HTTP_TIMEOUT", "UV_NO_PROGRESS"}
)
_UV_MESSAGE_MAX = 1500
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # uv colours its messages on a terminal


# An index's credentials say how to reach it, not what to resolve: kept too.
_UV_CREDENTIALS = re.compile(r"UV_INDEX_[A-Z0-9_]+_(USERNAME|PASSWORD)|UV_KEYRING_PROVIDER")


def _uv_env(config_home: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("UV_") or k in _UV_ENV_KEPT or _UV_CREDENTIALS.fullmatch(k)
    }
    # No user- or system-level uv.toml either (a user's exclude-newer): the build has none.
    env["XDG_CONFIG_HOME"] = config_home
    env["XDG_CONFIG_DIRS"] = config_home
    return env


def uv_message(stderr: str) -> str:
    """uv's stderr for an error line: its colours out, its other control characters escaped
    (validate.one_line), its progress lines dropped, bounded."""
    lines = [x.strip() for x in _ANSI_RE.sub("", stderr).splitlines() if x.strip()]
    # uv's "Using CPython ..." and "Resolved N packages" lines say nothing about the failure.
    lines = [x for x in lines if not x.startswith(("Using ", "Resolved "))] or lines
    joined = validate.one_line(" | ".join(lines))
    if len(joined) > _UV_MESSAGE_MAX:
        joined = joined[: _UV_MESSAGE_MAX - 3] + "..."
    return joined or "(no message)"


def check_lock_fresh(root: Path, project: Project, lock: Lock) -> str:
    """Refuse a stale lock; say how it was found fresh, or that it could not be checked.

    uv decides when it is on PATH: `uv lock --check --offline` first (a fresh lock needs no
    network), then online; without the user's UV_* settings and uv.toml, as in the build.
    When uv fails for another reason than staleness, its own message is the error. Without
    uv, envforge compares the recorded requirements, of the project and of its local folders.
    """
    where = root
    stale_hint = "Run 'uv lock' in the project to bring uv.lock up to date, then retry."
    uv = shutil.which("uv")
    if uv:
        import tempfile

        # A pass that uv gave for exactly these files is not asked again (lockverdict).
        key = lockverdict.verdict_key(uv, where, lock, _uv_env(""))
        if key is not None and lockverdict.known_fresh(key):
            return _FRESH_OFFLINE

        with tempfile.TemporaryDirectory(prefix="envforge-uv-config-") as config_home:
            env = _uv_env(config_home)
            done = None
            for offline in (True, False):
                # No Python download just to check a lock: slow, and offline sites have none.
                argv = [uv, "lock", "--check", "--no-python-downloads", "--directory", str(where)]
                try:
                    done = subprocess.run(
                        argv + (["--offline"] if offline else []),
                        capture_output=True, text=True, timeout=UV_CHECK_TIMEOUT_S,
                        check=False, env=env, stdin=subprocess.DEVNULL,
                    )  # fmt: skip
                except subprocess.TimeoutExpired:
                    return f"{UNCHECKED}: uv lock --check did not finish in {UV_CHECK_TIMEOUT_S} s"
                except OSError as exc:
                    return f"{UNCHECKED}: uv lock --check did not start ({exc.strerror or exc})"
                if done.returncode == 0:
                    if not offline:
                        return "uv lock --check"
                    if key is not None and key == lockverdict.verdict_key(
                        uv, where, lock, _uv_env("")
                    ):  # the files uv read are still the ones keyed
                        lockverdict.remember_fresh(key)
                    return _FRESH_OFFLINE
                if "needs to be updated" in done.stderr:
                    raise LockError(
                        f"uv.lock in '{where}' is out of date with pyproject.toml (uv lock --check)",
                        hint=stale_hint,
                    )
                if any(sign in done.stderr for sign in _NO_INTERPRETER):
                    # A fact about this host, not the lock: envforge's own comparison decides.
                    found = _fallback(root, project, lock, where, stale_hint, uv_found=True)
                    return f"{found} (uv lock --check found no Python here that requires-python allows)"
        assert done is not None
        raise LockError(
            f"uv lock --check failed in '{where}': {uv_message(done.stderr)}",
            hint="That is uv's own message: fix what it names (a missing folder or git "
            "submodule, an index it cannot reach), then retry; envforge builds only a lock "
            "that uv accepts.",
        )
    return _fallback(root, project, lock, where, stale_hint)


# uv's words when it has no interpreter for requires-python (it needs one to check a lock).
_NO_INTERPRETER = ("No interpreter found", "Failed to inspect Python interpreter")


def _fallback(
    root: Path,
    project: Project,
    lock: Lock,
    where: Path,
    stale_hint: str,
    *,
    uv_found: bool = False,
) -> str:
    """envforge's own comparison (no uv on PATH, or no Python for it): says when it cannot tell."""
    why = "uv could not run" if uv_found else "uv is not on PATH"
    drift = lock_drift(project, lock)
    local: dict[str, Project | str] = {}
    for pkg in lock.packages:
        folder = pkg.local_folder
        if pkg is lock.root or folder is None or folder in local:
            continue
        local[folder] = _local_project(where, folder)
    more, unknown = path_drift(lock, local)
    drift += more
    if drift:
        shown = "; ".join(drift[:5]) + (f"; and {len(drift) - 5} more" if len(drift) > 5 else "")
        raise LockError(
            f"uv.lock in '{where}' is out of date with pyproject.toml: {shown}", hint=stale_hint
        )
    if unknown:
        return (
            f"{UNCHECKED}: {why}, and envforge cannot compare "
            + "; ".join(unknown[:3])
            + (f"; and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        )
    return (
        f"recorded requirements match pyproject.toml; {why}, so markers and "
        "sources were not compared"
    )


def _local_project(where: Path, folder: str) -> Project | str:
    """A local folder's Project, or why envforge cannot compare it."""
    path = where / folder / "pyproject.toml"
    if not path.is_file():
        if (where / folder / "setup.py").is_file():
            return "it has setup.py and no pyproject.toml"
        return "its pyproject.toml is missing (a git submodule not checked out?)"
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return f"its pyproject.toml cannot be read ({type(exc).__name__})"
    dynamic = (
        data.get("project", {}).get("dynamic", []) if isinstance(data.get("project"), dict) else []
    )
    if isinstance(dynamic, list) and {"dependencies", "optional-dependencies"} & set(
        map(str, dynamic)
    ):
        return "its dependencies are dynamic"
    try:
        return Project.from_dict(data)
    except EnvforgeError as exc:
        return f"its pyproject.toml is invalid ({exc})"
