"""`pitcrew knowledge ...` and `pitcrew snapshots ...`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the knowledge-store work."""
