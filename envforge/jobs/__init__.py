"""`envforge job`: a cluster job file for an image, one per target.

model.py gathers what a job needs (the image by digest, the command made explicit, the
GPU needs and the minimum driver) from a project's plan or from a local image, and
checks every option at the edge; kubernetes.py renders a batch/v1 Job (YAML from a dict,
one quoting mechanism) and slurm.py an sbatch script for Apptainer or Pyxis (every value
shell-quoted), whose driver check says what `envforge run --gpus` says.
"""

from __future__ import annotations

from envforge.jobs.model import TARGETS, JobOptions, JobSpec, Target, render_job

__all__ = ["TARGETS", "JobOptions", "JobSpec", "Target", "render_job"]
