"""Where things live inside every image envforge plans: fixed paths, user and ids."""

from __future__ import annotations

VENV = "/app/.venv"
APP_DIR = "/app"
APP_USER = "app"
APP_UID = 10001
CA_IN_CONTEXT = ".envforge/ca-bundle.crt"  # where --ca-bundle puts the bundle in the context
MANAGED_PYTHON = "/opt/python"  # uv's managed Python (UV_PYTHON_INSTALL_DIR)
