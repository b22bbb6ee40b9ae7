"""After writing many rows at once: a new database loaded in bulk (`pitcrew knowledge generate`), a large import.

SQLite: the transcript index built once instead of row by row (measured 3-4x faster for 100k segments); its
query planner needs no statistics. PostgreSQL: each id sequence moved past the ids written with explicit ids,
so rows inserted later get new ids; its transcript search column is computed by the server as rows arrive.
And the planner's statistics refreshed (ANALYZE): a table loaded since its last ANALYZE looks empty or much
smaller to the planner, which then reads whole tables for queries that want a few rows (measured: the first
rebuild of a freshly generated 100,000-product catalog crawled at seconds per 500 products, whole-table scans
of 2 million plan-feature rows each time; after a first build, each check of 500 snapshots scanned all the
aliases). Autovacuum would analyze them too, but later, and not at all where it is off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Integer, Table, text

from knowledge.db import FTS_DDL

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
    pass  # SQLite gives a new row max(rowid) + 1, and plans well without statistics


def _postgresql_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        columns = list(table.primary_key.columns)
        if len(columns) != 1 or not isinstance(columns[0].type, Integer):
            continue
        # pg_get_serial_sequence is NULL for a column without one (setval of NULL does nothing).
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence(:table, :column), coalesce(max({quote(columns[0].name)}), 0) + 1,"
            f" false) FROM {quote(table.name)}"
        ), {"table": quote(table.name), "column": columns[0].name})


_TRANSCRIPTS: dict[str, Callable[[Connection], AbstractContextManager[None]]] = {
    "sqlite": _sqlite_transcripts, "postgresql": _postgresql_transcripts}
def _postgresql_statistics(connection: Connection, tables: Iterable[str]) -> None:
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql("ANALYZE " + ", ".join(quote(table) for table in tables))


_SEQUENCES: dict[str, Callable[[Connection, Iterable[Table]], None]] = {
    "sqlite": _nothing, "postgresql": _postgresql_sequences}
_STATISTICS: dict[str, Callable[[Connection, Iterable[str]], None]] = {
    "sqlite": _nothing, "postgresql": _postgresql_statistics}


def transcripts_indexed_in_bulk(connection: Connection) -> AbstractContextManager[None]:
    """A block inserting transcript segments, after which they are all searchable."""
    return _TRANSCRIPTS[connection.dialect.name](connection)


def continue_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """After rows were inserted with explicit ids: new rows get ids after them (in the caller's transaction)."""
    _SEQUENCES[connection.dialect.name](connection, tables)


def refresh_statistics(connection: Connection, tables: Iterable[str]) -> None:
    """Let the query planner know the new sizes of the tables named `tables` (in the caller's transaction)."""
    tables = list(tables)
    if tables:
        _STATISTICS[connection.dialect.name](connection, tables)
