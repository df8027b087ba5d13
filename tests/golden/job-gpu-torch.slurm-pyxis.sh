#!/bin/bash
#SBATCH --job-name=gpu-torch
#SBATCH --gres=gpu:1
#SBATCH --time=01:00:00
#SBATCH --partition=gpu
# envforge job --target slurm-pyxis: gpu-torch, one run of registry.example:5000/team/gpu-torch@sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e
# Submit it from the login node with: sbatch job.sh (this file)
set -euo pipefail

# The driver check of `envforge run --gpus`, on the node the job runs on: CUDA 13.2
# needs an NVIDIA driver >= 580 (minor-version compatibility), >= 595.45.04 for full support.
envforge_version_ge() { # $1 >= $2, part by part as numbers (580.159.04 >= 580)
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
}
envforge_driver_check() {
  local have
  have=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null) || have=''
  have=${have%%$'\n'*}  # one line per GPU, one driver
  have=${have//[[:space:]]/}
  if [[ ! $have =~ ^[0-9]{3}(\.[0-9]{1,3}){0,2}$ ]]; then
    printf '%s\n' 'fail  driver   no NVIDIA driver answered on this node (nvidia-smi --query-gpu=driver_version --format=csv,noheader)' >&2
    printf '%s\n' '               why: CUDA 13.2 needs an NVIDIA driver >= 580 (>= 595.45.04 for full support)' >&2
    printf '%s\n' '               fix: Run the job on a node with an NVIDIA GPU and its driver: a GPU partition' >&2
    printf '%s\n' '                    (--partition), with --gres=gpu:N.' >&2
    return 1
  fi
  if envforge_version_ge "$have" 595.45.04; then return 0; fi
  if envforge_version_ge "$have" 580; then
    printf '%s%s%s\n' 'warn  cuda     CUDA 13.2 runs on driver ' "$have" ' under minor-version compatibility' >&2
    printf '%s\n' '               why: Within a CUDA major, newer runtimes run on older drivers, with limits:' >&2
    printf '%s\n' '                    features that need the newer driver are unavailable, and PTX produced by' >&2
    printf '%s\n' '                    the newer toolkit cannot be JIT-compiled by this driver.' >&2
    printf '%s\n' '               fix: For full support, install an NVIDIA driver >= 595.45.04.' >&2
    return 0
  fi
  printf '%s%s%s\n' 'fail  cuda     driver ' "$have" ' is too old for CUDA 13.2' >&2
  printf '%s\n' '               why: The container would fail with "CUDA driver version is insufficient for' >&2
  printf '%s\n' '                    CUDA runtime version".' >&2
  printf '%s\n' '               fix: Install an NVIDIA driver >= 595.45.04 (at least 580 under minor-version' >&2
  printf '%s\n' '                    compatibility). Or lock a build for an older CUDA that this driver' >&2
  printf '%s\n' '                    supports.' >&2
  return 1
}
envforge_driver_check

# Enroot attaches GPUs only when NVIDIA_VISIBLE_DEVICES is set, and gives only the
# utility capability unless told: CUDA needs compute.
export NVIDIA_VISIBLE_DEVICES="${NVIDIA_VISIBLE_DEVICES:-all}"
export NVIDIA_DRIVER_CAPABILITIES=compute,utility

# Your home (caches) and this directory (the program's working one) mounted in.
# Pyxis does not run the image's ENTRYPOINT: the command is written out.
exec srun '--container-image=registry.example:5000#team/gpu-torch@sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e' --container-mount-home --container-mounts="$PWD:$PWD" --container-workdir="$PWD" /app/.venv/bin/gpu-torch --seed 1
