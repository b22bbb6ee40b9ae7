"""Bulk writes straight to the driver: many rows into one table, the fastest way each backend takes them.

SQLite: the driver's executemany (SQLAlchemy's per-row parameter processing would cost more than the inserts).
PostgreSQL: COPY, one round trip for the lot (executemany, even pipelined, costs a statement per row).
Rows are dicts with the same keys and values ready to store, except datetimes: naive UTC datetimes, which each
backend stores its own way (SQLite as SQLAlchemy's text, PostgreSQL's timestamptz as UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from knowledge.dialects.bulk_reads import driver_errors_raised_as_sqlalchemy

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


def _datetime_columns(rows: list[dict[str, Any]]) -> list[str]:
    return [name for name, value in rows[0].items() if isinstance(value, datetime)]


def _sqlite_insert(connection: Connection, table: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    for name in _datetime_columns(rows):
        for row in rows:
            row[name] = row[name].strftime(SQLITE_DATETIME)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + name for name in columns)})"
    connection.exec_driver_sql(statement, rows)


def _postgresql_insert(connection: Connection, table: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    for name in _datetime_columns(rows):  # the columns are timestamptz: say the naive values are UTC
        for row in rows:
            row[name] = row[name].replace(tzinfo=UTC)
    quote = connection.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table)} ({', '.join(quote(name) for name in columns)}) FROM STDIN"
    if not connection.in_transaction():
        connection.begin()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with driver_errors_raised_as_sqlalchemy(connection, statement), cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])
    finally:
        cursor.close()


_INSERT: dict[str, Callable[[Connection, str, Sequence[str], list[dict[str, Any]]], None]] = {
    "sqlite": _sqlite_insert, "postgresql": _postgresql_insert}


def insert_rows(connection: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` into the table named `table`, in the connection's transaction (their datetimes are converted
    in place)."""
    if rows:
        _INSERT[connection.dialect.name](connection, table, list(rows[0]), rows)
