"""Lock.from_dict on uv's real output, its refusals, and lock_hash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from envforge.errors import LockError
from envforge.project.lockfile import Lock, LockedRequirement, lock_hash
from tests.unit.conftest import CPU_SKLEARN, Loaded


def sklearn_lock(data: dict[str, Any]) -> Lock:
    return Lock.from_dict(data, project_name="cpu-sklearn")


def lock_error(data: dict[str, Any], project_name: str = "demo") -> LockError:
    with pytest.raises(LockError) as info:
        Lock.from_dict(data, project_name=project_name)
    assert info.value.exit_code == 2
    return info.value


# --- the real lock of examples/cpu-sklearn ------------------------------------------


def test_real_lock_header(sklearn_lock_data: dict[str, Any]) -> None:
    lock = sklearn_lock(sklearn_lock_data)
    assert lock.version == 1
    assert lock.revision == sklearn_lock_data["revision"]
    assert lock.requires_python == SpecifierSet(">=3.10")


def test_real_lock_root_is_the_editable_project(sklearn_lock_data: dict[str, Any]) -> None:
    lock = sklearn_lock(sklearn_lock_data)
    assert lock.root is not None
    assert lock.root.name == "cpu-sklearn"
    assert lock.root.version == "0.1.0"
    assert dict(lock.root.source) == {"editable": "."}
    assert lock.root.is_at(".")
    assert {"numpy", "pandas", "scikit-learn"} <= {d.name for d in lock.root.dependencies}


def test_real_lock_root_metadata(sklearn_lock_data: dict[str, Any]) -> None:
    meta = sklearn_lock(sklearn_lock_data).root_metadata
    assert meta.requires_dist == (
        LockedRequirement("numpy", ">=1.26"),
        LockedRequirement("pandas", ">=2.2"),
        LockedRequirement("scikit-learn", ">=1.5"),
    )
    assert dict(meta.requires_dev) == {"dev": (LockedRequirement("pytest", ">=8"),)}


def test_real_lock_packages(sklearn_lock_data: dict[str, Any]) -> None:
    lock = sklearn_lock(sklearn_lock_data)
    assert len(lock.packages) == len(sklearn_lock_data["package"])
    sklearn = next(p for p in lock.packages if p.name == "scikit-learn")
    assert dict(sklearn.source) == {"registry": "https://pypi.org/simple"}
    assert sklearn.has_sdist
    assert sklearn.wheels and all(w.ref.endswith(".whl") for w in sklearn.wheels)
    assert all(w.hash and w.hash.startswith("sha256:") and w.size for w in sklearn.wheels)


def test_root_found_by_normalized_project_name(sklearn_lock_data: dict[str, Any]) -> None:
    lock = Lock.from_dict(sklearn_lock_data, project_name="CPU_Sklearn")
    assert lock.root is not None and lock.root.name == "cpu-sklearn"
    assert len(lock.root_metadata.requires_dist) == 3


def test_virtual_root(fixture_project: Callable[[str], Loaded]) -> None:
    _, data = fixture_project("extras-groups")
    lock = Lock.from_dict(data, project_name="extras-groups")
    assert lock.root is not None and dict(lock.root.source) == {"virtual": "."}
    assert [r.name for r in lock.root_metadata.requires_dev["dev"]] == ["iniconfig", "pluggy"]
    tomli = next(r for r in lock.root_metadata.requires_dist if r.name == "tomli")
    assert tomli.marker == "python_full_version >= '3.12' and extra == 'fast'"


def test_lock_without_the_project(sklearn_lock_data: dict[str, Any]) -> None:
    lock = Lock.from_dict(sklearn_lock_data, project_name="someone-else")
    assert lock.root is None
    assert lock.root_metadata.requires_dist == ()
    assert dict(lock.root_metadata.requires_dev) == {}


def test_minimal_lock() -> None:
    lock = Lock.from_dict({"version": 1}, project_name="demo")
    assert (lock.revision, lock.requires_python, lock.packages, lock.root) == (0, None, (), None)


# --- refusals -----------------------------------------------------------------------


def test_unsupported_lock_version() -> None:
    error = lock_error({"version": 2, "package": []})
    assert (
        str(error)
        == "Unsupported lock version: 2 in 'version' of uv.lock (envforge reads version 1)"
    )
    assert error.hint is not None


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ({"version": "1.x"}, "'1.x'"),
        ({}, "None"),
        ({"version": True}, "True"),
        ({"version": 1.0}, "1.0"),
    ],
)
def test_invalid_lock_version(data: dict[str, Any], shown: str) -> None:
    error = lock_error(data)
    assert str(error) == f"Invalid lock version: {shown} in 'version' of uv.lock"
    assert error.hint == "Regenerate the lock with 'uv lock'."


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        ({"version": "1.0"}, "Missing 'package[1].name' in uv.lock"),
        ({"name": 3}, "Invalid 'package[1].name' in uv.lock: expected a string, got 3"),
        ("six", "Invalid 'package[1]' in uv.lock: expected a table, got 'six'"),
    ],
)
def test_package_without_name(entry: Any, shown: str) -> None:
    error = lock_error({"version": 1, "package": [{"name": "ok"}, entry]})
    assert str(error) == shown


def test_package_with_bad_source() -> None:
    error = lock_error({"version": 1, "package": [{"name": "six", "source": "pypi"}]})
    assert (
        str(error)
        == "Invalid 'package[0].source' of 'six' in uv.lock: expected a table, got 'pypi'"
    )


def test_bad_requires_python() -> None:
    error = lock_error({"version": 1, "requires-python": ">=three"})
    assert str(error) == "Invalid specifier '>=three' in 'requires-python' of uv.lock"


def test_bad_revision() -> None:
    error = lock_error({"version": 1, "revision": "3"})
    assert str(error) == "Invalid 'revision' in uv.lock: expected an integer, got '3'"


def test_package_must_be_an_array() -> None:
    error = lock_error({"version": 1, "package": {"name": "six"}})
    assert str(error) == "Invalid 'package' in uv.lock: expected an array, got {'name': 'six'}"


def test_root_metadata_requirement_without_name() -> None:
    root = {
        "name": "demo",
        "source": {"virtual": "."},
        "metadata": {"requires-dist": [{"specifier": ">=1"}]},
    }
    error = lock_error({"version": 1, "package": [root]})
    assert str(error) == (
        "Missing 'package[0].metadata.requires-dist[0].name' of 'demo' in uv.lock"
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("wheels", 3, "'package[3].wheels' of 'numpy' in uv.lock: expected an array, got 3"),
        ("wheels", [1], "'package[3].wheels[0]' of 'numpy' in uv.lock: expected a table, got 1"),
        (
            "resolution-markers",
            "python_version >= '3.11'",
            "'package[3].resolution-markers' of 'numpy' in uv.lock: expected an array, "
            "got \"python_version >= '3.11'\"",
        ),
        ("optional-dependencies", [], "'package[3].optional-dependencies' of 'numpy' in uv.lock: "
         "expected a table, got []"),
        ("dependencies", {"name": "x"}, "'package[3].dependencies' of 'numpy' in uv.lock: "
         "expected an array, got {'name': 'x'}"),
        ("sdist", "x.tar.gz", "'package[3].sdist' of 'numpy' in uv.lock: expected a table, got 'x.tar.gz'"),
        ("version", [1], "'package[3].version' of 'numpy' in uv.lock: expected a string, got [1]"),
    ],
)  # fmt: skip
def test_package_field_of_the_wrong_type(field: str, value: Any, expected: str) -> None:
    entry = {"name": "numpy", "version": "2.0", field: value}
    error = lock_error(
        {"version": 1, "package": [{"name": "a"}, {"name": "b"}, {"name": "c"}, entry]}
    )
    assert str(error) == f"Invalid {expected}"
    assert error.hint == "Regenerate the lock with 'uv lock'."


def test_root_metadata_of_the_wrong_type() -> None:
    root = {"name": "demo", "source": {"virtual": "."}, "metadata": []}
    error = lock_error({"version": 1, "package": [root]})
    assert (
        str(error) == "Invalid 'package[0].metadata' of 'demo' in uv.lock: expected a table, got []"
    )


# --- lock_hash ----------------------------------------------------------------------


def test_lock_hash_format_and_value() -> None:
    data = (CPU_SKLEARN / "uv.lock").read_bytes()
    digest = lock_hash(data)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (
        lock_hash(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_lock_hash_is_stable_and_sensitive() -> None:
    data = (CPU_SKLEARN / "uv.lock").read_bytes()
    assert lock_hash(data) == lock_hash(bytes(data))
    assert lock_hash(data) != lock_hash(data + b"\n")
    assert lock_hash(data) != lock_hash(data.replace(b"\n", b"\r\n"))
