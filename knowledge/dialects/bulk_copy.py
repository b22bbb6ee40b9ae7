"""Copying a whole database (`pitcrew db copy`): a consistent read of the source, one write transaction on the
target, and the target's id sequences moved past the ids copied into it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import Connection, Integer, Table, text

from knowledge.dialects import version_for


def _sqlite_snapshot_read(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")  # deferred: the WAL snapshot is taken at the first read and kept


def _postgresql_snapshot_read(connection: Connection) -> None:
    connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


def _sqlite_write(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: no other writer slips in mid-copy


def _postgresql_write(connection: Connection) -> None:
    pass  # the transaction begins with the first statement; DDL-free, it needs no lock


def _no_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    pass  # SQLite gives a new row max(rowid) + 1: nothing to move


def _postgresql_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """Each serial column's sequence set to continue after the largest id now in its table."""
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer) or len(table.primary_key.columns) != 1:
                continue
            # pg_get_serial_sequence is NULL for a column without one (setval of NULL does nothing).
            connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), coalesce(max({quote(column.name)}), 0) + 1, false)"
                f" FROM {quote(table.name)}"
            ), {"table": quote(table.name), "column": column.name})


_SNAPSHOT_READ: dict[str, Callable[[Connection], None]] = {
    "sqlite": _sqlite_snapshot_read, "postgresql": _postgresql_snapshot_read}
_WRITE: dict[str, Callable[[Connection], None]] = {"sqlite": _sqlite_write, "postgresql": _postgresql_write}
_SEQUENCES: dict[str, Callable[[Connection, Iterable[Table]], None]] = {
    "sqlite": _no_sequences, "postgresql": _postgresql_sequences}


def begin_snapshot_read(connection: Connection) -> None:
    """Make every read on `connection` (not in a transaction yet) see the database as of its first read."""
    version_for(_SNAPSHOT_READ, connection, "a consistent copy")(connection)


def begin_bulk_write(connection: Connection) -> None:
    """Open the one write transaction of a copy on `connection` (not in a transaction yet)."""
    version_for(_WRITE, connection, "a bulk write")(connection)


def reset_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """After rows were inserted with explicit ids: new rows get ids after them (in the caller's transaction)."""
    version_for(_SEQUENCES, connection, "resetting id sequences")(connection, tables)
