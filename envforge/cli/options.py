"""The options several commands share, declared once, and their check into BuildOptions.

Typer reads the `Annotated` aliases from each command's signature; a command lists the
ones it takes. Domain modules are imported inside `build_options`: `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from envforge.engine.builder import BuilderChoice
    from envforge.engine.network import BuildNetwork
    from envforge.image.plan import BuildOptions

PathArg = Annotated[
    Path, typer.Argument(help="The project folder (with pyproject.toml and uv.lock).")
]
PythonOpt = Annotated[
    str | None, typer.Option("--python", help="Python major.minor for the image.")
]
BaseOpt = Annotated[
    str | None,
    typer.Option(
        "--base-image",
        envvar="ENVFORGE_BASE_IMAGE",
        help="Use this base image (a local name, or a private registry's) instead of the catalog's.",
    ),
]
MirrorOpt = Annotated[
    str | None,
    typer.Option(
        "--registry-mirror",
        envvar="ENVFORGE_REGISTRY_MIRROR",
        help="Pull catalog images through this registry (host[/prefix]), keeping their digests.",
    ),
]
UvImageOpt = Annotated[
    str | None,
    typer.Option("--uv-image", envvar="ENVFORGE_UV_IMAGE", help="Take uv from this image instead."),
]
UvSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--uv-source",
        envvar="ENVFORGE_UV_SOURCE",
        help="Where the builder gets uv: 'image' (ghcr.io/astral-sh/uv) or 'pip' (PyPI).",
    ),
]
ExtraOpt = Annotated[
    list[str] | None, typer.Option("--extra", help="Include this extra (repeatable).")
]
AllExtrasOpt = Annotated[bool, typer.Option("--all-extras", help="Include every extra.")]
GroupOpt = Annotated[
    list[str] | None, typer.Option("--group", help="Include this dependency group (repeatable).")
]
CaOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        envvar="ENVFORGE_CA_BUNDLE",
        help="PEM bundle to trust in the builder stages (TLS-intercepting proxies); never in the image.",
    ),
]
CpuOpt = Annotated[
    bool, typer.Option("--cpu", help="A CPU image: the CPU variant of the lock, no GPU setup.")
]
CudaOpt = Annotated[
    str | None,
    typer.Option("--cuda", help="Take CUDA X.Y from an nvidia/cuda base (a system CUDA)."),
]
PythonSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--python-source", help="The image's Python: 'base' (the base image's) or 'uv' (managed)."
    ),
]
PackageOpt = Annotated[
    str | None,
    typer.Option("--package", help="Build this member of the uv workspace whose root is PATH."),
]
BuilderOpt = Annotated[
    str,
    typer.Option(
        "--builder",
        envvar="ENVFORGE_BUILDER",
        help="'auto' (the default): BuildKit through the Engine API where the engine has it "
        "(Docker 20.10+), else the classic builder; 'buildkit' or 'classic' to choose. It "
        "decides the Dockerfile's syntax too (BuildKit's RUN --mount, or the classic one).",
    ),
]


NetworkOpt = Annotated[
    str,
    typer.Option(
        "--network",
        envvar="ENVFORGE_BUILD_NETWORK",
        help="The network the build's RUN steps share: 'bridge' (the default: the engine's, "
        "each RUN in a network namespace of its own) or 'host' (the network of the engine's "
        "host, its loopback and raw sockets included: each RUN starts ~0.15 s sooner; for "
        "your own projects on your own machine). The image is the same either way.",
    ),
]


def network_choice(value: str) -> BuildNetwork:
    """--network checked: host or bridge."""
    from envforge import validate
    from envforge.engine.network import BUILD_NETWORKS

    return validate.one_of(
        value, BUILD_NETWORKS, "build network", "--network / ENVFORGE_BUILD_NETWORK"
    )


def builder_choice(value: str) -> BuilderChoice:
    """--builder checked: auto, buildkit or classic."""
    from envforge import validate
    from envforge.engine.builder import BUILDER_CHOICES

    return validate.one_of(value, BUILDER_CHOICES, "builder", "--builder / ENVFORGE_BUILDER")


def build_options(
    *,
    python: str | None = None,
    base_image: str | None = None,
    registry_mirror: str | None = None,
    uv_image: str | None = None,
    uv_source: str | None = None,
    extra: list[str] | None = None,
    all_extras: bool = False,
    group: list[str] | None = None,
    ca_bundle: Path | None = None,
    cpu: bool = False,
    cuda: str | None = None,
    python_source: str | None = None,
    package: str | None = None,
    host_gpu: bool | None = None,
    builder: str = "auto",
) -> BuildOptions:
    """The flags, each checked as pyproject.toml's [tool.envforge] is (in this order, so
    that the first bad flag is the one reported); an empty value counts as not given."""
    from envforge import validate
    from envforge.errors import InputError
    from envforge.image.plan import BuildOptions
    from envforge.project.settings import PYTHON_SOURCES, UV_SOURCES

    if cpu and cuda:
        raise InputError(
            "--cpu and --cuda exclude each other", hint="Give --cpu for a CPU image, or --cuda X.Y."
        )
    if cuda is not None:
        validate.cuda_version(cuda, "--cuda")
    python_from = None
    if python_source is not None:
        python_from = validate.one_of(
            python_source, PYTHON_SOURCES, "Python source", "--python-source"
        )
    uv_from = None
    if uv_source is not None:
        uv_from = validate.one_of(
            uv_source, UV_SOURCES, "uv source", "--uv-source / ENVFORGE_UV_SOURCE"
        )
    if python is not None:
        validate.python_minor(python, "--python")
    if base_image:
        validate.image_ref(base_image, "--base-image / ENVFORGE_BASE_IMAGE")
    if uv_image:
        validate.image_ref(uv_image, "--uv-image / ENVFORGE_UV_IMAGE")
    mirror = None
    if registry_mirror:
        mirror = validate.registry_mirror(
            registry_mirror, "--registry-mirror / ENVFORGE_REGISTRY_MIRROR"
        )
    for name in extra or ():
        validate.extra_or_group_name(name, "--extra")
    for name in group or ():
        validate.extra_or_group_name(name, "--group")
    if ca_bundle is not None:
        read_ca(ca_bundle)
    return BuildOptions(
        python=python,
        base_image=base_image or None,
        registry_mirror=mirror,
        uv_image=uv_image or None,
        uv_source=uv_from,
        extras=tuple(extra or ()),
        all_extras=all_extras,
        groups=tuple(group or ()),
        ca_bundle=ca_bundle is not None,
        cpu=cpu,
        cuda=cuda,
        python_source=python_from,
        package=package or None,
        host_gpu=host_gpu,
        # The Dockerfile's syntax: without an engine to ask, auto writes BuildKit's, which
        # Docker 23+ builds by default; `envforge build` decides again from its engine.
        builder="classic" if builder_choice(builder) == "classic" else "buildkit",
    )


def read_ca(path: Path) -> str:
    """The --ca-bundle file's text, when it is a readable PEM file."""
    from envforge import safeio
    from envforge.errors import InputError

    try:
        text = safeio.read_text(path)  # a regular file only: a FIFO would hang the read
    except InputError as exc:
        raise InputError(
            f"Cannot read the CA bundle '{path}' ({exc.message})",
            hint="Pass a readable PEM file with --ca-bundle or ENVFORGE_CA_BUNDLE.",
        ) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise InputError(
            f"'{path}' holds no PEM certificate",
            hint="Pass a PEM file (-----BEGIN CERTIFICATE-----).",
        )
    return text
