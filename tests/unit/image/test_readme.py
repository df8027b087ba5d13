"""`envforge readme`: golden sections, byte-exact updates of README.md, --create and --check.

Regenerate the golden sections with ENVFORGE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envforge.cli import app
from envforge.cuda.catalog import load_cuda_catalog
from envforge.errors import InputError
from envforge.image.plan import BuildOptions, Plan
from envforge.image.readme import END, NOTE, START, build_flags, render_section, update_readme
from tests.conftest import EXAMPLES, REPO
from tests.unit.helpers import plan_for

GOLDEN = REPO / "tests/golden"
ONNX_GPU = REPO / "tests/fixtures/projects/onnx-gpu"
# What the CLI plans with: the section never depends on this host's GPU.
NO_HOST = BuildOptions(host_gpu=False)

CASES = {
    "cpu-sklearn": EXAMPLES / "cpu-sklearn",  # CPU
    "gpu-torch": EXAMPLES / "gpu-torch",  # CUDA from the lock's wheels
    "onnx-gpu": ONNX_GPU,  # a system CUDA from an nvidia/cuda base
}

runner = CliRunner()


def section_for(root: Path, options: BuildOptions = NO_HOST) -> str:
    return render_section(plan_for(root, options), load_cuda_catalog())


def invoke(*args: str):
    return runner.invoke(app, ["readme", *args])


# --- the section ----------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_section(case: str) -> None:
    text = section_for(CASES[case])
    path = GOLDEN / f"readme-{case}.md"
    if os.environ.get("ENVFORGE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} changed; ENVFORGE_UPDATE_GOLDEN=1 rewrites it"


@pytest.mark.parametrize("case", sorted(CASES))
def test_section_is_framed_by_the_markers_and_says_how_to_edit(case: str) -> None:
    lines = section_for(CASES[case]).splitlines()
    assert lines[:2] == [START, NOTE]
    assert lines[-1] == END
    assert sum(line in (START, END) for line in lines) == 2


def test_section_holds_no_envforge_version_date_or_host_fact() -> None:
    plan = plan_for(EXAMPLES / "gpu-torch", NO_HOST)
    other = replace(
        plan,
        labels={**plan.labels, "dev.envforge.version": "99.0.0"},
        base_ref="mirror.example:5000/python:3.11-slim-trixie@" + (plan.base_digest or ""),
    )
    catalog = load_cuda_catalog()
    assert render_section(plan, catalog) == render_section(other, catalog)
    assert render_section(plan, catalog) == section_for(EXAMPLES / "gpu-torch")


def test_cpu_section_needs_no_gpu() -> None:
    text = section_for(EXAMPLES / "cpu-sklearn")
    assert "- **GPU**: none needed: a CPU image" in text
    for gpu_word in ("driver >=", "CUDA", "cuDNN", "--gpus", "Container Toolkit"):
        assert gpu_word not in text
    assert "envforge run .\n" in text
    assert "docker run --rm cpu-sklearn:0.1.0\n" in text


def test_a_library_image_says_it_starts_python_and_how_to_run_something(
    example_copy,
) -> None:
    root = example_copy("cpu-sklearn")
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('cpu-sklearn = "', 'sk-a = "'))
    (root / "src" / "cpu_sklearn" / "__main__.py").unlink()
    with_script = section_for(root)
    assert "The image's command is `python`" not in with_script  # its one script runs
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace("[project.scripts]\nsk-a", "[x]\nsk-a"))
    plan = plan_for(root, NO_HOST)
    assert plan.entrypoint == ("python",)
    section = render_section(plan, load_cuda_catalog())
    assert "The image's command is `python`: the project has no console script" in section
    assert "envforge run . -- -m <module>\n" in section
    # a package: its modules are installed, this folder's scripts are not in the image
    assert 'docker run --rm -v "$PWD":/work -w /work cpu-sklearn:0.1.0 <script.py>\n' in section
    assert section.endswith(END + "\n")


def test_a_script_project_with_nothing_to_run_runs_its_scripts_from_app(
    example_copy,
) -> None:
    root = example_copy("cpu-sklearn")
    text = (root / "pyproject.toml").read_text()
    text = text.replace("[project.scripts]", "[x]").replace("[build-system]", "[y]")
    (root / "pyproject.toml").write_text(text)
    section = section_for(root)
    assert "its source is in /app" in section
    assert "docker run --rm cpu-sklearn:0.1.0 <script.py>\n" in section


def test_gpu_section_from_wheels() -> None:
    text = section_for(EXAMPLES / "gpu-torch")
    assert "- **CUDA**: 13.2, from the lock's nvidia-* wheels" in text
    assert "- **cuDNN**: 9.26.0, from the lock's wheels" in text
    assert (
        "- **NVIDIA driver**: >= 595.45.04 for full CUDA 13.2 support; >= 580 runs it under "
        "minor-version compatibility (features that need a newer driver are unavailable)"
    ) in text
    # torch 2.15.0's arch list, read from the wheel: the families it runs on, no PTX line.
    assert (
        "- **GPUs**: built for compute capability 7.5, 8.0, 8.6, 9.0, 10.0, 12.0, so it runs on:"
        in text
    )
    assert "  - Hopper (9.0): H100, H200\n" in text
    assert "PTX" not in text
    assert "`python:3.11-slim-trixie@sha256:3c1dfceb" in text
    assert "envforge build .\nenvforge run . --gpus all\n" in text
    assert (
        "docker build -t gpu-torch:0.1.0 --build-arg ENVFORGE_REVISION=$(git rev-parse HEAD) .\n"
        "docker buildx build --load -t gpu-torch:0.1.0 "
        "--build-arg ENVFORGE_REVISION=$(git rev-parse HEAD) .\n"
        "docker run --rm --gpus all gpu-torch:0.1.0\n"
    ) in text
    assert "envforge dockerize ." in text
    assert "NVIDIA Container Toolkit" in text


def test_system_cuda_section_names_the_nvidia_cuda_base() -> None:
    text = section_for(ONNX_GPU)
    assert "- **CUDA**: 12.9.1, from the nvidia/cuda base image (onnxruntime-gpu 1.31.1" in text
    assert "- **cuDNN**: 9.10.2, from the nvidia/cuda base image" in text
    assert "`nvidia/cuda:12.9.1-cudnn-runtime-ubuntu24.04`, not pinned by digest" in text
    assert ">= 575.57.08 for full CUDA 12.9.1 support; >= 525.60.13 runs it" in text
    assert "uv's managed Python" in text


def _with_archs(plan: Plan, archs: tuple[str, ...], ptx: bool) -> Plan:
    needs = replace(plan.gpu.needs, arch_list=archs, ptx=ptx)
    return replace(plan, gpu=replace(plan.gpu, needs=needs))


def test_known_arch_list_lists_families_with_example_gpus() -> None:
    plan = _with_archs(
        plan_for(EXAMPLES / "gpu-torch", NO_HOST),
        ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0"),
        True,
    )
    text = render_section(plan, load_cuda_catalog())
    assert (
        "- **GPUs**: built for compute capability 7.5, 8.0, 8.6, 9.0, 10.0, 12.0 +PTX, so it runs on:\n"
        "  - Turing (7.5): T4, RTX 20xx\n"
        "  - Ampere (8.0, 8.6): A100, RTX 30xx, A10, A40\n"
        "  - Ada (8.9): L4, L40, RTX 40xx\n"
        "  - Hopper (9.0): H100, H200\n"
        "  - Blackwell (10.0, 10.3, 12.0, 12.1): B200, B300, RTX 50xx, GB10\n"
        "  - +PTX: newer GPUs through JIT\n"
    ) in text
    assert "Volta" not in text and "Maxwell" not in text


def test_gpus_reached_only_through_ptx_say_so() -> None:
    plan = _with_archs(plan_for(EXAMPLES / "gpu-torch", NO_HOST), ("8.0", "9.0"), True)
    text = render_section(plan, load_cuda_catalog())
    assert "  - Ampere (8.0, 8.6): A100, RTX 30xx, A10, A40\n" in text
    assert "  - Blackwell (10.0 through PTX, 10.3 through PTX" in text
    assert "Turing" not in text


def test_arch_list_without_ptx_has_no_jit_line() -> None:
    plan = _with_archs(plan_for(EXAMPLES / "gpu-torch", NO_HOST), ("8.0", "9.0"), False)
    text = render_section(plan, load_cuda_catalog())
    assert "PTX" not in text
    assert "Blackwell" not in text


@pytest.mark.parametrize(
    ("root", "options", "flags"),
    [
        (EXAMPLES / "cpu-sklearn", NO_HOST, []),
        (EXAMPLES / "gpu-torch", NO_HOST, []),
        (ONNX_GPU, NO_HOST, []),
        (EXAMPLES / "gpu-torch", BuildOptions(cpu=True), ["--cpu"]),
        (EXAMPLES / "gpu-torch", BuildOptions(cuda="12.4"), ["--cuda 12.4.1"]),
        (EXAMPLES / "cpu-sklearn", BuildOptions(python="3.12"), ["--python 3.12"]),
        (EXAMPLES / "cpu-sklearn", BuildOptions(groups=("dev",)), ["--group dev"]),
        (
            EXAMPLES / "cpu-sklearn",
            BuildOptions(base_image="registry.corp/python:3.11-slim"),
            ["--base-image registry.corp/python:3.11-slim"],
        ),
    ],
)
def test_commands_carry_the_flags_that_made_the_plan(
    root: Path, options: BuildOptions, flags: list[str]
) -> None:
    plan = plan_for(root, options)
    catalog = load_cuda_catalog()
    assert build_flags(plan, catalog) == flags
    text = render_section(plan, catalog)
    assert f"envforge build .{''.join(' ' + f for f in flags)}\n" in text


# --- update_readme: every byte outside the markers stays --------------------------------

SECTION = f"{START}\n{NOTE}\n## Requirements\n\nnew\n{END}\n"


@pytest.mark.parametrize("nl", ["\n", "\r\n"])
def test_update_replaces_only_the_section(nl: str) -> None:
    prefix = f"# Title{nl}{nl}Intro  with trailing spaces  {nl}{nl}"
    suffix = f"{nl}{nl}## After{nl}tail without newline"
    old = f"{START}{nl}old line{nl}{END}"
    text = update_readme(prefix + old + suffix, SECTION)
    assert text.startswith(prefix)
    assert text.endswith(suffix)
    assert text == prefix + SECTION.removesuffix("\n").replace("\n", nl) + suffix
    assert update_readme(text, SECTION) == text


def test_update_takes_crlf_line_endings_from_a_crlf_file() -> None:
    text = update_readme("# T\r\n\r\nbody\r\n", SECTION)
    assert text.startswith("# T\r\n\r\nbody\r\n\r\n")
    assert "\n" not in text.replace("\r\n", "")


@pytest.mark.parametrize(
    ("original", "joined"),
    [
        ("# T\n\nbody\n", "# T\n\nbody\n\n"),  # one blank line before the section
        ("# T\n\nbody", "# T\n\nbody\n\n"),  # no final newline: exactly one added
        ("# T\n\nbody\n\n", "# T\n\nbody\n\n"),  # a blank line there already
        ("# T\r\n\r\nbody", "# T\r\n\r\nbody\r\n\r\n"),
    ],
)
def test_update_appends_when_there_are_no_markers(original: str, joined: str) -> None:
    text = update_readme(original, SECTION)
    assert text.startswith(original)  # every original byte is still a prefix
    nl = "\r\n" if "\r\n" in original else "\n"
    assert text == joined + SECTION.replace("\n", nl)
    assert update_readme(text, SECTION) == text


def test_update_of_nothing_or_an_empty_file_is_the_section() -> None:
    assert update_readme(None, SECTION) == SECTION
    assert update_readme("", SECTION) == SECTION


def test_markers_inside_a_code_block_or_a_sentence_are_not_markers() -> None:
    original = (
        "# T\n\nThe section goes between\n\n```markdown\n"
        f"{START}\n{END}\n```\n\nand `{START}` in prose.\n"
        f"    {START}\n"  # an indented code block
    )
    text = update_readme(original, SECTION)
    assert text == original + "\n" + SECTION


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"a\n{START}\nb\n{START}\nc\n{END}\n",
            f"README.md has 2 '{START}' markers, on lines 2 and 4",
        ),
        (
            f"a\n{START}\n{END}\nb\n{END}\n",
            f"README.md has 2 '{END}' markers, on lines 3 and 5",
        ),
        (f"{END}\na\n{START}\n", f"README.md has '{END}' on line 1, before '{START}' on line 3"),
        (f"a\n{START}\nb\n", f"README.md has '{START}' on line 2 but no '{END}' after it"),
        (f"a\n\n{END}\n", f"README.md has '{END}' on line 3 but no '{START}' before it"),
    ],
)
def test_markers_that_do_not_pair_are_an_input_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        update_readme(text, SECTION)
    assert raised.value.message == message
    assert raised.value.exit_code == 2
    assert raised.value.hint and "remove both" in raised.value.hint


# --- the command ----------------------------------------------------------------------


@pytest.fixture
def cpu(example_copy) -> Path:
    return example_copy("cpu-sklearn")


def test_every_example_readme_is_up_to_date() -> None:
    examples = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    assert examples
    for example in examples:
        result = invoke(str(example), "--check")
        assert result.exit_code == 0, f"{example.name}: {result.output}"
        assert result.stdout == f"up to date {example / 'README.md'}\n"


def test_example_readmes_hold_the_golden_sections() -> None:
    for name in ("cpu-sklearn", "gpu-torch"):
        text = (EXAMPLES / name / "README.md").read_text()
        assert (GOLDEN / f"readme-{name}.md").read_text() in text


def test_run_updates_then_is_unchanged_and_keeps_other_bytes(cpu: Path) -> None:
    readme = cpu / "README.md"
    original = b"# cpu-sklearn\r\n\r\nMine, \xc3\xa9t\xc3\xa9.\r\n"
    readme.write_bytes(original)
    first = invoke(str(cpu))
    assert first.exit_code == 0, first.output
    assert first.stdout == f"updated   {readme}\n"
    written = readme.read_bytes()
    assert written.startswith(original + b"\r\n" + START.encode() + b"\r\n")
    assert written.endswith(END.encode() + b"\r\n")

    second = invoke(str(cpu))
    assert second.exit_code == 0, second.output
    assert second.stdout == f"unchanged {readme}\n"
    assert readme.read_bytes() == written


def test_run_replaces_a_stale_section_in_place(cpu: Path) -> None:
    readme = cpu / "README.md"
    readme.write_text(f"# T\n\n{START}\nold\n{END}\n\n## Licence\n\nMIT\n")
    result = invoke(str(cpu))
    assert result.exit_code == 0, result.output
    text = readme.read_text()
    assert text.startswith("# T\n\n" + START + "\n" + NOTE + "\n")
    assert text.endswith(f"{END}\n\n## Licence\n\nMIT\n")
    assert "\nold\n" not in text


def test_missing_readme_is_an_input_error_without_create(cpu: Path) -> None:
    (cpu / "README.md").unlink()
    result = invoke(str(cpu))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: No README.md in '{cpu}'",
        f"hint: Create one with the requirements section: envforge readme {cpu} --create",
    ]
    assert not (cpu / "README.md").exists()


def test_create_writes_a_readme_with_title_and_section(cpu: Path) -> None:
    readme = cpu / "README.md"
    readme.unlink()
    result = invoke(str(cpu), "--create")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"created   {readme}\n"
    section = section_for(EXAMPLES / "cpu-sklearn")
    assert readme.read_text() == (
        "# cpu-sklearn\n\n"
        "A small seeded experiment: logistic regression on synthetic data.\n\n" + section
    )
    again = invoke(str(cpu), "--create")
    assert again.stdout == f"unchanged {readme}\n"


def test_malformed_markers_write_nothing(cpu: Path) -> None:
    readme = cpu / "README.md"
    original = f"# T\n{START}\n{START}\n{END}\n".encode()
    readme.write_bytes(original)
    result = invoke(str(cpu))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"error: {readme} has 2 '{START}' markers, on lines 2 and 3"
    )
    assert readme.read_bytes() == original


def test_check_on_a_stale_section_exits_1_with_a_diff(cpu: Path) -> None:
    readme = cpu / "README.md"
    assert invoke(str(cpu)).exit_code == 0
    fresh = readme.read_text()
    stale = fresh.replace("- **Python**: 3.11,", "- **Python**: 3.10,")
    assert stale != fresh
    readme.write_text(stale)

    result = invoke(str(cpu), "--check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"--- {readme}", f"+++ {readme}"]
    assert "-- **Python**: 3.10, from the base image" in lines
    assert "+- **Python**: 3.11, from the base image" in lines
    assert f"run `envforge readme {cpu}`" in result.stderr
    assert readme.read_text() == stale  # --check never writes

    assert invoke(str(cpu)).stdout == f"updated   {readme}\n"
    assert invoke(str(cpu), "--check").exit_code == 0


def test_check_of_a_readme_without_the_section_is_stale(cpu: Path) -> None:
    readme = cpu / "README.md"
    readme.write_text("# T\n\nno final newline")
    result = invoke(str(cpu), "--check")
    assert result.exit_code == 1
    assert "\\ No newline at end of file" in result.stdout
    assert f"+{START}" in result.stdout.splitlines()


def test_readme_that_is_not_utf8_is_an_input_error(cpu: Path) -> None:
    (cpu / "README.md").write_bytes(b"# caf\xe9\n")
    result = invoke(str(cpu))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: '{cpu / 'README.md'}' is not UTF-8 text")


def test_a_named_base_without_digest_is_said_to_be_unpinned() -> None:
    options = BuildOptions(base_image="registry.corp/python:3.11-slim")
    text = section_for(EXAMPLES / "cpu-sklearn", options)
    assert (
        "- **Base image**: `registry.corp/python:3.11-slim`, not pinned by digest (pin one with "
        "`--base-image registry.corp/python:3.11-slim@sha256:<digest>`)"
    ) in text


def test_a_created_readme_keeps_the_description_on_one_escaped_line() -> None:
    from dataclasses import replace

    from envforge.image.readme import _title

    plan = plan_for(EXAMPLES / "cpu-sklearn", NO_HOST)
    hostile = "```\n<!-- envforge:requirements:end -->\n# x \x1b[31m"
    title = _title(replace(plan, project=replace(plan.project, description=hostile)))
    assert (
        title == "# cpu-sklearn\n\n\\`\\`\\` \\<!-- envforge:requirements:end --\\> \\# x \\[31m\n"
    )


def test_the_shell_commands_quote_the_tag() -> None:
    from dataclasses import replace

    catalog = load_cuda_catalog()
    plan = plan_for(EXAMPLES / "cpu-sklearn", NO_HOST)
    text = render_section(replace(plan, default_tag="cpu-sklearn:1.0;id"), catalog)
    assert "docker run --rm 'cpu-sklearn:1.0;id'\n" in text


# --- build without envforge -------------------------------------------------------------


def test_the_section_says_how_docker_alone_builds_it() -> None:
    text = section_for(EXAMPLES / "cpu-sklearn")
    block = text[text.index("### Build without envforge") :]
    assert "`DOCKER_BUILDKIT=1`" in block and "`docker buildx build`" in block
    assert "docker buildx build --load -t cpu-sklearn:0.1.0 --build-arg ENVFORGE_REVISION=" in block
    # The CA bundle's place in the context, as the Dockerfile's CA stage copies it.
    assert "mkdir -p .envforge && cp FILE .envforge/ca-bundle.crt" in block
    assert "ENVFORGE_VERSION" not in block  # its version is static


def test_a_git_versioned_wheel_names_its_version_argument() -> None:
    plan = plan_for(REPO / "tests/fixtures/projects/vcs-version", NO_HOST)
    assert plan.vcs is not None
    text = render_section(plan, load_cuda_catalog())
    assert "`--build-arg ENVFORGE_VERSION=VERSION`" in text
    assert "the Dockerfile's default is 0.0.0)." in text


# --- the published image (--image REF@sha256:..., what `envforge push` printed) -------------

PINNED = "registry.example:5000/team/cpu-sklearn@sha256:" + "ab" * 32


def test_a_published_image_is_pulled_by_its_digest() -> None:
    plain = section_for(EXAMPLES / "cpu-sklearn")
    plan = plan_for(EXAMPLES / "cpu-sklearn", NO_HOST)
    text = render_section(plan, load_cuda_catalog(), pinned=PINNED)
    block = (
        "\n### Run the published image\n\n"
        f"The image is published as `{PINNED}`, pinned by its digest:\n\n"
        f"```sh\ndocker pull {PINNED}\ndocker run --rm {PINNED}\n```\n"
    )
    assert block in text
    assert text.replace(block, "", 1) == plain  # nothing else changes
    gpu = render_section(
        plan_for(EXAMPLES / "gpu-torch", NO_HOST), load_cuda_catalog(), pinned=PINNED
    )
    assert f"docker run --rm --gpus all {PINNED}\n" in gpu


def test_readme_image_writes_the_pull_and_check_names_it(cpu: Path) -> None:
    readme = cpu / "README.md"
    result = invoke(str(cpu), "--image", PINNED)
    assert result.exit_code == 0, result.output
    assert f"docker pull {PINNED}\n" in readme.read_text()
    assert invoke(str(cpu), "--image", PINNED, "--check").exit_code == 0
    stale = invoke(str(cpu), "--check")  # without --image, the section says no pull
    assert stale.exit_code == 1
    assert stale.stderr == (f"stale     {readme}: run `envforge readme {cpu}` to update it\n")
    other = "registry.example:5000/team/cpu-sklearn@sha256:" + "cd" * 32
    again = invoke(str(cpu), "--image", other, "--check")
    assert again.stderr == (
        f"stale     {readme}: run `envforge readme {cpu} --image {other}` to update it\n"
    )


@pytest.mark.parametrize(
    "image",
    [
        "registry.example/team/app:1",  # a tag moves: only a digest pins
        "registry.example/team/app@sha256:" + "ab" * 32 + "`; rm -rf /`",
        "x\n```\nrm -rf /",
    ],
)
def test_readme_image_must_be_a_digest_reference(cpu: Path, image: str) -> None:
    before = (cpu / "README.md").read_bytes()
    result = invoke(str(cpu), "--image", image)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid ")
    assert (cpu / "README.md").read_bytes() == before
