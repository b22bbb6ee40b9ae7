"""After writing many rows at once: a new database loaded in bulk (`pitcrew knowledge generate`), a large import.

SQLite: the transcript index built once instead of row by row (measured 3-4x faster for 100k segments); its
query planner needs no statistics. PostgreSQL: its transcript search column is computed by the server as rows
arrive (the caller moves the id sequences past the ids it wrote, knowledge.dialects.bulk_copy.reset_sequences);
the planner's statistics are refreshed (ANALYZE): a table loaded since its last ANALYZE looks empty or much
smaller to the planner, which then reads whole tables for queries that want a few rows (measured: the first
rebuild of a freshly generated 100,000-product catalog crawled at seconds per 500 products, whole-table scans
of 2 million plan-feature rows each time; after a first build, each check of 500 snapshots scanned all the
aliases). Autovacuum would analyze them too, but later, and not at all where it is off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection

from knowledge.db import FTS_DDL
from knowledge.dialects import version_for

FTS_INSERT_TRIGGER = "transcript_fts_ai"  # see knowledge.db.FTS_DDL
@contextmanager
def _sqlite_transcripts(connection: Connection) -> Iterator[None]:
    # The per-row insert trigger is dropped inside the caller's transaction and recreated from the schema's own
    # DDL, so a failure rolls both back and the schema never loses it.
    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_INSERT_TRIGGER}")
    yield
    connection.exec_driver_sql("INSERT INTO transcript_fts(transcript_fts) VALUES ('rebuild')")
    for statement in FTS_DDL:
        connection.exec_driver_sql(statement)


@contextmanager
def _postgresql_transcripts(connection: Connection) -> Iterator[None]:
    yield


def _nothing(connection: Connection, tables: Iterable[Any]) -> None:
    pass  # SQLite plans well without statistics


def _postgresql_statistics(connection: Connection, tables: Iterable[str]) -> None:
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql("ANALYZE " + ", ".join(quote(table) for table in tables))


_TRANSCRIPTS: dict[str, Callable[[Connection], AbstractContextManager[None]]] = {
    "sqlite": _sqlite_transcripts, "postgresql": _postgresql_transcripts}
_STATISTICS: dict[str, Callable[[Connection, Iterable[str]], None]] = {
    "sqlite": _nothing, "postgresql": _postgresql_statistics}


def transcripts_indexed_in_bulk(connection: Connection) -> AbstractContextManager[None]:
    """A block inserting transcript segments, after which they are all searchable."""
    return version_for(_TRANSCRIPTS, connection, "a bulk load of transcripts")(connection)


def refresh_statistics(connection: Connection, tables: Iterable[str]) -> None:
    """Let the query planner know the new sizes of the tables named `tables` (in the caller's transaction)."""
    tables = list(tables)
    if tables:
        version_for(_STATISTICS, connection, "refreshing statistics")(connection, tables)
