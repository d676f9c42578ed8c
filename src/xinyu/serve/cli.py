"""``xinyu chat``, ``xinyu serve`` and ``xinyu webui`` (light imports only)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the serving commands to the root app."""
