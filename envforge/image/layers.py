"""How the image is layered: the environment, then the project (a wheel) or its source;
whether bytecode is compiled at build; and the CA bundle of the builder stages."""

from __future__ import annotations

from envforge.image.decision import Decision
from envforge.image.layout import APP_DIR, CA_IN_CONTEXT
from envforge.image.options import Builder, SyncStage
from envforge.project.pyproject import Project


def layers_decision(project: Project) -> Decision:
    if project.is_package:
        return Decision(
            "layers",
            "environment, then project",
            "dependencies come from pyproject.toml + uv.lock alone; the project is built "
            "as a wheel and installed in its own layer, so a code edit reuses the environment",
        )
    return Decision(
        "layers",
        "environment, then source",
        "the project is not a package (no [build-system] or tool.uv.package = false): "
        f"its source is copied to {APP_DIR} beside the environment",
    )


def bytecode_decision(compile_bytecode: bool) -> Decision:
    if compile_bytecode:
        return Decision(
            "bytecode",
            "compiled at build",
            "the environment is read-only at run time, so .pyc files written at build are the "
            "only ones Python gets: each start skips compiling what it imports. After each "
            "install, in parallel, only what that install added, and not packages' own test "
            "suites (folders test/tests, which programs seldom import: 60% of the files of "
            "numpy, scipy and pandas); set [tool.envforge] compile-bytecode = false for a faster "
            "build and a smaller image",
        )
    return Decision(
        "bytecode",
        "not compiled",
        "[tool.envforge] compile-bytecode = false: a faster build and a smaller image, "
        "but every start compiles what it imports again",
    )


def ca_bundle_decision(ca_bundle: bool, builder: Builder = "classic") -> Decision | None:
    if not ca_bundle:
        return None
    if builder == "buildkit":
        return Decision(
            "ca bundle",
            CA_IN_CONTEXT,
            "bind-mounted from a scratch stage into each RUN that reaches the network: "
            "no layer of any stage holds it",
        )
    return Decision(
        "ca bundle",
        CA_IN_CONTEXT,
        "trusted by uv and pip in the builder stages only; the final image never holds it",
    )


def builder_decision(builder: Builder) -> Decision | None:
    # The classic Dockerfile is the one envforge always wrote: its plan says nothing new.
    if builder == "classic":
        return None
    return Decision(
        "builder",
        "buildkit (RUN --mount)",
        "uv is bind-mounted from its stage and never enters a layer; its cache lives in a "
        "cache mount, so a lock change downloads only what changed; no '# syntax=' line, "
        "heredocs or COPY --link, so Docker 20.10's built-in BuildKit builds it through the "
        "Engine API and docker build on Docker 23+ as it is; on an engine without BuildKit "
        "(Docker before 20.10), envforge build writes the classic builder's Dockerfile instead",
    )


def sync_stage_decision(build_apt: tuple[str, ...]) -> tuple[SyncStage, Decision]:
    """BuildKit's choice of the stage uv sync installs into."""
    if build_apt:
        return "deps", Decision(
            "environment",
            "synced in the deps stage, copied",
            f"the sync needs {', '.join(build_apt)} (a git source or a build from source), "
            "which the runtime must not hold: the environment is installed in the deps stage "
            "and copied into the runtime",
        )
    return "runtime", Decision(
        "environment",
        "synced in the runtime stage",
        "uv, its cache and the lock are mounted into the runtime stage's uv sync: no copy of "
        "the environment between stages, so a lock change rebuilds that one layer, from the "
        "uv cache, and nothing above the base is exported twice",
    )
