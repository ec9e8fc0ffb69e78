"""Changing an archive: planning, full builds, increments, and embedding what waits (also with Ray)."""
