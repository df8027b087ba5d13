"""The engine: the only code that talks to Docker (connect, build, run, probe, smoke check)."""
