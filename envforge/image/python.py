"""The image's Python, chosen in this one module: its version (asked for, a named base's own,
or the newest the lock has wheels for), the patch release its markers are read for, and
where it comes from (the base image, or uv's managed Python)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envforge.errors import InvalidProjectError, PlanError
from envforge.image.bases import Catalog
from envforge.image.decision import Decision
from envforge.image.gpu import GpuMode
from envforge.image.options import BuildOptions, PythonSource, named_base_image
from envforge.image.selection import Selection
from envforge.project.facts import ProjectFacts
from envforge.project.installset import Target
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from envforge.project.wheeltags import GLIBC, UNKNOWN_GLIBC, Support, label, no_wheel, support


@dataclass(frozen=True)
class PythonChoice:
    version: str  # major.minor: "3.12"
    target: Target  # the release the lock's markers are evaluated for
    decisions: tuple[Decision, ...]  # why this one, then what its install set risks on it


def python_target(
    catalog: Catalog, version: str, debian: str | None, *, named_base: bool
) -> Target:
    """The release of version the image holds: a catalog image's own patch, else X.Y.0."""
    image = None if named_base else catalog.python_image(version, debian)
    return Target(image.python_patch if image else f"{version}.0")


def parse_python_version_file(text: str) -> str:
    """The major.minor that a .python-version asks for ('3.11', '3.11.7', 'cpython-3.11')."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(
            r"(?:cpython[-@]?)?(3\.\d{1,2})(?:\.\d+)?(?:[-+][A-Za-z0-9._+-]*)?", line, re.ASCII
        )
        if not match:
            raise InvalidProjectError(
                f"Unsupported Python request {line!r}",
                file=".python-version",
                hint="Write a CPython version such as 3.11 (uv python pin 3.11).",
            )
        return match.group(1)
    raise InvalidProjectError("No Python version", file=".python-version")


def minor_allowed(spec: SpecifierSet, version: str) -> bool:
    """Whether spec holds for some X.Y.Z release of minor version X.Y.

    Within one minor version a specifier changes its answer only at the patch it names, so
    patch 0, each named patch and its neighbours decide it (no probing of patch numbers)."""
    major, minor = (int(p) for p in version.split("."))
    patches = {0}
    for one in spec:
        try:
            release = Version(one.version.replace(".*", "")).release
        except InvalidVersion:  # '===' compares strings: nothing to take a patch from
            continue
        if release[:2] == (major, minor) and len(release) > 2:
            patches |= {max(release[2] - 1, 0), release[2], release[2] + 1}
    return any(spec.contains(f"{version}.{n}") for n in sorted(patches))


@dataclass(frozen=True)
class _Fit:
    """How a lock's install set installs on one Python: each package's Support."""

    python: str
    found: tuple[Support, ...] = ()

    def of(self, *kinds: str) -> list[Support]:
        return [f for f in self.found if f.kind in kinds]

    @property
    def installs(self) -> bool:
        return not self.of("none")

    @property
    def all_wheels(self) -> bool:
        # An sdist-only package is the same on every Python: it tells none apart.
        return not self.of("none", "compile")

    def shortfall(self) -> str:
        """'ray 2.49.2 has no cp314 wheel; ...': why this Python is passed over."""
        missing = self.of("none") + self.of("compile")
        shown = [
            no_wheel(f, self.python)
            + (" (only an sdist to compile)" if f.kind == "compile" else "")
            for f in missing[:3]
        ]
        more = f"; and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"{self.python}: " + "; ".join(shown) + more


def _fit(
    lock: Lock,
    catalog: Catalog,
    version: str,
    debian: str | None,
    named_base: bool,
    selection: Selection,
) -> _Fit:
    """How the image's install set (the plan's extras and groups) installs on Python version."""
    from envforge.project.installset import installed_packages

    if lock.root is None:
        return _Fit(version)
    image = None if named_base else catalog.python_image(version, debian)
    glibc = GLIBC.get(image.debian, UNKNOWN_GLIBC) if image else UNKNOWN_GLIBC
    target = python_target(catalog, version, debian, named_base=named_base)
    installed = installed_packages(lock, target, extras=selection.extras, groups=selection.groups)
    found = tuple(support(pkg, version, glibc) for _, pkg in sorted(installed.items()))
    return _Fit(version, found)


def _names(found: list[Support]) -> str:
    return ", ".join(label(f) for f in found)


def _fit_decisions(fit: _Fit, asked: str | None) -> list[Decision]:
    """What the chosen Python's install set needs beyond wheels: a risk or a warning each."""
    out: list[Decision] = []
    tag = "cp" + fit.python.replace(".", "")
    if fit.of("none"):
        out.append(
            Decision(
                "python warning",
                _names(fit.of("none")),
                f"{asked} asks for {fit.python}, but the lock has neither a {tag} wheel nor an "
                "sdist for these: uv sync will fail; pin a Python the lock has wheels for",
            )
        )
    if fit.of("compile"):
        names = ", ".join(f.package for f in fit.of("compile"))
        why = f"builds {names} from source: needs a compiler (the lock has no {tag} wheel for "
        why += 'them); add build-apt-packages = ["build-essential"] to [tool.envforge]'
        out.append(
            Decision(
                "python warning" if asked else "source builds",
                _names(fit.of("compile")),
                (f"{asked} asks for {fit.python}: " if asked else "") + why,
            )
        )
    if fit.of("sdist"):
        out.append(
            Decision(
                "source builds",
                _names(fit.of("sdist")),
                "only an sdist in the lock: built from source at build time, which may compile "
                "(a pure-Python one needs no compiler; others need build-apt-packages)",
            )
        )
    return out


def choose_python(
    project: Project,
    lock: Lock,
    facts: ProjectFacts,
    catalog: Catalog,
    options: BuildOptions,
    selection: Selection,
) -> PythonChoice:
    """The image's Python for the install set of selection, and why."""
    debian = project.envforge.debian
    named_base = bool(named_base_image(project, options))
    version, decisions = _version(project, lock, facts, catalog, options, selection)
    target = python_target(catalog, version, debian, named_base=named_base)
    return PythonChoice(version=version, target=target, decisions=tuple(decisions))


def _version(
    project: Project,
    lock: Lock,
    facts: ProjectFacts,
    catalog: Catalog,
    options: BuildOptions,
    selection: Selection,
) -> tuple[str, list[Decision]]:
    """The minor version: asked for (--python, [tool.envforge] python, .python-version),
    else a named base's own when requires-python allows it, else the catalog's newest that
    requires-python allows and the lock has wheels for; and the plan lines that say why."""
    specs = [s for s in (project.requires_python, lock.requires_python) if s is not None]
    spec = SpecifierSet(",".join(str(s) for s in specs)) if specs else SpecifierSet()
    spec_text = str(project.requires_python or spec) or "any"
    known = catalog.pythons()
    debian = project.envforge.debian
    named_base = bool(named_base_image(project, options))

    def fit(version: str) -> _Fit:
        return _fit(lock, catalog, version, debian, named_base, selection)

    def chosen(
        version: str, why: str, fitted: _Fit, asked: str | None
    ) -> tuple[str, list[Decision]]:
        return version, [Decision("python", version, why), *_fit_decisions(fitted, asked)]

    def allowed(version: str) -> bool:
        # A catalog image ships one patch release, and that is the one that must fit;
        # a named image may hold any patch of the minor version.
        image = catalog.python_image(version, debian)
        if image is not None and not named_base:
            return spec.contains(image.python_patch)
        return minor_allowed(spec, version)

    asked: tuple[str, str] | None = None
    if options.python:
        asked = (options.python, "--python")
    elif project.envforge.python:
        asked = (project.envforge.python, "[tool.envforge] python")
    elif facts.python_version_file is not None:
        asked = (parse_python_version_file(facts.python_version_file), ".python-version")
    if asked:
        version, where = asked
        if not allowed(version):
            raise PlanError(
                f"Python {version} from {where} does not satisfy requires-python '{spec_text}'",
                hint="Pin a Python that requires-python allows (uv python pin X.Y).",
            )
        if version not in known and not named_base:
            raise PlanError(
                f"No base image for Python {version} (from {where}) in envforge's catalog "
                f"(it knows {', '.join(known)})",
                hint="Pick a known version, or name an image with --base-image.",
            )
        why = f"{where} asks for {version}; requires-python is '{spec_text}'"
        return chosen(version, why, fit(version), where)
    base_python = options.base_python if named_base else None
    if base_python and all(s.contains(base_python) for s in specs):
        # A named base's own Python wins over the catalog's newest when the project allows it.
        own = _minor(base_python)
        why = f"the named base image's own Python ({base_python}) satisfies requires-python"
        return chosen(own, why, fit(own), "the named base image")
    candidates = [
        v for v in known if allowed(v) and (named_base or catalog.python_image(v, debian))
    ]
    if not candidates:
        raise PlanError(
            f"No Python in envforge's catalog ({', '.join(known)}) satisfies "
            f"requires-python '{spec_text}'",
            hint="Relax requires-python, or name an image with --base-image and a --python.",
        )
    fits: list[_Fit] = []
    for version in sorted(candidates, key=Version, reverse=True):
        fits.append(fit(version))
        if fits[-1].all_wheels:
            break  # the newest with wheels for all: no older one is looked at
    best = next((f for f in fits if f.all_wheels), None) or next(
        (f for f in fits if f.installs), None
    )
    if best is None:
        raise PlanError(
            "No Python that requires-python "
            f"'{spec_text}' allows can install the lock: " + "; ".join(f.shortfall() for f in fits),
            hint="Re-lock with versions that have wheels for one of these Pythons "
            "(uv lock --upgrade-package NAME), or relax requires-python.",
        )
    passed = [f.shortfall() for f in fits[: fits.index(best)]]
    why = (
        f"newest Python in the catalog that requires-python '{spec_text}' allows "
        f"(allowed: {', '.join(candidates)})"
    )
    if passed:
        what = "wheels for its whole install set" if best.all_wheels else "a file for each package"
        why += f" for which the lock has {what}; passed over: " + "; ".join(passed)
    return chosen(best.python, why + "; pin another with .python-version", best, None)


def _minor(release: str) -> str:
    return ".".join(release.split(".")[:2])


def choose_python_source(
    project: Project, options: BuildOptions, python: str, gpu_mode: GpuMode
) -> tuple[PythonSource, Decision | None]:
    """Where the image's Python comes from: asked (--python-source, [tool.envforge]), else
    uv's managed Python when the base has none (an nvidia/cuda base, a named base without
    one) or holds another minor version than python; else the base image's own."""
    asked = options.python_source or project.envforge.python_source
    named_base = bool(named_base_image(project, options))
    # What a named base holds ("": none; None: not probed, or no named base).
    base_python = options.base_python if named_base else None
    system_cuda_base = gpu_mode == "system" and not named_base
    why = "the base image carries no Python (nvidia/cuda)"
    source: PythonSource = "base"
    if asked is not None:
        source = "uv" if asked == "uv" else "base"
    elif base_python == "":
        source, why = "uv", "the named base image has no Python"
    elif base_python and _minor(base_python) != python:
        source = "uv"
        why = f"the named base image holds Python {base_python}, the project asks for {python}"
    elif system_cuda_base:
        source = "uv"
    if source == "base":
        return source, None
    return source, Decision(
        "python source",
        f"uv python install {python}",
        f"{why}: uv's managed Python is installed in the builder and copied into the runtime stage",
    )
