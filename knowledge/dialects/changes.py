"""How the instances sharing a database learn that one of them changed the knowledge base.

An import that changes something bumps the knowledge revision in its own transaction (knowledge.revision),
and every instance checks the revision now and then (bot.app.knowledge_watch). PostgreSQL also announces
it: `pg_notify('pitcrew_knowledge', '<revision>')` in that same transaction, which the server delivers to
every listening session when the transaction commits (and never if it rolls back). Each instance listens on
a connection of its own and reloads at once; the revision check stays as the fallback (a listener between
connections misses announcements). SQLite has no such channel: there the check is the only way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import Connection, text

from knowledge.db import Database
from knowledge.dialects import version_for
from knowledge.dialects.connections import dedicated_async_connection
from knowledge.instance import instance_id

log = logging.getLogger(__name__)

CHANNEL = "pitcrew_knowledge"
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0

# Called with the revision announced, or None after (re)connecting: "look, something may have changed meanwhile".
OnChange = Callable[[int | None], Awaitable[None]]

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def _announce_nothing(connection: Connection, revision: int) -> None:
    """SQLite: nothing to announce to; the other processes check the revision."""


def _notify(connection: Connection, revision: int) -> None:
    connection.execute(_NOTIFY, {"channel": CHANNEL, "payload": str(revision)})


_ANNOUNCE: dict[str, Callable[[Connection, int], None]] = {"sqlite": _announce_nothing, "postgresql": _notify}


def announce(connection: Connection, revision: int) -> None:
    """Tell the other instances about `revision` when the transaction on `connection` commits."""
    version_for(_ANNOUNCE, connection, "announcing knowledge changes")(connection, revision)


class ChangeListener:
    """LISTENs on PostgreSQL for announced revisions and calls `on_change`, reconnecting after a lost connection.

    Runs on the event loop (psycopg's async connection); `on_change` is awaited, one announcement at a time.
    """

    def __init__(self, url: str, on_change: OnChange) -> None:
        self._url = url
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        self.listening = False  # connected and LISTENing now

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="knowledge-listen")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.listening = False

    async def _listen_forever(self) -> None:
        import psycopg

        delay = RECONNECT_MIN_S
        while True:
            try:
                connection = await dedicated_async_connection(self._url, "knowledge-listener", instance_id())
                async with connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.listening, delay = True, RECONNECT_MIN_S
                    log.info("listening for knowledge changes", extra={"channel": CHANNEL})
                    await self._call(None)  # a change committed before LISTEN was not announced to this session
                    async for notify in connection.notifies():
                        await self._call(_revision(notify.payload))
            except psycopg.Error as exc:
                log.warning("the knowledge change listener lost its connection; the revision check covers until "
                            "it reconnects", extra={"error": type(exc).__name__, "retry_s": delay})
            finally:
                self.listening = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _call(self, revision: int | None) -> None:
        try:
            await self._on_change(revision)
        except Exception:  # the listener must outlive a bad reload; the next announcement tries again
            log.exception("handling a knowledge change failed")


def _revision(payload: str) -> int | None:
    try:
        return int(payload)
    except ValueError:  # not ours to interpret: look at the revision instead
        return None


_LISTENER: dict[str, Callable[[Database, OnChange], ChangeListener | None]] = {
    "sqlite": lambda db, on_change: None,
    "postgresql": lambda db, on_change: ChangeListener(db.url, on_change),
}


def listener_for(db: Database, on_change: OnChange) -> ChangeListener | None:
    """A (not yet started) listener for `db`'s announcements; None where there are none (SQLite)."""
    return version_for(_LISTENER, db.engine, "listening for knowledge changes")(db, on_change)
