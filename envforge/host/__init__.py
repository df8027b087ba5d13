"""The host: its facts (driver, GPUs, engine), the NVIDIA probe, the compatibility rules and the
GPU gate that runs before an image starts."""
