"""A console script whose entry point names an extra (`relay = "relay.cli:app [cli]"`) needs
that extra's packages: when the image does not install the extra, the script does not start,
so it is no candidate for the image's command, and the smoke check expects it not to load.

Found by the modelled corpus (tests/fixtures/modelled/mcp-python-sdk, like the real SDK's
`mcp = "mcp.cli:app [cli]"`): the default image started `relay`, which fails at import
(no typer), and the smoke check failed every default build of such a project."""

from __future__ import annotations

from envforge.engine import smoke
from envforge.engine.smoke import Check, ProbeSpec, Report
from envforge.image.plan import BuildOptions
from tests.conftest import REPO
from tests.unit.helpers import plan_for

MCP = REPO / "tests/fixtures/modelled/mcp-python-sdk"


def test_a_script_that_needs_a_missing_extra_is_not_the_command() -> None:
    plan = plan_for(MCP)
    assert plan.entrypoint == ("python",)
    why = next(d.reason for d in plan.decisions if d.topic == "command")
    assert why.startswith("relay needs the extra 'cli' (imports typer): add --extra cli to use it")
    assert plan.scripts_needing == {
        "relay": "the extra 'cli' (imports typer): add --extra cli to use it"
    }


def test_with_the_extra_the_script_is_the_command() -> None:
    plan = plan_for(MCP, BuildOptions(extras=("cli",)))
    assert plan.entrypoint == ("relay",)
    assert plan.scripts_needing == {}
    assert smoke.probe_spec(plan) == ProbeSpec(dist="relay", program="/app/.venv/bin/relay")


def test_the_smoke_check_expects_that_script_not_to_load() -> None:
    plan = plan_for(MCP)
    failed = Report(
        checks=(Check(kind="script", name="relay", ok=False, error="ModuleNotFoundError"),),
    )
    marked = smoke.expect_failures(failed, plan.scripts_needing)
    assert marked.ok
    assert marked.checks[0].expected == plan.scripts_needing["relay"]
