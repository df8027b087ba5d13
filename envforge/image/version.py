"""The image's version: the tag's (static, the git revision, uv.lock's or latest), and the
version a git-versioning backend is told in the project stage."""

from __future__ import annotations

import re
from dataclasses import dataclass

from envforge import labels, validate
from envforge.image.decision import Decision
from envforge.project.facts import ProjectFacts
from envforge.project.lockfile import Lock
from envforge.project.pyproject import Project
from envforge.project.vcsversion import (
    DEFAULT_VERSION,
    VERSIONINGIT,
    VcsVersion,
    env_names,
    from_revision,
)


@dataclass(frozen=True, kw_only=True)
class VersionChoice:
    tag: str  # the version part of the default tag
    # A backend that takes the version from git: the version the project stage tells it.
    vcs: VcsVersion | None
    # A dynamic version's label when build passes no revision (plain docker build): the
    # tag's version outside git (the version uv.lock recorded, else "latest").
    fallback: str


def choose_version(
    project: Project, lock: Lock, facts: ProjectFacts
) -> tuple[VersionChoice, list[Decision]]:
    tag, why = image_version(project, lock, facts)
    decisions = [Decision("version", tag, why)] if why else []
    vcs = _vcs_version(project, lock, facts)
    if vcs is not None:
        decisions.append(_vcs_decision(vcs))
    fallback = _bare(_lock_version(lock)) or "latest"
    return VersionChoice(tag=tag, vcs=vcs, fallback=fallback), decisions


def _vcs_version(project: Project, lock: Lock, facts: ProjectFacts) -> VcsVersion | None:
    """The version a git-versioning backend gets in the project stage: the one uv.lock
    recorded for the root, else 0.0.0+g<short sha> from the revision, else 0.0.0."""
    if not project.is_package or not project.version_backends:
        return None
    locked = _lock_version(lock)
    default = _bare(locked) or DEFAULT_VERSION
    return VcsVersion(
        backends=project.version_backends,
        env=env_names(project.version_backends, project.name),
        version=locked or from_revision(facts.revision) or DEFAULT_VERSION,
        default=default,
    )


def _bare(version: str | None) -> str | None:
    """A version that can stand bare in the Dockerfile (a default); an epoch's "!" cannot."""
    return version if version and re.fullmatch(r"[A-Za-z0-9.+_-]+", version) else None


def _vcs_decision(vcs: VcsVersion) -> Decision:
    backends = ", ".join(vcs.backends)
    if not vcs.env:
        return Decision(
            "version from git",
            f"{backends}: no version given",
            f"{VERSIONINGIT} documents no environment variable that sets the version and .git "
            "stays out of the build context: its build fails there unless [tool.versioningit] "
            "sets default-version",
        )
    why = (
        f"the image's wheel gets version {vcs.version} via {', '.join(vcs.env)}, .git stays out "
        "of the build context"
    )
    if vcs.version != vcs.default:
        why += (
            f" (from the git revision, passed as ENVFORGE_VERSION by envforge build; a "
            f"plain docker build gives {vcs.default})"
        )
    if VERSIONINGIT in vcs.backends:
        why += f"; {VERSIONINGIT} documents no such variable and is given none"
    return Decision("version from git", f"{backends}: {vcs.version}", why)


def revision_tag(revision: str) -> str:
    """The tag of a revision: 'git-' and its short sha, '-dirty' kept ('git-abc1234-dirty')."""
    sha, dirty = revision.removesuffix("-dirty"), revision.endswith("-dirty")
    return f"git-{sha[:7]}" + ("-dirty" if dirty else "")


def image_version(project: Project, lock: Lock, facts: ProjectFacts) -> tuple[str, str | None]:
    """The version part of the default tag, and why when it is not the static version."""
    if project.version:
        return project.version, None
    locked = _lock_version(lock)
    if project.dynamic_version and facts.revision:
        return revision_tag(facts.revision), (
            "project.version is dynamic: the image is tagged with the git revision (git-<short "
            f"sha>, -dirty when the tree has changes) and labelled {labels.VERSION} with "
            + ("its wheel's version" if project.version_backends else "the commit")
        )
    no_git = "project.version is dynamic and no git revision could be read (not a git checkout, or git is not installed)"
    if locked:
        return locked, f"{no_git}: the version uv.lock recorded"
    return "latest", f"{no_git}: tagged :latest"


def _lock_version(lock: Lock) -> str | None:
    """The root's version as uv recorded it (a dynamic version): it becomes the image tag."""
    if lock.root is None or lock.root.version is None:
        return None
    return validate.pep440_version(
        lock.root.version, f"the version of {lock.root.name!r}", "uv.lock"
    )
