"""CLI commands of this package; `jixiao.cli` calls `register(app)`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
