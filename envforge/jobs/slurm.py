"""sbatch scripts that run the image with Apptainer or with Pyxis/Enroot. Pure.

Every value is checked at the edge (model.py) and shell-quoted here (shlex.quote); the
#SBATCH lines take only values the kit restricts to characters sbatch reads as
themselves. A crafted value becomes a quoted word, never a line or a command.

The driver check travels with the job: on the node it landed on, the script reads the
driver with nvidia-smi and compares it, part by part as numbers, with the CUDA's minimum,
as `envforge doctor` and the `envforge run --gpus` gate do (compat's driver rule, for a
driver whose CUDA version nvidia-smi's query does not give): at or above the release's
own driver, silent; above the CUDA major's floor, the minor-version compatibility
warning; below it, the gate's "too old" finding, word for word, and the job stops
before its program.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from envforge import validate
from envforge.errors import RenderError
from envforge.host.compat import Finding, driver_missing, driver_too_old, driver_under_minor_compat
from envforge.jobs.model import JobSpec, driver_version

SIF_DIR = "${ENVFORGE_SIF_DIR:-$HOME/.cache/envforge/sif}"
DRIVER_QUERY = ("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader")
# What a #SBATCH line may carry: the kit's job names, times, partitions and sizes.
_SBATCH_VALUE = re.compile(r"[A-Za-z0-9_.,:=-]+", re.ASCII)
_SLOT = "\x00"  # where the node's driver version goes in a finding's text
_FILE_JUNK = re.compile(r"[^a-z0-9.-]+", re.ASCII)


def render_slurm(spec: JobSpec) -> str:
    lines = ["#!/bin/bash", *_sbatch(spec)]
    lines += _comment(
        f"envforge job --target {spec.target}: {spec.image.subject}, one run of {spec.image.ref}",
        "Submit it from the login node with: sbatch job.sh (this file)",
    )
    lines += ["set -euo pipefail", ""]
    if spec.checks_driver:
        lines += [*driver_check(spec), ""]
    if spec.target == "slurm-apptainer":
        lines += _apptainer(spec)
    else:
        lines += _pyxis(spec)
    return "\n".join(lines) + "\n"


def _sbatch(spec: JobSpec) -> list[str]:
    options = [("job-name", spec.name)]
    if spec.gpus:
        options.append(("gres", f"gpu:{spec.gpus}"))
    if spec.time:
        options.append(("time", spec.time))
    if spec.partition:
        options.append(("partition", spec.partition))
    if spec.cpus:
        options.append(("cpus-per-task", str(spec.cpus)))
    if spec.mem:
        options.append(("mem", spec.mem))
    return [f"#SBATCH --{key}={_sbatch_value(value)}" for key, value in options]


def _sbatch_value(value: str) -> str:
    if not _SBATCH_VALUE.fullmatch(value):
        raise RenderError(
            f"Refusing to write {validate.one_line(repr(value))[:80]} into an #SBATCH line"
        )
    return value


def _comment(*texts: str) -> list[str]:
    for text in texts:
        if validate.has_control(text):
            raise RenderError(
                f"Refusing to write {validate.one_line(repr(text))[:80]} into a comment"
            )
    return [f"# {text}" for text in texts]


def _words(words: Iterable[str]) -> str:
    out = []
    for word in words:
        if validate.has_control(word):
            raise RenderError(
                f"Refusing to write {validate.one_line(repr(word))[:80]} into a job script: "
                "it holds a line break or a control character"
            )
        out.append(shlex.quote(word))
    return " ".join(out)


# ---------------------------------------------------------------- the driver check


_VERSION_GE = r"""envforge_version_ge() { # $1 >= $2, part by part as numbers (580.159.04 >= 580)
  local IFS=.
  local -a have=($1) want=($2)
  local i
  for ((i = 0; i < ${#have[@]} && i < ${#want[@]}; i++)); do
    if ((10#${have[i]} != 10#${want[i]})); then
      ((10#${have[i]} > 10#${want[i]}))
      return
    fi
  done
  ((${#have[@]} >= ${#want[@]}))
}"""


def driver_check(spec: JobSpec) -> list[str]:
    """The bash that checks the node's driver before the program: a function, then its
    call; the findings in `envforge doctor`'s format on stderr."""
    needs = spec.needs
    floor = driver_version(needs.driver_floor)
    toolkit = driver_version(needs.driver_toolkit)
    what_have = f"driver {_SLOT}"
    lines = _comment(
        f"The driver check of `envforge run --gpus`, on the node the job runs on: CUDA {needs.cuda}",
        "needs an NVIDIA driver"
        + (f" >= {floor} (minor-version compatibility)" if floor else "")
        + (f"{',' if floor else ''} >= {toolkit} for full support" if toolkit else "")
        + ".",
    )
    lines += [
        *_VERSION_GE.splitlines(),
        "envforge_driver_check() {",
        "  local have",
        f"  have=$({_words(DRIVER_QUERY)} 2>/dev/null) || have=''",
        "  have=${have%%$'\\n'*}  # one line per GPU, one driver",
        "  have=${have//[[:space:]]/}",
        "  if [[ ! $have =~ ^[0-9]{3}(\\.[0-9]{1,3}){0,2}$ ]]; then",
        *_say(
            driver_missing(
                needs,
                what="no NVIDIA driver answered on this node (" + " ".join(DRIVER_QUERY) + ")",
                fix="Run the job on a node with an NVIDIA GPU and its driver: a GPU partition "
                "(--partition), with --gres=gpu:N.",
                gpus_requested=True,
            )
        ),
        "    return 1",
        "  fi",
    ]
    if toolkit:
        lines.append(f'  if envforge_version_ge "$have" {_words([toolkit])}; then return 0; fi')
    if floor:
        lines += [
            f'  if envforge_version_ge "$have" {_words([floor])}; then',
            *_say(driver_under_minor_compat(needs, what_have)),
            "    return 0",
            "  fi",
        ]
    lines += [
        *_say(driver_too_old(needs, what_have), indent="  "),
        "  return 1",
        "}",
        "envforge_driver_check",
    ]
    return lines


def _say(finding: Finding, indent: str = "    ") -> list[str]:
    """printf lines that write the finding as doctor prints it, on stderr; the node's
    driver version where the text has it."""
    from envforge.host.gate import render_findings

    out = []
    for line in render_findings([finding]).splitlines():
        if _SLOT in line:
            head, tail = line.split(_SLOT, 1)
            out.append(
                f"{indent}printf '%s%s%s\\n' {_words([head])} \"$have\" {_words([tail])} >&2"
            )
        else:
            out.append(f"{indent}printf '%s\\n' {_words([line])} >&2")
    return out


# ---------------------------------------------------------------- Apptainer


def sif_path(spec: JobSpec) -> str:
    """The SIF's file name in the cache folder: the job's name and the digest's first 12
    hex digits (a new digest, a new file), or the tag, or the archive's name."""
    image = spec.image
    if spec.archive is not None:
        stem = spec.archive.rsplit("/", 1)[-1].removesuffix(".tar")
    elif image.pinned:
        stem = f"{spec.name}-{image.ref.rsplit('@sha256:', 1)[1][:12]}"
    else:
        stem = f"{spec.name}-{image.ref.rsplit('/', 1)[-1].partition(':')[2] or 'latest'}"
    return (_FILE_JUNK.sub("-", stem.lower()).strip("-.") or spec.name) + ".sif"


def _apptainer(spec: JobSpec) -> list[str]:
    image = spec.image
    if spec.sif is not None:
        sif = _words([spec.sif])
        where = "at --sif"
    else:
        sif = f'"{SIF_DIR}"/{_words([sif_path(spec)])}'
        where = "in the cache ($ENVFORGE_SIF_DIR, else ~/.cache/envforge/sif)"
    if spec.archive is not None:
        how = "built once from the saved archive"
        make = f'apptainer build "$tmp" {_words(["docker-archive:" + spec.archive])}'
    else:
        how = "pulled once by its digest" if image.pinned else "pulled once by its tag"
        make = f'apptainer pull "$tmp" {_words(["docker://" + image.ref])}'
    run = ["apptainer", "exec"]
    if spec.gpus:
        run.append("--nv")
    if image.workdir and not image.any_workdir:
        run += ["--pwd", image.workdir]
    lines = _comment(f"The image as a SIF file, {how}", f"{where}; later jobs reuse it.")
    lines += [
        f"sif={sif}",
        'if [ ! -e "$sif" ]; then',
        '  mkdir -p -- "$(dirname -- "$sif")"',
        '  tmp="$sif.${SLURM_JOB_ID:-$$}.tmp"',
        f"  {make}",
        '  mv -f -- "$tmp" "$sif"',
        "fi",
        "",
    ]
    why = []
    if spec.gpus:
        why.append("--nv binds the node's NVIDIA driver")
    if image.any_workdir:
        why.append("it runs in the submit directory, where relative paths and outputs go")
    elif image.workdir:
        why.append(f"--pwd {image.workdir}: Apptainer would start in the submit directory")
    lines += _comment(
        "exec, not run: the image's command is written out, so this line says what runs.",
        *(["; ".join(why) + "."] if why else []),
    )
    lines.append(f'exec {_words(run)} "$sif" {_words(spec.argv)}')
    return lines


# ---------------------------------------------------------------- Pyxis


def pyxis_image(ref: str) -> str:
    """--container-image's form: a '#' between the registry host and the image's path
    (registry.example:5000#team/app@sha256:...); a Docker Hub name as it is."""
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return f"{first}#{rest}"
    return ref


def _pyxis(spec: JobSpec) -> list[str]:
    image = spec.image
    lines: list[str] = []
    if spec.gpus:
        lines += _comment(
            "Enroot attaches GPUs only when NVIDIA_VISIBLE_DEVICES is set, and gives only the",
            "utility capability unless told: CUDA needs compute.",
        )
        lines += [
            'export NVIDIA_VISIBLE_DEVICES="${NVIDIA_VISIBLE_DEVICES:-all}"',
            "export NVIDIA_DRIVER_CAPABILITIES=compute,utility",
            "",
        ]
    run = ["srun", f"--container-image={pyxis_image(image.ref)}"]
    here = ""
    if image.any_workdir:
        # Like Apptainer: the user's home (caches in ~/.cache), and the submit directory as
        # the working one, where relative paths and outputs go.
        here = ' --container-mount-home --container-mounts="$PWD:$PWD" --container-workdir="$PWD"'
        lines += _comment(
            "Your home (caches) and this directory (the program's working one) mounted in."
        )
    elif image.workdir:
        run.append(f"--container-workdir={image.workdir}")
    lines += _comment("Pyxis does not run the image's ENTRYPOINT: the command is written out.")
    lines.append(f"exec {_words(run)}{here} {_words(spec.argv)}")
    return lines
