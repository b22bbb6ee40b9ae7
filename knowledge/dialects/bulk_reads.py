"""Bulk reads straight from the driver's cursor, in the connection's transaction.

Over the hundreds of thousands of rows of a full snapshot rebuild, SQLAlchemy's per-row result machinery costs
more than the database itself, so those reads hand their SQL to the driver (sqlite3 or psycopg) and get plain
tuples back. Driver SQL is written in the driver's own placeholder style: callers build their id lists with
`id_marks`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_MARK = {"sqlite": "?", "postgresql": "%s"}


def id_marks(connection: Connection, count: int) -> str:
    """`count` positional placeholders of this connection's driver, comma-separated (for `IN (...)`)."""
    return ",".join([_MARK[connection.dialect.name]] * count)


def fetch_all(connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of driver-level `sql` as a plain tuple (its placeholders from `id_marks`); a driver error is
    raised as SQLAlchemy's DBAPIError, as from any other statement."""
    if not connection.in_transaction():
        connection.begin()  # as SQLAlchemy's own statements would: commit() and rollback() then end this read too
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with driver_errors_raised_as_sqlalchemy(connection, sql):
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        cursor.close()


@contextmanager
def driver_errors_raised_as_sqlalchemy(connection: Connection, statement: str) -> Iterator[None]:
    """A driver error inside the block is raised as SQLAlchemy's DBAPIError (parameters hidden), as SQLAlchemy
    raises it for its own statements: callers catch one kind of error whatever ran the SQL."""
    driver_error = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except driver_error as exc:
        raise DBAPIError.instance(statement, None, exc, driver_error, hide_parameters=True,
                                  dialect=connection.dialect) from exc
