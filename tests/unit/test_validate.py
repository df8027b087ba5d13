"""envforge.validate: the one kit every value passes through before it reaches a file."""

from __future__ import annotations

import pytest

from envforge import validate
from envforge.errors import InputError, InvalidProjectError
from envforge.jobs import fields

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "ref",
    [
        "python:3.11-slim-bookworm",
        "python",
        "docker.io/library/python:3.11@" + DIGEST,
        "localhost:5000/team/base",
        "registry.example:5000/team/base:1.0",
        "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        "ghcr.io/astral-sh/uv:0.13.9@" + DIGEST,
        "envforge-lab/python:3.11-slim-bookworm",
        "[::1]:5000/base:1",
    ],
)
def test_image_references_docker_accepts(ref: str) -> None:
    assert validate.image_ref(ref, "--base-image") == ref


@pytest.mark.parametrize(
    "ref",
    [
        "python:3.11 AS x --platform=$(id)",
        "python:3.11\nRUN touch /tmp/PWN",
        "python:3.11\n",  # a `$` regex would take it
        "Python:3.11",  # a path is lowercase
        "python:3.11@sha256:abc",
        "python:" + "t" * 129,
        "${BASE}",
        "python 3.11",
        "",
        "python:3.11@md5:" + "a" * 32,
        "/python",
        "python:\u212a",
    ],
)
def test_anything_else_is_refused(ref: str) -> None:
    with pytest.raises(InputError) as caught:
        validate.image_ref(ref, "--base-image")
    assert caught.value.message.startswith(f"Invalid image reference {ref[:20]!r}"[:30])
    assert caught.value.message.endswith(" in --base-image")
    assert "[registry[:port]/]path[:tag]" in (caught.value.hint or "")


def test_where_and_file_name_the_place() -> None:
    with pytest.raises(InvalidProjectError) as caught:
        validate.image_ref("a b", "'tool.envforge.base-image'", "pyproject.toml")
    assert caught.value.message == (
        "Invalid image reference 'a b' in 'tool.envforge.base-image' in pyproject.toml"
    )


def test_a_long_value_is_shown_cut() -> None:
    with pytest.raises(InputError) as caught:
        validate.env_key("A" * 100_000 + "-", "x", None)
    assert len(caught.value.message) < 150
    assert "(100001 characters)" in caught.value.message


@pytest.mark.parametrize("name", ["dev", "Fast", "a.b_c-d", "x1"])
def test_group_and_extra_names(name: str) -> None:
    assert validate.extra_or_group_name(name, "--group") == name


@pytest.mark.parametrize(
    "name", ["x$(touch /tmp/PWN)", "dev\n", "\u212aelvin", "a b", "--frozen", "-x", "x-", ""]
)
def test_bad_group_and_extra_names(name: str) -> None:
    with pytest.raises(InputError):
        validate.extra_or_group_name(name, "--group")


def test_kelvin_sign_is_not_a_k() -> None:
    """[A-Z] with IGNORECASE matches U+212A unless the pattern is ASCII-only."""
    for check in (validate.project_name, validate.extra_or_group_name, validate.env_key):
        with pytest.raises(InputError):
            check("\u212a", "x", None)


@pytest.mark.parametrize(
    "check,value",
    [
        (validate.python_minor, "3.11\n"),
        (validate.python_minor, "3.\uff11\uff11"),  # fullwidth digits match \d
        (validate.python_minor, "3.11.1"),
        (validate.cuda_version, "12.4\n"),
        (validate.apt_package, "curl\n"),
        (validate.apt_package, "curl;id"),
        (validate.env_key, "PATH\n"),
        (validate.pep440_version, "1.0\n"),
        (validate.pep440_version, "1.0 beta"),
        (validate.pep440_version, "1.0;id"),
    ],
)
def test_no_trailing_newline_or_unicode_digit_slips_through(check, value: str) -> None:
    with pytest.raises(InputError):
        check(value, "x", None)


@pytest.mark.parametrize("version", ["1.0", "2.0rc1", "1.0.post1", "1!2.0", "1.0+cu118"])
def test_pep440_versions(version: str) -> None:
    assert validate.pep440_version(version, "'project.version'") == version


@pytest.mark.parametrize(
    "text", ["a\nb", "a\r\nb", "a\x00", "\x1b[31m", "a\u2028b", "a\u202eb", "x" * 101]
)
def test_single_line_text(text: str) -> None:
    with pytest.raises(InputError):
        validate.single_line_text(text, "x", 100)


def test_summary_makes_one_bounded_line() -> None:
    assert validate.summary("a\n  b\r\n\tc \x1b[31m") == ("a b c [31m", False)
    text, cut = validate.summary("word " * 200)
    assert cut and len(text) == validate.DESCRIPTION_MAX and text.endswith("...")


@pytest.mark.parametrize(
    "path,norm", [("libs/a", "libs/a"), ("libs/a b", "libs/a b"), ("./libs//x/", "libs/x")]
)
def test_relative_paths(path: str, norm: str) -> None:
    assert validate.relative_path(path, "x", "uv.lock") == norm


@pytest.mark.parametrize(
    "path", ["../../etc", "/etc", "..", "libs/a\nRUN x", "libs/a\x00", "libs/${HOME}", "libs/*", ""]
)
def test_bad_relative_paths(path: str) -> None:
    with pytest.raises(InvalidProjectError):
        validate.relative_path(path, "x", "uv.lock")


@pytest.mark.parametrize("pattern", ["!*.pem", "x\n!.env", "# comment", " ", "a\x00"])
def test_ignore_patterns_cannot_reinclude_or_add_lines(pattern: str) -> None:
    with pytest.raises(InvalidProjectError):
        validate.ignore_pattern(pattern, "'tool.envforge.exclude[0]'")


@pytest.mark.parametrize(
    "remote,url",
    [
        ("https://github.com/o/r.git", "https://github.com/o/r"),
        ("git@github.com:o/r.git", "https://github.com/o/r"),
        ("http://example.org/r", "https://example.org/r"),
        ("/srv/git/r.git", None),
        ("https://example.org/r\nLABEL x=y", None),
        ("https://example.org/a b", None),
        ("ssh://git@host/r", "https://host/r"),
        (None, None),
    ],
)
def test_source_url(remote: str | None, url: str | None) -> None:
    assert validate.source_url(remote) == url


def test_registry_mirror() -> None:
    assert validate.registry_mirror("mirror.example:5000/hub/", "x") == "mirror.example:5000/hub"
    for bad in ("mirror.example\nRUN x", "mirror example", "https://mirror.example"):
        with pytest.raises(InputError):
            validate.registry_mirror(bad, "x")


def test_for_terminal_escapes_control_characters() -> None:
    assert validate.for_terminal("a\x1b[31mb\n\tc\u202e\x00") == "a\\x1b[31mb\n\tc\\u202e\\x00"
    assert validate.one_line("a\nb") == "a\\nb"


def test_values_are_bounded_so_no_dockerfile_line_grows_past_docker_s_limit() -> None:
    from envforge.project.pyproject import Project
    from envforge.project.settings import EnvforgeSettings

    with pytest.raises(InvalidProjectError):
        validate.apt_package("a" * 300, "'tool.envforge.apt-packages'")
    with pytest.raises(InvalidProjectError):
        EnvforgeSettings.from_dict({"command": ["python", "x" * 20_000]})
    with pytest.raises(InvalidProjectError):
        Project.from_dict(
            {
                "project": {"name": "p", "version": "1"},
                "build-system": {"requires": ['a; platform_release != "' + "x" * 5000 + '"']},
            }
        )


@pytest.mark.parametrize("name", ["mcp", "lerobot-train", "my_tool.v2", "c++filt"])
def test_script_names_that_real_projects_use(name: str) -> None:
    assert validate.script_name(name, "'project.scripts'") == name


@pytest.mark.parametrize("name", ["", "a b", "x\nRUN id", "-rf", "a" * 129, "\u212aelvin", "[x"])
def test_script_names_that_cannot_be_a_file_in_bin(name: str) -> None:
    with pytest.raises(InvalidProjectError, match="Invalid console script name"):
        validate.script_name(name, "'project.scripts'")


def test_one_of_gives_back_the_choice_and_names_the_others() -> None:
    assert validate.one_of("pip", ("image", "pip"), "uv source", "--uv-source") == "pip"
    with pytest.raises(InputError) as caught:
        validate.one_of("wheel", ("image", "pip"), "uv source", "--uv-source")
    assert caught.value.message == "Invalid uv source 'wheel' in --uv-source"
    assert caught.value.hint == "Use one of: image, pip."


@pytest.mark.parametrize(
    ("ref", "host"),
    [
        ("registry.example:5000/team/app:1.0", "registry.example:5000"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000"),
        ("localhost/app:x", "localhost"),
        ("docker.io/me/app:1", "docker.io"),
        ("[::1]:5000/app:1", "[::1]:5000"),
    ],
)
def test_push_references_name_their_registry(ref: str, host: str) -> None:
    assert validate.push_ref(ref, "the REF argument") == ref
    assert validate.registry_host(ref) == host


@pytest.mark.parametrize(
    "ref",
    [
        "app:1",  # no registry: Docker Hub only when docker.io says so
        "team/app:1",
        "h.example/app@sha256:" + "a" * 64,  # the registry gives the digest
        "h.example/App:1",
        "h.example/app:1; rm -rf /",
        "",
    ],
)
def test_push_references_refused(ref: str) -> None:
    with pytest.raises(InputError, match=r"Invalid (registry|image) reference"):
        validate.push_ref(ref, "the REF argument")


def test_digest_references() -> None:
    pinned = "h.example:5000/team/app@sha256:" + "a" * 64
    assert validate.digest_ref(pinned, "--image") == pinned
    with pytest.raises(InputError) as caught:
        validate.digest_ref("h.example/app:1", "--image")
    assert caught.value.message == "Invalid digest reference 'h.example/app:1' in --image"


# ---------------------------------------------------------------- cluster jobs

GOOD_JOB_VALUES = [
    (fields.job_name, "gpu-torch"),
    (fields.job_name, "a" * 63),
    (fields.namespace, "ml-jobs"),
    (fields.slurm_time, "90"),
    (fields.slurm_time, "90:30"),
    (fields.slurm_time, "02:00:00"),
    (fields.slurm_time, "1-12"),
    (fields.slurm_time, "1-12:00:00"),
    (fields.slurm_time, "UNLIMITED"),
    (fields.slurm_partition, "gpu"),
    (fields.slurm_partition, "gpu,debug.a_b-c"),
    (fields.memory_size, "64G"),
    (fields.memory_size, "4096"),
    (fields.job_path, "/scratch/me/gpu torch.sif"),
    (fields.job_path, "./-odd.sif"),
    (fields.job_argument, "--seed=$(not a command)"),
    (fields.job_argument, ""),
]
BAD_JOB_VALUES = [
    (fields.job_name, "Gpu-Torch"),
    (fields.job_name, "a" * 64),
    (fields.job_name, "-a"),
    (fields.job_name, "a_b"),
    (fields.job_name, "a\n#SBATCH --uid=0"),
    (fields.namespace, "ml.jobs"),
    (fields.slurm_time, "2h"),
    (fields.slurm_time, "02:00:00\n#SBATCH --uid=0"),
    (fields.slurm_time, "1-"),
    (fields.slurm_partition, "gpu debug"),
    (fields.slurm_partition, "gpu;id"),
    (fields.slurm_partition, ""),
    (fields.memory_size, "64GB"),
    (fields.memory_size, "0"),
    (fields.memory_size, "-1G"),
    (fields.job_path, ""),
    (fields.job_path, "-rf"),
    (fields.job_path, "a\nb"),
    (fields.job_path, "a\x00b"),
    (fields.job_argument, "a\nb"),
    (fields.job_argument, "\x1b[31m"),
]


@pytest.mark.parametrize(("check", "value"), GOOD_JOB_VALUES)
def test_job_values(check, value: str) -> None:
    assert check(value, "--x") == value


@pytest.mark.parametrize(("check", "value"), BAD_JOB_VALUES)
def test_bad_job_values(check, value: str) -> None:
    with pytest.raises(InputError, match="in --x"):
        check(value, "--x")


@pytest.mark.parametrize(
    ("value", "pair"),
    [
        (
            "nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3",
            ("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"),
        ),
        (
            "cloud.google.com/gke-accelerator=nvidia-h100-80gb",
            ("cloud.google.com/gke-accelerator", "nvidia-h100-80gb"),
        ),
        ("pool=", ("pool", "")),
    ],
)
def test_node_selectors(value: str, pair: tuple[str, str]) -> None:
    assert fields.node_selector(value, "--node-selector") == pair


@pytest.mark.parametrize(
    "value", ["pool", "=a", "a=b c", "Bad_Prefix/x=a", "a/b/c=d", "x=" + "v" * 64, "a=b\n"]
)
def test_bad_node_selectors(value: str) -> None:
    with pytest.raises(InputError, match="node selector"):
        fields.node_selector(value, "--node-selector")
