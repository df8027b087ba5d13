"""What a cluster job takes from its user: names, node labels, Slurm limits, paths, arguments.

Validated with the kit's own rules (envforge.validate) before they reach a Job or a script,
where the renderers quote them besides.
"""

from __future__ import annotations

import re

from envforge.validate import fail, has_control, matching, string

# A Kubernetes object name or namespace (DNS-1123 label); a Slurm job name, too.
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
# A node label: [prefix/]name (the prefix a DNS subdomain), and its value.
_LABEL_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(
    rf"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*/)?{_LABEL_NAME}",
    re.ASCII,
)
_LABEL_VALUE = re.compile(rf"(?:{_LABEL_NAME})?", re.ASCII)
# sbatch --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
# days-hours:minutes, days-hours:minutes:seconds; or no limit.
_SLURM_TIME = re.compile(
    r"[0-9]{1,6}(?::[0-9]{1,2}){0,2}|[0-9]{1,4}-[0-9]{1,2}(?::[0-9]{1,2}){0,2}"
    r"|UNLIMITED|INFINITE",
    re.ASCII,
)
# sbatch --partition: one name or a comma-separated list of them.
_SLURM_PARTITION = re.compile(r"[A-Za-z0-9_.-]{1,64}(?:,[A-Za-z0-9_.-]{1,64}){0,15}", re.ASCII)
# sbatch --mem: megabytes, or a number with a K, M, G or T suffix.
_SLURM_MEM = re.compile(r"[1-9][0-9]{0,9}[KMGT]?", re.ASCII)


def job_name(value: object, where: str) -> str:
    """A cluster job's name: a Kubernetes DNS-1123 label, which sbatch --job-name takes too."""
    hint = "Use lowercase letters, digits and '-', starting and ending with a letter or digit"
    return matching(value, _DNS_LABEL, "job name", where, hint + ", at most 63: gpu-torch.")


def namespace(value: object, where: str) -> str:
    hint = "A namespace is lowercase letters, digits and '-', at most 63 characters: ml-jobs."
    return matching(value, _DNS_LABEL, "namespace", where, hint)


def node_selector(value: object, where: str) -> tuple[str, str]:
    """KEY=VALUE, a node label: nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3."""
    text = string(value, "node selector", where, 317)
    key, sep, label = text.partition("=")
    prefix, _, name = key.rpartition("/")
    if not (sep and _LABEL_KEY.fullmatch(key) and _LABEL_VALUE.fullmatch(label)) or (
        len(name) > 63 or len(prefix) > 253
    ):
        fail(
            "node selector",
            text,
            where,
            "Give KEY=VALUE, a node label ([prefix/]name=value, each part at most 63 letters, "
            "digits, '-', '_', '.'): nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3.",
        )
    return key, label


def slurm_time(value: object, where: str) -> str:
    hint = "Give it as sbatch --time takes it: MINUTES, HH:MM:SS or DAYS-HH:MM:SS"
    return matching(value, _SLURM_TIME, "time limit", where, hint + " (90, 02:00:00, 1-12:00:00).")


def slurm_partition(value: object, where: str) -> str:
    hint = "Name a partition (letters, digits, '_', '.', '-'), or several joined with ',': gpu."
    return matching(value, _SLURM_PARTITION, "partition", where, hint)


def memory_size(value: object, where: str) -> str:
    """Memory as sbatch --mem writes it: megabytes, or with a K, M, G or T suffix (16G)."""
    hint = "Give a number of megabytes, or one with a K, M, G or T suffix: 16G."
    return matching(value, _SLURM_MEM, "memory size", where, hint)


def job_path(value: object, where: str) -> str:
    """A path a job script names (a SIF, an image archive): one line, no control
    character, not starting with '-' (a command would read it as an option)."""
    text = string(value, "path", where, 1024)
    if not text or has_control(text) or text.startswith("-"):
        hint = "Give a path on one line, not starting with '-' (write ./-name for such a file)."
        fail("path", text, where, hint)
    return text


def job_argument(value: object, where: str) -> str:
    """An argument for the program a job runs: any text on one line."""
    text = string(value, "argument", where, 4096)
    if has_control(text):
        fail(
            "argument", text, where, "Write each argument on one line, without control characters."
        )
    return text
