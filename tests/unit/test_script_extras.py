"""A console script whose entry point names an extra (`relay = "relay.cli:app [cli]"`) needs
that extra's packages: when the image does not install the extra, the script does not start,
so it is no candidate for the image's command, and the smoke check does not load it.

Found by the modelled corpus (tests/fixtures/modelled/mcp-python-sdk, like the real SDK's
`mcp = "mcp.cli:app [cli]"`): the default image started `relay`, which fails at import
(no typer), and the smoke check failed every default build of such a project."""

from __future__ import annotations

from pathlib import Path

import pytest

from envforge import smoke
from envforge.plan import BuildOptions, script_extras
from envforge.smoke import ProbeSpec
from tests.conftest import REPO
from tests.unit.helpers import plan_for
from tests.unit.test_smoke import fake_dist, probe

MCP = REPO / "tests/fixtures/modelled/mcp-python-sdk"


@pytest.mark.parametrize(
    ("target", "extras"),
    [
        ("relay.cli:app", ()),
        ("relay.cli:app [cli]", ("cli",)),
        ("relay.cli:app[cli]", ("cli",)),
        ("relay.cli:app [CLI, Rich_Output]", ("cli", "rich-output")),
        ("relay.cli:app []", ()),
        ("relay.cli:app [cli] trailing", ()),
    ],
)
def test_script_extras_are_read_from_the_entry_point(target: str, extras: tuple[str, ...]) -> None:
    assert script_extras(target) == extras


def test_a_script_that_needs_a_missing_extra_is_not_the_command() -> None:
    plan = plan_for(MCP)
    assert plan.entrypoint == ("python",)
    why = next(d.reason for d in plan.decisions if d.topic == "command")
    assert "console script relay needs the extra cli" in why
    assert "--extra cli" in why


def test_with_the_extra_the_script_is_the_command() -> None:
    plan = plan_for(MCP, BuildOptions(extras=("cli",)))
    assert plan.entrypoint == ("relay",)
    assert smoke.probe_spec(plan) == ProbeSpec(dist="relay", program="relay", extras=("cli",))


def test_the_probe_skips_a_script_whose_extra_is_not_installed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_dist(
        site,
        "relay",
        {"relay/__init__.py": "", "relay/cli.py": "import typer_is_not_installed\n"},
        {"relay": "relay.cli:app [cli]", "relay-plain": "relay:__name__"},
    )
    without = probe(ProbeSpec(dist="relay"), tmp_path, site)
    assert without.ok, without
    assert [c.label for c in without.checks] == [
        "distribution relay",
        "imports relay",
        "console script relay-plain",
    ]
    # Installed with the extra, the script is loaded (and here fails: its import is missing).
    with_extra = probe(ProbeSpec(dist="relay", extras=("cli",)), tmp_path, site)
    assert not with_extra.ok
    assert "console script relay" in [c.label for c in with_extra.checks]
