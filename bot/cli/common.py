"""What every command needs: settings and the database, with one-line errors instead of tracebacks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:  # loaded by the commands themselves, so `pitcrew --help` stays quick
    from collections.abc import Collection

    from rich.console import Console

    from bot.app.database import DatabaseSummary
    from bot.settings import Settings
    from knowledge.db import Database
    from knowledge.snapshots import RebuildReport

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
    from bot.settings import (  # pydantic-settings: only for a command that runs
        SettingsError,
        load_settings,
    )

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)


def database_or_exit(settings: Settings, load_demo: bool = True) -> Database:
    """Open the configured database; an empty one is filled with the demo knowledge base unless `load_demo` is off."""
    from bot.app.database import StartupError, open_database, summarize_database

    try:
        db, demo_loaded = open_database(settings, load_demo=load_demo)
    except StartupError as exc:
        fail(str(exc), EXIT_USAGE)
    if sys.stderr.isatty():  # the summary costs two reads: only when a person will see it
        say_which_database(summarize_database(db, demo_loaded=demo_loaded))
    return db


def say_which_database(summary: DatabaseSummary) -> None:
    """One line on stderr for a person at a terminal (scripts reading the output get nothing extra)."""
    if sys.stderr.isatty():
        print(f"pitcrew: {summary.describe()}", file=sys.stderr)


EXIT_REBUILD_INCOMPLETE = 3  # the rows are committed, some snapshots were not rebuilt


def print_snapshot_outcome(console: Console, changed: bool, rebuild: RebuildReport | None,
                           changed_products: Collection[str]) -> None:
    """What an import or sync did to the product snapshots, in one line (none when it rebuilt nothing to say)."""
    if not changed:
        console.print("Nothing changed; snapshots untouched.")
    elif rebuild is not None:
        console.print(f"Snapshots: {rebuild.built} rebuilt, {rebuild.unchanged} unchanged, {rebuild.failed} failed "
                      f"({rebuild.seconds:.2f} s) for {len(changed_products)} changed product(s).")
    elif not changed_products:
        console.print("No product changed; snapshots untouched.")


def fail_if_rebuild_incomplete(rebuild_error: str | None, rebuild: RebuildReport | None, what: str) -> None:
    """Exit `EXIT_REBUILD_INCOMPLETE` when the snapshot rebuild after committed rows (`what`) did not finish."""
    if rebuild_error or (rebuild and rebuild.failed):
        reason = rebuild_error or "; ".join(rebuild.errors if rebuild else [])
        fail(f"{what}, but rebuilding snapshots failed ({reason}); run `pitcrew snapshots rebuild` to retry",
             EXIT_REBUILD_INCOMPLETE)

