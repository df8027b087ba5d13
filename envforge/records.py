"""Run records: `envforge run --record` writes one JSON file per run; `envforge runs`
lists them.

A record says what ran (the image, by id and digest, and the lock it was built from), from
which code (the git commit, and whether the tree had uncommitted changes), how (the command
and the GPUs asked for), where (the host's NVIDIA driver and GPUs) and how it went (start,
duration, exit code). The facts are gathered before the container starts; the record is
written when the run ends, also when it fails to start.

Files are named ``<YYYYmmddTHHMMSSZ>-<image name>-<6 hex>.json``: sorted by name, they are in
the order the runs started; the random part keeps two runs of one second apart.

Schema 1 (keys are only added within a schema version; every key below is always present)::

    schema        1
    envforge      the envforge version that wrote the record
    image         ref (as run: the project's tag or the IMAGE given), id ("sha256:..."),
                  digest ("name@sha256:...": the ref itself when it is a digest reference,
                  as `envforge push` prints; else the image's RepoDigests entry of the
                  ref's repository, or its first; null for an image never pushed or pulled)
    lock_hash     the image's dev.envforge.lock-hash label (the hash of uv.lock), or null
    project       name and version, from the image's org.opencontainers.image.title and
                  .version labels (each null when absent)
    git           commit and dirty (uncommitted or untracked changes under the folder) of
                  the project folder when TARGET is one, else of the current folder; null
                  outside a git repository
    command       entrypoint and args as the container runs them: what the run gave, else
                  the image's ENTRYPOINT and CMD (a given entrypoint drops the image's CMD,
                  as in Docker). Environment values are not recorded: they may be secrets.
    gpus          the --gpus value as given ("all", "2", "device=0,1"), or null
    host          status, source, driver_version, cuda_driver_version (the driver's CUDA
                  API version), gpus[] (name, compute_capability [major, minor],
                  memory_total_bytes), facts_file: from this host's NVML / nvidia-smi, or
                  from the --host-facts file named in facts_file (then null for a probe)
    started       UTC, ISO 8601 with milliseconds: "2025-01-31T09:15:02.123Z"
    duration_s    seconds from just before the container was created to the end of the run
    exit_code     the container's exit code, or null when it did not run to an exit code
    error         null, or why the run failed (the engine refused to start it, say)
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envforge import __version__
from envforge.errors import EnvforgeError, InputError, RecordError
from envforge.labels import ImageLabels

if TYPE_CHECKING:
    from envforge.engine.client import RunSpec
    from envforge.host.facts import DriverFacts

SCHEMA = 1
# `run --runs-dir` and `runs` default to it: the CLI imports this module at start-up, so
# its other imports (json, validate, secrets, tempfile) are made where they are used.
DEFAULT_DIR = Path(".envforge/runs")
COLUMNS = ("STARTED", "EXIT", "DURATION", "IMAGE", "COMMIT", "GPU")
_NAME_RE = re.compile(r"[^a-z0-9._-]+")
_IMAGE_ID_RE = re.compile(r"^(sha256:)?[0-9a-f]{12,64}\Z")


@dataclass
class RunRecord:
    """The run being recorded: set exit_code inside `recording`; path is where it goes.

    notice: what to tell the user once the block is left, "recorded  PATH" (or a warning
    that the record of a run that raised could not be written); None until then, and when
    a record that failed to be written raises RecordError instead.
    """

    path: Path
    started: str
    exit_code: int | None = None
    notice: str | None = None


# ---------------------------------------------------------------- pure: the record


def command_of(
    spec_entrypoint: Sequence[str] | None,
    spec_args: Sequence[str],
    config: Mapping[str, Any],
) -> dict[str, list[str]]:
    """What the container runs, as the engine merges it: a given entrypoint replaces the
    image's ENTRYPOINT and drops its CMD; given args replace CMD."""
    if spec_entrypoint:
        return {"entrypoint": list(spec_entrypoint), "args": list(spec_args)}
    entrypoint = config.get("Entrypoint") or []
    args = list(spec_args) or list(config.get("Cmd") or [])
    return {"entrypoint": [str(a) for a in entrypoint], "args": [str(a) for a in args]}


def git_state(revision: str | None) -> dict[str, Any] | None:
    """{commit, dirty} from what loader.git_revision returns ("<sha>" or "<sha>-dirty")."""
    if not revision:
        return None
    dirty = revision.endswith("-dirty")
    return {"commit": revision.removesuffix("-dirty"), "dirty": dirty}


def host_state(driver: DriverFacts, facts_file: str | None) -> dict[str, Any]:
    return {
        "status": driver.status,
        "source": driver.source,
        "driver_version": driver.driver_version,
        "cuda_driver_version": driver.cuda_driver_version,
        "gpus": [
            {
                "name": gpu.name,
                "compute_capability": (
                    list(gpu.compute_capability) if gpu.compute_capability else None
                ),
                "memory_total_bytes": gpu.memory_total_bytes,
            }
            for gpu in driver.gpus
        ],
        "facts_file": facts_file,
    }


def build_record(
    *,
    image_ref: str,
    image_attrs: Mapping[str, Any],
    spec: RunSpec,
    git_revision: str | None,
    driver: DriverFacts,
    facts_file: str | None,
    started: str,
    duration_s: float,
    exit_code: int | None,
    error: str | None,
) -> dict[str, Any]:
    """The record (schema 1) from the facts gathered around a run."""
    config = image_attrs.get("Config") or {}
    labels = _labels(image_attrs)
    digests = image_attrs.get("RepoDigests") or []
    return {
        "schema": SCHEMA,
        "envforge": __version__,
        "image": {
            "ref": image_ref,
            "id": image_attrs.get("Id"),
            "digest": digest_reference(image_ref, digests),
        },
        "lock_hash": labels.lock_hash or None,
        "project": {
            "name": labels.title or None,
            "version": labels.version or None,
        },
        "git": git_state(git_revision),
        "command": command_of(spec.entrypoint, spec.args, config),
        "gpus": spec.gpus.value if spec.gpus is not None else None,
        "host": host_state(driver, facts_file),
        "started": started,
        "duration_s": round(duration_s, 3),
        "exit_code": exit_code,
        "error": error,
    }


def digest_reference(ref: str, repo_digests: object) -> str | None:
    """The reference that pins what ran: the ref given when it is one (`envforge run
    host/name@sha256:...`), else the image's RepoDigests entry of ref's repository, else its
    first one; None for an image never pushed or pulled."""
    if "@sha256:" in ref:
        return _untagged(ref)
    digests = (
        [d for d in repo_digests if isinstance(d, str)] if isinstance(repo_digests, list) else []
    )
    from envforge import validate

    return validate.repo_digest_for(ref, digests)


def _untagged(ref: str) -> str:
    """host/name:tag@sha256:... -> host/name@sha256:... (the form RepoDigests holds)."""
    from envforge import validate

    return f"{validate.repository(ref)}@{ref.partition('@')[2]}"


def _labels(image_attrs: Mapping[str, Any]) -> ImageLabels:
    return ImageLabels.from_labels((image_attrs.get("Config") or {}).get("Labels") or {})


def utc_iso(moment: datetime) -> str:
    """ "2025-01-31T09:15:02.123Z"."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def image_name(ref: str) -> str:
    """A short, file-name-safe name for an image reference: registry/team/name:tag -> name."""
    ref = ref.split("@", 1)[0].lower()
    if _IMAGE_ID_RE.match(ref):
        return "image"
    name = ref.rsplit("/", 1)[-1].split(":", 1)[0]
    name = _NAME_RE.sub("-", name).strip("-._")[:40].strip("-._")
    return name or "image"


def record_filename(moment: datetime, ref: str, token: str) -> str:
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{image_name(ref)}-{token}.json"


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, EnvforgeError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------- pure: reading and listing


def check_record(data: Any) -> dict[str, Any]:
    """The record when it has the shape `envforge runs` reads; ValueError saying why not."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ValueError(f"schema {schema!r}, this envforge reads schema {SCHEMA}")
    image = data.get("image")
    if not isinstance(image, dict) or not isinstance(image.get("ref"), str):
        raise ValueError("no image.ref")
    started = data.get("started")
    if not isinstance(started, str):
        raise ValueError("no started time")
    try:
        moment = datetime.fromisoformat(started)
        (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        raise ValueError(f"started {started[:40]!r} is not an ISO 8601 time") from None
    except OverflowError:
        raise ValueError(f"started {started[:40]!r} is out of range") from None
    exit_code = data.get("exit_code")
    if exit_code is not None and not _is_int(exit_code):
        raise ValueError(f"exit_code {exit_code!r} is not an integer")
    if exit_code is not None and not -(2**31) <= exit_code < 2**32:
        raise ValueError("exit_code is out of range")
    duration = data.get("duration_s")
    if duration is not None and (not isinstance(duration, int | float) or _is_bool(duration)):
        raise ValueError(f"duration_s {duration!r} is not a number")
    if duration is not None and not (math.isfinite(duration) and 0 <= duration < 1e12):
        raise ValueError(f"duration_s {duration!r} is not a duration (negative, or too large)")
    git = data.get("git")
    if git is not None and (not isinstance(git, dict) or not isinstance(git.get("commit"), str)):
        raise ValueError("git is neither null nor {commit, dirty}")
    gpus = data.get("gpus")
    if gpus is not None and not isinstance(gpus, str):
        raise ValueError(f"gpus {gpus!r} is not a string")
    host = data.get("host")
    if host is not None and not (isinstance(host, dict) and isinstance(host.get("gpus", []), list)):
        raise ValueError("host is not {driver_version, cuda_driver_version, gpus}")
    return data


def newest_first(records: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """(file name, record) pairs, sorted newest first: by start time, then by file name."""

    def key(item: tuple[str, dict[str, Any]]) -> tuple[datetime, str]:
        moment = datetime.fromisoformat(item[1]["started"])
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment, item[0]

    return [record for _, record in sorted(records, key=key, reverse=True)]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def format_started(started: str) -> str:
    """To the second, in UTC: "2025-01-31T09:15:02Z"."""
    moment = datetime.fromisoformat(started)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_gpu(record: Mapping[str, Any]) -> str:
    """The GPUs asked for and what the host had: "all (2x NVIDIA H100 80GB HBM3)"; "-" for none."""
    asked = record.get("gpus")
    if not asked:
        return "-"
    host = record.get("host") or {}
    names = [str(g.get("name")) for g in host.get("gpus") or [] if isinstance(g, Mapping)]
    if not names:
        return f"{asked} (no GPU)"
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    have = ", ".join(f"{n}x {name}" if n > 1 else name for name, n in counts.items())
    return f"{asked} ({have})"


def format_row(record: Mapping[str, Any]) -> tuple[str, ...]:
    exit_code = record.get("exit_code")
    git = record.get("git")
    commit = "-"
    if git:
        commit = str(git["commit"])[:12] + ("+dirty" if git.get("dirty") else "")
    return (
        format_started(record["started"]),
        str(exit_code) if exit_code is not None else ("error" if record.get("error") else "-"),
        format_duration(record.get("duration_s")),
        str(record["image"]["ref"]),
        commit,
        format_gpu(record),
    )


def format_table(records: Sequence[Mapping[str, Any]]) -> str:
    """A table, one run a line, in the order given; columns two spaces apart."""
    rows = [COLUMNS, *(format_row(r) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines) + "\n"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


# ---------------------------------------------------------------- the world: files, git, host


def read_records(directory: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The readable records in directory, newest first, and a warning for each other *.json."""
    from envforge import validate

    found: list[tuple[str, dict[str, Any]]] = []
    warnings: list[str] = []
    for path in sorted(directory.glob("*.json")):
        if not path.is_file():
            continue
        try:
            data = validate.loads_json(path.read_text("utf-8"))
            found.append((path.name, check_record(data)))
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"warning: skipping {path}: cannot read it ({exc})")
        except ValueError as exc:  # json.JSONDecodeError is one
            warnings.append(f"warning: skipping {path}: not a run record ({exc})")
        except RecursionError:
            warnings.append(f"warning: skipping {path}: not a run record (nested too deep)")
    return newest_first(found), warnings


def list_runs(directory: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """`envforge runs`: the records in directory, newest first, and a warning for each
    other *.json; none for a folder that does not exist."""
    if not directory.is_dir():
        return [], []
    return read_records(directory)


def records_json(records: Sequence[Mapping[str, Any]]) -> str:
    import json

    return json.dumps(records, indent=2, allow_nan=False)


def _git_folder(target: str) -> Path:
    return Path(target) if Path(target).is_dir() else Path.cwd()


def _driver(host_facts: Path | None) -> DriverFacts:
    if host_facts is not None:
        from envforge.doctor import load_host_facts

        return load_host_facts(host_facts).driver
    from envforge.host.nvidia import probe_driver

    return probe_driver()


def _write(path: Path, record: Mapping[str, Any]) -> None:
    """All or nothing: a reader never sees half a record."""
    import json
    import tempfile

    data = (json.dumps(record, indent=2, allow_nan=False) + "\n").encode("utf-8")
    # A fresh temporary name (never a predictable one a link could stand on), then a rename.
    fd, part = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise


@contextmanager
def recording(
    directory: Path,
    *,
    image: Any,
    spec: RunSpec,
    target: str,
    host_facts: Path | None = None,
) -> Iterator[RunRecord]:
    """Record the run in the with-block: set ``.exit_code`` there. One record is written at
    the end, also when the block raises (exit_code null, the error's message); the exception
    goes on. ``.notice`` then says where the record went, for the caller to print.

    The folder is made first, and git and the host read, before the run starts.
    """
    import secrets
    import tempfile

    from envforge.project.loader import git_revision

    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Prove the folder takes a file before the run starts, not after it ended.
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".envforge-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(
            f"Cannot write run records into '{directory}' ({exc.strerror or exc})",
            hint="Record into a folder you can write to (--runs-dir).",
        ) from None
    image_attrs: Mapping[str, Any] = image.attrs
    _labels(image_attrs)  # a label that cannot be read is refused now, not after the run
    revision = git_revision(_git_folder(target))
    driver = _driver(host_facts)

    moment = datetime.now(UTC)
    path = directory / record_filename(moment, spec.image, secrets.token_hex(3))
    while path.exists():
        path = directory / record_filename(moment, spec.image, secrets.token_hex(3))
    run = RunRecord(path=path, started=utc_iso(moment))
    start = time.monotonic()

    def record(error: str | None) -> dict[str, Any]:
        return build_record(
            image_ref=spec.image,
            image_attrs=image_attrs,
            spec=spec,
            git_revision=revision,
            driver=driver,
            facts_file=str(host_facts) if host_facts is not None else None,
            started=run.started,
            duration_s=time.monotonic() - start,
            exit_code=run.exit_code,
            error=error,
        )

    try:
        yield run
    except BaseException as exc:
        run.exit_code = None
        try:
            _write(path, record(describe_error(exc)))
        except OSError as write_exc:
            run.notice = f"warning: the run record {path} was not written ({write_exc})"
        else:
            run.notice = f"recorded  {path}"
        raise
    try:
        _write(path, record(None))
    except OSError as exc:
        raise RecordError(
            f"The run ended (exit code {run.exit_code}) but its record {path} was not "
            f"written ({exc.strerror or exc})"
        ) from None
    run.notice = f"recorded  {path}"
