"""The transaction a schema upgrade runs in, held by one process at a time: two processes starting on the same
database at once must not both run the migrations.

SQLite: `BEGIN IMMEDIATE` (the database's write lock, waited for up to UPGRADE_WAIT_MS: the other process may be
rebuilding a large index), with foreign keys off as SQLite asks for schema changes (a table rebuilt by a batch
migration would otherwise cascade-delete its children) and checked before the commit.
PostgreSQL: a transaction-scoped advisory lock, so DDL and the version stamp commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, text

from knowledge.dialects import version_for

UPGRADE_WAIT_MS = 10 * 60 * 1000
# Any constant shared by every pitcrew process: the advisory lock's id (the bytes of "pitcrew!").
ADVISORY_LOCK_KEY = int.from_bytes(b"pitcrew!", "big") & 0x7FFF_FFFF_FFFF_FFFF


class ForeignKeyViolation(Exception):
    """An upgrade left rows pointing at rows that do not exist; it was rolled back."""


@contextmanager
def _sqlite(connection: Connection) -> Iterator[None]:
    busy_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before BEGIN
    connection.exec_driver_sql(f"PRAGMA busy_timeout={UPGRADE_WAIT_MS}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise ForeignKeyViolation(f"the upgrade would leave {len(violations)} rows with a broken foreign key "
                                          f"(first in table {violations[0][0]}); nothing was changed")
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout or 0)}")
        connection.commit()  # end SQLAlchemy's bookkeeping transaction around the pragmas


@contextmanager
def _postgresql(connection: Connection) -> Iterator[None]:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    try:
        yield
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


_TRANSACTIONS: dict[str, Callable[[Connection], AbstractContextManager[None]]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


def upgrade_transaction(connection: Connection) -> AbstractContextManager[None]:
    """The upgrade's transaction on `connection` (not in a transaction yet): locked, committed at the end, rolled
    back on any error."""
    return version_for(_TRANSACTIONS, connection, "a schema upgrade")(connection)
