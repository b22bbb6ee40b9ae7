"""The durable event inbox: an event is written down before it is acknowledged, and answered exactly once.

Intake claims each event (`claim`) before acking it; a claim that cannot be written within
`CLAIM_BUDGET_S` raises `InboxUnavailable` and the event is not acknowledged, so Slack delivers it
again (never a second reply from a claim that failed open). The responder moves the event to
`answering` and then `answered` | `failed`. While the process lives it renews the lease on its
unanswered events; every `SWEEP_S` (and at start) it takes over the unanswered events of owners that
died, answers those younger than INBOX_RECOVERY_S and marks older ones `failed` (a late answer would
confuse the thread).

Every statement runs on one dedicated writer thread (claims first, those of a burst in one
transaction; then answered marks), never on the event loop, on a connection of its own: a write that
meets another's lock (SQLite's database lock while an import commits; on PostgreSQL another instance's
claim of the same event) waits there for a short busy or lock timeout, and is retried within a budget.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.slack.inbox_store import (
    ANSWERED,
    ANSWERING,
    FAILED,
    InboxStore,
    UnansweredEvent,
    new_owner_id,
)
from bot.slack.writer_thread import LATER, SOON, URGENT, WriterThread, settle_future
from knowledge.db import (
    WRITER_PAGE_CACHE_KIB,
    Database,
    create_db_engine,
    is_in_memory,
)
from knowledge.dialects import lock_errors

log = logging.getLogger(__name__)

T = TypeVar("T")

LEASE_S = 30.0  # how long an owner that stopped renewing keeps its events (another host cannot see it died)
SWEEP_S = 5.0  # lease renewal and the look for dead owners' events
CLAIM_BUDGET_S = 1.0  # Slack wants the ack within 3 s; past this the event is left unacknowledged
STATE_BUDGET_S = 10.0  # answering/answered marks: retried this long, then again at the next sweep
BUSY_TIMEOUT_MS = 100  # per attempt, on the writer thread's own connection (PostgreSQL: its lock_timeout)
RETRY_PAUSE_S = 0.005
MAX_ATTEMPTS = 3  # answers started for one event (each crash took one): then it is `failed`
PURGE_EVERY_S = 3600.0

Dispatch = Callable[[str, str], None]  # (event id, envelope JSON): hand a taken-over event to Bolt again


class InboxUnavailable(Exception):
    """The claim could not be written in time: the event must not be acknowledged."""


class EventInbox:
    """The inbox of one `pitcrew serve` instance; call `close()` when done."""

    def __init__(self, db: Database, *, recovery_s: float, retention_s: float, lease_s: float = LEASE_S,
                 sweep_s: float = SWEEP_S, claim_budget_s: float = CLAIM_BUDGET_S) -> None:
        self._engine = _writer_engine(db)
        self._own_engine = self._engine is not db.engine
        self._is_lock_error = lock_errors.for_engine(self._engine)  # worth retrying at once
        self.store = InboxStore(self._engine, new_owner_id(), lease_s=lease_s)
        self.recovery_s = recovery_s
        self.retention_s = retention_s
        self.sweep_s = sweep_s
        self.claim_budget_s = claim_budget_s
        self.routed: set[str] = set()  # events Bolt handed to a listener (the listener finishes them)
        # Events taken over whose answer had started (a reply may be in Slack already) -> when received.
        self.resumed: dict[str, datetime] = {}
        self._writer = WriterThread("inbox-writer")
        self._claims: list[tuple[str, str, asyncio.Future[bool]]] = []  # waiting for the writer thread
        self._claims_queued = False  # a job to write them is queued
        self._claims_lock = threading.Lock()
        self._unfinished: dict[str, str] = {}  # event id -> final state whose write failed; retried each sweep
        self._last_purge = float("-inf")
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def owner(self) -> str:
        return self.store.owner

    async def claim(self, event_id: str, envelope: str) -> bool:
        """True: answer it. False: a redelivery of an event taken already. Raises InboxUnavailable."""
        deadline = time.monotonic() + self.claim_budget_s
        while True:
            try:
                return await self._claim_in_batch(event_id, envelope)
            except SQLAlchemyError as exc:
                if not self._is_lock_error(exc) or time.monotonic() >= deadline:
                    log.warning("could not record a Slack event; leaving it unacknowledged so Slack sends it again",
                                extra={"event_id": event_id, "error": type(exc).__name__})
                    raise InboxUnavailable(event_id) from exc
            await asyncio.sleep(RETRY_PAUSE_S)

    async def _claim_in_batch(self, event_id: str, envelope: str) -> bool:
        """One attempt, together with the other claims waiting when the writer thread gets to it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._claims_lock:
            self._claims.append((event_id, envelope, future))
            submit, self._claims_queued = not self._claims_queued, True
        if submit:
            self._writer.submit(lambda: self._write_claims(loop), URGENT)
        return await future

    def _write_claims(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the writer thread: every claim queued so far, in one transaction."""
        with self._claims_lock:
            batch, self._claims, self._claims_queued = self._claims, [], False
        try:
            claimed = self.store.claim_many([(event_id, envelope) for event_id, envelope, _ in batch])
        except BaseException as exc:  # each waiting claim decides (retry or give up)
            for *_, future in batch:
                settle_future(loop, future, None, exc)
            return
        for (*_, future), outcome in zip(batch, claimed, strict=True):
            settle_future(loop, future, outcome, None)

    async def start(self, event_id: str) -> bool:
        """Mark the event `answering`; False when another instance has taken it over (do not answer)."""
        try:
            return await self._write(lambda: self.store.start(event_id), time.monotonic() + STATE_BUDGET_S, LATER)
        except SQLAlchemyError as exc:  # still ours (claimed): answer; a crash now would answer it again
            log.warning("could not mark an event as being answered", extra={"event_id": event_id,
                                                                           "error": type(exc).__name__})
            return True

    async def still_ours(self, event_id: str) -> bool:
        """Whether the event is still this instance's to answer, checked right before its reply is posted: an
        instance that stalled past its lease while another took the event over must not answer it too."""
        try:
            return await self._write(lambda: self.store.owns(event_id), time.monotonic() + STATE_BUDGET_S, SOON)
        except SQLAlchemyError as exc:  # cannot tell: answer (a lost answer is worse than a rare second one)
            log.warning("could not check an event's owner before replying", extra={"event_id": event_id,
                                                                                  "error": type(exc).__name__})
            return True

    async def finish(self, event_id: str, state: str = ANSWERED) -> None:
        """Record the event as `answered` (or `failed`); a write that fails is retried at the next sweep."""
        self.routed.discard(event_id)
        try:
            await self._write(lambda: self.store.finish(event_id, state), time.monotonic() + STATE_BUDGET_S, SOON)
        except SQLAlchemyError as exc:
            log.warning("could not record an event as finished; retrying later",
                        extra={"event_id": event_id, "state": state, "error": type(exc).__name__})
            self._unfinished[event_id] = state

    def start_sweeping(self, dispatch: Dispatch) -> None:
        """Renew leases and answer dead owners' events now and every `sweep_s`, until `close()`."""
        self._sweeper = asyncio.create_task(self._sweep_forever(dispatch), name="inbox sweeper")

    async def sweep(self, dispatch: Dispatch) -> int:
        """One round: renew, retry failed finishes, take over orphans; returns how many were dispatched again."""
        for event_id, state in list(self._unfinished.items()):
            if await self._try(lambda e=event_id, s=state: self.store.finish(e, s)) is not None:
                self._unfinished.pop(event_id, None)
        await self._try(self.store.renew)
        taken = await self._try(self.store.take_over_orphans) or []
        dispatched = 0
        for event in taken:
            if await self._recover(event):
                if event.state == ANSWERING:  # its reply may have reached Slack just before the crash
                    self.resumed[event.event_id] = event.received_at
                dispatch(event.event_id, event.envelope)
                dispatched += 1
        if time.monotonic() - self._last_purge >= PURGE_EVERY_S:
            if await self._try(lambda: self.store.purge(self.retention_s)) is not None:
                self._last_purge = time.monotonic()
        return dispatched

    async def stop_sweeping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    async def close(self) -> None:
        await self.stop_sweeping()
        await asyncio.to_thread(self._writer.close)
        if self._own_engine:
            self._engine.dispose()

    async def _recover(self, event: UnansweredEvent) -> bool:
        """Whether a taken-over event should be answered now; a stale or crash-looping one is marked failed."""
        age_s = (self.store.clock() - event.received_at).total_seconds()
        facts = {"event_id": event.event_id, "previous_owner": event.owner, "state": event.state,
                 "attempts": event.attempts, "age_s": round(age_s, 1)}
        if age_s > self.recovery_s or event.attempts >= MAX_ATTEMPTS:
            reason = "too old to answer now" if age_s > self.recovery_s else "its answer failed too often"
            log.warning(f"an acknowledged event was never answered and is now given up ({reason})", extra=facts)
            await self.finish(event.event_id, FAILED)
            return False
        log.info("answering an acknowledged event whose owner stopped", extra=facts)
        return True

    async def _sweep_forever(self, dispatch: Dispatch) -> None:
        while True:
            try:
                await self.sweep(dispatch)
            except Exception:  # one bad round must not end recovery for good
                log.exception("inbox sweep failed")
            await asyncio.sleep(self.sweep_s)

    async def _try(self, write: Callable[[], T]) -> T | None:
        try:
            return await self._write(write, time.monotonic() + STATE_BUDGET_S, LATER)
        except SQLAlchemyError as exc:
            log.warning("inbox write failed; retrying at the next sweep", extra={"error": type(exc).__name__})
            return None

    async def _write(self, write: Callable[[], T], deadline: float, priority: int) -> T:
        """Run `write` on the writer thread, retrying lock errors until `deadline` (time.monotonic()).

        Each attempt is its own turn on the thread (one busy timeout at most), so a claim never waits
        behind another write's retries, only behind one attempt."""
        while True:
            try:
                return await self._writer.run(write, priority)
            except OperationalError as exc:
                if not self._is_lock_error(exc) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(RETRY_PAUSE_S)


def _writer_engine(db: Database) -> Engine:
    """Connections of its own with a short busy (lock) timeout, so one attempt never waits long; an in-memory
    database has only its one connection."""
    if is_in_memory(db.url):
        return db.engine
    # One writer thread, plus a read now and then (the unanswered count of /healthz).
    return create_db_engine(db.url, busy_timeout_ms=BUSY_TIMEOUT_MS, page_cache_kib=WRITER_PAGE_CACHE_KIB,
                            pool=db.pool.sized(1, 2))
