"""A tiny seeded training step, envforge's GPU example."""
