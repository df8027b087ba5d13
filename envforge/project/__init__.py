"""Reading the project: pyproject.toml, envforge settings, uv.lock, the install set, freshness.

The loader is the only module here that opens files; the rest parse what it read."""
