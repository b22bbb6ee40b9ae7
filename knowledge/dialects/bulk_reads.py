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


def _postgresql_chunked_reads(connection: Connection) -> None:
    # The default cost of a random page read (4, set for spinning disks) makes the planner answer "the rows of
    # these 500 products" with whole-table scans of the child tables: on a 100,000-product catalog the limits
    # query scanned all 800,000 limits for every chunk, and a full check took 27 s instead of 16 s. Index reads
    # are cheap for a catalog on SSD or in cache: say so, for this transaction only.
    connection.exec_driver_sql("SET LOCAL random_page_cost = 1.1")


_CHUNKED_READS = {"sqlite": lambda connection: None, "postgresql": _postgresql_chunked_reads}


def id_marks(connection: Connection, count: int) -> str:
    """`count` positional placeholders of this connection's driver, comma-separated (for `IN (...)`)."""
    return ",".join([_MARK[connection.dialect.name]] * count)


def prefer_index_reads(connection: Connection) -> None:
    """Plan the rest of this transaction's reads for a few rows by indexed ids at a time (SQLite's queries pin
    their joins in the SQL instead)."""
    _CHUNKED_READS[connection.dialect.name](connection)


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
