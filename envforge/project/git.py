"""What git says about the project: its origin (the image's source label) and its revision
(the tag of a project whose version is dynamic). Each is one bounded `git` call; no git on
PATH, or no repository, is None."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from envforge import validate


def git_remote_url(root: Path) -> str | None:
    """The origin's URL, with any credentials removed, for the image's source label."""
    git = shutil.which("git")
    if not git:
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    url = done.stdout.strip()
    if done.returncode != 0 or not url:
        return None
    return validate.source_url(url)


GENERATED_FILES = ("Dockerfile", ".dockerignore", "compose.yaml")


def git_revision(root: Path) -> str | None:
    """HEAD's commit, with '-dirty' when the project's tree has changes (beyond
    GENERATED_FILES, which envforge writes)."""
    git = shutil.which("git")
    if not git:
        return None
    try:
        head = subprocess.run(
            [git, "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return None
        # envforge's own outputs do not make the tree dirty: else the Dockerfile that the
        # first build writes would tag every later build of the same commit -dirty.
        dirty = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain", "--", ".",
             *(f":(exclude){name}" for name in GENERATED_FILES)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
