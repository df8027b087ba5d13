"""The smoke check `envforge build` ends with: does the image start?

One short container (no network, as the image's own USER, removed after) runs the
environment's Python on a fixed probe program. The probe proves, without running the
program itself, that:

* each top-level import package of the project's own distribution imports (read inside
  the image from the installed distribution's top_level.txt or its files, so nothing is
  guessed on the host);
* each console script of that distribution loads (``EntryPoint.load()`` imports the
  object a script would call, and does not call it);
* the image's command has a target: ``python -m X`` finds X (and X.__main__ for a
  package) and compiles it, ``python path.py`` finds the script and compiles it, any other
  program is on the PATH.

What to check is handed to the probe as one JSON argument (never put into its code), so
no name can change what the probe does. The probe prints one JSON line after a marker;
`parse_report` reads it back. `hint_for` maps a known failure (a missing shared library, a
missing program such as git) to the [tool.envforge] setting that fixes it (engine/hints.py).

Pure except `run_check`, which starts the container through envforge.engine.client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from envforge.engine.hints import hint_for
from envforge.errors import RunError, SmokeCheckError
from envforge.image.plan import VENV, Plan
from envforge.validate import one_line

if TYPE_CHECKING:
    import docker

PYTHON = f"{VENV}/bin/python"
CHECK_TIMEOUT_S = 60  # one import or load; the probe stops it with SIGALRM
TIMEOUT_S = 300  # the whole container, should an import block signals too
TAIL_LINES = 12
FRAME_LINES = 8  # the innermost frames of a failure's traceback, as shown
MESSAGE_LINES = 3  # the first lines of its message

# Printed before the JSON so that anything an import prints cannot be mistaken for it.
_MARK = "envforge-smoke:"

# Run as `python -B -c PROBE SPEC`: the image's own environment variables apply (the program
# sees them too) and the working directory (the image's WORKDIR) is on sys.path, as it is
# for `python -m`. SPEC is sys.argv[1]: JSON, read as data.
PROBE = f"""\
import json, sys
spec = json.loads(sys.argv[1])
out = []
def tail(exc):
    import traceback
    frames = traceback.format_tb(exc.__traceback__)
    return ("".join(traceback.format_exc().splitlines(True)[-60:]),
            "".join("".join(frames).splitlines(True)[-40:]))
def error(exc):
    try:
        text = str(exc)
    except BaseException:
        text = "(its message cannot be shown)"
    return (type(exc).__name__ + ": " + text).strip()
import signal
limit = int(spec.get("timeout") or {CHECK_TIMEOUT_S})
def alarm(signum, frame):
    raise TimeoutError("did not finish within " + str(limit) + " s")
signal.signal(signal.SIGALRM, alarm)
def check(kind, name, fn):
    try:
        signal.alarm(limit)
        try:
            value = fn()
        finally:
            signal.alarm(0)
    except BaseException as exc:
        text, frames = tail(exc)
        out.append({{"kind": kind, "name": name, "ok": False, "error": error(exc),
                    "traceback": text, "frames": frames}})
        return None
    out.append({{"kind": kind, "name": name, "ok": True}})
    return value
def top_level(dist):
    text = dist.read_text("top_level.txt")
    if text:
        names = [n.strip() for n in text.splitlines()]
    else:
        names = []
        for f in dist.files or ():
            parts = f.parts
            if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(
                (".dist-info", ".egg-info", ".data", ".pth")
            ):
                continue
            if len(parts) > 1:
                names.append(parts[0])
            elif parts[0].endswith((".py", ".so", ".pyd")):
                names.append(parts[0].split(".")[0])
    return sorted({{n for n in names if n.isidentifier()}})
def compile_file(path):
    with open(path, "rb") as f:
        compile(f.read(), path, "exec", dont_inherit=True)
def find_main(module):
    import importlib.util
    found = importlib.util.find_spec(module)
    if found is None:
        raise ModuleNotFoundError("No module named " + repr(module))
    if found.submodule_search_locations is not None:
        main = importlib.util.find_spec(module + ".__main__")
        if main is None:
            raise ModuleNotFoundError(
                "No module named " + repr(module + ".__main__") + "; " + repr(module)
                + " is a package and cannot be directly executed")
        found = main
    if found.loader is not None and hasattr(found.loader, "get_code"):
        found.loader.get_code(found.name)
def on_path(program):
    import shutil
    if shutil.which(program) is None:
        raise FileNotFoundError("No program " + repr(program) + " on the PATH")
if spec.get("dist"):
    import importlib, importlib.metadata as md
    dist = check("dist", spec["dist"], lambda: md.distribution(spec["dist"]))
    if dist is not None:
        for name in top_level(dist):
            check("import", name, lambda name=name: importlib.import_module(name))
        for ep in sorted(dist.entry_points, key=lambda e: e.name):
            if ep.group == "console_scripts":
                check("script", ep.name, ep.load)
if spec.get("module"):
    check("module", spec["module"], lambda: find_main(spec["module"]))
if spec.get("script"):
    check("file", spec["script"], lambda: compile_file(spec["script"]))
if spec.get("program"):
    check("program", spec["program"], lambda: on_path(spec["program"]))
import os
report = ("\\n{_MARK}" + json.dumps(out) + "\\n").encode()
while report:  # to the real standard output, whatever an import made of sys.stdout
    report = report[os.write(1, report):]
os._exit(0)  # a thread an import started cannot keep the container up
"""


TIMED_OUT = (
    "an import blocked (a network call or a lock at import time?): the container was killed; "
    "build with --no-check to skip the check",
)
NO_PYTHON = (
    "envforge's images run from /app/.venv; a Dockerfile that puts it elsewhere cannot be "
    "checked: build with --no-check",
)


# ---------------------------------------------------------------------------------------
# What to check, from the plan.


@dataclass(frozen=True)
class ProbeSpec:
    dist: str | None = None  # the project's own distribution (a package project)
    module: str | None = None  # the command is `python -m module`
    script: str | None = None  # the command is `python script`
    program: str | None = None  # the command's program, when it is not Python
    timeout: int | None = None  # seconds for one check (None: CHECK_TIMEOUT_S)

    def to_json(self) -> str:
        return json.dumps(
            {k: v for k, v in self.__dict__.items() if v is not None}, ensure_ascii=True
        )


_PYTHON_RE = re.compile(r"(?:.*/)?python(?:3(?:\.\d+)?)?")
# Python options that take the next argument as their value.
_PY_VALUE_OPTS = frozenset({"-W", "-X", "-Q"})


def probe_spec(plan: Plan, command: Sequence[str] | None = None) -> ProbeSpec:
    """What the probe checks in an image built from plan; command: the image's own
    (see image_command), which differs from the plan's when the Dockerfile was edited."""
    dist = plan.project.name if plan.install_project else None
    return spec_for(dist, plan.image_entrypoint if command is None else command)


def image_command(attrs: Mapping[str, Any]) -> tuple[str, ...] | None:
    """ENTRYPOINT then CMD from an image's inspect data; None when it has neither."""
    config = attrs.get("Config") if isinstance(attrs, Mapping) else None
    if not isinstance(config, Mapping):
        return None
    parts: list[str] = []
    for key in ("Entrypoint", "Cmd"):
        value = config.get(key)
        if isinstance(value, list):
            parts += [str(v) for v in value]
    return tuple(parts) if parts else None


def spec_for(dist: str | None, command: Sequence[str]) -> ProbeSpec:
    """What to check for a distribution (None: the project is not installed as a package)
    and the image's command (the exec form, ENTRYPOINT then CMD)."""
    module = script = program = None
    if command:
        if _PYTHON_RE.fullmatch(command[0]):
            module, script = _python_target(command[1:])
        else:
            # A console script of the project (the probe loads each one anyway) or any
            # other program: it must be on the PATH.
            program = command[0]
    return ProbeSpec(dist=dist, module=module, script=script, program=program)


def _python_target(args: Sequence[str]) -> tuple[str | None, str | None]:
    """(module, script) that `python ARGS` runs; (None, None) for -c, - or a bare REPL."""
    rest = iter(args)
    for arg in rest:
        if arg == "-m":
            return next(rest, None), None
        if arg.startswith("-m") and len(arg) > 2:
            return arg[2:], None
        if arg in ("-c", "-") or (arg.startswith("-c") and len(arg) > 2):
            return None, None
        if arg in _PY_VALUE_OPTS:
            next(rest, None)
            continue
        if arg.startswith("-"):
            continue
        return None, arg
    return None, None


def probe_command(spec: ProbeSpec) -> list[str]:
    """The probe's arguments to the image's Python (the entrypoint is PYTHON)."""
    return ["-B", "-c", PROBE, spec.to_json()]


# ---------------------------------------------------------------------------------------
# What the probe said.


CheckKind = Literal["dist", "import", "script", "module", "file", "program"]
_KIND_LABELS: Mapping[CheckKind, str] = {
    "dist": "distribution",
    "import": "imports",
    "script": "console script",
    "module": "python -m",
    "file": "script",
    "program": "command",
}


@dataclass(frozen=True, kw_only=True)
class Check:
    kind: CheckKind
    name: str
    ok: bool
    error: str = ""  # "ImportError: ...", the whole message
    traceback: str = ""  # the end of the traceback, chained exceptions included
    frames: str = ""  # the innermost frames of the failure's own traceback
    # Why the plan expected this check to fail (a console script that needs an extra the
    # image lacks, Plan.scripts_needing): such a failure does not fail the check.
    expected: str = ""

    @property
    def label(self) -> str:
        return f"{_KIND_LABELS[self.kind]} {one_line(self.name)}"


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    status: int = 0
    # When the probe printed no report (it crashed, an import ended the process): why.
    crash: str = ""
    crash_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.crash and not self.failed

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and not c.expected)


def expect_failures(report: Report, scripts_needing: Mapping[str, str]) -> Report:
    """report with the failed loads of the console scripts that the plan says need an
    extra or group the image lacks (Plan.scripts_needing) marked expected."""
    checks = tuple(
        replace(c, expected=scripts_needing[c.name])
        if c.kind == "script" and not c.ok and c.name in scripts_needing
        else c
        for c in report.checks
    )
    return replace(report, checks=checks)


def parse_report(stdout: str, stderr: str, status: int) -> Report:
    """The probe's report, from the container's whole output and exit status."""
    line = next(
        (ln[len(_MARK) :] for ln in reversed(stdout.splitlines()) if ln.startswith(_MARK)), None
    )
    if line is None:
        tail = _tail_lines(stderr or stdout)
        last = tail[-1] if tail else "no output"
        return Report(
            (), status, f"the probe ended with exit {status} before reporting: {last}", tail
        )
    try:
        data = json.loads(line)
        checks = tuple(_check(item) for item in data)
    except (ValueError, TypeError, KeyError) as exc:
        return Report((), status, f"the probe's report is unreadable ({exc})", ())
    return Report(checks, status)


def _check(item: Mapping[str, Any]) -> Check:
    if not isinstance(item, Mapping):
        raise TypeError("an item is not an object")
    kind = item["kind"]
    if kind not in _KIND_LABELS:
        raise ValueError(f"an unknown kind of check {str(kind)[:40]!r}")
    return Check(
        kind=kind,
        name=str(item["name"]),
        ok=item["ok"] is True,
        error=str(item.get("error") or ""),
        traceback=str(item.get("traceback") or ""),
        frames=str(item.get("frames") or ""),
    )


def _tail_lines(text: str, count: int = TAIL_LINES) -> tuple[str, ...]:
    lines = [one_line(ln.rstrip()) for ln in text.splitlines() if ln.strip()]
    return tuple(ln[:300] for ln in lines[-count:])


# ---------------------------------------------------------------------------------------
# The whole check.


# Frames of the probe itself and of importlib, which say nothing about the project.
_OWN_FRAME_RE = re.compile(r'  File "(?:<string>|<frozen importlib\.[^"]*|[^"]*/importlib/[^"]*)"')
_CARETS_RE = re.compile(r"\s*[\^~]+\s*")


def project_frames(frames: str) -> str:
    """A traceback's frames without the probe's and importlib's, and without caret lines."""
    kept: list[str] = []
    skip = False
    for line in frames.splitlines():
        if line.startswith('  File "'):
            skip = bool(_OWN_FRAME_RE.match(line))
        if not skip and not _CARETS_RE.fullmatch(line):
            kept.append(line)
    return "\n".join(kept)


def failure(
    image: str, report: Report, apt_packages: Sequence[str] = (), image_id: str | None = None
) -> SmokeCheckError:
    """The error for a report that is not ok: the first failure's tail and hint."""
    short = f" ({image_id.removeprefix('sha256:')[:12]})" if image_id else ""
    keep = f"the image is kept as {image}{short}: look inside with envforge run {image} --entrypoint sh"
    if report.crash:
        return SmokeCheckError(image, one_line(report.crash), list(report.crash_tail), keep)
    first = report.failed[0]
    others = len(report.failed) - 1
    message = _tail_lines(first.error, count=10_000)
    summary = f"{first.label}: {message[0] if message else 'failed'}" + (
        f" (and {others} more check(s) failed)" if others else ""
    )
    tail = list(_tail_lines(project_frames(first.frames), FRAME_LINES))
    tail += message[:MESSAGE_LINES]
    if len(message) > MESSAGE_LINES:
        tail.append("...")
    hint = hint_for(first, apt_packages)
    return SmokeCheckError(image, summary, tail, f"{hint}; {keep}" if hint else keep)


def run_check(client: docker.DockerClient, image: str, spec: ProbeSpec) -> Report:
    """Run the probe in image: its own USER, no network, removed after."""
    from envforge.engine import client as engine

    try:
        status, stdout, stderr = engine.run_captured(
            client,
            image,
            probe_command(spec),
            entrypoint=[PYTHON],
            timeout=TIMEOUT_S,
            user=None,  # the image's USER, who runs the program
        )
    except RunError as exc:
        if "no such file" in exc.reason.lower() or "not found" in exc.reason.lower():
            return Report((), 127, f"the image has no {PYTHON} to run the check with", NO_PYTHON)
        if exc.reason.startswith("timed out"):
            # A failed check like any other: the image is kept, the error says how to look.
            return Report((), 124, f"the check {exc.reason}", TIMED_OUT)
        raise
    return parse_report(stdout, stderr, status)
