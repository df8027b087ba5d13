"""The BuildKit Dockerfile (builder "buildkit"): golden files, and what no layer may hold.
Regenerate the goldens with ENVFORGE_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from envforge.image import ownership
from envforge.image.render import render_dockerfile
from tests.unit.helpers import plan_for
from tests.unit.image.test_render import CASES, _check

BUILDKIT = (
    "cpu-sklearn",
    "cpu-sklearn-offline",  # the CA bundle from a stage, uv from pip in a stage of its own
    "app-virtual",  # not a package: the source is copied
    "gpu-torch-cuda12.4",  # uv's managed Python
    "skbuild-c-ext",  # the backend's dynamic build requirements
    "git-source",  # git in the builder only
)


def _render(case: str) -> str:
    root, options, source = CASES[case]
    return render_dockerfile(plan_for(root, replace(options, builder="buildkit"), source))


@pytest.mark.parametrize("case", BUILDKIT)
def test_golden_buildkit_dockerfile(case: str) -> None:
    _check(f"{case}.buildkit.Dockerfile", _render(case))


@pytest.mark.parametrize("case", BUILDKIT)
def test_buildkit_syntax_stays_within_the_engine_api(case: str) -> None:
    """No session on the Engine API path and Docker 20.10's built-in frontend: no '# syntax=',
    no heredocs, no COPY --link, no secret or ssh mounts."""
    text = _render(case)
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I)
    assert "<<" not in text
    assert "--link" not in text
    assert "type=secret" not in text and "type=ssh" not in text
    assert ownership.is_pristine(text)


@pytest.mark.parametrize("case", BUILDKIT)
def test_uv_the_lock_and_the_ca_enter_no_layer(case: str) -> None:
    text = _render(case)
    # uv comes only through bind mounts; nothing copies it or the uv cache anywhere.
    assert not re.search(r"COPY --from=uv\b", text)
    assert "UV_NO_CACHE" not in text
    assert "UV_LINK_MODE=copy" in text
    for run in re.findall(r"^RUN (?:.*\\\n)*.*$", text, re.M):
        if re.search(r"\buv (sync|pip|venv|build|python)\b", run):
            assert "--mount=type=bind,from=uv,source=/uv,target=/bin/uv" in run
            assert "--mount=type=cache,target=/root/.cache/uv" in run
    # pyproject.toml and uv.lock are bind-mounted for the sync, never copied before it.
    deps = text[text.index(" AS deps") : text.index("uv sync")]
    assert "COPY pyproject.toml" not in deps and "uv.lock ./" not in deps
    sync = text[text.rindex("RUN ", 0, text.index("uv sync")) : text.index("uv sync")]
    assert "--mount=type=bind,source=uv.lock,target=/app/uv.lock" in sync
    assert "--mount=type=bind,source=pyproject.toml,target=/app/pyproject.toml" in sync


def test_the_ca_bundle_comes_from_a_stage_and_stays_out_of_the_final_image() -> None:
    text = _render("cpu-sklearn-offline")
    assert "FROM scratch AS ca\nCOPY .envforge/ca-bundle.crt /ca-bundle.crt\n" in text
    # The only COPY of the bundle is into the scratch stage.
    assert text.count("ca-bundle.crt /") == 1
    assert (
        "--mount=type=bind,from=ca,source=/ca-bundle.crt,target=/etc/envforge/ca-bundle.crt" in text
    )
    final = text[text.rindex("\nFROM ") :]
    assert "ca-bundle" not in final and "SSL_CERT_FILE" not in final
    assert "--mount" not in final and "/opt/build-env" not in final
    assert not re.search(r"COPY --from=(uv|ca)\b", final)


def test_the_classic_default_is_unchanged_and_says_nothing_new() -> None:
    root, options, source = CASES["cpu-sklearn"]
    plan = plan_for(root, options, source)
    assert plan.builder == "classic"
    assert "builder" not in [d.topic for d in plan.decisions]
    buildkit = plan_for(root, replace(options, builder="buildkit"), source)
    (said,) = [d for d in buildkit.decisions if d.topic == "builder"]
    assert said.choice.startswith("buildkit")
    assert buildkit.builder == "buildkit"


def test_buildkit_values_still_go_through_the_filters() -> None:
    root, options, source = CASES["cpu-sklearn"]
    plan = plan_for(root, replace(options, builder="buildkit"), source)
    text = render_dockerfile(
        replace(plan, sync_flags=("--locked", "--group", "x$(touch /tmp/PWN)"))
    )
    assert "uv sync --locked --group 'x$(touch /tmp/PWN)' --no-install-project" in text
