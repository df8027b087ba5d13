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


def _runs(text: str) -> list[str]:
    return re.findall(r"^RUN (?:.*\\\n)*.*$", text, re.M)


@pytest.mark.parametrize("case", BUILDKIT)
def test_uv_the_lock_and_the_ca_enter_no_layer(case: str) -> None:
    text = _render(case)
    # uv comes only through bind mounts; nothing copies it or the uv cache anywhere.
    assert not re.search(r"COPY --from=uv\b", text)
    assert "UV_NO_CACHE" not in text
    assert "UV_LINK_MODE=copy" in text
    for run in _runs(text):
        if re.search(r"\buv (sync|pip|venv|build|python)\b", run):
            assert "--mount=type=bind,from=uv,source=/uv,target=/bin/uv" in run
            assert "--mount=type=cache,target=/tmp/uv-cache" in run
    # pyproject.toml and uv.lock reach the sync by a mount, never by a COPY into a stage that
    # holds the environment: the lock stage (scratch) only.
    (sync,) = [run for run in _runs(text) if "uv sync" in run]
    stages = text.split("\nFROM ")
    for stage in stages:
        if re.search(r"^COPY .*uv\.lock", stage, re.M):
            assert stage.startswith("scratch AS lock\n")
    assert ("--mount=type=bind,from=lock,target=/tmp/envforge-project,rw" in sync) or (
        "--mount=type=bind,source=uv.lock,target=/app/uv.lock" in sync
        and "--mount=type=bind,source=pyproject.toml,target=/app/pyproject.toml" in sync
    )


@pytest.mark.parametrize(
    ("case", "stage"),
    [
        ("cpu-sklearn", "runtime"),
        ("gpu-torch-cuda12.4", "runtime"),
        ("app-virtual", "deps"),  # [tool.envforge] build-apt-packages: a compiler
        ("git-source", "deps"),  # git is needed to sync, and must stay out of the runtime
        ("skbuild-c-ext", "deps"),  # a compiler
    ],
)
def test_the_environment_is_synced_where_nothing_needs_copying(case: str, stage: str) -> None:
    root, options, source = CASES[case]
    plan = plan_for(root, replace(options, builder="buildkit"), source)
    assert plan.sync_stage == stage
    (said,) = [d for d in plan.decisions if d.topic == "environment"]
    final = _render(case)[_render(case).rindex("\nFROM ") :]
    if stage == "runtime":
        assert said.choice == "synced in the runtime stage"
        assert "uv sync" in final and "COPY --from=deps /app/.venv" not in final
        # uv's settings are build arguments there: an ENV would stay in the image.
        assert "ENV UV_" not in final and "ARG UV_PROJECT_ENVIRONMENT=/app/.venv" in final
    else:
        assert said.choice == "synced in the deps stage, copied"
        assert "COPY --from=deps /app/.venv /app/.venv" in final and "uv sync" not in final
        assert plan.heavy == ()


def test_heavy_packages_get_a_layer_of_their_own_from_exact_pins_and_hashes() -> None:
    text = _render("gpu-torch-cuda12.4")
    runs = _runs(text[text.rindex("\nFROM ") :])
    heavy = next(r for r in runs if "/tmp/heavy.txt" in r)
    sync = next(r for r in runs if "uv sync" in r)
    # The heavy RUN comes first and reads no lock file: only its own pins, so a lock change
    # that leaves them alone finds it cached.
    assert runs.index(heavy) < runs.index(sync)
    assert "uv.lock" not in heavy and "from=lock" not in heavy
    pins = re.findall(r"'([a-z0-9-]+)==([^ ]+) --hash=(sha256:[0-9a-f]{64})'", heavy)
    names = [name for name, _, _ in pins]
    assert "torch" in names and "triton" in names and any(n.startswith("nvidia-") for n in names)
    assert "sympy" in names and "numpy" in names  # 6 MB, but torch needs it; 17 MB: heavy
    assert "pytest" not in names  # the dev group the image leaves out
    assert ("torch", "2.15.0") in [(n, v) for n, v, _ in pins]  # the fork for Python 3.11
    assert "--no-deps --require-hashes --index-url https://pypi.org/simple" in heavy
    root, options, source = CASES["gpu-torch-cuda12.4"]
    plan = plan_for(root, replace(options, builder="buildkit"), source)
    (said,) = [d for d in plan.decisions if d.topic == "heavy layer"]
    assert said.choice.endswith(" they need") and " MB of wheels) and the " in said.choice
    assert said.reason.startswith("torch 2.15.0 (")


def test_the_classic_plan_says_why_it_has_no_heavy_layer() -> None:
    root, options, source = CASES["gpu-torch-cuda12.4"]
    plan = plan_for(root, options, source)
    assert plan.builder == "classic" and plan.heavy == ()
    (said,) = [d for d in plan.decisions if d.topic == "heavy layer"]
    assert said.choice == "none" and "--builder buildkit" in said.reason
    cpu = plan_for(
        *CASES["cpu-sklearn"][:1],
        replace(CASES["cpu-sklearn"][1], builder="buildkit"),
        CASES["cpu-sklearn"][2],
    )
    # numpy, pandas, scipy and what they need; not scikit-learn (9 MB), which needs them.
    assert [p.name for p in cpu.heavy if p.heavy] == ["numpy", "pandas", "scipy"]
    assert [p.name for p in cpu.heavy if not p.heavy] == ["python-dateutil", "tzdata"]


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
