"""``xinyu train`` and ``xinyu export`` (light imports only)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the training commands to the root app."""
