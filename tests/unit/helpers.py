"""Pure plans for tests: read a project folder with tomllib, no uv, no git, no Docker."""

from __future__ import annotations

import tomllib
from pathlib import Path

from envforge.cuda.catalog import load_cuda_catalog
from envforge.image.bases import load_catalog
from envforge.image.options import BuildOptions
from envforge.image.plan import Plan, make_plan
from envforge.project.facts import ProjectFacts
from envforge.project.lockfile import Lock, lock_hash
from envforge.project.pyproject import Project
from envforge.project.sources import with_source_facts


def plan_for(
    root: Path, options: BuildOptions = BuildOptions(), git_source: str | None = None
) -> Plan:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    project = Project.from_dict(data)
    lock_bytes = (root / "uv.lock").read_bytes()
    lock = Lock.from_dict(tomllib.loads(lock_bytes.decode()), project_name=project.name)
    pv = root / ".python-version"
    facts = ProjectFacts(
        lock_hash=lock_hash(lock_bytes),
        python_version_file=pv.read_text() if pv.exists() else None,
        top_level=frozenset(p.name for p in root.iterdir()),
        git_source=git_source,
    )
    facts = with_source_facts(facts, root, data, project)
    return make_plan(project, lock, facts, load_catalog(), options, load_cuda_catalog())
