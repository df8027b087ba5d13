"""`envforge verify IMAGE [PATH]`: prove that an image holds exactly what uv.lock gives it.

Two facts are checked:

* the packages: every distribution in the image's environment, by canonical name and
  version, against the lock's install set for the image's own Python, platform and the
  extras and groups its labels record, plus the project itself when it is a package
  (a virtual project is not installed). Nothing missing, nothing extra, the same versions
  (compared as PEP 440 versions, so "2.0" is "2.0.0" while "+cu132" stays exact);
* the lock: the image's ``dev.envforge.lock-hash`` label against the hash of PATH/uv.lock.

The facts about the image come from its labels and from ONE short container (no network,
removed when it ends) whose Python reports its version, platform, and its distributions.
The comparison itself is pure (`expected_packages`, `compare`, `render_diff`).

An image without envforge's labels was not built by envforge: its extras and groups are
unknown, so nothing can be proved about it. That is an input error (exit 2), said before
any container is started. Exit codes: 0 verified, 1 a difference, 2 cannot verify.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envforge import labels as keys
from envforge.errors import ImageInspectionError, NotEnvforgeImageError, RunError
from envforge.labels import ImageLabels
from envforge.project.installset import Target, installed_packages
from envforge.project.lockfile import Lock

if TYPE_CHECKING:
    import docker

    from envforge.project.pyproject import Project

# Printed before the JSON so that anything else a start-up hook writes cannot be mistaken for it.
_MARK = "envforge-verify:"

# Run in the image as `python -I -B -c`: isolated (no cwd, no PYTHON* variables, no user site),
# so sys.path is the stdlib and the environment's site-packages, and nothing is written.
_PROBE = f"""\
import importlib.metadata as m, json, platform, sys
out = []
for d in m.distributions():
    out.append([d.metadata.get("Name"), d.version])
sys.stdout.write({_MARK!r} + json.dumps({{
    "python": platform.python_version(),
    "machine": platform.machine(),
    "sys_platform": sys.platform,
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "distributions": out,
}}) + "\\n")
"""


# ---------------------------------------------------------------------------------------
# What the image holds, as its probe reported it.


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    python: str  # "3.11.16"
    machine: str  # "x86_64", "aarch64": platform.machine(), as PEP 508 sees it
    sys_platform: str  # "linux"
    in_venv: bool
    distributions: tuple[tuple[str, str], ...]  # (name as written, version), as found

    @property
    def target(self) -> Target:
        return Target(self.python, self.sys_platform, self.machine)

    def installed(self) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
        """Canonical name -> version, and the names found more than once with all versions."""
        seen: dict[str, list[str]] = {}
        for name, version in self.distributions:
            seen.setdefault(canonicalize_name(name), []).append(version)
        installed = {name: versions[0] for name, versions in seen.items()}
        twice = {name: tuple(v) for name, v in seen.items() if len(v) > 1}
        return installed, twice


def parse_probe(output: str, image: str) -> ImageFacts:
    """The probe's report, from the container's whole standard output."""
    line = next(
        (ln[len(_MARK) :] for ln in reversed(output.splitlines()) if ln.startswith(_MARK)), None
    )
    if line is None:
        raise ImageInspectionError(
            f"The Python in '{image}' printed no package report",
            hint="Its output began: " + (output.strip()[:200] or "(nothing)"),
        )
    try:
        data = json.loads(line)
        dists = tuple(
            (str(name), str(version))
            for name, version in data["distributions"]
            if name  # a dist-info without a Name is no installed package
        )
        return ImageFacts(
            python=str(data["python"]),
            machine=str(data["machine"]),
            sys_platform=str(data["sys_platform"]),
            in_venv=data["prefix"] != data["base_prefix"],
            distributions=dists,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ImageInspectionError(
            f"Unreadable package report from the Python in '{image}' ({exc})"
        ) from None


# ---------------------------------------------------------------------------------------
# Pure: what the lock says, and how the image differs from it.


def expected_packages(
    lock: Lock,
    target: Target,
    extras: Iterable[str],
    groups: Iterable[str],
    project: Project,
) -> dict[str, str | None]:
    """Canonical name -> version uv sync installs for target; None: any version (a dynamic
    version the lock does not record). The project itself is in it when it is a package."""
    expected: dict[str, str | None] = {
        name: pkg.version
        for name, pkg in installed_packages(lock, target, extras=extras, groups=groups).items()
    }
    if project.is_package:
        version = project.version or (lock.root.version if lock.root else None)
        expected[project.normalized_name] = version
    return expected


@dataclass(frozen=True)
class Mismatch:
    name: str
    lock: str
    image: str


@dataclass(frozen=True)
class Diff:
    missing: tuple[tuple[str, str | None], ...] = ()  # in the lock, not in the image
    extra: tuple[tuple[str, str], ...] = ()  # in the image, not in the lock
    mismatched: tuple[Mismatch, ...] = ()
    duplicated: tuple[tuple[str, tuple[str, ...]], ...] = ()  # installed more than once

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.mismatched or self.duplicated)

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.mismatched) + len(self.duplicated)


def same_version(lock: str, image: str) -> bool:
    """PEP 440 equality ("2.0" is "2.0.0"; a local "+cu132" must match too); else the text."""
    try:
        return Version(lock) == Version(image)
    except InvalidVersion:
        return lock == image


def compare(
    expected: Mapping[str, str | None],
    installed: Mapping[str, str],
    duplicated: Mapping[str, tuple[str, ...]] | None = None,
) -> Diff:
    want = {canonicalize_name(k): v for k, v in expected.items()}
    have = {canonicalize_name(k): v for k, v in installed.items()}
    missing = tuple((n, want[n]) for n in sorted(want.keys() - have.keys()))
    extra = tuple((n, have[n]) for n in sorted(have.keys() - want.keys()))
    mismatched = tuple(
        Mismatch(n, lock_version, have[n])
        for n in sorted(want.keys() & have.keys())
        if (lock_version := want[n]) is not None and not same_version(lock_version, have[n])
    )
    twice = tuple(sorted((canonicalize_name(k), v) for k, v in (duplicated or {}).items()))
    return Diff(missing, extra, mismatched, twice)


def _pin(name: str, version: str | None) -> str:
    return f"{name}=={version}" if version is not None else name


def render_diff(diff: Diff) -> str:
    """One line per package, sorted by name."""
    lines: list[tuple[str, str]] = []
    lines += [(n, f"- missing  {_pin(n, v)}") for n, v in diff.missing]
    lines += [(n, f"+ extra    {_pin(n, v)}") for n, v in diff.extra]
    lines += [
        (m.name, f"~ version  {m.name}: lock {m.lock}, image {m.image}") for m in diff.mismatched
    ]
    lines += [(n, f"! twice    {n}: image has {', '.join(v)}") for n, v in diff.duplicated]
    return "\n".join(text for _, text in sorted(lines))


@dataclass(frozen=True, kw_only=True)
class Verdict:
    image: str
    target: Target
    extras: tuple[str, ...]
    groups: tuple[str, ...]
    expected_count: int
    diff: Diff
    label_problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.diff and not self.label_problems

    @property
    def where(self) -> str:
        return f"Python {self.target.python_full_version} on {self.target.sys_platform}/{self.target.platform_machine}"

    def render(self) -> str:
        if self.ok:
            return (
                f"verified: {self.image} holds the {self.expected_count} packages uv.lock gives "
                f"{self.where}, and its lock hash"
            )
        chosen = f"extras: {', '.join(self.extras) or 'none'}; groups: {', '.join(self.groups) or 'none'}"
        problems = self.diff.count + len(self.label_problems)
        lines = [
            f"not verified: {self.image} differs from uv.lock ({self.where}; {chosen}): "
            f"{problems} difference{'s' if problems != 1 else ''}"
        ]
        lines += list(self.label_problems)
        if self.diff:
            lines.append(render_diff(self.diff))
        return "\n".join(lines)


def judge(
    image: str,
    labels: Mapping[str, str],
    facts: ImageFacts,
    lock: Lock,
    lock_bytes_hash: str,
    project: Project,
) -> Verdict:
    """Pure: the whole verdict from the image's labels and probe, and the project's lock."""
    image_labels = ImageLabels.from_labels(labels)
    extras, groups = image_labels.extras or (), image_labels.groups or ()
    expected = expected_packages(lock, facts.target, extras, groups, project)
    installed, twice = facts.installed()
    problems = []
    label_hash = image_labels.lock_hash or ""
    if label_hash != lock_bytes_hash:
        problems.append(f"! lock hash  image label {label_hash}, uv.lock {lock_bytes_hash}")
    label_python = image_labels.python
    if label_python and not _same_minor(label_python, facts.python):
        problems.append(f"! python     image label {label_python}, image's Python {facts.python}")
    return Verdict(
        image=image,
        target=facts.target,
        extras=extras,
        groups=groups,
        expected_count=len(expected),
        diff=compare(expected, installed, twice),
        label_problems=tuple(problems),
    )


def _same_minor(label: str, full: str) -> bool:
    return full == label or full.startswith(label + ".")


# ---------------------------------------------------------------------------------------
# I/O: the engine and the project on disk.


PROBE_TIMEOUT_S = 300


def probe_image(client: docker.DockerClient, image: str) -> ImageFacts:
    """Run the probe in one short container: Python as entrypoint, no network, removed after."""
    from envforge.engine import client as engine

    try:
        status, stdout, stderr = engine.run_captured(
            client,
            image,
            ["-I", "-B", "-c", _PROBE],
            entrypoint=["python"],
            timeout=PROBE_TIMEOUT_S,
        )
    except RunError as exc:
        if "executable file not found" in exc.reason:
            raise ImageInspectionError(
                f"Image '{image}' has no 'python' on its PATH to list its packages"
            ) from None
        raise
    if status != 0:
        raise ImageInspectionError(
            f"The Python in '{image}' could not list its packages (exit {status}): "
            + (_last_line(stderr) or "no message")
        )
    return parse_probe(stdout, image)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def verify_image(
    image: str, path: str | Path, *, client: Any = None, package: str | None = None
) -> Verdict:
    """The verdict on image against the project at path (package: the uv workspace member
    it was built from)."""
    from envforge.engine import client as engine
    from envforge.project.loader import load_project

    # The lock as it is: whether it is fresh against pyproject.toml is not the question here.
    loaded = load_project(path, check_lock=False, package=package)
    client = client if client is not None else engine.connect()
    found = engine.get_image(client, image)
    labels: Mapping[str, str] = found.labels or {}
    if keys.LOCK_HASH not in labels:
        raise NotEnvforgeImageError(image, keys.LOCK_HASH)
    facts = probe_image(client, image)
    if not facts.in_venv:
        raise ImageInspectionError(
            f"The Python on the PATH of '{image}' is not a virtual environment's: "
            "envforge's images run from /app/.venv"
        )
    return judge(image, labels, facts, loaded.lock, loaded.facts.lock_hash, loaded.project)
