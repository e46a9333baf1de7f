"""The schema: SQL files applied in name order, once each, by `convsync migrate` (convsync/migrate.py)."""

from __future__ import annotations

from importlib import resources


def versions() -> list[str]:
    """Every migration's version (its file name without `.sql`), in the order they apply."""
    return sorted(entry.name.removesuffix(".sql") for entry in resources.files(__name__).iterdir()
                  if entry.name.endswith(".sql"))
