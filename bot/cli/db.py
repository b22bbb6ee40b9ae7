"""`pitcrew db upgrade | status | copy`: the database's schema revision, upgrading it, and moving an installation's
data to another database (e.g. SQLite to PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import EXIT_USAGE, fail, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from knowledge.copy_database import TableCopy

db_app = typer.Typer(help="The database: schema revision, upgrade, copying to another database.", no_args_is_help=True)

UrlOption = Annotated[str | None, typer.Option("--url", help="The database (default: DATABASE_URL).", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade_command(url: UrlOption = None) -> None:
    """Bring the database's schema to this pitcrew's revision (creating it in an empty database)."""
    from knowledge.db import redact_url
    from knowledge.schema import SchemaError, upgrade_schema

    url = url or settings_or_exit().database_url
    engine = _engine_or_exit(url, create=True)
    try:
        before, after = upgrade_schema(engine)
    except SchemaError as exc:
        fail(f"database {redact_url(url)} {exc}")
    except Exception as exc:  # the driver's message, not a traceback
        fail(f"cannot upgrade database {redact_url(url)}: {_first_line(exc)}")
    finally:
        engine.dispose()
    if before.up_to_date:
        typer.echo(f"database {redact_url(url)}: already at revision {after.current} (up to date)")
    else:
        typer.echo(f"database {redact_url(url)}: upgraded from {before.current or 'nothing'} to {after.current}")


@db_app.command("status")
def status_command(url: UrlOption = None) -> None:
    """The database's schema revision and this pitcrew's; exits 1 unless they are the same."""
    from knowledge.db import redact_url
    from knowledge.migrations import head_revision
    from knowledge.schema import schema_state

    url = url or settings_or_exit().database_url
    typer.echo(f"database: {redact_url(url)}")
    missing = _missing_sqlite_file(url)
    if missing is not None:
        typer.echo(f"revision: none\nhead:     {head_revision()}\nstatus:   not a pitcrew database (no file {missing})")
        raise typer.Exit(1)
    engine = _engine_or_exit(url, create=False)
    try:
        state = schema_state(engine)
    except Exception as exc:
        fail(f"cannot read database {redact_url(url)}: {_first_line(exc)}")
    finally:
        engine.dispose()
    typer.echo(f"revision: {state.current or 'none'}\nhead:     {state.head}\nstatus:   {state.describe()}")
    if not state.up_to_date:
        raise typer.Exit(1)


@db_app.command("copy")
def copy_command(
    source_url: Annotated[str, typer.Argument(help="The database to copy from (left unchanged).", show_default=False)],
    target_url: Annotated[str, typer.Argument(help="The database to copy into (upgraded first).", show_default=False)],
    replace: Annotated[bool, typer.Option("--replace", help="Delete the target's rows first (refused without it).")]
    = False,
) -> None:
    """Copy every table (catalog, calls, snapshots, thread memory, cache, inbox) into another database, in one
    transaction, checking every table's row count before committing."""
    from knowledge.copy_database import CopyError, copy_database
    from knowledge.db import redact_url

    for url in (source_url, target_url):
        _check_url(url)
    typer.echo(f"copying {redact_url(source_url)} -> {redact_url(target_url)}")
    try:
        report = copy_database(source_url, target_url, replace=replace, on_table=_print_table)
    except CopyError as exc:
        fail(str(exc))
    replaced = " (its previous rows replaced)" if report.replaced else ""
    typer.echo(f"copied {report.rows} rows in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s); "
               f"every table's count matches the source; committed{replaced}")


def _print_table(table: TableCopy) -> None:
    typer.echo(f"  {table.name:<20} {table.rows:>9} rows  {table.seconds:6.2f} s")


def _check_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        fail("not a database URL, e.g. sqlite:///./data/pitcrew.db or postgresql+psycopg://user@host/dbname",
             EXIT_USAGE)
    if backend not in ("sqlite", "postgresql"):
        fail(f"pitcrew runs on SQLite or PostgreSQL, not {backend}", EXIT_USAGE)


def _engine_or_exit(url: str, *, create: bool) -> Engine:
    """An engine on `url`; a SQLite file is created only by `create` and only in a directory that exists (or the
    default ./data, made on first use, as every command does)."""
    from bot.app.database import missing_directory
    from bot.settings import DEFAULT_DATABASE_URL
    from knowledge.db import create_db_engine, redact_url

    _check_url(url)
    directory = missing_directory(url)
    if directory is not None and (not create or url != DEFAULT_DATABASE_URL):
        fail(f"database {redact_url(url)}: the directory {directory} does not exist", EXIT_USAGE)
    try:
        return create_db_engine(url, create_directory=directory is not None)
    except Exception as exc:  # e.g. the driver is not installed
        fail(f"cannot open database {redact_url(url)}: {_first_line(exc)}")


def _missing_sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    _check_url(url)
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    path = Path(database).expanduser()
    return None if path.exists() else path


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
