"""How the knowledge layer's transactions begin: here, to read one consistent view.

A deferred SQLite `BEGIN` keeps the WAL snapshot of its first read; on PostgreSQL a consistent read is a
REPEATABLE READ transaction (READ COMMITTED would give each statement a view of its own).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from knowledge.dialects import version_for


def _sqlite_consistent_read(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")  # deferred: the snapshot is taken at the first read and kept


def _postgresql_consistent_read(connection: Connection) -> None:
    # Must be the transaction's first statement; applies to this transaction only (the connection may write next).
    connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


_CONSISTENT_READ: dict[str, Callable[[Connection], None]] = {
    "sqlite": _sqlite_consistent_read, "postgresql": _postgresql_consistent_read}


def begin_consistent_read(connection: Connection) -> None:
    """Begin a transaction whose every read sees the database as of its first read (it may still write)."""
    version_for(_CONSISTENT_READ, connection, "a consistent read")(connection)
