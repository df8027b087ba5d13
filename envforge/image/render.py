"""Plan -> Dockerfile and .dockerignore text, through the jinja2 templates. Pure.

Values enter the templates through filters only, one per place a value can stand:
``dq`` (a double-quoted ENV or LABEL value), ``sh`` / ``sh_words`` (shell words in RUN,
shlex-quoted), ``json`` (ENTRYPOINT's exec form), ``copy`` (COPY's JSON form), ``ref`` (an
image reference after FROM, parsed again), ``word`` (a bare key or version) and
``ignore_line``. Each refuses a line break or control character, which no Dockerfile can
quote. jinja2's ``finalize`` hook guards the rest: any other string that reaches the output
must be made of characters no parser reads, or rendering stops with a RenderError.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import NoReturn

import jinja2

from envforge import labels, validate
from envforge.errors import RenderError
from envforge.image import ownership
from envforge.image.build_backend import DEFAULT_BACKEND
from envforge.image.layout import APP_DIR, APP_UID, APP_USER, CA_IN_CONTEXT, MANAGED_PYTHON, VENV
from envforge.image.plan import Plan


def _templates_dir() -> Path:
    # The templates are package data of this room, reviewed like code.
    return Path(__file__).resolve().parent / "templates"


# Runs in the build env: the backend's PEP 517 get_requires_for_build_wheel(), one
# requirement a line into argv[2] (a file: setup.py may print on stdout).
_HOOK = (
    "import functools,importlib,sys;"
    'm,_,o=sys.argv[1].partition(":");'
    'b=functools.reduce(getattr,filter(None,o.split(".")),importlib.import_module(m));'
    'h=getattr(b,"get_requires_for_build_wheel",None);'
    'open(sys.argv[2],"w").write("".join(r+"\\n" for r in (h() if h else [])))'
)


# Runs in the builder stage: the base Python's standard library compiled to bytecode, where
# the backend (uv build) and uv's compile step in the project stage would otherwise compile
# what they import on every code edit (~0.25 s). The project stage starts from this layer;
# the image does not (its Python comes from the base image, not from here). One process,
# beside the runtime stage's install, which a cold build waits for (the other core stays
# its), and not the packages no build backend imports (their files are most of the cost).
# Best effort: a file it cannot compile or write is compiled as before, where it is used.
_STDLIB_SKIPPED = (
    "test|tests|idle_test|lib2to3|distutils|tkinter|idlelib|turtledemo|ensurepip|pydoc_data"
    "|asyncio|encodings|xml|xmlrpc|wsgiref|unittest|sqlite3|curses|dbm|msilib|venv"
)
_STDLIB_COMPILE = (
    f"{{ /opt/build-env/bin/python -m compileall -qq -x '/({_STDLIB_SKIPPED})/' "
    '"$(/opt/build-env/bin/python -c \'import sysconfig; print(sysconfig.get_path("stdlib"))\')"'
    " || true; }"
)


# envforge's bytecode compiler (compile_bytecode.py beside this module): the Dockerfile writes
# it, line for line, into a stage of its own (the deps stage for the classic builder) and runs
# it with the image's Python after each install of the environment. uv's own compile step
# compiles every file, packages' test suites included (60% of numpy's, scipy's and pandas'),
# in every RUN again, the files an earlier layer compiled too.
_COMPILER = Path(__file__).with_name("compile_bytecode.py")
_COMPILER_IN_STAGE = "/compile-bytecode.py"
_COMPILER_MOUNTED = "/tmp/envforge-compile-bytecode.py"  # under /tmp, like every mount target
_COMPILER_IN_DEPS = "/opt/envforge-compile-bytecode.py"  # classic: the deps stage only


@cache
def compiler_source() -> str:
    """The compiler as the Dockerfile holds it: without its docstring and comment lines, so
    that a release that edits only those rebuilds no image's environment (the file is part
    of the cache key of each install RUN)."""
    text = _COMPILER.read_text(encoding="utf-8")
    body = text[text.index('"""', 3) + 3 :].lstrip("\n")
    lines = [line for line in body.splitlines() if not line.lstrip().startswith("#")]
    return "\n".join(lines) + "\n"


@cache
def _compiler_lines() -> tuple[str, ...]:
    return tuple(_sh(line) for line in compiler_source().splitlines())


class Quoted(str):
    """A value that went through one of the filters below: safe where the template puts it."""

    __slots__ = ()


# What may enter a template without a filter: envforge's own constants (/app/.venv, 10001).
_BARE = re.compile(r"[A-Za-z0-9_./:@+=,-]*", re.ASCII)


def _refuse(value: object, where: str) -> NoReturn:
    raise RenderError(
        f"Refusing to write {validate.one_line(repr(value))[:80]} into {where}: "
        "it holds a line break or a control character"
    )


def _text(value: object, where: str) -> str:
    text = str(value)
    if validate.has_control(text):
        _refuse(text, where)
    return text


def _dq(value: object) -> Quoted:
    """A Dockerfile double-quoted word (ENV, LABEL): no variable expansion, no broken quoting."""
    text = _text(value, "a Dockerfile value").replace("\\", "\\\\")
    text = text.replace('"', '\\"').replace("$", "\\$")
    return Quoted(f'"{text}"')


def _sh(value: object) -> Quoted:
    """One shell word inside RUN: single-quoted by shlex when it needs it."""
    return Quoted(shlex.quote(_text(value, "a RUN command")))


def _sh_words(values: Iterable[object]) -> Quoted:
    return Quoted(" ".join(_sh(v) for v in values))


def _json(values: Iterable[object]) -> Quoted:
    """The exec form (ENTRYPOINT): a JSON array; json.dumps escapes every control character."""
    return Quoted(json.dumps([str(v) for v in values]))


def _copy(values: Iterable[object]) -> Quoted:
    """COPY's JSON form, so that a space never splits a path: ["a b", "a b"]."""
    words = [validate.relative_path(str(v), "a COPY instruction") for v in values]
    return Quoted(json.dumps(words))


def _ref(value: object) -> Quoted:
    """An image reference for FROM, parsed again by the kit: nothing can follow it."""
    return Quoted(validate.image_ref(str(value), "a FROM instruction"))


def _word(value: object) -> Quoted:
    """A bare word (an ENV or LABEL key, a version): only characters no parser reads."""
    text = str(value)
    if not _BARE.fullmatch(text):
        _refuse(text, "a Dockerfile word")
    return Quoted(text)


def _variable(value: object, default: str | None = None) -> Quoted:
    """A build argument's value, double-quoted: "${NAME}", or "${NAME:-default}" (a bare word)."""
    name = validate.env_key(str(value), "a Dockerfile variable", None)
    if default is None:
        return Quoted(f'"${{{name}}}"')
    return Quoted(f'"${{{name}:-{_word(default)}}}"')


def _ignore_line(value: object) -> Quoted:
    return Quoted(_text(value, ".dockerignore"))


def _finalize(value: object) -> object:
    """Every {{ ... }} ends here: a filter's output passes, numbers pass, a plain string
    passes only when it is made of characters no Dockerfile or shell parser reads."""
    if isinstance(value, Quoted) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and _BARE.fullmatch(value):
        return value
    raise RenderError(
        f"A value reached a template without a quoting filter: {validate.one_line(repr(value))[:80]}"
    )


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """The templates' compiled code under XDG_CACHE_HOME/envforge/jinja (compiling them
    costs ~90 ms of every render); jinja2 checks each entry against the template's source
    checksum and its own version. A cache that cannot be read or written is ignored."""

    def __init__(self) -> None:
        from envforge import safeio

        super().__init__(str(safeio.cache_dir() / "jinja"))

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a truncated or foreign file: compiled afresh
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        import contextlib
        import os

        with contextlib.suppress(OSError):
            os.makedirs(self.directory, exist_ok=True)
            super().dump_bytecode(bucket)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
        bytecode_cache=_TemplateCache(),
    )
    env.filters.update(
        dq=_dq,
        sh=_sh,
        sh_words=_sh_words,
        json=_json,
        copy=_copy,
        ref=_ref,
        word=_word,
        ignore_line=_ignore_line,
        variable=_variable,
    )
    return env


# BuildKit's mounts (builder "buildkit"): where uv, its cache and the CA bundle appear in a RUN.
# All under /tmp: Docker 20.10's BuildKit leaves a mount's target folder behind, empty, in the
# layer (its parents too), and the runtime stage must keep nothing of the builders' elsewhere.
_UV_CACHE = "/tmp/uv-cache"
_CA_TARGET = "/tmp/envforge-ca-bundle.crt"
# Where the lock stage (the files uv sync reads) is mounted for a sync in the runtime stage.
_LOCK_DIR = "/tmp/envforge-project"


def _mounts(
    plan: Plan,
    *,
    uv: bool = True,
    project_files: bool = False,
    lock_stage: bool = False,
    compiler: bool = False,
) -> Quoted:
    """The --mount flags a BuildKit RUN starts with, one a line; "" for the classic builder.
    Only envforge's own paths: the project's files by their fixed names."""
    if plan.builder != "buildkit":
        return Quoted("")
    mounts = []
    if uv:
        mounts += [
            "--mount=type=bind,from=uv,source=/uv,target=/bin/uv",
            f"--mount=type=cache,target={_UV_CACHE}",
        ]
    if plan.ca_bundle:
        mounts.append(f"--mount=type=bind,from=ca,source=/ca-bundle.crt,target={_CA_TARGET}")
    if project_files:
        names = ["pyproject.toml", "uv.lock"]
        if plan.copy_python_version:
            names.append(".python-version")
        mounts += [f"--mount=type=bind,source={n},target={APP_DIR}/{n}" for n in names]
    if lock_stage:  # read-write: what uv writes there is dropped with the mount
        mounts.append(f"--mount=type=bind,from=lock,target={_LOCK_DIR},rw")
    if compiler and plan.compile_bytecode:
        source, target = _compiler_paths(plan)
        mounts.append(f"--mount=type=bind,from=bytecode,source={source},target={target}")
    return Quoted("".join(f"{m} \\\n    " for m in mounts))


def _hook_run(where: str, plan: Plan, mounts: str = "") -> Quoted:
    """The RUN that installs the backend's dynamic build requirements, run in `where`."""
    backend = plan.project.build_backend or DEFAULT_BACKEND
    return Quoted(
        f"RUN {mounts}cd {_sh(where)} && /opt/build-env/bin/python -c {_sh(_HOOK)} {_sh(backend)} "
        "/tmp/build-requires.txt \\\n"
        " && if [ -s /tmp/build-requires.txt ]; then cat /tmp/build-requires.txt && uv pip install "
        f"--quiet {_uv_compile_flag(plan)}--python /opt/build-env/bin/python "
        "-r /tmp/build-requires.txt; fi"
    )


def _uv_settings(plan: Plan) -> list[str]:
    """How BuildKit's uv runs, wherever it runs: the deps stage's ENV, the runtime's ARGs."""
    return [
        # Pinned off: an ENV of the base image or the project's [tool.uv] compile-bytecode
        # would have uv compile every file again (envforge's compiler does the environment;
        # --compile-bytecode where uv should compile).
        "UV_COMPILE_BYTECODE=0",
        "UV_LINK_MODE=copy",
        f"UV_CACHE_DIR={_UV_CACHE}",
        "UV_PYTHON_DOWNLOADS=never",
        f"UV_PYTHON={_word(plan.python)}",
        f"UV_PROJECT_ENVIRONMENT={VENV}",
    ]


def _uv_args(plan: Plan) -> Quoted:
    """The settings of the uv that runs in the runtime stage, as build arguments: its RUNs
    see them, and no container of the image does (an ENV there would stay in the image)."""
    env = _uv_settings(plan)
    if plan.python_source == "uv":
        env += [f"UV_PYTHON_INSTALL_DIR={MANAGED_PYTHON}", "UV_PYTHON_PREFERENCE=only-managed"]
    if plan.ca_bundle:
        env.append(f"SSL_CERT_FILE={_CA_TARGET}")
    return Quoted("".join(f"ARG {e}\n" for e in env))


def _uv_compile_flag(plan: Plan) -> Quoted:
    """uv compiles what is not the environment: the build backend's and the project's files."""
    return Quoted("--compile-bytecode " if plan.compile_bytecode else "")


def _compiler_paths(plan: Plan) -> tuple[str, str]:
    """Where the Dockerfile writes the compiler, and where the RUNs that install the
    environment find it: BuildKit bind-mounts it from its stage, the classic builder's deps
    stage runs it where it was written."""
    if plan.builder == "buildkit":
        return _COMPILER_IN_STAGE, _COMPILER_MOUNTED
    return _COMPILER_IN_DEPS, _COMPILER_IN_DEPS


def _compile_run(plan: Plan) -> Quoted:
    """The words that end an install of the environment: " && <its bytecode>", or "" when
    [tool.envforge] compile-bytecode is false."""
    if not plan.compile_bytecode:
        return Quoted("")
    return Quoted(f" \\\n && {VENV}/bin/python {_compiler_paths(plan)[1]}")


def _readable(path: str) -> Quoted:
    """The shell command that makes every file under path readable by any user, and every
    folder and executable traversable by any (chmod a+rX), as Apptainer and Pyxis run the
    image as the calling user. Only the entries that need it: a chmod of the others would
    copy them into the layer again."""
    return Quoted(
        f"find {_sh(path)} \\( ! -perm -o+r -o -perm -u+x ! -perm -o+x \\) -exec chmod a+rX {{}} +"
    )


def _heavy_groups(plan: Plan) -> list[dict[str, object]]:
    """The heavy pins by the index they come from, in the lock's order: one uv pip install each."""
    groups: dict[str, list[Quoted]] = {}
    for pin in plan.heavy:
        groups.setdefault(pin.index, []).append(_sh(pin.requirement))
    return [{"index": _sh(index), "lines": lines} for index, lines in groups.items()]


def _context(plan: Plan) -> dict[str, object]:
    src_dir = f"/src/{plan.member_dir}" if plan.member_dir else "/src"
    runtime = plan.sync_stage == "runtime"  # BuildKit's only
    deps_stage = not runtime or plan.install_project or plan.python_source == "uv"
    app_dir = _LOCK_DIR if runtime else APP_DIR
    return {
        "runtime": runtime,
        "deps_stage": deps_stage,
        "final_number": 1 + deps_stage + plan.install_project,
        "uv_args": _uv_args(plan),
        "uv_env": Quoted(" \\\n    ".join(_uv_settings(plan))),
        "heavy_groups": _heavy_groups(plan),
        "readable": _readable,
        "heavy_mb": plan.project.envforge.heavy_wheel_mb,
        "runtime_sync_mounts": _mounts(plan, lock_stage=True, compiler=True),
        "heavy_mounts": _mounts(plan, compiler=True),
        "compiler_lines": _compiler_lines(),
        "compiler_path": Quoted(_compiler_paths(plan)[0]),
        "compile_env": _compile_run(plan),
        "compile_flag": _uv_compile_flag(plan),
        "lock_dir": _LOCK_DIR,
        "plan": plan,
        "venv": VENV,
        "app_dir": APP_DIR,
        "user": APP_USER,
        "uid": APP_UID,
        "ca_path": CA_IN_CONTEXT,
        "managed_python": MANAGED_PYTHON,
        "sync_flags": plan.sync_flags,
        "build_requires": (
            *(str(r) for r in plan.project.build_requires),
            *plan.root_build_requires,
        ),
        # The backend reads the member's pyproject.toml: it runs where that one was copied.
        "hook_deps": _hook_run(
            f"{app_dir}/{plan.member_dir}" if plan.member_dir else app_dir,
            plan,
            _mounts(plan, project_files=not runtime, lock_stage=runtime),
        ),
        "hook_project": _hook_run(src_dir, plan, _mounts(plan)),
        "uv_mounts": _mounts(plan),
        "stdlib_compile": Quoted(_STDLIB_COMPILE),
        "sync_mounts": _mounts(plan, project_files=True, compiler=True),
        "ca_mount": _mounts(plan, uv=False),
        "ca_target": _CA_TARGET,
        "src_dir": src_dir,
        # The two labels the Dockerfile writes itself (from build arguments): envforge.labels'
        # keys, like every other label's.
        "version_key": labels.VERSION,
        "revision_key": labels.REVISION,
        # A dynamic version's label: the wheel's version for a git-versioning backend, else
        # the revision build passes, or the tag's version without one (plain docker build).
        "version_label": _variable(plan.version_arg)
        if plan.vcs
        else _variable(plan.revision_arg, plan.version_fallback),
    }


def render_dockerfile(plan: Plan) -> str:
    template = "Dockerfile.buildkit.j2" if plan.builder == "buildkit" else "Dockerfile.j2"
    body = _environment().get_template(template).render(_context(plan))
    return ownership.stamp(body, what="Dockerfile")


def render_dockerignore(plan: Plan) -> str:
    body = _environment().get_template("dockerignore.j2").render(_context(plan))
    return ownership.stamp(body, what=".dockerignore")
