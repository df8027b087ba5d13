"""What of the project's folder stays out of the build context by default: the table the
.dockerignore is written from, and the root folders the reader looks into because of it."""

from __future__ import annotations

DEFAULT_IGNORES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Virtual environments and caches", (
        ".venv", "venv", "**/__pycache__", "**/*.py[cod]", ".pytest_cache", ".mypy_cache",
        ".ruff_cache", ".tox", ".nox", ".coverage", "htmlcov", ".cache",
    )),
    ("Version control (the revision travels as a build argument)", (".git", ".hg", ".svn")),
    ("Build outputs", ("build", "dist", "**/*.egg-info")),
    ("envforge's run records (envforge run --record)", (".envforge/runs",)),
    ("Notebooks' checkpoints", ("**/.ipynb_checkpoints",)),
    ("Secrets never belong in an image", (
        ".env", ".env.*", "**/*.pem", "**/*.key", "**/id_rsa*", "**/id_ed25519*", ".netrc",
    )),
    ("Large data and model folders: list one under [tool.envforge] include to ship it", (
        "data", "datasets", "models", "checkpoints", "wandb", "mlruns", "outputs",
        "lightning_logs", "runs",
    )),
)  # fmt: skip


# Default-ignored folders that a project may name its own code after (a `models` or `data`
# package): kept in the context when they hold code. Caches, VCS and venvs never are.
CODE_FOLDER_NAMES = frozenset(
    ("build", "dist", "data", "datasets", "models", "checkpoints", "wandb", "mlruns", "outputs",
     "lightning_logs", "runs")
)  # fmt: skip


def default_ignored_folders() -> tuple[str, ...]:
    """The default .dockerignore entries that name one root folder (no glob, no slash): the
    reader looks for these, one level deep, and no further."""
    return tuple(p for _, ps in DEFAULT_IGNORES for p in ps if not any(c in p for c in "*?[/"))
