"""Golden Dockerfiles and .dockerignores. Regenerate with ENVFORGE_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
import re

import pytest

from envforge.errors import InputError
from envforge.image import ownership
from envforge.image.options import Builder, BuildOptions
from envforge.image.render import render_dockerfile, render_dockerignore
from tests.conftest import EXAMPLES, REPO
from tests.unit.helpers import plan_for

GOLDEN = REPO / "tests/golden"
APP_VIRTUAL = REPO / "tests/fixtures/projects/app-virtual"

CASES = {
    "cpu-sklearn": (
        EXAMPLES / "cpu-sklearn",
        BuildOptions(),
        "https://github.com/envforge/examples.git",
    ),
    "cpu-sklearn-offline": (
        EXAMPLES / "cpu-sklearn",
        BuildOptions(
            registry_mirror="mirror.example:5000",
            uv_source="pip",
            ca_bundle=True,
            groups=("dev",),
        ),
        None,
    ),
    "app-virtual": (APP_VIRTUAL, BuildOptions(extras=("fast",)), None),
    # CUDA from the lock's wheels: slim base, NVIDIA settings, CUDA labels.
    "gpu-torch": (EXAMPLES / "gpu-torch", BuildOptions(), None),
    "gpu-torch-cpu": (EXAMPLES / "gpu-torch", BuildOptions(cpu=True), None),
    # A system CUDA: nvidia/cuda runtime bases, uv's managed Python.
    "gpu-torch-cuda12.4": (EXAMPLES / "gpu-torch", BuildOptions(cuda="12.4"), None),
    "onnx-gpu": (REPO / "tests/fixtures/projects/onnx-gpu", BuildOptions(), None),
    # A path dependency inside the project: its sources join the dependency stage.
    "with-local-lib": (REPO / "tests/fixtures/projects/with-local-lib", BuildOptions(), None),
    # git in the builder only; a compiled backend's dynamic build requirements.
    "git-source": (REPO / "tests/fixtures/projects/git-source", BuildOptions(), None),
    "skbuild-c-ext": (REPO / "tests/fixtures/projects/skbuild-c-ext", BuildOptions(), None),
}


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ENVFORGE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; ENVFORGE_UPDATE_GOLDEN=1 rewrites it"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_dockerfile(case: str) -> None:
    root, options, source = CASES[case]
    _check(f"{case}.Dockerfile", render_dockerfile(plan_for(root, options, source)))


@pytest.mark.parametrize("case", ["cpu-sklearn", "app-virtual"])
def test_golden_dockerignore(case: str) -> None:
    root, options, source = CASES[case]
    _check(f"{case}.dockerignore", render_dockerignore(plan_for(root, options, source)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_classic_builder_only(case: str) -> None:
    """The SDK's classic builder and air-gapped hosts: no BuildKit-only syntax at all."""
    root, options, source = CASES[case]
    text = render_dockerfile(plan_for(root, options, source))
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I)
    assert "--mount" not in text
    assert "<<" not in text  # heredocs
    assert ownership.is_pristine(text)


def test_rendering_is_deterministic() -> None:
    plan = plan_for(EXAMPLES / "cpu-sklearn")
    assert render_dockerfile(plan) == render_dockerfile(plan_for(EXAMPLES / "cpu-sklearn"))


def test_final_stage_carries_no_builder_tooling() -> None:
    text = render_dockerfile(plan_for(EXAMPLES / "cpu-sklearn", CASES["cpu-sklearn-offline"][1]))
    final = text[text.rindex("\nFROM ") :]
    assert "uv" not in re.findall(r"COPY --from=(\S+)", final)
    assert "ca-bundle" not in final and "SSL_CERT_FILE" not in final
    assert "/opt/build-env" not in final
    # The dependency layer comes before the code layer.
    assert final.index("COPY --from=deps /app/.venv") < final.index("COPY --from=project")


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_the_builder_stage_compiles_the_base_pythons_stdlib(builder: Builder) -> None:
    """Once, in the build backend's layer: the project stage then starts from compiled
    bytecode on every code edit. Never where the image could carry it: not in the final
    stage, nor into uv's managed Python (which the final stage copies)."""
    options = BuildOptions(builder=builder)
    text = render_dockerfile(plan_for(EXAMPLES / "cpu-sklearn", options))
    deps, project = text.split("\nFROM deps AS project\n")
    compile_line = next(line for line in deps.splitlines() if "compileall" in line)
    assert compile_line.startswith(" && { /opt/build-env/bin/python -m compileall -qq -x ")
    assert compile_line.endswith(" || true; }")  # best effort, and only for itself
    assert "compileall" not in project
    managed = render_dockerfile(
        plan_for(EXAMPLES / "gpu-torch", BuildOptions(cuda="12.4", builder=builder))
    )
    assert "uv python install" in managed
    assert "compileall" not in managed


def test_values_are_quoted_for_the_dockerfile() -> None:
    text = render_dockerfile(plan_for(APP_VIRTUAL))
    assert 'ENV GREETING="say \\"hi\\" for \\$5"' in text
    assert 'ENTRYPOINT ["/app/.venv/bin/python", "/app/main.py", "--serve"]' in text


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_bytecode_compilation_follows_the_setting(example_copy, builder: Builder) -> None:
    """On: envforge's compiler after each install of the environment, uv's own step for the
    build backend and the project. Off: neither, and no stage for the compiler."""
    root = example_copy("cpu-sklearn")
    options = BuildOptions(builder=builder)
    text = render_dockerfile(plan_for(root, options))
    # Pinned off, whatever the base image or [tool.uv] says: uv compiles only when asked to.
    assert "UV_COMPILE_BYTECODE=0" in text and "UV_COMPILE_BYTECODE=1" not in text
    runs = [line for line in text.splitlines() if "compile-bytecode.py" in line]
    if builder == "buildkit":  # each RUN that runs the compiler mounts it
        for run in text.split("\nRUN ")[1:]:
            if "/tmp/envforge-compile-bytecode.py \\" in run:
                assert "--mount=type=bind,from=bytecode,source=/compile-bytecode.py," in run
    script = (
        "/tmp/envforge-compile-bytecode.py"
        if builder == "buildkit"
        else "/opt/envforge-compile-bytecode.py"
    )
    installs = 2 if builder == "buildkit" else 1  # heavy packages, then the rest; classic: one sync
    assert runs.count(f" && /app/.venv/bin/python {script} \\") == installs
    assert text.count("uv pip install --quiet --compile-bytecode ") == 2  # backend, project
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.envforge]\ncompile-bytecode = false\n")
    text = render_dockerfile(plan_for(root, options))
    assert "--compile-bytecode" not in text and "AS bytecode" not in text
    assert "compile-bytecode.py" not in text and "UV_COMPILE_BYTECODE=0" in text


def test_a_value_the_dockerfile_cannot_hold_is_refused_at_render() -> None:
    """The render-time guard: a plan that skipped the kit still cannot break a line."""
    from dataclasses import replace

    from envforge.errors import RenderError

    plan = plan_for(EXAMPLES / "cpu-sklearn")
    for bad in (
        replace(plan, env={"GREETING": "a\nRUN touch /tmp/PWN"}),
        replace(plan, apt_packages=("curl\nRUN id",)),
        replace(plan, python="3.11\nRUN id"),
        replace(plan, base_ref="python:3.11 AS x --platform=$(id)"),
        replace(plan, labels={**plan.labels, "x\ny": "1"}),
    ):
        with pytest.raises((RenderError, InputError)):
            render_dockerfile(bad)


def test_every_word_in_run_is_shell_quoted() -> None:
    from dataclasses import replace

    plan = plan_for(EXAMPLES / "cpu-sklearn")
    text = render_dockerfile(
        replace(
            plan,
            sync_flags=("--locked", "--group", "x$(touch /tmp/PWN)"),
            apt_packages=("`id`",),
        )
    )
    assert "RUN uv sync --locked --group 'x$(touch /tmp/PWN)' --no-install-project" in text
    assert "apt-get install -y --no-install-recommends '`id`'" in text


def test_copy_uses_the_json_form() -> None:
    from dataclasses import replace

    plan = plan_for(REPO / "tests/fixtures/projects/with-local-lib")
    text = render_dockerfile(replace(plan, local_paths=("libs/a b",)))
    assert 'COPY ["libs/a b", "libs/a b"]\n' in text


def test_labels_and_env_escape_quotes_and_dollars() -> None:
    from dataclasses import replace

    plan = plan_for(EXAMPLES / "cpu-sklearn")
    labels = {**plan.labels, "org.opencontainers.image.description": '"; x=${PATH} \\'}
    text = render_dockerfile(replace(plan, labels=labels))
    assert 'org.opencontainers.image.description="\\"; x=\\${PATH} \\\\" \\\n' in text


def test_finalize_lets_only_filtered_values_and_bare_constants_through() -> None:
    from envforge.errors import RenderError
    from envforge.image.render import Quoted, _finalize

    assert _finalize("/app/.venv") == "/app/.venv"
    assert _finalize(10001) == 10001
    assert _finalize(Quoted("'a b'")) == "'a b'"
    for raw in ("a b", "x$(id)", "a\nRUN id", '"', True):
        with pytest.raises(RenderError):
            _finalize(raw)


def test_golden_workspace_member_on_the_root() -> None:
    """A uv workspace member that depends on the root's own project (python-sdk's shape)."""
    from dataclasses import replace

    from envforge.image.bases import load_catalog
    from envforge.image.plan import make_plan
    from envforge.project.loader import load_project

    options = BuildOptions(package="relay-echo-server")
    root = REPO / "tests/fixtures/modelled/mcp-python-sdk"
    loaded = load_project(root, check_lock=False, package=options.package)
    facts = replace(loaded.facts, git_source=None, revision=None)  # not this checkout's remote
    plan = make_plan(loaded.project, loaded.lock, facts, load_catalog(), options)
    _check("ws-member-on-root.Dockerfile", render_dockerfile(plan))
