"""Where xinyu keeps caches: ``XINYU_HOME`` (default ``~/.cache/xinyu``)."""

from __future__ import annotations

import os
from pathlib import Path


def xinyu_home() -> Path:
    """Return the cache root, creating it if needed."""
    root = Path(os.environ.get("XINYU_HOME", Path.home() / ".cache" / "xinyu")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Directory holding converted/cached model checkpoints."""
    path = xinyu_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """Package data shipped with xinyu (sample corpus, persona templates)."""
    return Path(__file__).parent / "data" / "resources"
