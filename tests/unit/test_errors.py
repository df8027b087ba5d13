"""The error classes: what the CLI prints and the exit status it returns."""

from __future__ import annotations

import pytest

from envforge.errors import (
    BuildError,
    CatalogError,
    DockerUnavailableError,
    EnvforgeError,
    FileConflictError,
    ImageNotFoundError,
    InputError,
    InvalidProjectError,
    LockError,
    PlanError,
    ProjectNotFoundError,
)


@pytest.mark.parametrize(
    ("error", "exit_code"),
    [
        (InputError("x"), 2),
        (ProjectNotFoundError("/p"), 2),
        (InvalidProjectError("x"), 2),
        (LockError("x"), 2),
        (PlanError("x"), 2),
        (FileConflictError("/p/Dockerfile"), 2),
        (ImageNotFoundError("demo:1"), 2),
        (CatalogError("x"), 1),
        (DockerUnavailableError("unix:///var/run/docker.sock", "refused"), 1),
        (BuildError(None, "x", []), 1),
    ],
)
def test_every_error_is_an_envforge_error_with_its_exit_code(
    error: EnvforgeError, exit_code: int
) -> None:
    assert isinstance(error, EnvforgeError)
    assert error.exit_code == exit_code
    assert str(error) == error.message


def test_invalid_project_error_names_the_file() -> None:
    assert str(InvalidProjectError("Bad value")) == "Bad value in pyproject.toml"
    assert (
        str(InvalidProjectError("Bad value", file=".python-version"))
        == "Bad value in .python-version"
    )


def test_project_not_found() -> None:
    assert str(ProjectNotFoundError("/p")) == "No pyproject.toml in '/p'"
    assert str(ProjectNotFoundError("/p", missing=True)) == "No such path: '/p'"


def test_build_error_names_the_step() -> None:
    assert str(BuildError("RUN uv sync", "exit 1", ["tail"])) == (
        "Image build failed at step 'RUN uv sync': exit 1"
    )
    assert str(BuildError(None, "exit 1", [])) == "Image build failed: exit 1"


def test_docker_unavailable_names_where_it_looked() -> None:
    error = DockerUnavailableError("unix:///var/run/docker.sock", "connection refused")
    assert str(error) == (
        "Cannot reach the Docker engine at unix:///var/run/docker.sock: connection refused"
    )
    assert error.hint is not None and "DOCKER_HOST" in error.hint


def test_an_image_missing_by_digest_is_pulled_not_built() -> None:
    from envforge.errors import ImageNotFoundError

    pinned = "h.example:5000/app@sha256:" + "ab" * 32
    assert ImageNotFoundError(pinned).hint == f"Pull it first: docker pull {pinned}"
    assert ImageNotFoundError("app:1").hint == (
        "Build it first with 'envforge build', or name an existing image."
    )
