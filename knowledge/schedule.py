"""The scheduled snapshot rebuild: APScheduler on the running event loop, one leader among the instances.

Leadership is a lock (knowledge.dialects.leader: a file lock next to a SQLite database, a PostgreSQL advisory
lock on a connection of its own): the instance that holds it runs the rebuild on the cron schedule. Every
instance fires the cron job: the leader first checks that its lock is still its own (a lost connection loses
it) and rebuilds; a follower tries the lock and, if the leader is gone, takes it and rebuilds in the same
firing, so a dead leader's run passes to another instance within one tick. Followers also retry every
`leadership_retry_s`, so /healthz names the new leader before the next tick. Every run logs the instance.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from knowledge.db import Database
from knowledge.dialects.leader import Leadership, for_database
from knowledge.instance import instance_id
from knowledge.snapshots import RebuildReport, rebuild_snapshots

logger = logging.getLogger(__name__)

REBUILD_JOB_ID = "snapshot-rebuild"
LEADERSHIP_JOB_ID = "snapshot-schedule-leadership"
MISFIRE_GRACE_S = 300  # a run missed by less than this (busy loop, suspended laptop) still happens
LEADERSHIP_RETRY_S = 60.0

Role = Literal["leader", "follower"]


def default_lock_path(database_url: str, data_dir: Path = Path("data")) -> Path:
    """The leadership lock's file on SQLite: next to a database file, under `data_dir` for an in-memory one
    (PostgreSQL uses an advisory lock instead)."""
    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        path = Path(database).expanduser()
        return path.with_name(path.name + ".schedule.lock")
    return data_dir / "snapshot-schedule.lock"


class SnapshotSchedule:
    """A started schedule. Use `start_snapshot_schedule`; call `shutdown()` when the process stops."""

    def __init__(self, db: Database, cron: str, trigger: BaseTrigger, leadership: Leadership,
                 leadership_retry_s: float | None) -> None:
        self._db = db
        self._trigger = trigger
        self.cron = cron
        self._leadership = leadership
        self.instance = instance_id()
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._role: Role = "follower"
        self._leadership_retry_s = leadership_retry_s
        self.last_report: RebuildReport | None = None
        self.last_run_at: datetime | None = None
        self.runs = 0  # rebuilds this instance ran
        self._stopped = False
        self._run_finished = asyncio.Event()
        self._leadership_turn = asyncio.Lock()  # the firing and the retry job must not try the lock at once

    @property
    def role(self) -> Role:
        return self._role

    @property
    def lock(self) -> str:
        """Where the leadership lock is (a file, or an advisory lock on the database)."""
        return self._leadership.description

    @property
    def next_run_time(self) -> datetime | None:
        """When the next rebuild runs (aware, UTC); None on a follower or after shutdown."""
        if self._stopped or self._role != "leader" or not self._scheduler.running:
            return None
        job = self._scheduler.get_job(REBUILD_JOB_ID)
        return job.next_run_time if job is not None else None

    def state(self) -> dict[str, Any]:
        """What /healthz reports about the schedule."""
        next_run = self.next_run_time
        report = self.last_report
        return {
            "role": self._role,
            "instance": self.instance,
            "cron": self.cron,
            "next_run_time": next_run.isoformat() if next_run else None,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_report": report.as_json() | {"scope": report.scope, "errors": len(report.errors)} if report else None,
        }

    def start(self) -> None:
        self._scheduler.start()  # binds to the running loop
        self._scheduler.add_job(
            self._tick,
            self._trigger,
            id=REBUILD_JOB_ID,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
            replace_existing=True,
        )
        if self._leadership_retry_s:
            self._scheduler.add_job(
                self._check_leadership,
                IntervalTrigger(seconds=self._leadership_retry_s, timezone=UTC),
                id=LEADERSHIP_JOB_ID,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        if self._leadership.try_acquire():  # blocking, once at start (the retries run in a worker thread)
            self._become_leader()
            return
        logger.info(
            "snapshot schedule: follower, another process holds the lock",
            extra={"lock": self.lock, "instance": self.instance, "retry_s": self._leadership_retry_s},
        )

    def _become_leader(self) -> None:
        self._role = "leader"
        logger.info(
            "snapshot schedule: leader",
            extra={"lock": self.lock, "instance": self.instance, "cron": self.cron,
                   "next_run_time": str(self.next_run_time)},
        )

    def _lose_leadership(self) -> None:
        self._role = "follower"
        logger.warning("snapshot schedule: lost the leadership lock (its database connection ended); "
                       "another instance takes over", extra={"lock": self.lock, "instance": self.instance})

    async def _claim_or_confirm(self) -> bool:
        """Whether this instance leads now: a leader confirms its lock, a follower tries to take it."""
        async with self._leadership_turn:
            return await self._claim_or_confirm_now()

    async def _claim_or_confirm_now(self) -> bool:
        if self._role == "leader":
            if await asyncio.to_thread(self._leadership.still_held):
                return True
            if self._stopped:
                return False
            self._lose_leadership()
        if not self._stopped and await asyncio.to_thread(self._leadership.try_acquire):
            if self._stopped:  # shut down meanwhile: the lock must not outlive the schedule
                self._leadership.release()
                return False
            self._become_leader()
            return True
        return False

    async def _check_leadership(self) -> None:
        if not self._stopped:
            await self._claim_or_confirm()

    async def _tick(self) -> None:
        """A cron firing: the leader (or the follower that finds the leader gone) rebuilds."""
        if not self._stopped and await self._claim_or_confirm():
            await self._rebuild()

    async def _rebuild(self) -> None:
        started = datetime.now(UTC)
        facts: dict[str, Any] = {"instance": self.instance, "started_at": started.isoformat()}
        try:
            # The change log says which products to check: with nothing changed, two reads and no per-product work.
            report = await asyncio.to_thread(functools.partial(rebuild_snapshots, self._db, changed_only=True))
        except Exception:  # the schedule must outlive a bad run; the next one may succeed
            logger.exception("scheduled snapshot rebuild crashed", extra=facts)
        else:
            self.last_report = report
            logger.info(
                "scheduled snapshot rebuild finished",
                extra=facts | {
                    "scope": report.scope,
                    "built": report.built,
                    "unchanged": report.unchanged,
                    "failed": report.failed,
                    "removed": report.removed,
                    "seconds": report.seconds,
                },
            )
        finally:
            self.last_run_at = started
            self.runs += 1
            self._run_finished.set()

    def add_leader_job(self, job_id: str, when: str | BaseTrigger, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` on `when` (a 5-field crontab expression, or a trigger) too, on the leader only (as the rebuild:
        a follower that finds the leader gone takes over in the same firing): the Airtable sync, the alert digest.
        Raises ValueError for a cron expression that is not crontab syntax."""
        trigger = CronTrigger.from_crontab(when, timezone=UTC) if isinstance(when, str) else when

        async def tick() -> None:
            if not self._stopped and await self._claim_or_confirm():
                try:
                    await job()
                except Exception:  # the schedule must outlive a bad run
                    logger.exception("scheduled job crashed", extra={"job": job_id, "instance": self.instance})

        self._scheduler.add_job(tick, trigger, id=job_id, coalesce=True, max_instances=1,
                                misfire_grace_time=MISFIRE_GRACE_S, replace_existing=True)

    def run_job_soon(self, job_id: str) -> bool:
        """Make a job added with `add_leader_job` due now; False if there is no such job or the schedule stopped."""
        if self._stopped or not self._scheduler.running:
            return False
        scheduled = self._scheduler.get_job(job_id)
        if scheduled is None:
            return False
        scheduled.modify(next_run_time=datetime.now(UTC))
        return True

    def run_soon(self) -> bool:
        """Make the leader's rebuild job due now, run by the scheduler as a cron firing is; False on a follower."""
        if self._role != "leader" or self._stopped or not self._scheduler.running:
            return False
        job = self._scheduler.get_job(REBUILD_JOB_ID)
        if job is None:
            return False
        self._run_finished.clear()
        job.modify(next_run_time=datetime.now(UTC))
        return True

    async def wait_for_run(self, timeout: float) -> bool:
        """Wait until a rebuild run finishes (one started after the last `run_soon`); False on timeout."""
        try:
            await asyncio.wait_for(self._run_finished.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def shutdown(self) -> None:
        """Stop scheduling (a run in progress finishes in its thread) and give up leadership."""
        self._stopped = True
        if self._scheduler.running:
            try:
                self._scheduler.shutdown(wait=False)
            except RuntimeError:  # the event loop is already closed: nothing left to stop
                pass
        self._leadership.release()
        self._role = "follower"


def start_snapshot_schedule(
    db: Database,
    cron: str,
    lock_path: Path,
    *,
    leadership_retry_s: float | None = LEADERSHIP_RETRY_S,
    trigger: BaseTrigger | None = None,
) -> SnapshotSchedule:
    """Start the scheduled rebuild on the running event loop (call it from async code).

    `lock_path` is the leadership lock's file on SQLite (PostgreSQL uses an advisory lock). Followers try the
    lock at every firing and every `leadership_retry_s` (None: at firings only). `trigger`, for tests and
    benchmarks, fires in place of the cron expression (e.g. every second).
    Raises ValueError for a cron expression that is not 5-field crontab syntax.
    """
    trigger = trigger or CronTrigger.from_crontab(cron, timezone=UTC)
    schedule = SnapshotSchedule(db, cron, trigger, for_database(db, lock_path), leadership_retry_s)
    schedule.start()
    return schedule
