"""envforge.labels: the one format of the image labels, written and read back."""

from __future__ import annotations

import pytest

from envforge import labels
from envforge.errors import LabelError
from envforge.labels import ImageLabels

CPU_LABELS = {
    "org.opencontainers.image.title": "cpu-sklearn",
    "org.opencontainers.image.version": "0.1.0",
    "org.opencontainers.image.description": "A small scikit-learn service",
    "org.opencontainers.image.source": "https://git.example/x",
    "org.opencontainers.image.base.name": "docker.io/library/python:3.11-slim-trixie",
    "org.opencontainers.image.base.digest": "sha256:" + "1" * 64,
    "dev.envforge.version": "0.9.0",
    "dev.envforge.lock-hash": "sha256:" + "0" * 64,
    "dev.envforge.python": "3.11",
    "dev.envforge.extras": "",
    "dev.envforge.groups": "",
}
GPU_LABELS = {
    "dev.envforge.cuda": "12.8",
    "dev.envforge.cudnn": "9.8.0",
    "dev.envforge.arch-list": "7.5,8.0,9.0,12.0+PTX",
}


@pytest.mark.parametrize(
    "written",
    [
        CPU_LABELS,
        GPU_LABELS,
        {**CPU_LABELS, "dev.envforge.extras": "gpu,plots", "dev.envforge.groups": "dev"},
        {**CPU_LABELS, **GPU_LABELS, "org.opencontainers.image.revision": "abc123"},
        {"dev.envforge.cuda": "13.2", "dev.envforge.arch-list": "8.0,9.0"},
        {"dev.envforge.cuda": "12.9.1", "dev.envforge.arch-list": ""},
        {},
    ],
)
def test_labels_round_trip(written: dict[str, str]) -> None:
    read = ImageLabels.from_labels(written)
    assert read.to_labels() == written
    assert ImageLabels.from_labels(read.to_labels()) == read


def test_the_values_read_back() -> None:
    read = ImageLabels.from_labels({**CPU_LABELS, **GPU_LABELS})
    assert read.title == "cpu-sklearn"
    assert read.lock_hash == "sha256:" + "0" * 64
    assert (read.extras, read.groups) == ((), ())
    assert read.cuda == "12.8"
    assert read.arch_list == ("7.5", "8.0", "9.0", "12.0")
    assert read.ptx is True
    assert ImageLabels.from_labels(GPU_LABELS | {labels.ARCH_LIST: "8.0"}).ptx is False


def test_written_in_the_dockerfile_order() -> None:
    written = ImageLabels(
        lock_hash="sha256:00",
        title="app",
        python="3.12",
        extras=("a", "b"),
        groups=(),
        base_name="python:3.12",
        envforge_version="1.0",
    ).to_labels()
    assert list(written.items()) == [
        (labels.TITLE, "app"),
        (labels.BASE_NAME, "python:3.12"),
        (labels.ENVFORGE_VERSION, "1.0"),
        (labels.LOCK_HASH, "sha256:00"),
        (labels.PYTHON, "3.12"),
        (labels.EXTRAS, "a,b"),
        (labels.GROUPS, ""),
    ]


def test_ptx_alone_and_an_unknown_arch_list() -> None:
    assert ImageLabels(cuda="12.8", ptx=True).to_labels() == {labels.CUDA: "12.8"}
    only_ptx = ImageLabels.from_labels({labels.ARCH_LIST: "+PTX"})
    assert (only_ptx.arch_list, only_ptx.ptx) == ((), True)
    assert only_ptx.to_labels() == {labels.ARCH_LIST: "+PTX"}


def test_missing_labels_are_none() -> None:
    # An image from an older envforge, or from elsewhere: nothing is made up.
    read = ImageLabels.from_labels({"maintainer": "someone"})
    assert read == ImageLabels()
    assert read.extras is None and read.arch_list is None and read.ptx is False
    assert read.to_labels() == {}


def test_extras_read_tolerantly() -> None:
    read = ImageLabels.from_labels({labels.EXTRAS: " gpu, ,plots ", labels.GROUPS: ","})
    assert (read.extras, read.groups) == (("gpu", "plots"), ())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (labels.ARCH_LIST, "8.0,abc"),
        (labels.ARCH_LIST, "8.0+PTX,9.0"),
        (labels.ARCH_LIST, "8.0,,9.0"),
        (labels.ARCH_LIST, "sm_80"),
        (labels.ARCH_LIST, "8.0+PTX+PTX"),
        (labels.CUDA, "twelve"),
        (labels.CUDA, "12.8\n"),
    ],
)
def test_a_wrong_value_is_refused(key: str, value: str) -> None:
    with pytest.raises(LabelError, match=key.replace(".", r"\.")) as info:
        ImageLabels.from_labels({key: value})
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message


def test_an_empty_cuda_label_is_no_cuda() -> None:
    assert ImageLabels.from_labels({labels.CUDA: ""}).cuda == ""


def test_the_readers_refuse_an_edited_label() -> None:
    # doctor IMAGE and run --gpus read the CUDA labels: "abc" once ended in a traceback.
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.doctor import needs_from_image_config

    catalog = load_cuda_catalog()
    with pytest.raises(LabelError, match="is not a CUDA version"):
        needs_from_image_config({labels.CUDA: "abc"}, {}, catalog)
    needs = needs_from_image_config({labels.CUDA: "12.8", labels.ARCH_LIST: "+PTX"}, {}, catalog)
    assert (needs.arch_list, needs.ptx) == (None, False)  # no SM: the arch list is unknown
    needs = needs_from_image_config({**GPU_LABELS}, {}, catalog)
    assert (needs.arch_list, needs.ptx, needs.cudnn) == (
        ("7.5", "8.0", "9.0", "12.0"),
        True,
        "9.8.0",
    )


@pytest.mark.parametrize("example", ["cpu-sklearn", "gpu-torch"])
def test_a_plan_writes_what_the_readers_read(example: str) -> None:
    # The writer (the planner) and the readers share the format: nothing lost between them.
    from envforge.image.plan import BuildOptions
    from tests.conftest import EXAMPLES
    from tests.unit.helpers import plan_for

    plan = plan_for(EXAMPLES / example, BuildOptions(host_gpu=False))
    read = ImageLabels.from_labels(plan.labels)
    assert read.to_labels() == plan.labels
    assert (read.title, read.python, read.extras, read.groups) == (
        plan.project.name,
        plan.python,
        plan.extras,
        plan.groups,
    )
    if example == "gpu-torch":
        assert (read.cuda, read.arch_list, read.ptx) == (
            plan.gpu.cuda,
            plan.gpu.needs.arch_list,
            plan.gpu.needs.ptx,
        )


def test_spaces_in_an_edited_label_do_not_matter() -> None:
    read = ImageLabels.from_labels({labels.CUDA: " 12.8 ", labels.ARCH_LIST: "8.0, 9.0 +PTX"})
    assert (read.cuda, read.arch_list, read.ptx) == ("12.8", ("8.0", "9.0"), True)


def test_a_foreign_images_cuda_variable_is_checked_too() -> None:
    # An image envforge did not build: its CUDA_VERSION is as untrusted as a label.
    from envforge.cuda.catalog import load_cuda_catalog
    from envforge.doctor import needs_from_image_config
    from envforge.errors import InputError

    catalog = load_cuda_catalog()
    with pytest.raises(InputError, match=r"CUDA_VERSION='abc' is not a CUDA version"):
        needs_from_image_config({}, {"CUDA_VERSION": "abc"}, catalog)
    assert needs_from_image_config({}, {"CUDA_VERSION": "12.8.1"}, catalog).cuda == "12.8.1"
