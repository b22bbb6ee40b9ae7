"""Which instance runs the scheduled snapshot rebuild: the one holding the schedule's lock.

SQLite (one host): a non-blocking file lock next to the database, released by the kernel when the holder's
process ends. PostgreSQL (several hosts on one database): a session-level advisory lock,
`pg_try_advisory_lock`, held on a connection of its own outside the pool; when the holder dies its session
ends (at once for a killed process, within the keepalive time for a vanished host) and the lock is free.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from filelock import FileLock, Timeout

from knowledge.db import Database, redact_url
from knowledge.dialects import version_for
from knowledge.dialects.connections import dedicated_connection
from knowledge.instance import instance_id

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# Any constant shared by every pitcrew process (the bytes of "pcleader"); advisory locks are per database.
SCHEDULE_LOCK_KEY = int.from_bytes(b"pcleader", "big") & 0x7FFF_FFFF_FFFF_FFFF


class Leadership(Protocol):
    """A lock at most one instance holds. Blocking calls: an async caller runs them in a worker thread."""

    description: str  # where the lock is, for logs (no password)

    def try_acquire(self) -> bool:
        """Take the lock if it is free (never waits); True if this instance holds it now."""

    def still_held(self) -> bool:
        """Whether the lock is still this instance's (False after its connection was lost)."""

    def release(self) -> None:
        """Give the lock up (idempotent)."""


class FileLeadership:
    """A file lock: one leader among the processes of one host."""

    def __init__(self, lock_path: Path) -> None:
        self.description = str(lock_path)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        # Not thread-local: shutdown may release from another thread than the one that acquired.
        self._lock = FileLock(str(lock_path), blocking=False, thread_local=False)

    def try_acquire(self) -> bool:
        if self._lock.is_locked:
            return True
        try:
            self._lock.acquire()
        except Timeout:
            return False
        return True

    def still_held(self) -> bool:
        return self._lock.is_locked  # a file lock cannot be lost while its process lives

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()


class AdvisoryLockLeadership:
    """A PostgreSQL session-level advisory lock on a dedicated connection: one leader per database."""

    def __init__(self, url: str, key: int = SCHEDULE_LOCK_KEY) -> None:
        self.description = f"advisory lock {key} on {redact_url(url)}"
        self._url = url
        self._key = key
        self._connection: psycopg.Connection[Any] | None = None
        self._held = False
        self._guard = threading.Lock()  # the schedule's jobs may call from two worker threads at once

    def try_acquire(self) -> bool:
        import psycopg

        with self._guard:
            if self._held and self._alive():
                return True
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = dedicated_connection(self._url, "schedule", instance_id())
                row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            except psycopg.Error as exc:  # the database is unreachable: a follower for now, try again later
                log.warning("could not try the schedule's leadership lock", extra={"error": type(exc).__name__})
                self._drop_connection()
                return False
            self._held = bool(row and row[0])
            return self._held

    def still_held(self) -> bool:
        with self._guard:
            return self._held and self._alive()

    def release(self) -> None:
        # Closing the session frees its advisory locks: one step, and right even if the connection is broken.
        with self._guard:
            self._drop_connection()

    def _alive(self) -> bool:
        """One round trip on the lock's connection; a lost connection (and with it the lock) is dropped."""
        import psycopg

        if self._connection is None or self._connection.closed:
            self._drop_connection()
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            self._drop_connection()
            return False
        return True

    def _drop_connection(self) -> None:
        connection, self._connection, self._held = self._connection, None, False
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: nothing left to close
                pass


_LEADERSHIP: dict[str, Callable[[Database, Path], Leadership]] = {
    "sqlite": lambda db, lock_path: FileLeadership(lock_path),
    "postgresql": lambda db, lock_path: AdvisoryLockLeadership(db.url),
}


def for_database(db: Database, lock_path: Path) -> Leadership:
    """The schedule's lock for `db`'s engine (`lock_path` is the file lock's, used on SQLite only)."""
    return version_for(_LEADERSHIP, db.engine, "the schedule's leadership")(db, lock_path)
