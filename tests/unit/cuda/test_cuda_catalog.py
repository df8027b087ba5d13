"""The CUDA catalog: the shipped data, its lookups, and the validation that guards it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from envforge.cuda.catalog import CudaCatalog, load_cuda_catalog
from envforge.cuda.versions import (
    arch_list_runs_on,
    cuda_for_variant,
    normalize_sm,
    parse_driver_version,
)
from envforge.errors import CatalogError

VALID: dict[str, Any] = {
    "schema": 1,
    "revision": 1,
    "updated": "2026-01-01",
    "sources": {"RN": "release notes", "CC": "compute capabilities", "BLD": "builder", "IMG": "images"},
    "toolkits": [
        {"cuda": "12.4", "driver": "550.54.14", "updates": {"12.4.1": "550.54.15"}, "source": "RN"},
        {"cuda": "12.8", "driver": "570.26", "updates": {}, "source": "RN"},
        {"cuda": "13.2", "driver": "595.45.04", "updates": {"13.2.1": "595.58.03"}, "source": "RN",
         "verified": False, "unverified": ["13.2.1"]},
    ],
    "minor_version_compat": {
        "floors": [{"major": 12, "driver": "525.60.13", "source": "RN"}],
    },
    "architectures": [
        {"sm": "8.6", "family": "Ampere", "examples": ["A10"], "first_cuda": "11.1", "removed_in": None, "source": "CC"},
        {"sm": "9.0", "family": "Hopper", "examples": ["H100"], "first_cuda": "11.8", "removed_in": None, "source": "CC"},
        {"sm": "12.0", "family": "Blackwell", "examples": [], "first_cuda": "12.8", "removed_in": None, "source": "CC"},
    ],
    "torch": [
        {"torch": "2.1.2-2.3.1", "variants": ["cu118", "cu121"], "cudart": "12.1.105", "cudnn": "8.9.2.26",
         "arch_list": ["8.6", "9.0"], "source": "BLD"},
        {"torch": "2.9.1, 2.10.0", "variants": ["cu128"], "cudart": "12.8.90", "cudnn": "9.10.2.21",
         "arch_list": ["8.6", "9.0", "12.0"], "ptx": True, "source": "BLD"},
    ],
    "index_arch_lists": [{"variant": "cu118", "arch_list": ["8.6"], "source": "BLD"}],
    "cuda_runtime_versions": {
        "releases": [{"wheel": "12.4.127", "cuda": "12.4.1", "source": "RN"}],
    },
    "cuda_images": {
        "cudnn_tags": [{"cuda": ">=12.4.1", "word": "cudnn", "source": "IMG"}],
        "ubuntu": [{"cuda": "12.5.1-12.9.1", "versions": ["22.04", "24.04"], "source": "IMG"}],
        "releases": [{"cuda": "12.4.1", "cudnn": "9.1.0.70", "source": "IMG"}],
    },
}  # fmt: skip


def valid() -> dict[str, Any]:
    return copy.deepcopy(VALID)


def catalog_error(data: dict[str, Any]) -> str:
    with pytest.raises(CatalogError) as info:
        CudaCatalog.from_dict(data)
    assert info.value.exit_code == 1  # package data is envforge's own: a bug, not a usage error
    return str(info.value)


@pytest.fixture(scope="module")
def shipped() -> CudaCatalog:
    return load_cuda_catalog()


# --- the shipped catalog ------------------------------------------------------------


def test_shipped_catalog_loads(shipped: CudaCatalog) -> None:
    cudas = shipped.cudas()
    assert cudas[0] == "11.0" and cudas[-1] == "13.2"
    assert "12.7" not in cudas and "12.10" not in cudas  # numeric order, no CUDA 12.7


def test_a_source_no_row_cites_is_refused() -> None:
    data = valid()
    data["sources"]["LOCK"] = "uv lock"
    assert catalog_error(data) == "Source 'LOCK' in 'sources' is cited by no row"


def test_shipped_toolkit_drivers(shipped: CudaCatalog) -> None:
    assert shipped.toolkit_driver("12.8") == "570.26"
    assert shipped.toolkit_driver("12.8.0") == "570.26"
    assert shipped.toolkit_driver("12.8.1") == "570.124.06"
    assert shipped.toolkit_driver("12.4") == "550.54.14"
    assert shipped.toolkit_driver("12.4.1") == "550.54.15"
    assert shipped.toolkit_driver("12.6.2") == "560.35.03"
    assert shipped.toolkit_driver("12.6.3") == "560.35.05"
    assert shipped.toolkit_driver("11.0.3") == "450.51.06"
    assert shipped.toolkit_driver("13.0.2") == "580.95.05"
    # A patch Table 3 does not list needs the driver of the nearest earlier one.
    info = shipped.toolkit_driver_info("12.3.2")
    assert info is not None and (info.release, info.driver) == ("12.3.1", "545.23.08")
    assert shipped.toolkit_driver("12.7") is None
    assert shipped.toolkit_driver("twelve") is None


def test_shipped_driver_verification(shipped: CudaCatalog) -> None:
    confirmed = shipped.toolkit_driver_info("13.1.1")  # unverified in the reference, confirmed
    assert confirmed is not None and confirmed.verified and confirmed.driver == "590.48.01"
    ga = shipped.toolkit_driver_info("13.2")
    assert ga is not None and ga.verified and ga.driver == "595.45.04"
    update = shipped.toolkit_driver_info("13.2.1")
    assert update is not None and not update.verified and update.driver == "595.58.03"


def test_shipped_minor_version_compat(shipped: CudaCatalog) -> None:
    assert shipped.minor_compat_floor(11) == "450.80.02"
    assert shipped.minor_compat_floor(12) == "525.60.13"
    assert shipped.minor_compat_floor(13) == "580"
    assert shipped.minor_compat_floor(10) is None


def test_shipped_architectures(shipped: CudaCatalog) -> None:
    blackwell = shipped.architecture("12.0")
    assert (
        blackwell is not None and blackwell.first_cuda == "12.8" and blackwell.family == "Blackwell"
    )
    assert shipped.architecture("sm_120") == blackwell
    volta = shipped.architecture("7.0")
    assert volta is not None and volta.removed_in == "13.0" and volta.family == "Volta"
    hopper = shipped.architecture("9.0")
    assert hopper is not None and "H100" in hopper.examples
    assert shipped.architecture("8.7") is None
    wanted = ["3.5", "3.7", "5.0", "5.2", "6.0", "6.1", "7.0", "7.2", "7.5", "8.0", "8.6", "8.9",
              "9.0", "10.0", "10.3", "12.0", "12.1"]  # fmt: skip
    assert [a.sm for a in shipped.architectures] == wanted


@pytest.mark.parametrize(
    ("cuda", "sm", "supported"),
    [
        ("12.8", "12.0", True),
        ("12.8.1", "sm_120", True),
        ("12.6", "12.0", False),  # Blackwell needs 12.8
        ("12.9", "7.0", True),
        ("13.0", "7.0", False),  # Volta removed in 13.0
        ("13.0", "7.5", True),  # the 13.x minimum
        ("11.8", "3.7", True),
        ("12.0", "3.7", False),
        ("11.0", "5.0", True),  # no first_cuda: older than every toolkit in the catalog
        ("11.4", "8.9", False),
        ("14.0", "7.5", None),  # a CUDA the catalog does not know yet
        ("14.0", "7.0", False),  # ... but removals are for good
        ("12.4", "8.7", None),  # an SM the catalog does not know
        ("twelve", "9.0", None),
    ],
)
def test_shipped_cuda_supports_sm(
    shipped: CudaCatalog, cuda: str, sm: str, supported: bool | None
) -> None:
    assert shipped.cuda_supports_sm(cuda, sm) is supported


def test_torch_251_default_stops_at_hopper(shipped: CudaCatalog) -> None:
    build = shipped.torch_build("2.5.1", None)
    assert build is not None and build.arch_list is not None
    assert build.arch_list[-1] == "9.0" and "12.0" not in build.arch_list and not build.ptx
    assert (build.cuda, build.cudart, build.cudnn) == ("12.4", "12.4.127", "9.1.0.70")
    assert build.verified and build.source == "BLD"
    assert not arch_list_runs_on(build.arch_list, build.ptx, "12.0")  # RTX 5090: no kernel
    assert arch_list_runs_on(build.arch_list, build.ptx, "8.9")  # 8.6 code runs on 8.9


def test_torch_280_default_has_blackwell(shipped: CudaCatalog) -> None:
    build = shipped.torch_build("2.8.0", None)
    assert build is not None and build.arch_list is not None
    assert "12.0" in build.arch_list and "5.0" not in build.arch_list
    assert build.cuda == "12.8" and arch_list_runs_on(build.arch_list, build.ptx, "12.1")
    assert shipped.first_torch_with_sm("12.0") == "2.8.0"


def test_torch_index_build_from_local_version(shipped: CudaCatalog) -> None:
    build = shipped.torch_build("2.5.1+cu124")
    assert build is not None and build.variant == "cu124" and build.cuda == "12.4"
    assert build.arch_list == shipped.torch_build("2.5.1").arch_list  # type: ignore[union-attr]
    same = shipped.torch_build("2.5.1", "cu124")
    assert same == build
    other = shipped.torch_build("2.5.1", "cu118")
    assert other is not None and other.cuda == "11.8" and other.arch_list is None
    assert shipped.torch_build("2.5.1", "cu126") is None  # no such build
    with pytest.raises(ValueError):
        shipped.torch_build("2.5.1+cu124", "cu121")


def test_torch_cpu_build(shipped: CudaCatalog) -> None:
    build = shipped.torch_build("2.5.1+cpu")
    assert build is not None and build.cuda is None and build.arch_list == ()
    assert not arch_list_runs_on(build.arch_list, build.ptx, "9.0")


@pytest.mark.parametrize(
    ("version", "cudnn"),
    [("2.1.2", "8.9.2.26"), ("2.2.0", "8.9.2.26"), ("2.3.1", "8.9.2.26"), ("2.9.1", "9.10.2.21"),
     ("2.10.0", "9.10.2.21"), ("2.11.0", "9.19.0.56")],
)  # fmt: skip
def test_torch_ranges_match_by_version(shipped: CudaCatalog, version: str, cudnn: str) -> None:
    build = shipped.torch_build(version)
    assert build is not None and build.cudnn == cudnn


@pytest.mark.parametrize("version", ["2.1.1", "2.3.2", "2.4.0", "2.9.0", "2.10.1", "1.13.1", "x"])
def test_torch_outside_every_row(shipped: CudaCatalog, version: str) -> None:
    assert shipped.torch_build(version) is None


def test_torch_range_row_without_a_cudnn_pin(shipped: CudaCatalog) -> None:
    build = shipped.torch_build("2.13.0")  # "2.12.1-2.14.1": 2.13 > 2.12 as versions
    assert build is not None and build.cudnn is None  # the reference gives only a range
    assert build.ptx and build.arch_list is not None
    assert arch_list_runs_on(build.arch_list, True, "12.1")
    assert not arch_list_runs_on(build.arch_list, True, "7.0")


def test_torch_index_arch_lists(shipped: CudaCatalog) -> None:
    cu126 = shipped.torch_build("2.8.0+cu126")
    assert cu126 is not None and cu126.arch_list is not None
    assert cu126.arch_list[0] == "5.0" and cu126.arch_list[-1] == "9.0"
    cu128_27 = shipped.torch_build("2.7.1+cu128")
    assert cu128_27 is not None and cu128_27.arch_list is not None
    assert cu128_27.arch_list[0] == "7.5" and not cu128_27.verified
    cu128_29 = shipped.torch_build("2.9.1+cu128")
    assert cu128_29 is not None and cu128_29.arch_list is not None
    assert cu128_29.arch_list[0] == "7.0" and cu128_29.verified
    cu130 = shipped.torch_build("2.9.1+cu130")
    assert cu130 is not None and cu130.cuda == "13.0" and cu130.arch_list is None


def test_torch_unverified_rows(shipped: CudaCatalog) -> None:
    build = shipped.torch_build("2.6.0")
    assert build is not None and not build.verified
    future = shipped.torch_build("2.15.0", "cu132")
    assert future is not None and future.cuda == "13.2" and not future.verified
    # Its arch list was read from the wheel (no PTX); only its index variants are unknown.
    assert future.arch_list == ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0")
    assert future.ptx is False


@pytest.mark.parametrize(
    ("wheel", "cuda"),
    [("12.4.127", "12.4.1"), ("12.6.77", "12.6.3"), ("12.8.90", "12.8.1"), ("12.9.79", "12.9.1"),
     ("13.0.96", "13.0.2"), ("12.1.105", "12.1"), ("11.7.99", "11.7"), ("13.2.86", "13.2")],
)  # fmt: skip
def test_cuda_for_runtime_wheel(shipped: CudaCatalog, wheel: str, cuda: str) -> None:
    assert shipped.cuda_for_runtime_wheel(wheel) == cuda


@pytest.mark.parametrize("wheel", ["twelve", "12", ""])
def test_cuda_for_runtime_wheel_rejects_garbage(shipped: CudaCatalog, wheel: str) -> None:
    with pytest.raises(ValueError):
        shipped.cuda_for_runtime_wheel(wheel)


def test_cuda_images(shipped: CudaCatalog) -> None:
    image = shipped.cuda_image("12.4.1")
    assert image is not None and image.cudnn == "9.1.0.70" and image.cudnn_tag == "cudnn"
    assert image.tag("cudnn-runtime", "22.04") == "12.4.1-cudnn-runtime-ubuntu22.04"
    latest = shipped.cuda_image("12.9.1")
    assert latest is not None and latest.cudnn == "9.10.2.21"
    assert latest.ubuntu == ("20.04", "22.04", "24.04")
    thirteen = shipped.cuda_image("13.0.0")
    assert thirteen is not None and thirteen.cudnn == "9.12.0.46"
    assert thirteen.ubuntu == ("22.04", "24.04")
    old = shipped.cuda_image("11.8.0")
    assert old is not None and old.tag("cudnn-devel", "22.04") == "11.8.0-cudnn8-devel-ubuntu22.04"
    nine = shipped.cuda_image("12.3.2")
    assert nine is not None and nine.cudnn_tag == "cudnn9" and nine.cudnn is None
    middle = shipped.cuda_image("12.6.3")
    assert middle is not None and middle.cudnn is None and middle.ubuntu is not None
    assert shipped.cuda_image("10.2.89") is None
    with pytest.raises(ValueError):
        image.tag("slim", "22.04")  # type: ignore[arg-type]  # not an ImageKind


# --- module helpers -------------------------------------------------------------------


def test_driver_versions_compare_as_numbers() -> None:
    assert parse_driver_version("580.159.04") == (580, 159, 4)
    assert parse_driver_version(" 570.26\n") == (570, 26)
    assert parse_driver_version("580.95.05") < parse_driver_version("580.159.04")
    assert parse_driver_version("580") <= parse_driver_version("580.65.06")
    for bad in ["55x", "", "580.", "5800.1", "580.65.06.1", "v580"]:
        with pytest.raises(ValueError):
            parse_driver_version(bad)


def test_sm_helpers() -> None:
    assert normalize_sm("sm_90") == "9.0" and normalize_sm("120") == "12.0"
    assert normalize_sm("8.6") == "8.6" and normalize_sm("sm_90a") is None
    assert cuda_for_variant("cu124") == "12.4" and cuda_for_variant("cu130") == "13.0"
    assert cuda_for_variant("cpu") is None
    assert arch_list_runs_on(["8.0", "9.0"], False, "8.6")
    assert not arch_list_runs_on(["8.6", "9.0"], False, "8.0")  # no newer-minor to older
    assert not arch_list_runs_on(["9.0"], False, "10.0")  # no cross-major without PTX
    assert arch_list_runs_on(["9.0"], True, "10.0")
    assert not arch_list_runs_on(["9.0"], True, "8.9")  # PTX runs on newer SMs only


# --- lookups on a small catalog -----------------------------------------------------


def test_small_catalog_lookups() -> None:
    catalog = CudaCatalog.from_dict(valid())
    assert catalog.toolkit_driver("12.4.1") == "550.54.15"
    assert catalog.torch_build("2.10.0") is not None
    assert catalog.torch_build("2.9.10") is None
    assert catalog.torch_build("2.2.0", "cu118").arch_list == ("8.6",)  # type: ignore[union-attr]
    assert catalog.cuda_for_runtime_wheel("12.4.127") == "12.4.1"


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize("schema", [2, None, "1"])
def test_wrong_schema(schema: Any) -> None:
    data = valid()
    data["schema"] = schema
    assert catalog_error(data) == (
        f"Unsupported CUDA catalog schema {schema!r} in 'schema' (this envforge reads 1)"
    )


@pytest.mark.parametrize("driver", ["55x", "550", "550.54.14.1", 550.54, None])
def test_bad_driver_version(driver: Any) -> None:
    data = valid()
    data["toolkits"][1]["driver"] = driver
    if driver == "550":  # a branch alone is a valid version
        CudaCatalog.from_dict(data)
        return
    hint = " (quote it in YAML)" if isinstance(driver, float) else ""
    assert catalog_error(data) == f"Invalid driver version {driver!r} in 'toolkits[1].driver'{hint}"


def test_bad_update_driver() -> None:
    data = valid()
    data["toolkits"][0]["updates"]["12.4.1"] = "55x"
    assert catalog_error(data) == (
        "Invalid driver version '55x' in 'toolkits[0].updates[\"12.4.1\"]'"
    )


def test_bad_floor_driver() -> None:
    data = valid()
    data["minor_version_compat"]["floors"][0]["driver"] = "525.x"
    assert catalog_error(data) == (
        "Invalid driver version '525.x' in 'minor_version_compat.floors[0].driver'"
    )


def test_update_of_another_minor() -> None:
    data = valid()
    data["toolkits"][0]["updates"] = {"12.5.1": "555.42.06"}
    assert catalog_error(data) == "'toolkits[0].updates' key '12.5.1' is not a CUDA 12.4 update"


def test_update_older_than_ga() -> None:
    data = valid()
    data["toolkits"][0]["updates"]["12.4.1"] = "550.54.13"
    assert catalog_error(data) == (
        "Driver 550.54.13 of CUDA 12.4.1 in 'toolkits[0].updates' is older than 550.54.14, "
        "the driver of an earlier 12.4 release"
    )


def test_duplicate_cuda_row() -> None:
    data = valid()
    data["toolkits"].append({"cuda": "12.4", "driver": "550.54.15", "source": "RN"})
    assert catalog_error(data) == "Duplicate toolkits row for CUDA 12.4"


@pytest.mark.parametrize("cuda", ["12", "12.4.1", 12.4])
def test_bad_toolkit_cuda(cuda: Any) -> None:
    data = valid()
    data["toolkits"][0]["cuda"] = cuda
    hint = " (quote it in YAML)" if isinstance(cuda, float) else ""
    assert catalog_error(data) == f"Invalid CUDA version {cuda!r} in 'toolkits[0].cuda'{hint}"


def test_unknown_source() -> None:
    data = valid()
    data["torch"][1]["source"] = "a blog post"
    assert catalog_error(data) == "Unknown source 'a blog post' in 'torch[1].source'"


def test_sm_without_source() -> None:
    data = valid()
    del data["architectures"][1]["source"]
    assert catalog_error(data) == "Missing 'architectures[1].source' in cuda.yaml"


def test_duplicate_sm() -> None:
    data = valid()
    data["architectures"].append({**data["architectures"][0]})
    assert catalog_error(data) == "Duplicate architectures row for SM 8.6"


def test_unknown_family() -> None:
    data = valid()
    data["architectures"][0]["family"] = "Lovelace"
    assert (
        catalog_error(data) == "Unknown architecture family 'Lovelace' in 'architectures[0].family'"
    )


def test_first_cuda_after_removal() -> None:
    data = valid()
    data["architectures"][0]["removed_in"] = "11.0"
    assert catalog_error(data) == (
        "'architectures[0]': first_cuda 11.1 is not before removed_in 11.0"
    )


def test_unknown_arch_in_torch_arch_list() -> None:
    data = valid()
    data["torch"][0]["arch_list"] = ["8.6", "8.9"]
    assert catalog_error(data) == (
        "Unknown SM '8.9' in 'torch[0].arch_list[1]' (not in 'architectures')"
    )


def test_ptx_written_into_torch_arch_list() -> None:
    data = valid()
    data["torch"][1]["arch_list"] = ["8.6", "9.0", "12.0+PTX"]
    assert catalog_error(data) == (
        "Invalid SM '12.0+PTX' in 'torch[1].arch_list[2]' (write PTX as 'ptx: true')"
    )


def test_unordered_torch_arch_list() -> None:
    data = valid()
    data["torch"][0]["arch_list"] = ["9.0", "8.6"]
    assert catalog_error(data) == "'torch[0].arch_list' must list each SM once, oldest first"


def test_unknown_arch_in_index_arch_list() -> None:
    data = valid()
    data["index_arch_lists"][0]["arch_list"] = ["3.7"]
    assert catalog_error(data) == (
        "Unknown SM '3.7' in 'index_arch_lists[0].arch_list[0]' (not in 'architectures')"
    )


def test_overlapping_torch_rows() -> None:
    data = valid()
    data["torch"].append({**data["torch"][0], "torch": "2.2.0"})
    assert catalog_error(data) == (
        "Overlapping torch rows: 'torch[0]' (2.1.2-2.3.1) and 'torch[2]' (2.2.0)"
    )


@pytest.mark.parametrize("spec", ["2.3.1-2.1.2", "latest", "2.1-", "", "2.1.x", None])
def test_bad_version_set(spec: Any) -> None:
    data = valid()
    data["torch"][0]["torch"] = spec
    assert catalog_error(data) == f"Invalid version set {spec!r} in 'torch[0].torch'"


def test_bad_variant() -> None:
    data = valid()
    data["torch"][0]["variants"] = ["cu118", "rocm6.2"]
    assert catalog_error(data) == "Invalid variant 'rocm6.2' in 'torch[0].variants[1]'"


def test_unverified_needs_verified_false() -> None:
    data = valid()
    data["torch"][0]["unverified"] = ["arch_list"]
    assert catalog_error(data) == "'torch[0].unverified' needs 'verified: false'"


def test_unverified_names_a_part_of_the_row() -> None:
    data = valid()
    data["toolkits"][2]["unverified"] = ["13.2.2"]
    assert catalog_error(data) == "Unknown part '13.2.2' in 'toolkits[2].unverified'"


def test_runtime_wheel_of_another_cuda() -> None:
    data = valid()
    data["cuda_runtime_versions"]["releases"][0]["cuda"] = "12.5.1"
    assert catalog_error(data) == (
        "'cuda_runtime_versions.releases[0]': wheel 12.4.127 is not a CUDA 12.5 runtime"
    )


def test_overlapping_image_facts() -> None:
    data = valid()
    data["cuda_images"]["cudnn_tags"].append(
        {"cuda": "12.3.*, 12.9.1", "word": "cudnn9", "source": "IMG"}
    )
    assert catalog_error(data) == (
        "Overlapping cuda_images.cudnn_tags rows: 'cuda_images.cudnn_tags[0]' (>=12.4.1) and "
        "'cuda_images.cudnn_tags[1]' (12.3.*, 12.9.1)"
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sources", {}, "CUDA catalog has no 'sources'"),
        ("toolkits", [], "CUDA catalog has no 'toolkits' rows"),
        ("architectures", None, "CUDA catalog has no 'architectures' rows"),
        ("torch", "2.5.1", "Invalid 'torch' in cuda.yaml: expected an array, got '2.5.1'"),
        ("cuda_images", [], "Invalid 'cuda_images' in cuda.yaml: expected a table, got []"),
        ("cuda_runtime_versions", None, "Missing 'cuda_runtime_versions' in cuda.yaml"),
    ],
)
def test_missing_sections(key: str, value: Any, message: str) -> None:
    data = valid()
    data[key] = value
    assert catalog_error(data) == message


def test_row_must_be_a_table() -> None:
    data = valid()
    data["architectures"][2] = "12.0"
    assert catalog_error(data) == (
        "Invalid 'architectures[2]' in cuda.yaml: expected a table, got '12.0'"
    )


def test_wrong_type_names_the_place() -> None:
    data = valid()
    data["torch"][1]["ptx"] = "yes"
    assert catalog_error(data) == (
        "Invalid 'torch[1].ptx' in cuda.yaml: expected true or false, got 'yes'"
    )
