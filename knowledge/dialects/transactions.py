"""How the knowledge layer's transactions begin: to write, to import, or to read one consistent view.

SQLite has one write lock per database: a transaction that will write takes it first (`BEGIN IMMEDIATE`), so it
never deadlocks upgrading a read, and a deferred `BEGIN` keeps the WAL snapshot of its first read; long write
work is cut into short transactions with pauses between them, so other writers get their turn. PostgreSQL locks
rows, so a write needs nothing up front and writers do not wait for each other's transactions; imports take
turns through a transaction-scoped advisory lock (readers are never blocked: they keep seeing the committed rows
until the import commits), and a consistent read is a REPEATABLE READ transaction.

Writes of derived data (snapshots, rebuilt from the catalog whenever lost) need not wait for their commit to
reach the disk: a crash may lose the last of them, never corrupt them, and the next rebuild redoes them. SQLite's
`synchronous=NORMAL` already commits every write so (knowledge.db); on PostgreSQL such a transaction turns
`synchronous_commit` off for itself.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text

from knowledge.dialects import version_for

# Any constant shared by every pitcrew process: the advisory lock imports take turns on (the bytes of "pcimport").
IMPORT_LOCK_KEY = int.from_bytes(b"pcimport", "big") & 0x7FFF_FFFF_FFFF_FFFF


def _sqlite_write(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: no deadlock upgrading a read


def _postgresql_write(connection: Connection) -> None:
    pass  # row locks are taken as rows are written; the first statement begins the transaction


def _postgresql_derived_write(connection: Connection) -> None:
    connection.exec_driver_sql("SET LOCAL synchronous_commit = off")


def _postgresql_import(connection: Connection) -> None:
    # One import at a time, as SQLite's write lock (and its staged import's file lock) make them: the second
    # waits, then finds the first one's rows and upserts over them instead of failing on their unique keys.
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK_KEY})


def _sqlite_consistent_read(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")  # deferred: the snapshot is taken at the first read and kept


def _postgresql_consistent_read(connection: Connection) -> None:
    # Must be the transaction's first statement; applies to this transaction only (the connection may write next).
    connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


_WRITE: dict[str, Callable[[Connection], None]] = {"sqlite": _sqlite_write, "postgresql": _postgresql_write}
_DERIVED_WRITE: dict[str, Callable[[Connection], None]] = {
    "sqlite": _sqlite_write, "postgresql": _postgresql_derived_write}
_WRITERS_TAKE_TURNS = {"sqlite": True, "postgresql": False}
_IMPORT: dict[str, Callable[[Connection], None]] = {"sqlite": _sqlite_write, "postgresql": _postgresql_import}
_CONSISTENT_READ: dict[str, Callable[[Connection], None]] = {
    "sqlite": _sqlite_consistent_read, "postgresql": _postgresql_consistent_read}


def begin_write(connection: Connection) -> None:
    """Begin a transaction that will write, on `connection` (not in a transaction yet)."""
    version_for(_WRITE, connection, "a write")(connection)


def begin_derived_write(connection: Connection) -> None:
    """Begin a transaction writing derived data (snapshots): its commit need not wait for the disk."""
    version_for(_DERIVED_WRITE, connection, "a derived write")(connection)


def writers_take_turns(connection: Connection) -> bool:
    """Whether one writer's transaction holds up every other writer (SQLite): pause between long work's slices."""
    return version_for(_WRITERS_TAKE_TURNS, connection, "writing")


def begin_import(connection: Connection) -> None:
    """Begin an import's one write transaction: other imports into the same database wait for it to end."""
    version_for(_IMPORT, connection, "an import")(connection)


def begin_consistent_read(connection: Connection) -> None:
    """Begin a transaction whose every read sees the database as of its first read (it may still write)."""
    version_for(_CONSISTENT_READ, connection, "a consistent read")(connection)
