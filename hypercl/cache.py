"""Location of the project's cache folder (decrypted data sets and other derived files)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HYPERCL_CACHE"


def cache_dir() -> Path:
    """Create and return the cache folder: ``$HYPERCL_CACHE`` if set, else ``~/.cache/hypercl``."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    path = Path(configured).expanduser() if configured else Path.home() / ".cache" / "hypercl"

    path.mkdir(parents=True, exist_ok=True)
    return path
