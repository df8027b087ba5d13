"""Hints for a failed smoke check: a known failure (a missing shared library, a missing
program such as git, a module not installed) and the [tool.envforge] setting that fixes it.

Pure: `hint_for` reads a check's error and traceback as the probe reported them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from envforge.validate import one_line

if TYPE_CHECKING:
    from envforge.engine.smoke import Check


# Shared library (soname) -> the Debian package that ships it.
SONAME_PACKAGES: Mapping[str, str] = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libgomp.so.1": "libgomp1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libsndfile.so.1": "libsndfile1",
    "libX11.so.6": "libx11-6",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libxcb.so.1": "libxcb1",
    "libmagic.so.1": "libmagic1",
    "libgfortran.so.5": "libgfortran5",
    "libportaudio.so.2": "libportaudio2",
    "libcairo.so.2": "libcairo2",
    "libzbar.so.0": "libzbar0",
    "libespeak-ng.so.1": "libespeak-ng1",
}

# A program looked for at import time -> the Debian package that ships it.
PROGRAM_PACKAGES: Mapping[str, str] = {
    "git": "git",
    "ffmpeg": "ffmpeg",
    "ffprobe": "ffmpeg",
    "tesseract": "tesseract-ocr",
    "espeak": "espeak-ng",
    "espeak-ng": "espeak-ng",
    "dot": "graphviz",
}

_SONAME_RE = re.compile(r"(lib[A-Za-z0-9_+.-]*?\.so(?:\.\d+)*)(?=[:\s'\"]|$)")
_LIBMAGIC_RE = re.compile(r"failed to find libmagic|libmagic", re.IGNORECASE)
_GIT_RE = re.compile(r"Bad git executable|GIT_PYTHON_GIT_EXECUTABLE")
_PROGRAM_NOT_FOUND_RE = re.compile(
    r"No such file or directory: '([A-Za-z0-9_.+-]+)'"
    r"|No program '([A-Za-z0-9_.+-]+)' on the PATH"
    r"|[Cc]ould(?: not|n't) find (ffmpeg|ffprobe)"
)
_NO_MODULE_RE = re.compile(r"ModuleNotFoundError: No module named '([A-Za-z0-9_.]+)'")


def apt_hint(package: str, present: Sequence[str] = ()) -> str:
    listed = [*present, *([package] if package not in present else [])]
    return (
        f"add it to the image: [tool.envforge] apt-packages = {json.dumps(listed)} in "
        "pyproject.toml, then envforge build again"
    )


def hint_for(check: Check, apt_packages: Sequence[str] = ()) -> str | None:
    """Advice for a failed check where its cause is known; None when it is not."""
    text = f"{check.error}\n{check.traceback}"
    if _GIT_RE.search(text):
        return "GitPython needs the git program, which the image lacks; " + apt_hint(
            "git", apt_packages
        )
    for match in _SONAME_RE.finditer(text):
        soname = match.group(1)
        package = SONAME_PACKAGES.get(soname)
        if package is not None:
            return f"the system library {soname} is missing; " + apt_hint(package, apt_packages)
    if "libmagic" in text and _LIBMAGIC_RE.search(text):
        return "the system library libmagic is missing; " + apt_hint("libmagic1", apt_packages)
    found = _PROGRAM_NOT_FOUND_RE.search(text)
    if found is not None:
        program = next(g for g in found.groups() if g)
        package = PROGRAM_PACKAGES.get(program)
        if package is not None:
            return f"the program {program} is missing; " + apt_hint(package, apt_packages)
    soname_match = _SONAME_RE.search(text)
    if soname_match is not None and "cannot open shared object file" in text:
        return (
            f"the system library {soname_match.group(1)} is missing: add the Debian package "
            "that ships it to [tool.envforge] apt-packages (apt-file search "
            f"{soname_match.group(1)} names it)"
        )
    if check.kind == "file" and check.error.startswith("FileNotFoundError"):
        return (
            f"the command's script {one_line(check.name)} is not in the image: set "
            "[tool.envforge] command to a script the project has"
        )
    if check.kind == "program":
        return (
            f"the command's program {one_line(check.name)} is not on the image's PATH: add the "
            "Debian package that ships it to [tool.envforge] apt-packages, or set "
            "[tool.envforge] command"
        )
    if check.error.startswith("TimeoutError: did not finish within"):
        return (
            f"{one_line(check.name)} waited for something at import time: the check runs "
            "without network; import what reaches a server or a device inside a function"
        )
    if check.kind == "module" and "__main__" in check.error:
        return (
            "the package has no __main__ to run with python -m: set [tool.envforge] "
            "command (a console script, or python path/to/script.py)"
        )
    missing = _NO_MODULE_RE.search(check.error) or _NO_MODULE_RE.search(text)
    if missing is None:
        return None
    if check.kind == "module" and (check.name + ".").startswith(missing.group(1) + "."):
        return (
            f"the command's module {one_line(check.name)} is not in the image: set "
            "[tool.envforge] command (a console script, or python path/to/script.py)"
        )
    if check.kind in ("import", "script", "module"):
        name = missing.group(1).split(".")[0]
        return (
            f"{name} is imported but not installed: add the distribution that provides it "
            "to [project] dependencies (uv add NAME), then envforge build again"
        )
    return None
