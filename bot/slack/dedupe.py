"""Slack event dedupe: the first delivery of an event id claims it; redeliveries (retries) are dropped.

Claims live in the `processedevent` table, so a redelivery after a restart is still recognised.
The claim is one atomic upsert: a fresh id inserts, an id claimed longer than the TTL ago is
re-claimed, anything else changes no row. Concurrent deliveries of one id therefore yield exactly
one winner, even across processes sharing the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, bindparam, text

from knowledge.db import Database

log = logging.getLogger(__name__)

_CLAIM = text(
    "INSERT INTO processedevent (event_id, received_at) VALUES (:event_id, :now) "
    "ON CONFLICT (event_id) DO UPDATE SET received_at = excluded.received_at "
    "WHERE processedevent.received_at < :cutoff"
).bindparams(bindparam("now", type_=DateTime()), bindparam("cutoff", type_=DateTime()))
_PURGE = text("DELETE FROM processedevent WHERE received_at < :cutoff").bindparams(
    bindparam("cutoff", type_=DateTime())
)


def utc_now() -> datetime:
    """Naive UTC, the database's convention."""
    return datetime.now(UTC).replace(tzinfo=None)


class EventDeduper:
    """Claims Slack event ids; `claim` is a single indexed write (~0.1 ms), cheap enough to run inline."""

    def __init__(self, db: Database, ttl_s: int, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        # Expired rows are purged at most this often, from whichever claim comes due.
        self._purge_every_s = min(float(ttl_s), 3600.0)
        self._last_purge = float("-inf")

    def claim(self, event_id: str) -> bool:
        """True if this delivery is the first (or the previous claim expired); False for a redelivery."""
        now = self._clock()
        with self._db.engine.begin() as connection:
            result = connection.execute(_CLAIM, {"event_id": event_id, "now": now, "cutoff": now - self._ttl})
        self._purge_if_due()
        return result.rowcount == 1

    def purge_expired(self) -> int:
        """Delete claims older than the TTL; returns how many."""
        with self._db.engine.begin() as connection:
            deleted = connection.execute(_PURGE, {"cutoff": self._clock() - self._ttl}).rowcount
        self._last_purge = time.monotonic()
        if deleted:
            log.debug("purged expired event claims", extra={"deleted": deleted})
        return deleted

    def _purge_if_due(self) -> None:
        if time.monotonic() - self._last_purge >= self._purge_every_s:
            self.purge_expired()
