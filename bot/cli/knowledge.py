"""`pitcrew knowledge import PATH` and `pitcrew knowledge generate ...`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import (EXIT_USAGE, database_or_exit, fail, fail_if_rebuild_incomplete, print_snapshot_outcome,
                            settings_or_exit)

if TYPE_CHECKING:  # each command imports what it uses when it runs: `pitcrew --help` loads none of it
    from sqlalchemy.engine import URL

    from knowledge.generate import GenerateReport
    from knowledge.importer import ImportReport


knowledge_app = typer.Typer(help="Load your own data, or generate a synthetic one for benchmarks.",
                            no_args_is_help=True)


@knowledge_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A folder of JSON/CSV files, one per table kind (or one such file).")],
) -> None:
    """Import a folder of JSON or CSV files, all or nothing, then rebuild the changed product snapshots."""
    from sqlalchemy.exc import SQLAlchemyError

    from knowledge.import_files import ImportRejected
    from knowledge.importer import import_folder

    settings = settings_or_exit()
    db = database_or_exit(settings, load_demo=False)  # importing your own data must not pull the demo in
    try:
        report = import_folder(db, path)
    except ImportRejected as exc:
        count = len(exc.problems)
        fail(f"import refused, the database is unchanged ({count} problem{'s' * (count != 1)}):\n"
             + "\n".join(f"  {line}" for line in exc.describe().splitlines()))
    except SQLAlchemyError as exc:  # e.g. locked by another writer for longer than the busy timeout
        fail(f"import refused, the database is unchanged: {getattr(exc, 'orig', None) or exc}")
    finally:
        db.close()
    _print_import(report)
    fail_if_rebuild_incomplete(report.rebuild_error, report.rebuild, "the data was imported")


def _print_import(report: ImportReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Imported {report.source}", title_justify="left")
    for column in ("file", "rows", "new", "updated", "unchanged"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for counts in report.kinds.values():
        table.add_row(counts.file, str(counts.rows), str(counts.inserted), str(counts.updated), str(counts.unchanged))
    console.print(table)
    print_snapshot_outcome(console, report.changed, report.rebuild, report.changed_products)
    console.print(f"Import took {report.seconds:.2f} s.")


@knowledge_app.command("generate")
def generate_command(
    out: Annotated[str, typer.Option("--out", metavar="FILE|URL",
                                     help="The SQLite file to create, or the URL of an empty database to fill "
                                          "(e.g. postgresql+psycopg://user@host/bench).")],
    products: Annotated[int, typer.Option("--products", min=0, max=1_000_000, help="Products to generate.")] = 10_000,
    calls: Annotated[int, typer.Option("--calls", min=0, max=1_000_000, help="Sales calls to generate.")] = 0,
    segments_per_call: Annotated[int, typer.Option("--segments-per-call", min=1, max=500,
                                                   help="Transcript segments per call.")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same data.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace the SQLite file OUT if it exists.")] = False,
) -> None:
    """Generate a deterministic synthetic catalog and call history into a new SQLite file or an empty database
    (e.g. PostgreSQL), for benchmarks."""
    from sqlalchemy.exc import SQLAlchemyError

    from knowledge.db import Database, DatabaseError, redact_url
    from knowledge.generate import GenerateError, generate

    settings = settings_or_exit()
    url = _target_url(out, settings.database_url, force)
    shown = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else redact_url(url)
    try:
        db = Database(url)
    except DatabaseError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        report = generate(db, products=products, calls=calls, segments_per_call=segments_per_call, seed=seed)
    except GenerateError as exc:
        fail(f"{shown}: {exc}", EXIT_USAGE)
    except SQLAlchemyError as exc:
        fail(f"generating into {shown} failed: {getattr(exc, 'orig', None) or exc}")
    finally:
        db.close()
    _print_generate(report, shown, redact_url(url))


def _target_url(out: str, database_url: str, force: bool) -> str:
    """The database URL to generate into: a new SQLite file (replaced with `force`), or an empty database's URL;
    never the configured database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "://" not in out:
        target = Path(out).expanduser().resolve()
    else:
        try:
            url = make_url(out)
        except ArgumentError:
            fail(f"--out {out!r} is neither a file name nor a database URL", EXIT_USAGE)
        if _same_database(url, database_url):
            fail("--out names the configured DATABASE_URL database; generate into another one", EXIT_USAGE)
        if url.get_backend_name() != "sqlite":
            if force:
                fail("--force replaces a SQLite file only; give the URL of an empty database", EXIT_USAGE)
            return out
        if url.database in (None, "", ":memory:"):
            fail("--out needs a SQLite file, not an in-memory database", EXIT_USAGE)
        target = Path(url.database).expanduser().resolve()
    if _same_database(make_url(f"sqlite:///{target}"), database_url):
        fail(f"{out} is the configured DATABASE_URL database; generate into another file", EXIT_USAGE)
    if target.is_dir():
        fail(f"{out} is a folder; give a file name", EXIT_USAGE)
    if target.exists():
        if not force:
            fail(f"{out} already exists; pass --force to replace it", EXIT_USAGE)
        for stale in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            stale.unlink(missing_ok=True)
    return f"sqlite:///{target}"


def _print_generate(report: GenerateReport, target: str, url: str) -> None:
    from rich.console import Console

    console = Console()
    rows = ", ".join(f"{table}={count:,}" for table, count in report.rows.items() if count)
    console.print(f"Generated into {target} in {report.seconds:.2f} s: {rows or 'nothing'}.", soft_wrap=True)
    console.print(f"Try it: DATABASE_URL={url} pitcrew snapshots rebuild", soft_wrap=True)


def _same_database(url: URL, database_url: str) -> bool:
    """Whether `url` names the database DATABASE_URL points at (never generate into the real database)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        configured = make_url(database_url)
    except ArgumentError:
        return False
    if url.get_backend_name() != configured.get_backend_name():
        return False
    if url.get_backend_name() == "sqlite":
        if configured.database in (None, "", ":memory:") or url.database in (None, "", ":memory:"):
            return False
        return Path(url.database).expanduser().resolve() == Path(configured.database).expanduser().resolve()
    return ((url.host or "localhost", url.port, url.database) ==
            (configured.host or "localhost", configured.port, configured.database))


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")
