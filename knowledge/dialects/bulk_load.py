"""Loading a new, empty database in bulk (`pitcrew knowledge generate`): rows with explicit ids, written the
fastest way each driver has, and what the schema keeps per row done once at the end.

SQLite: the driver's executemany (SQLAlchemy's per-row parameter processing would cost more than the inserts),
and the transcript index built once instead of row by row (measured 3-4x faster for 100k segments).
PostgreSQL: COPY, then each id sequence moved past the ids written, so rows inserted later get new ids. Its
transcript search column is computed by the server as rows arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Integer, Table, text

from knowledge.db import FTS_DDL

FTS_INSERT_TRIGGER = "transcript_fts_ai"  # see knowledge.db.FTS_DDL
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


def _datetime_columns(rows: list[dict[str, Any]]) -> list[str]:
    return [name for name, value in rows[0].items() if isinstance(value, datetime)]


def _sqlite_insert(connection: Connection, table: Table, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    for name in _datetime_columns(rows):
        for row in rows:
            row[name] = row[name].strftime(SQLITE_DATETIME)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + name for name in columns)})"
    connection.exec_driver_sql(statement, rows)


def _postgresql_insert(connection: Connection, table: Table, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    for name in _datetime_columns(rows):  # the columns are timestamptz: say the naive values are UTC
        for row in rows:
            row[name] = row[name].replace(tzinfo=UTC)
    quote = connection.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(name) for name in columns)}) FROM STDIN"
    if not connection.in_transaction():
        connection.begin()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])
    finally:
        cursor.close()


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


def _no_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    pass  # SQLite gives a new row max(rowid) + 1


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


_INSERT: dict[str, Callable[[Connection, Table, Sequence[str], list[dict[str, Any]]], None]] = {
    "sqlite": _sqlite_insert, "postgresql": _postgresql_insert}
_TRANSCRIPTS: dict[str, Callable[[Connection], AbstractContextManager[None]]] = {
    "sqlite": _sqlite_transcripts, "postgresql": _postgresql_transcripts}
_SEQUENCES: dict[str, Callable[[Connection, Iterable[Table]], None]] = {
    "sqlite": _no_sequences, "postgresql": _postgresql_sequences}


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys; values ready to store but datetimes: JSON as text, datetimes naive
    UTC). The rows' datetimes are converted in place."""
    if rows:
        _INSERT[connection.dialect.name](connection, table, list(rows[0]), rows)


def transcripts_indexed_in_bulk(connection: Connection) -> AbstractContextManager[None]:
    """A block inserting transcript segments, after which they are all searchable."""
    return _TRANSCRIPTS[connection.dialect.name](connection)


def continue_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """After rows were inserted with explicit ids: new rows get ids after them (in the caller's transaction)."""
    _SEQUENCES[connection.dialect.name](connection, tables)
