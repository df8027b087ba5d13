"""The CUDA catalog: drivers, GPU architectures, torch builds and nvidia/cuda images.

Package data (envforge/data/cuda.yaml), validated when loaded by ``envforge.cuda.schema``;
``load_cuda_catalog`` reads the copy shipped in the package. This module answers the
questions the planner, the host rules and the README ask of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

from envforge.cuda.rows import (
    Architecture,
    CudaImage,
    CudnnTag,
    ImageRelease,
    IndexArchList,
    MinorCompat,
    RuntimeWheel,
    Toolkit,
    ToolkitDriver,
    TorchBuild,
    TorchRow,
    UbuntuVersions,
)
from envforge.cuda.versions import (
    arch_list_runs_on,
    cuda_for_variant,
    cuda_tuple,
    major_minor,
    minor_tuple,
    normalize_sm,
)


@dataclass(frozen=True, kw_only=True)
class CudaCatalog:
    toolkits: tuple[Toolkit, ...]
    minor_compat: tuple[MinorCompat, ...]
    architectures: tuple[Architecture, ...]
    torch: tuple[TorchRow, ...]
    index_arch_lists: tuple[IndexArchList, ...]
    runtime_wheels: tuple[RuntimeWheel, ...]
    cudnn_tags: tuple[CudnnTag, ...]
    ubuntu: tuple[UbuntuVersions, ...]
    image_releases: tuple[ImageRelease, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CudaCatalog:
        """The catalog of parsed cuda.yaml; CatalogError, with the location, when invalid."""
        from envforge.cuda.schema import catalog_from_dict  # the schema builds this class

        return catalog_from_dict(data)

    # drivers

    def cudas(self) -> list[str]:
        """Every CUDA minor release with a toolkit row, oldest first."""
        return sorted((t.cuda for t in self.toolkits), key=minor_tuple)

    def toolkit(self, cuda: str) -> Toolkit | None:
        """The row of CUDA ``cuda`` ("12.4" or "12.4.1")."""
        parts = cuda_tuple(cuda)
        if parts is None:
            return None
        return next((t for t in self.toolkits if minor_tuple(t.cuda) == parts[:2]), None)

    def toolkit_driver_info(self, cuda: str) -> ToolkitDriver | None:
        """The driver CUDA ``cuda`` needs for full support: the update's own when Table 3
        lists it, else that of the nearest earlier listed update, else the GA driver."""
        parts = cuda_tuple(cuda)
        row = self.toolkit(cuda)
        if parts is None or row is None:
            return None
        release, driver = row.cuda, row.driver
        patch = parts[2]
        if patch is not None:
            for key, value in sorted(row.updates.items(), key=lambda kv: int(kv[0].split(".")[2])):
                if int(key.split(".")[2]) <= patch:
                    release, driver = key, value
        verified = ("driver" if release == row.cuda else release) not in row.unverified
        return ToolkitDriver(
            cuda=cuda.strip(), release=release, driver=driver, verified=verified, source=row.source
        )

    def toolkit_driver(self, cuda: str) -> str | None:
        """'12.4' -> '550.54.14'; '12.4.1' -> '550.54.15'. See toolkit_driver_info."""
        info = self.toolkit_driver_info(cuda)
        return info.driver if info else None

    def minor_compat_floor(self, major: int) -> str | None:
        """The oldest driver that runs CUDA ``major``.x under minor-version compatibility."""
        return next((m.driver for m in self.minor_compat if m.major == major), None)

    # GPUs

    def architecture(self, sm: str) -> Architecture | None:
        """The row of compute capability ``sm`` ('9.0', 'sm_90')."""
        normal = normalize_sm(sm)
        return next((a for a in self.architectures if a.sm == normal), None)

    def cuda_supports_sm(self, cuda: str, sm: str) -> bool | None:
        """Whether CUDA ``cuda`` can build for and run on SM ``sm``; None when unknown
        (an SM or a CUDA the catalog does not know, or no bound that decides)."""
        parts = cuda_tuple(cuda)
        arch = self.architecture(sm)
        if parts is None or arch is None:
            return None
        version = parts[:2]
        if arch.removed_in is not None and version >= minor_tuple(arch.removed_in):
            return False
        if arch.first_cuda is not None and version < minor_tuple(arch.first_cuda):
            return False
        known = [minor_tuple(c) for c in self.cudas()]
        if not known or version > known[-1]:
            return None  # a future CUDA may drop it
        if arch.first_cuda is None and version < known[0]:
            return None
        return True

    # frameworks

    def torch_build(self, version: str, variant: str | None = None) -> TorchBuild | None:
        """The torch build ``version`` ("2.5.1", "2.5.1+cu124") of ``variant`` (None for the
        PyPI default, "cu124", "cpu"); None when the catalog has no row for it."""
        try:
            parsed = Version(version)
        except InvalidVersion:
            return None
        if parsed.local is not None:
            if variant is not None and variant != parsed.local:
                raise ValueError(f"torch {version} is a {parsed.local} build, not {variant}")
            variant = parsed.local
        public = parsed.public
        row = next((r for r in self.torch if r.torch.contains(public)), None)
        if row is None:
            return None
        default = TorchBuild(
            torch=public,
            variant=None,
            cuda=major_minor(row.cudart),
            cudart=row.cudart,
            cudnn=row.cudnn,
            arch_list=row.arch_list,
            ptx=row.ptx,
            verified=not (row.unverified & {"cudart", "cudnn", "arch_list"}),
            source=row.source,
        )
        if variant is None:
            return default
        # What the default build says of its runtime, cuDNN and SMs holds of no other build.
        other = replace(
            default,
            cuda=None,
            cudart=None,
            cudnn=None,
            arch_list=None,
            ptx=False,
        )
        if variant == "cpu":
            return replace(other, variant="cpu", arch_list=(), verified=True)
        cuda = cuda_for_variant(variant)
        if cuda is None or (row.variants is not None and variant not in row.variants):
            return None
        verified = "variants" not in row.unverified
        if cuda == default.cuda:  # the PyPI default is this very build
            build = replace(default, variant=variant, verified=verified and default.verified)
        else:
            build = replace(other, variant=variant, cuda=cuda, verified=verified)
        index = self._index_arch_list(public, variant)
        if index is None:
            return build
        if cuda == default.cuda:
            verified = verified and not (row.unverified & {"cudart", "cudnn"})
        return replace(
            build,
            arch_list=index.arch_list,
            ptx=index.ptx,
            verified=verified and index.verified,
        )

    def _index_arch_list(self, version: str, variant: str) -> IndexArchList | None:
        rows = [r for r in self.index_arch_lists if r.variant == variant]
        specific = [r for r in rows if r.torch is not None and r.torch.contains(version)]
        if specific:
            return specific[0]
        if not any(variant in (r.variants or ()) for r in self.torch if r.torch.contains(version)):
            return None
        return next((r for r in rows if r.torch is None), None)

    def first_torch_with_sm(self, sm: str) -> str | None:
        """The oldest torch release whose PyPI default build runs on ``sm`` (later releases
        may have dropped it again: check torch_build for the one you lock)."""
        if normalize_sm(sm) is None:
            return None
        for row in sorted(self.torch, key=lambda r: r.torch.lowest() or Version("0")):
            lowest = row.torch.lowest()
            arch_list = row.arch_list
            if lowest is not None and arch_list and arch_list_runs_on(arch_list, row.ptx, sm):
                return str(lowest)
        return None

    def cuda_for_runtime_wheel(self, version: str) -> str:
        """The CUDA of an nvidia-cuda-runtime wheel: '12.4.127' -> '12.4.1' when the catalog
        knows the update, else major.minor ('12.1.105' -> '12.1'). ValueError if invalid."""
        try:
            parsed = Version(version)
        except InvalidVersion:
            raise ValueError(f"Not an nvidia-cuda-runtime version: {version!r}") from None
        if len(parsed.release) < 2:
            raise ValueError(f"Not an nvidia-cuda-runtime version: {version!r}")
        for row in self.runtime_wheels:
            if Version(row.wheel) == Version(parsed.public):
                return row.cuda
        return f"{parsed.release[0]}.{parsed.release[1]}"

    # images

    def cuda_image(self, cuda: str) -> CudaImage | None:
        """What is known of the nvidia/cuda images of release ``cuda`` ("12.4.1"; "12.4"
        reads as 12.4.0); None when nothing is."""
        parts = cuda_tuple(cuda)
        if parts is None:
            return None
        release = f"{parts[0]}.{parts[1]}.{parts[2] or 0}"
        word = next((w for w in self.cudnn_tags if w.cuda.contains(release)), None)
        ubuntu = next((u for u in self.ubuntu if u.cuda.contains(release)), None)
        rel = next((r for r in self.image_releases if r.cuda == release), None)
        if word is None and ubuntu is None and rel is None:
            return None
        return CudaImage(
            cuda=release,
            cudnn=rel.cudnn if rel else None,
            cudnn_tag=word.word if word else None,
            ubuntu=ubuntu.versions if ubuntu else None,
        )


@cache
def load_cuda_catalog() -> CudaCatalog:
    """The catalog shipped in the package, read once per process."""
    from envforge import parsecache

    data = resources.files("envforge").joinpath("data/cuda.yaml").read_bytes()
    return CudaCatalog.from_dict(parsecache.parsed_yaml("cuda.yaml", data))
