"""The `envforge` command line: one module per command, each a thin layer over the domain.

Only this package prints. Every command is registered through `handled`, the one place an
exception becomes `error: ...`/`hint: ...` and an exit code. Command modules import the
domain inside the command, so that `envforge --help` imports neither docker, pynvml,
jinja2 nor yaml.
"""

from __future__ import annotations

import typer

from envforge.cli import build, dockerize, doctor, job, plan, push, readme, run, runs, save, verify
from envforge.cli.handler import handled

app = typer.Typer(
    name="envforge",
    help="Turn a uv project (pyproject.toml + uv.lock) into a small, reproducible container image.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

app.command()(handled(dockerize.dockerize))
app.command()(handled(plan.plan))
app.command()(handled(build.build))
# Arguments after `--` (and unknown ones) go to the image's command.
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    handled(run.run)
)
app.command()(handled(runs.runs))
app.command()(handled(push.push))
app.command()(handled(readme.readme))
app.command()(handled(verify.verify))
app.command()(handled(doctor.doctor))
app.command()(handled(save.save))
# Arguments after `--` go to the image's command; an unknown option stays an error.
app.command(context_settings={"allow_extra_args": True})(handled(job.job))


def main() -> None:
    """The console script. Once the command is done, with its output flushed, no other thread
    left and the exit handlers run, the process ends at once (os._exit): the interpreter's
    own teardown of what a build imported (docker-py, requests, urllib3...) would add
    ~50 ms to every command, a rebuild after a code edit included."""
    import atexit
    import os
    import sys
    import threading

    try:
        app(prog_name="envforge")
        code: str | int | None = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int) or threading.active_count() > 1:
        sys.exit(code)  # a message to print, or a thread to wait for: Python's own exit
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: what Python's exit would report
        sys.exit(code)
    os._exit(code)
