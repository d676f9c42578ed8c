"""`xinyu eval ...` commands (light imports only; heavy work is imported inside each command)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
