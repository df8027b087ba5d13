"""`envforge doctor`: the host report, and a verdict for a project or an image on this host.

Gathering (probes, project, image config) lives here; the rules are in compat.py and the
inference in gpu_needs.py, both pure. DOCTOR_SCHEMA versions the --json output, which
README.md documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envforge import labels as keys
from envforge.cuda.catalog import CudaCatalog, load_cuda_catalog
from envforge.cuda.needs import GpuNeeds
from envforge.errors import InputError
from envforge.host.compat import Finding, host_findings, project_findings, verdict
from envforge.host.facts import HostFacts
from envforge.labels import ImageLabels

if TYPE_CHECKING:
    from envforge.host.gate import GpuRequest, Preflight
    from envforge.image.plan import BuildOptions, Plan

DOCTOR_SCHEMA = 1
_CUDA_VERSION_RE = re.compile(r"\d+(?:\.\d+){0,2}", re.ASCII)
_REQUIRE_CUDA_RE = re.compile(r"\bcuda>=(\d+\.\d+)")


@dataclass(frozen=True, kw_only=True)
class Report:
    subject: str  # "this host", a project path, or an image
    host: HostFacts
    needs: GpuNeeds | None
    findings: tuple[Finding, ...]
    plan: Mapping[str, Any] | None = None  # a project's: what was judged (plan_summary)

    @property
    def verdict(self) -> str:
        return verdict(list(self.findings))

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict == "fail" else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DOCTOR_SCHEMA,
            "subject": self.subject,
            "verdict": self.verdict,
            "host": self.host.to_dict(),
            "needs": self.needs.to_dict() if self.needs is not None else None,
            "findings": [f.to_dict() for f in self.findings],
            "plan": dict(self.plan) if self.plan is not None else None,
        }


def probe_host() -> HostFacts:
    from envforge.engine.probe import probe_engine
    from envforge.host.nvidia import probe_driver

    return HostFacts(driver=probe_driver(), engine=probe_engine())


def load_host_facts(path: Path) -> HostFacts:
    """Host facts recorded by `envforge doctor --json` (its "host"), or bare HostFacts JSON."""

    from envforge import safeio, validate
    from envforge.errors import InputError

    hint = "Give the JSON file that `envforge doctor --json` writes."
    try:
        data = validate.loads_json(safeio.read_text(path, what=str(path)))
    except ValueError as exc:  # json.JSONDecodeError, NaN, a number out of range
        raise InputError(f"Cannot read host facts from '{path}' ({exc})", hint=hint) from None
    except RecursionError:
        raise InputError(
            f"Cannot read host facts from '{path}' (nested too deep)", hint=hint
        ) from None
    return HostFacts.from_dict(data["host"] if isinstance(data, dict) and "host" in data else data)


def needs_for_project(path: Path, options: BuildOptions, host: HostFacts) -> tuple[Plan, GpuNeeds]:
    """The plan `envforge build` makes for this project with these options on this host,
    and what its install set needs: doctor judges the image build would make."""
    from envforge.pipeline import plan_project

    _, plan = plan_project(path, options, host=host)
    return plan, plan.gpu.needs


def plan_summary(plan: Plan) -> dict[str, Any]:
    """What doctor judged: the plan's Python, selection and GPU mode (its --json "plan")."""
    return {
        "python": plan.python,
        "extras": list(plan.extras),
        "groups": list(plan.groups),
        "sync_flags": list(plan.sync_flags),
        "gpu": plan.gpu.mode,
        "variant": list(plan.gpu.variant_extras),
    }


def plan_findings(plan: Plan) -> list[Finding]:
    """Which CPU/CUDA variant of the lock the plan took, and a --cpu image of CUDA wheels,
    with why: said before the verdict."""
    return [
        Finding(
            level="ok",
            check=d.topic,
            what=f"judged the image `envforge build` makes here: {d.choice}",
            why=d.reason,
        )
        for d in plan.gpu.decisions
        if d.topic == "variant" or (d.topic == "gpu" and plan.gpu.mode == "cpu")
    ]


def needs_from_image_config(
    labels: Mapping[str, str], env: Mapping[str, str], catalog: CudaCatalog
) -> GpuNeeds:
    """An image's needs from envforge's labels, or from NVIDIA's variables for foreign images."""
    image = ImageLabels.from_labels(labels)
    evidence: list[str] = []
    cuda = image.cuda or None
    if cuda:
        evidence.append(f"label {keys.CUDA}={cuda}")
    elif env.get("CUDA_VERSION"):
        cuda = env["CUDA_VERSION"].strip(" ")
        if not _CUDA_VERSION_RE.fullmatch(cuda):  # a foreign image's variable: untrusted
            raise InputError(
                f"The image's variable CUDA_VERSION={cuda[:80]!r} is not a CUDA version "
                "such as 12.8",
                hint="Fix CUDA_VERSION in the image, or leave --gpus out.",
            )
        evidence.append(f"CUDA_VERSION={cuda}")
    elif match := _REQUIRE_CUDA_RE.search(env.get("NVIDIA_REQUIRE_CUDA", "")):
        cuda = match.group(1)
        evidence.append(f"NVIDIA_REQUIRE_CUDA has cuda>={cuda}")
    if not cuda:
        return GpuNeeds()
    arch_list = image.arch_list or None  # an empty list says nothing about the GPUs it runs on
    major = int(cuda.split(".")[0])
    from envforge.cuda.needs import FrameworkNeed

    return GpuNeeds(
        frameworks=(
            FrameworkNeed(
                name="image",
                version=cuda,
                build="cuda",
                cuda=cuda,
                runtime_from="system",
                arch_list=arch_list,
                evidence=tuple(evidence),
            ),
        ),
        cuda=cuda,
        cudnn=image.cudnn or env.get("NV_CUDNN_VERSION") or None,
        runtime_from="wheels" if image.cuda else "system",
        driver_floor=catalog.minor_compat_floor(major),
        driver_toolkit=catalog.toolkit_driver(cuda),
        arch_list=arch_list,
        ptx=image.ptx and arch_list is not None,
    )


def image_config(ref: str) -> tuple[dict[str, str], dict[str, str]]:
    """Labels and environment of a local image."""
    from envforge.engine import client as engine
    from envforge.host.gate import image_labels_and_env

    return image_labels_and_env(engine.get_image(engine.connect(), ref).attrs)


def diagnose(
    host: HostFacts,
    *,
    project: tuple[str, GpuNeeds] | None = None,
    image: tuple[str, GpuNeeds] | None = None,
    catalog: CudaCatalog | None = None,
    plan: Plan | None = None,
) -> Report:
    """plan: the project's (needs_for_project), whose variant choice leads the findings."""
    catalog = catalog or load_cuda_catalog()
    subject = project or image
    if subject is None:
        return Report(
            subject="this host",
            host=host,
            needs=None,
            findings=tuple(host_findings(host, catalog)),
        )
    name, needs = subject
    findings = plan_findings(plan) if plan is not None else []
    findings += project_findings(needs, host, catalog, subject=name)
    summary = plan_summary(plan) if plan is not None else None
    return Report(subject=name, host=host, needs=needs, findings=tuple(findings), plan=summary)


def render_text(report: Report, *, color: bool = False) -> str:
    from envforge.host.gate import render_findings

    lines = [f"envforge doctor: {report.subject}", ""]
    lines += render_findings(report.findings, color=color).splitlines()
    fails = sum(f.level == "fail" for f in report.findings)
    warns = sum(f.level == "warn" for f in report.findings)
    lines += ["", f"verdict: {report.verdict} ({fails} failed, {warns} warnings)"]
    return "\n".join(lines) + "\n"


def host_for(host_facts: Path | None) -> HostFacts:
    """The host to judge: recorded (--host-facts) when given, else this one, probed."""
    return load_host_facts(host_facts) if host_facts is not None else probe_host()


def check(
    host: HostFacts,
    *,
    path: Path | None = None,
    options: BuildOptions | None = None,
    image: str | None = None,
    catalog: CudaCatalog | None = None,
) -> Report:
    """`envforge doctor`: the host alone, or the project at path (its plan for options on
    this host), or a local image, judged on host."""
    catalog = catalog or load_cuda_catalog()
    project = image_needs = plan = None
    if path is not None:
        from envforge.image.plan import BuildOptions

        plan, needs = needs_for_project(path, options or BuildOptions(), host)
        project = (plan.project.name, needs)
    if image is not None:
        labels, env = image_config(image)
        image_needs = (image, needs_from_image_config(labels, env, catalog))
    return diagnose(host, project=project, image=image_needs, catalog=catalog, plan=plan)


def gpu_preflight(
    image: str, attrs: Mapping[str, Any], request: GpuRequest, host_facts: Path | None
) -> Preflight:
    """The `run --gpus` preflight of an image (its inspect data) on this host, or on the
    recorded one: run before any container exists."""
    from envforge.host import gate

    catalog = load_cuda_catalog()
    labels, env = gate.image_labels_and_env(attrs)
    needs = needs_from_image_config(labels, env, catalog)
    return gate.preflight(image, needs, host_for(host_facts), request, catalog)
