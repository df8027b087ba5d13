"""envforge.project.wheeltags: which lock files a CPython image on Linux x86_64 (glibc) installs.

The file names are real: taken from examples/*/uv.lock, tests/fixtures and PyPI/PyTorch.
"""

from __future__ import annotations

import pytest

from envforge.project.lockfile import LockedPackage, LockedWheel
from envforge.project.wheeltags import GLIBC, no_wheel, support, wheel_fits, wheel_name

FILES = "https://files.pythonhosted.org/packages/06/7d/57b7f46934e1148b436889e385693bfcb94ae047b3fe0b6015922e3b66f7"
TRIXIE = GLIBC["trixie"]


@pytest.mark.parametrize(
    ("wheel", "python", "fits"),
    [
        # cpXY: only that interpreter
        ("numpy-2.2.6-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.12", True),
        ("numpy-2.2.6-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.13", False),
        ("numpy-2.2.6-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.11", False),
        (f"{FILES}/torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl", "3.11", True),
        # torch+cu from the PyTorch index: a plain linux_x86_64 wheel, which uv installs
        (
            "https://download.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl",
            "3.11",
            True,
        ),
        (
            "https://download.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl",
            "3.12",
            False,
        ),
        # abi3: from its floor up
        ("protobuf-7.36.2-cp310-abi3-manylinux2014_x86_64.whl", "3.10", True),
        ("protobuf-7.36.2-cp310-abi3-manylinux2014_x86_64.whl", "3.14", True),
        ("triton-3.9.0-cp312-abi3-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "3.11", False),
        ("triton-3.9.0-cp312-abi3-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "3.13", True),
        # pure Python
        ("colorama-0.4.6-py2.py3-none-any.whl", "3.14", True),
        ("cuda_toolkit-13.2.2-py2.py3-none-any.whl", "3.10", True),
        ("six-1.17.0-py2.py3-none-any.whl", "3.12", True),
        ("tomli-2.2.1-py3-none-any.whl", "3.13", True),
        ("typing_extensions-4.4.0-py37-none-any.whl", "3.11", True),
        # py3-none on a platform, manylinux1 (glibc 2.5)
        ("nvidia_nvtx-13.2.86-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl", "3.12", True),
        ("nvidia_cudnn_cu12-9.5.1.17-py3-none-manylinux2014_x86_64.whl", "3.12", True),
        # wrong architecture, libc, platform
        (
            "triton-3.9.0-cp312-abi3-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
            "3.12",
            False,
        ),
        ("py-0.1-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl", "3.12", False),
        ("numpy-2.2.6-cp312-cp312-musllinux_1_2_x86_64.whl", "3.12", False),
        ("numpy-2.2.6-cp312-cp312-macosx_14_0_x86_64.whl", "3.12", False),
        ("numpy-2.2.6-cp312-cp312-win_amd64.whl", "3.12", False),
        ("protobuf-7.36.2-cp310-abi3-macosx_10_9_universal2.whl", "3.12", False),
        # free-threaded and PyPy builds are not for a standard CPython
        ("numpy-2.2.6-cp313-cp313t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.13", False),
        (f"{FILES}/torch-2.14.1-cp314-cp314t-manylinux_2_28_x86_64.whl", "3.14", False),
        (
            "numpy-2.2.6-pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "3.10",
            False,
        ),
        # not a wheel's name at all
        ("numpy-2.2.6.tar.gz", "3.12", False),
    ],
)
def test_wheel_fits(wheel: str, python: str, fits: bool) -> None:
    assert wheel_fits(wheel, python) is fits


def test_glibc_of_the_base_limits_manylinux() -> None:
    newer = "pkg-1.0-cp312-cp312-manylinux_2_39_x86_64.whl"
    assert wheel_fits(newer, "3.12", GLIBC["bookworm"]) is False  # glibc 2.36
    assert wheel_fits(newer, "3.12", TRIXIE) is True  # glibc 2.41
    assert wheel_fits("pkg-1.0-cp312-cp312-manylinux_2_42_x86_64.whl", "3.12", TRIXIE) is False


def test_wheel_name_of_urls_paths_and_filenames() -> None:
    assert wheel_name(f"{FILES}/torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl") == (
        "torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    )
    assert wheel_name("https://x/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl#sha256=0") == (
        "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl"
    )
    assert wheel_name("wheels/six-1.17.0-py2.py3-none-any.whl") == "six-1.17.0-py2.py3-none-any.whl"
    assert wheel_name("six-1.17.0-py2.py3-none-any.whl") == "six-1.17.0-py2.py3-none-any.whl"


def pkg(wheels: tuple[str, ...] = (), sdist: bool = False, **source: str) -> LockedPackage:
    return LockedPackage(
        name="ray", version="2.49.2", source=source or {"registry": "https://pypi.org/simple"},
        wheels=tuple(LockedWheel(w) for w in wheels), has_sdist=sdist,
    )  # fmt: skip


RAY = ("ray-2.49.2-cp313-cp313-manylinux2014_x86_64.whl",)


@pytest.mark.parametrize(
    ("package", "python", "kind"),
    [
        (pkg(RAY), "3.13", "wheel"),
        (pkg(RAY), "3.14", "none"),  # neither a wheel nor an sdist for 3.14
        (pkg(RAY, sdist=True), "3.14", "compile"),  # wheels elsewhere: it has code to compile
        (pkg(sdist=True), "3.14", "sdist"),  # sdist only: it may or may not compile
        (pkg(git="https://github.com/o/r?rev=abc#abc"), "3.14", "source"),
        (pkg(directory="libs/helper"), "3.14", "source"),
        (pkg(), "3.14", "none"),  # a registry package with no file at all
    ],
)
def test_support(package: LockedPackage, python: str, kind: str) -> None:
    assert support(package, python).kind == kind


def test_no_wheel_reason() -> None:
    assert no_wheel(support(pkg(RAY), "3.14"), "3.14") == "ray 2.49.2 has no cp314 wheel"
