"""envforge: turn a uv project into a small, reproducible, GPU-aware container image."""

__version__ = "0.1.0"
