"""The rows of the CUDA catalog (envforge/data/cuda.yaml), and what its queries answer.

Frozen records; ``envforge.cuda.schema`` builds them from the YAML, ``envforge.cuda.catalog``
queries them. Every row names its source; ``verified``/``unverified`` carry the reference's
"(unverified)" marks, so a finding built on a row can say so too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from envforge.cuda.versions import VersionSet

Family = Literal[
    "Kepler", "Maxwell", "Pascal", "Volta", "Turing", "Ampere", "Ada", "Hopper", "Blackwell"
]
FAMILIES: tuple[Family, ...] = get_args(Family)
CudnnTagWord = Literal["cudnn8", "cudnn9", "cudnn"]
CUDNN_TAG_WORDS: tuple[CudnnTagWord, ...] = get_args(CudnnTagWord)
ImageKind = Literal["base", "runtime", "devel", "cudnn-runtime", "cudnn-devel"]
IMAGE_KINDS: tuple[ImageKind, ...] = get_args(ImageKind)

UBUNTU_RE = re.compile(r"^\d{2}\.\d{2}\Z")


@dataclass(frozen=True, kw_only=True)
class Toolkit:
    """The driver a CUDA minor release needs: its GA release's, and each update's."""

    cuda: str
    driver: str
    updates: Mapping[str, str]
    source: str
    unverified: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class ToolkitDriver:
    """The driver CUDA ``cuda`` needs for full support, and whose requirement it is."""

    cuda: str
    release: str  # "12.4" (the GA release) or the update it belongs to, "12.4.1"
    driver: str
    verified: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class MinorCompat:
    major: int
    driver: str
    source: str


@dataclass(frozen=True, kw_only=True)
class Architecture:
    sm: str
    family: Family
    examples: tuple[str, ...]
    first_cuda: str | None
    removed_in: str | None
    source: str


@dataclass(frozen=True, kw_only=True)
class TorchRow:
    torch: VersionSet
    variants: tuple[str, ...] | None
    cudart: str
    cudnn: str | None
    arch_list: tuple[str, ...] | None
    ptx: bool
    source: str
    unverified: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class IndexArchList:
    torch: VersionSet | None
    variant: str
    arch_list: tuple[str, ...]
    ptx: bool
    source: str
    verified: bool = True


@dataclass(frozen=True, kw_only=True)
class TorchBuild:
    """One torch wheel: the PyPI default build (variant None), or +cuNNN / +cpu from the
    PyTorch index. None in a field means the catalog does not know it."""

    torch: str
    variant: str | None
    cuda: str | None
    cudart: str | None
    cudnn: str | None
    arch_list: tuple[str, ...] | None
    ptx: bool
    verified: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class RuntimeWheel:
    wheel: str
    cuda: str
    source: str


@dataclass(frozen=True, kw_only=True)
class CudnnTag:
    """The word that stands for cuDNN in the nvidia/cuda tags of the releases ``cuda``."""

    cuda: VersionSet
    word: CudnnTagWord
    source: str


@dataclass(frozen=True, kw_only=True)
class UbuntuVersions:
    cuda: VersionSet
    versions: tuple[str, ...]
    source: str


@dataclass(frozen=True, kw_only=True)
class ImageRelease:
    cuda: str
    cudnn: str | None
    source: str


@dataclass(frozen=True, kw_only=True)
class CudaImage:
    """What the catalog knows of the nvidia/cuda images of one CUDA release."""

    cuda: str
    cudnn: str | None
    cudnn_tag: CudnnTagWord | None
    ubuntu: tuple[str, ...] | None

    def tag(self, kind: ImageKind, ubuntu: str) -> str:
        """'12.4.1-cudnn-runtime-ubuntu22.04'."""
        if kind not in IMAGE_KINDS:
            raise ValueError(f"Unknown nvidia/cuda image kind {kind!r}")
        if not UBUNTU_RE.match(ubuntu):
            raise ValueError(f"Not an Ubuntu version: {ubuntu!r}")
        word: str = kind
        if kind.startswith("cudnn"):
            if self.cudnn_tag is None:
                raise ValueError(f"The cuDNN tag word of CUDA {self.cuda} images is unknown")
            word = self.cudnn_tag + kind[len("cudnn") :]
        return f"{self.cuda}-{word}-ubuntu{ubuntu}"
