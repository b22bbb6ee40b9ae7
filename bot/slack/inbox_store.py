"""The event inbox table's statements: claim, state changes, lease renewal, take-over of dead owners' events.

Every method is one short write transaction (blocking; `bot.slack.inbox` runs them off the event loop).
A claim is one atomic upsert: a fresh event id inserts; an id whose owner's lease ran out while it was
still unanswered is taken over; anything else (answered, failed, or owned by a live instance) changes
no row. Concurrent deliveries of one id therefore yield exactly one winner, across processes (and on
PostgreSQL across hosts: the upsert is the same statement there, and a second claim of an id waits on the
first one's unique-key lock, then sees its row).

Times are naive UTC in SQLite and in the statements; a PostgreSQL `timestamptz` column reads them in the
session's UTC time zone (knowledge.dialects.connections) and hands them back aware, made naive again here.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, DateTime, Engine, bindparam, text

from knowledge.instance import instance_id

RECEIVED, ANSWERING, ANSWERED, FAILED = "received", "answering", "answered", "failed"
UNANSWERED = (RECEIVED, ANSWERING)

_CLAIM = text(
    "INSERT INTO inboxevent (event_id, envelope, state, attempts, owner, lease_until, received_at, updated_at) "
    "VALUES (:event_id, :envelope, 'received', 0, :owner, :lease_until, :now, :now) "
    "ON CONFLICT (event_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until, "
    "updated_at = excluded.updated_at "
    "WHERE inboxevent.state IN ('received', 'answering') AND inboxevent.lease_until < :now"
).bindparams(*(bindparam(name, type_=DateTime()) for name in ("now", "lease_until")))
_START = text(
    "UPDATE inboxevent SET state = 'answering', attempts = attempts + 1, updated_at = :now "
    "WHERE event_id = :event_id AND owner = :owner AND state IN ('received', 'answering')"
).bindparams(bindparam("now", type_=DateTime()))
# An answered event keeps its id (to drop redeliveries) but not the message it carried.
_FINISH = text(
    "UPDATE inboxevent SET state = :state, updated_at = :now, "
    "envelope = CASE WHEN :forget_envelope THEN '' ELSE envelope END "
    "WHERE event_id = :event_id AND owner = :owner AND state IN ('received', 'answering')"
).bindparams(bindparam("now", type_=DateTime()), bindparam("forget_envelope", type_=Boolean()))
_RENEW = text(
    "UPDATE inboxevent SET lease_until = :lease_until "
    "WHERE owner = :owner AND state IN ('received', 'answering')"
).bindparams(bindparam("lease_until", type_=DateTime()))
_OTHERS_UNANSWERED = text(
    "SELECT event_id, envelope, state, attempts, owner, lease_until, received_at FROM inboxevent "
    "WHERE state IN ('received', 'answering') AND owner != :owner ORDER BY received_at"
)
_TAKE_OVER = text(
    "UPDATE inboxevent SET owner = :owner, lease_until = :lease_until, updated_at = :now "
    "WHERE event_id = :event_id AND owner = :previous AND state IN ('received', 'answering')"
).bindparams(*(bindparam(name, type_=DateTime()) for name in ("now", "lease_until")))
_OWNED = text(
    "SELECT 1 FROM inboxevent WHERE event_id = :event_id AND owner = :owner AND state IN ('received', 'answering')"
)
_UNANSWERED_COUNT = text("SELECT count(*) FROM inboxevent WHERE state IN ('received', 'answering')")
_PURGE = text(
    "DELETE FROM inboxevent WHERE state IN ('answered', 'failed') AND updated_at < :cutoff"
).bindparams(bindparam("cutoff", type_=DateTime()))

HOST = socket.gethostname()


def utc_now() -> datetime:
    """Naive UTC, the database's convention."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_owner_id() -> str:
    """This instance's name in the inbox: host and pid (to see at once that a local owner died), then a nonce."""
    return f"{instance_id()}:{uuid.uuid4().hex[:8]}"


def owner_process_alive(owner: str) -> bool:
    """False when `owner` ran on this host and its process is gone; True when alive or unknowable (another host)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that pid
        return True
    return True


@dataclass(frozen=True)
class UnansweredEvent:
    event_id: str
    envelope: str
    state: str
    attempts: int
    owner: str
    lease_until: datetime
    received_at: datetime


class InboxStore:
    """The inbox as seen by one instance (`owner`)."""

    def __init__(self, engine: Engine, owner: str, *, lease_s: float,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.owner = owner
        self.lease = timedelta(seconds=lease_s)
        self.clock = clock

    def claim(self, event_id: str, envelope: str) -> bool:
        """True: this instance now owns the event and must answer it. False: a redelivery to drop."""
        now = self.clock()
        with self.engine.begin() as connection:
            result = connection.execute(_CLAIM, {"event_id": event_id, "envelope": envelope, "owner": self.owner,
                                                 "lease_until": now + self.lease, "now": now})
        return result.rowcount == 1

    def claim_many(self, events: list[tuple[str, str]]) -> list[bool]:
        """`claim` for each (event id, envelope), in one transaction (a burst's claims share one commit)."""
        now = self.clock()
        claimed = [False] * len(events)
        with self.engine.begin() as connection:
            # In event id order: two instances claiming overlapping bursts take the ids' locks in the same
            # order, so on PostgreSQL one waits for the other instead of both deadlocking.
            for index in sorted(range(len(events)), key=lambda index: events[index][0]):
                event_id, envelope = events[index]
                claimed[index] = connection.execute(_CLAIM, {
                    "event_id": event_id, "envelope": envelope, "owner": self.owner,
                    "lease_until": now + self.lease, "now": now}).rowcount == 1
        return claimed

    def start(self, event_id: str) -> bool:
        """Mark an owned event `answering` (one more attempt); False if it is no longer this instance's."""
        with self.engine.begin() as connection:
            result = connection.execute(_START, {"event_id": event_id, "owner": self.owner, "now": self.clock()})
        return result.rowcount == 1

    def owns(self, event_id: str) -> bool:
        """Whether the event is still this instance's to answer (not taken over, not finished)."""
        with self.engine.connect() as connection:
            return connection.execute(_OWNED, {"event_id": event_id, "owner": self.owner}).first() is not None

    def finish(self, event_id: str, state: str) -> bool:
        """Mark an owned, unanswered event `answered` or `failed`; False if it was not this instance's to finish."""
        assert state in (ANSWERED, FAILED)
        with self.engine.begin() as connection:
            result = connection.execute(_FINISH, {"event_id": event_id, "owner": self.owner, "state": state,
                                                  "forget_envelope": state == ANSWERED, "now": self.clock()})
        return result.rowcount == 1

    def renew(self) -> int:
        """Extend the lease of every event this instance still has to answer; returns how many."""
        with self.engine.begin() as connection:
            return connection.execute(_RENEW, {"owner": self.owner, "lease_until": self.clock() + self.lease}).rowcount

    def take_over_orphans(self, alive: Callable[[str], bool] = owner_process_alive) -> list[UnansweredEvent]:
        """Take every unanswered event whose owner is gone (lease run out, or a dead local process); returns them."""
        now = self.clock()
        taken = []
        with self.engine.begin() as connection:
            rows = connection.execute(_OTHERS_UNANSWERED, {"owner": self.owner}).all()
            for row in rows:
                event = UnansweredEvent(row.event_id, row.envelope, row.state, row.attempts, row.owner,
                                        _as_datetime(row.lease_until), _as_datetime(row.received_at))
                if event.lease_until >= now and alive(event.owner):
                    continue
                result = connection.execute(_TAKE_OVER, {"event_id": event.event_id, "previous": event.owner,
                                                         "owner": self.owner, "lease_until": now + self.lease,
                                                         "now": now})
                if result.rowcount == 1:
                    taken.append(event)
        return taken

    def unanswered(self) -> int:
        """Events acknowledged and not answered yet, by any instance (a read: never waits on the lock)."""
        with self.engine.connect() as connection:
            return int(connection.execute(_UNANSWERED_COUNT).scalar_one())

    def purge(self, retention_s: float) -> int:
        """Forget answered and failed events older than `retention_s` (Slack redelivers within minutes)."""
        with self.engine.begin() as connection:
            return connection.execute(_PURGE, {"cutoff": self.clock() - timedelta(seconds=retention_s)}).rowcount


def _as_datetime(value: datetime | str) -> datetime:
    """Naive UTC from a raw read: SQLite hands DATETIME columns back as strings, PostgreSQL timestamptz aware."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
