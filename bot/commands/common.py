"""What every command needs: settings and the database, with one-line errors instead of tracebacks."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from bot.settings import Settings, SettingsError, load_settings
from knowledge.db import Database, DatabaseError

EXIT_USAGE = 2


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `pitcrew: error: message` on stderr and exit with `code`."""
    print(f"pitcrew: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)


def database_or_exit(settings: Settings) -> Database:
    try:
        return Database(settings.database_url)
    except DatabaseError as exc:
        fail(str(exc), EXIT_USAGE)
