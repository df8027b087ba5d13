"""Plan -> Dockerfile and .dockerignore text, through the jinja2 templates. Pure."""

from __future__ import annotations

import json
import shlex
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from envforge import ownership
from envforge.plan import APP_DIR, APP_UID, APP_USER, CA_IN_CONTEXT, MANAGED_PYTHON, VENV, Plan


def _templates_dir() -> Path:
    # Installed wheels carry the templates inside the package; a source checkout
    # (editable install) reads them from the repository's top-level templates/.
    packaged = Path(str(resources.files("envforge"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


# Runs in the build env: the backend's PEP 517 get_requires_for_build_wheel(), one
# requirement a line into argv[2] (a file: setup.py may print on stdout).
_HOOK = (
    "import functools,importlib,sys;"
    'm,_,o=sys.argv[1].partition(":");'
    'b=functools.reduce(getattr,filter(None,o.split(".")),importlib.import_module(m));'
    'h=getattr(b,"get_requires_for_build_wheel",None);'
    'open(sys.argv[2],"w").write("".join(r+"\\n" for r in (h() if h else [])))'
)


def _dq(value: object) -> str:
    """A Dockerfile double-quoted word: no variable expansion, no broken quoting."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{text}"'


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["dq"] = _dq
    env.filters["json"] = lambda v: json.dumps(list(v))
    return env


def _context(plan: Plan) -> dict[str, object]:
    return {
        "plan": plan,
        "venv": VENV,
        "app_dir": APP_DIR,
        "user": APP_USER,
        "uid": APP_UID,
        "ca_path": CA_IN_CONTEXT,
        "managed_python": MANAGED_PYTHON,
        "sync_flags": " ".join(plan.sync_flags),
        "build_requires": " ".join(_dq(r) for r in plan.project.build_requires),
        "hook_snippet": shlex.quote(_HOOK),
        "src_dir": f"/src/{plan.member_dir}" if plan.member_dir else "/src",
    }


def render_dockerfile(plan: Plan) -> str:
    body = _environment().get_template("Dockerfile.j2").render(_context(plan))
    return ownership.stamp(body, what="Dockerfile")


def render_dockerignore(plan: Plan) -> str:
    body = _environment().get_template("dockerignore.j2").render(_context(plan))
    return ownership.stamp(body, what=".dockerignore")
