"""The image labels envforge writes and reads back: every key, and the one format.

The planner writes them into the Dockerfile (`ImageLabels.to_labels`); verify, records,
doctor and the run gate read them from an image (`ImageLabels.from_labels`). One
module, so that a key spelled twice cannot drift apart and silently turn a check off.

Reading is tolerant of missing keys (an image from an older envforge, or not from
envforge at all: each field is then None) and strict where a wrong value would mislead
a check: a CUDA version or an arch list that is not one raises LabelError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from envforge.errors import LabelError

OCI = "org.opencontainers.image"
ENVFORGE = "dev.envforge"

TITLE = f"{OCI}.title"
VERSION = f"{OCI}.version"
DESCRIPTION = f"{OCI}.description"
SOURCE = f"{OCI}.source"
BASE_NAME = f"{OCI}.base.name"
BASE_DIGEST = f"{OCI}.base.digest"
# Written by the Dockerfile from a build argument (the commit is known only at build time).
REVISION = f"{OCI}.revision"

ENVFORGE_VERSION = f"{ENVFORGE}.version"
LOCK_HASH = f"{ENVFORGE}.lock-hash"
PYTHON = f"{ENVFORGE}.python"
EXTRAS = f"{ENVFORGE}.extras"
GROUPS = f"{ENVFORGE}.groups"
CUDA = f"{ENVFORGE}.cuda"
CUDNN = f"{ENVFORGE}.cudnn"
ARCH_LIST = f"{ENVFORGE}.arch-list"

PTX_SUFFIX = "+PTX"  # "8.0,9.0+PTX": PTX for the newest SM is shipped too
_LIST_SEP = ","
_CUDA_RE = re.compile(r"\d+(?:\.\d+){0,2}\Z")
_SM_RE = re.compile(r"\d+\.\d+\Z")


@dataclass(frozen=True, kw_only=True)
class ImageLabels:
    """An image's labels as values; None: the label is absent (not written, not found)."""

    title: str | None = None
    version: str | None = None
    description: str | None = None
    source: str | None = None
    base_name: str | None = None
    base_digest: str | None = None
    revision: str | None = None
    envforge_version: str | None = None
    lock_hash: str | None = None
    python: str | None = None  # "3.11": the minor the image was planned for
    extras: tuple[str, ...] | None = None  # (): the label is there, and no extra was chosen
    groups: tuple[str, ...] | None = None
    cuda: str | None = None  # "13.2", "12.9.1"
    cudnn: str | None = None
    arch_list: tuple[str, ...] | None = None  # SMs with native kernels: ("8.0", "9.0")
    ptx: bool = False  # written only with an arch list, as its "+PTX" suffix

    def to_labels(self) -> dict[str, str]:
        """The labels, in the order the Dockerfile writes them; absent fields are left out."""
        written = {
            TITLE: self.title,
            VERSION: self.version,
            DESCRIPTION: self.description,
            SOURCE: self.source,
            BASE_NAME: self.base_name,
            BASE_DIGEST: self.base_digest,
            ENVFORGE_VERSION: self.envforge_version,
            LOCK_HASH: self.lock_hash,
            PYTHON: self.python,
            EXTRAS: _join(self.extras),
            GROUPS: _join(self.groups),
            CUDA: self.cuda,
            CUDNN: self.cudnn,
            ARCH_LIST: arch_list_label(self.arch_list, self.ptx),
            REVISION: self.revision,
        }
        return {key: value for key, value in written.items() if value is not None}

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> ImageLabels:
        """The values of an image's labels (any other label is ignored)."""
        cuda = labels.get(CUDA)
        if cuda is not None:
            cuda = cuda.strip(" ")  # an edited label's stray spaces
        if cuda and not _CUDA_RE.match(cuda):
            raise LabelError(CUDA, cuda, "a CUDA version such as 12.8")
        arch_list, ptx = _split_arch_list(labels.get(ARCH_LIST))
        return cls(
            title=labels.get(TITLE),
            version=labels.get(VERSION),
            description=labels.get(DESCRIPTION),
            source=labels.get(SOURCE),
            base_name=labels.get(BASE_NAME),
            base_digest=labels.get(BASE_DIGEST),
            revision=labels.get(REVISION),
            envforge_version=labels.get(ENVFORGE_VERSION),
            lock_hash=labels.get(LOCK_HASH),
            python=labels.get(PYTHON),
            extras=_split(labels.get(EXTRAS)),
            groups=_split(labels.get(GROUPS)),
            cuda=cuda,
            cudnn=labels.get(CUDNN),
            arch_list=arch_list,
            ptx=ptx,
        )


def arch_list_label(arch_list: tuple[str, ...] | None, ptx: bool) -> str | None:
    """'7.5,8.0,9.0+PTX'; None when the arch list is unknown."""
    if arch_list is None:
        return None
    return _LIST_SEP.join(arch_list) + (PTX_SUFFIX if ptx else "")


def _split_arch_list(value: str | None) -> tuple[tuple[str, ...] | None, bool]:
    if value is None:
        return None, False
    text = value.replace(" ", "")  # spaces around items (an edited label) do not matter
    body = text.removesuffix(PTX_SUFFIX)
    sms = tuple(body.split(_LIST_SEP)) if body else ()
    if not all(_SM_RE.match(sm) for sm in sms):
        raise LabelError(
            ARCH_LIST, value, f"SMs joined with '{_LIST_SEP}', such as 8.0,9.0{PTX_SUFFIX}"
        )
    return sms, body != text


def _join(names: tuple[str, ...] | None) -> str | None:
    return None if names is None else _LIST_SEP.join(names)


def _split(value: str | None) -> tuple[str, ...] | None:
    # Tolerant of spaces and empty items: an edited label still names the same extras.
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(_LIST_SEP) if part.strip())
