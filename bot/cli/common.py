"""What every command needs: settings and the database, with one-line errors instead of tracebacks."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.app.settings import Settings, SettingsError, load_settings
from knowledge.db import Database, DatabaseError, redact_url
from knowledge.demo import ensure_demo_data
from knowledge.import_files import ImportRejected

EXIT_USAGE = 2


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `pitcrew: error: message` on stderr and exit with `code`."""
    print(f"pitcrew: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def tolerant_stdin() -> None:
    """Undecodable bytes on stdin become surrogates (which `clean_text` then replaces) instead of a
    UnicodeDecodeError: a strict UTF-8 locale would otherwise end `shell` or `classify` with a traceback."""
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)


def database_or_exit(settings: Settings, load_demo: bool = True) -> Database:
    """Open the configured database; an empty one is filled with the demo knowledge base unless `load_demo` is off."""
    try:
        db = Database(settings.database_url)
    except DatabaseError as exc:
        fail(str(exc), EXIT_USAGE)
    if load_demo:
        try:
            ensure_demo_data(db)
        except (ImportRejected, SQLAlchemyError) as exc:
            db.close()
            fail(f"cannot load the demo knowledge base into {redact_url(settings.database_url)}: {exc}")
    return db
