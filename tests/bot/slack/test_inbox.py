"""The event inbox on a real database (a SQLite file, or PostgreSQL in the PostgreSQL pass): claims, take-over of a
dead owner's events, a locked database, several instances claiming at once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.slack.inbox import EventInbox, InboxUnavailable
from bot.slack.inbox_store import (
    ANSWERED,
    FAILED,
    InboxStore,
    new_owner_id,
    owner_process_alive,
)
from bot.slack.writer_thread import LATER, SOON, URGENT, WriterThread
from knowledge.db import Database

ENVELOPE = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention"}})


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def store(db: Database, owner: str, clock: Clock, lease_s: float = 30) -> InboxStore:
    return InboxStore(db.engine, owner, lease_s=lease_s, clock=clock)


def row(db: Database, event_id: str) -> dict:
    with db.engine.connect() as connection:
        return dict(connection.execute(text("SELECT * FROM inboxevent WHERE event_id = :id"),
                                       {"id": event_id}).mappings().one())


def test_a_second_claim_of_one_event_is_refused_even_by_its_owner(database: Database) -> None:
    clock = Clock()
    first, second = store(database, "host-a:1:a", clock), store(database, "host-b:2:b", clock)
    assert first.claim("Ev1", ENVELOPE) is True
    assert first.claim("Ev1", ENVELOPE) is False
    assert second.claim("Ev1", ENVELOPE) is False
    assert second.claim("Ev2", ENVELOPE) is True
    recorded = row(database, "Ev1")
    assert (recorded["state"], recorded["owner"], recorded["envelope"]) == ("received", "host-a:1:a", ENVELOPE)


def test_an_answered_event_is_never_claimed_again_even_after_its_lease(database: Database) -> None:
    clock = Clock()
    first, second = store(database, "host-a:1:a", clock), store(database, "host-b:2:b", clock)
    assert first.claim("Ev1", ENVELOPE) and first.start("Ev1")
    assert first.unanswered() == 1
    assert first.finish("Ev1", ANSWERED)
    assert first.unanswered() == 0
    assert row(database, "Ev1")["envelope"] == ""  # the message is not kept once answered
    clock.advance(3600)
    assert second.claim("Ev1", ENVELOPE) is False
    assert second.take_over_orphans(lambda owner: False) == []


def test_an_unanswered_event_of_a_stale_owner_is_taken_over_once(database: Database) -> None:
    clock = Clock()
    dead, alive = store(database, "host-a:1:a", clock), store(database, "host-b:2:b", clock)
    assert dead.claim("Ev1", ENVELOPE) and dead.start("Ev1")
    clock.advance(10)
    assert alive.claim("Ev1", ENVELOPE) is False  # the owner's lease still runs: it may be answering
    clock.advance(25)  # 35 s: the lease (30 s) ran out without a renewal
    assert alive.claim("Ev1", ENVELOPE) is True
    assert alive.claim("Ev1", ENVELOPE) is False
    assert row(database, "Ev1")["owner"] == "host-b:2:b"
    assert dead.start("Ev1") is False  # the old owner, were it only slow, no longer answers it
    assert dead.finish("Ev1", ANSWERED) is False


def test_an_owner_that_stalled_past_its_lease_sees_the_event_is_no_longer_its_own(database: Database) -> None:
    clock = Clock()
    slow, other = store(database, "host-a:1:a", clock), store(database, "host-b:2:b", clock)
    assert slow.claim("Ev1", ENVELOPE) and slow.start("Ev1")
    assert slow.owns("Ev1") and not other.owns("Ev1")
    clock.advance(35)  # the lease ran out while the slow owner was still working on its reply
    assert other.claim("Ev1", ENVELOPE)
    assert not slow.owns("Ev1")  # so it does not post a second reply
    assert other.owns("Ev1")
    assert other.finish("Ev1", ANSWERED)
    assert not other.owns("Ev1")  # answered: nobody's to answer any more


def test_a_renewed_lease_keeps_the_event_and_orphans_are_taken_over_by_one_sweeper(database: Database) -> None:
    clock = Clock()
    owner = store(database, "host-a:1:a", clock)
    sweepers = [store(database, f"host-b:{n}:b", clock) for n in range(3)]
    assert owner.claim("Ev1", ENVELOPE) and owner.claim("Ev2", ENVELOPE) and owner.finish("Ev2", ANSWERED)
    for _ in range(3):
        clock.advance(20)
        assert owner.renew() == 1
        assert all(sweeper.take_over_orphans() == [] for sweeper in sweepers)
    clock.advance(31)
    taken = [sweeper.take_over_orphans() for sweeper in sweepers]
    assert [len(events) for events in taken] == [1, 0, 0]
    assert taken[0][0].event_id == "Ev1" and taken[0][0].envelope == ENVELOPE


def test_a_dead_local_owner_is_seen_at_once_without_waiting_for_its_lease(database: Database, tmp_path: Path) -> None:
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    local_dead = new_owner_id().split(":")[0] + f":{dead_pid}:deadbeef"
    assert owner_process_alive(local_dead) is False
    assert owner_process_alive(new_owner_id()) is True
    assert owner_process_alive("another-host:1:x") is True  # unknowable: its lease decides
    clock = Clock()
    assert store(database, local_dead, clock).claim("Ev1", ENVELOPE)
    [taken] = store(database, new_owner_id(), clock).take_over_orphans()
    assert taken.event_id == "Ev1"


def test_concurrent_claims_from_separate_engines_have_exactly_one_winner(database: Database) -> None:
    databases = [Database(database.url) for _ in range(4)]  # separate engines, as separate processes would have
    clock = Clock()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda i: store(databases[i % 4], f"h:{i}:x", clock).claim("EvRace", ENVELOPE),
                                    range(16)))
        assert results.count(True) == 1
    finally:
        for db in databases:
            db.close()


@pytest.mark.sqlite_only  # SQLite's database lock; PostgreSQL's row locks are tested below
async def test_a_claim_on_a_locked_database_is_not_acknowledged_and_no_duplicate_follows(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    db = Database(f"sqlite:///{path}")
    inbox = EventInbox(db, recovery_s=600, retention_s=3600, claim_budget_s=0.3)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")  # an import holding the write lock
        locker.execute("INSERT INTO knowledgerevision (id, revision, changed_at) VALUES (1, 1, '2026-01-01')")
        with pytest.raises(InboxUnavailable):
            await inbox.claim("EvLocked", ENVELOPE)
        locker.execute("COMMIT")
        # Nothing was recorded: Slack's redelivery is the first claim, answered once.
        assert await inbox.claim("EvLocked", ENVELOPE) is True
        assert await inbox.claim("EvLocked", ENVELOPE) is False
    finally:
        locker.close()
        await inbox.close()
        db.close()


@pytest.mark.sqlite_only  # SQLite's database lock; PostgreSQL's row locks are tested below
async def test_a_claim_waits_out_a_short_lock_within_its_budget(tmp_path: Path) -> None:
    path = tmp_path / "brief.db"
    db = Database(f"sqlite:///{path}")
    inbox = EventInbox(db, recovery_s=600, retention_s=3600, claim_budget_s=2.0)
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.4, lambda: locker.execute("COMMIT"))  # longer than one busy timeout (100 ms)
    release.start()
    try:
        assert await inbox.claim("EvBrief", ENVELOPE) is True
    finally:
        release.join()
        locker.close()
        await inbox.close()
        db.close()


async def test_a_sweep_answers_young_orphans_and_gives_up_old_or_crash_looping_ones(database: Database) -> None:
    clock = Clock()
    dead = store(database, "another-host:1:dead", clock)
    for event_id in ("EvYoung", "EvOld", "EvLooping"):
        assert dead.claim(event_id, json.dumps({"event_id": event_id}))
    for _ in range(3):
        assert dead.start("EvLooping")
    with database.engine.begin() as connection:  # EvOld came in 20 minutes ago
        connection.execute(text("UPDATE inboxevent SET received_at = :at WHERE event_id = 'EvOld'"),
                           {"at": clock.now - timedelta(minutes=20)})
    clock.advance(31)  # the dead owner's lease ran out
    inbox = EventInbox(database, recovery_s=600, retention_s=3600)
    inbox.store.clock = clock
    dispatched: list[str] = []
    try:
        assert await inbox.sweep(lambda event_id, envelope: dispatched.append(event_id)) == 1
        assert await inbox.sweep(lambda event_id, envelope: dispatched.append(event_id)) == 0
    finally:
        await inbox.close()
    assert dispatched == ["EvYoung"]
    assert row(database, "EvYoung")["state"] == "received" and row(database, "EvYoung")["owner"] == inbox.owner
    assert row(database, "EvOld")["state"] == FAILED
    assert row(database, "EvLooping")["state"] == FAILED


@pytest.mark.sqlite_only  # SQLite's database lock; PostgreSQL's row locks are tested below
async def test_a_claim_does_not_queue_behind_another_write_waiting_on_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    db = Database(f"sqlite:///{path}")
    inbox = EventInbox(db, recovery_s=600, retention_s=3600, claim_budget_s=0.3)
    assert await inbox.claim("EvFirst", ENVELOPE)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        locker.execute("INSERT INTO knowledgerevision (id, revision, changed_at) VALUES (1, 1, '2026-01-01')")
        finishing = asyncio.create_task(inbox.finish("EvFirst"))  # retried for up to 10 s
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(InboxUnavailable):
            await inbox.claim("EvSecond", ENVELOPE)
        assert time.monotonic() - started < 1.0  # its own budget (0.3 s) and one attempt, not the finish's 10 s
        locker.execute("COMMIT")
        await finishing
        assert row(db, "EvFirst")["state"] == ANSWERED
    finally:
        locker.close()
        await inbox.close()
        db.close()


async def test_the_writer_thread_runs_claims_before_answered_marks_before_the_rest() -> None:
    writer = WriterThread("test-writer")
    gate = threading.Event()
    order: list[str] = []
    try:
        busy = asyncio.ensure_future(writer.run(gate.wait, LATER))  # the thread is busy with this one
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(writer.run(lambda name=name: order.append(name), priority))
                  for name, priority in (("later-1", LATER), ("soon", SOON), ("urgent", URGENT), ("later-2", LATER))]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(busy, *queued)
    finally:
        await asyncio.to_thread(writer.close)
    assert order == ["urgent", "soon", "later-1", "later-2"]


async def test_an_error_on_the_writer_thread_reaches_the_caller() -> None:
    def fails() -> None:
        raise ValueError("boom")

    writer = WriterThread("test-writer")
    try:
        with pytest.raises(ValueError, match="boom"):
            await writer.run(fails)
        assert await writer.run(lambda: 42) == 42  # and the thread goes on
    finally:
        await asyncio.to_thread(writer.close)


def test_overlapping_bursts_claimed_by_two_instances_at_once_never_deadlock(database: Database) -> None:
    clock = Clock()
    first, second = Database(database.url), Database(database.url)
    stores = [store(first, "host-a:1:a", clock), store(second, "host-b:2:b", clock)]
    together = threading.Barrier(2)

    def claim_burst(index: int, round_: int) -> list[bool]:
        burst = [(f"Ev{round_}-{n}", ENVELOPE) for n in range(20)]
        together.wait()
        return stores[index].claim_many(burst if index == 0 else burst[::-1])  # the same ids, opposite order

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for round_ in range(15):
                a, b = pool.map(claim_burst, (0, 1), (round_, round_))
                assert all(x != y for x, y in zip(a, b[::-1], strict=True))  # each id claimed exactly once
    finally:
        first.close()
        second.close()


def _hold_claim(url: str, event_id: str) -> Any:
    """Another instance's claim of `event_id`, written and not committed yet (a raw connection, in a transaction)."""
    import psycopg

    from knowledge.dialects.connections import conninfo

    connection = psycopg.connect(conninfo(url))
    connection.execute(
        "INSERT INTO inboxevent (event_id, envelope, state, attempts, owner, lease_until, received_at, updated_at)"
        " VALUES (%s, '', 'received', 0, 'other-host:1:x', now() + interval '30 seconds', now(), now())", (event_id,))
    return connection


@pytest.mark.postgres_only
async def test_a_claim_waits_out_another_instances_claim_of_the_same_event(database: Database) -> None:
    inbox = EventInbox(database, recovery_s=600, retention_s=3600, claim_budget_s=2.0)
    other = _hold_claim(database.url, "EvShared")
    release = threading.Timer(0.4, other.commit)  # longer than one lock timeout (100 ms): retried, not refused
    release.start()
    try:
        started = time.monotonic()
        assert await inbox.claim("EvShared", ENVELOPE) is False  # the other instance's, once it committed
        assert time.monotonic() - started >= 0.3
        assert row(database, "EvShared")["owner"] == "other-host:1:x"
    finally:
        release.join()
        other.close()
        await inbox.close()


@pytest.mark.postgres_only
async def test_a_claim_blocked_past_its_budget_is_not_acknowledged_and_the_redelivery_is_answered(
    database: Database
) -> None:
    inbox = EventInbox(database, recovery_s=600, retention_s=3600, claim_budget_s=0.3)
    other = _hold_claim(database.url, "EvStuck")
    try:
        with pytest.raises(InboxUnavailable):
            await inbox.claim("EvStuck", ENVELOPE)
        other.rollback()  # the other instance's claim never happened
        assert await inbox.claim("EvStuck", ENVELOPE) is True
        assert await inbox.claim("EvStuck", ENVELOPE) is False
    finally:
        other.close()
        await inbox.close()
