"""The scheduled snapshot rebuild: APScheduler on the running event loop, one leader per host.

Leadership is a non-blocking file lock next to the database: the process that holds it runs the
rebuild on the cron schedule; any other process on the host is a follower, schedules no rebuild
and retries the lock now and then, so it takes over when the leader exits.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from filelock import FileLock, Timeout
from sqlalchemy.engine import make_url

from knowledge.db import Database
from knowledge.snapshots import RebuildReport, rebuild_snapshots

logger = logging.getLogger(__name__)

REBUILD_JOB_ID = "snapshot-rebuild"
LEADERSHIP_JOB_ID = "snapshot-schedule-leadership"
MISFIRE_GRACE_S = 300  # a run missed by less than this (busy loop, suspended laptop) still happens
LEADERSHIP_RETRY_S = 60.0

Role = Literal["leader", "follower"]


def default_lock_path(database_url: str, data_dir: Path = Path("data")) -> Path:
    """Next to a SQLite database file; under `data_dir` for in-memory or non-SQLite databases."""
    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        path = Path(database).expanduser()
        return path.with_name(path.name + ".schedule.lock")
    return data_dir / "snapshot-schedule.lock"


class SnapshotSchedule:
    """A started schedule. Use `start_snapshot_schedule`; call `shutdown()` when the process stops."""

    def __init__(self, db: Database, cron: str, lock_path: Path, leadership_retry_s: float | None) -> None:
        self._db = db
        self._trigger = CronTrigger.from_crontab(cron, timezone=UTC)
        self.cron = cron
        self.lock_path = lock_path
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        # Not thread-local: shutdown may release from another thread than the one that acquired.
        self._lock = FileLock(str(lock_path), blocking=False, thread_local=False)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._role: Role = "follower"
        self._leadership_retry_s = leadership_retry_s
        self.last_report: RebuildReport | None = None
        self.last_run_at: datetime | None = None
        self._stopped = False
        self._run_finished = asyncio.Event()

    @property
    def role(self) -> Role:
        return self._role

    @property
    def next_run_time(self) -> datetime | None:
        """When the next rebuild runs (aware, UTC); None on a follower or after shutdown."""
        if self._stopped or not self._scheduler.running:
            return None
        job = self._scheduler.get_job(REBUILD_JOB_ID)
        return job.next_run_time if job is not None else None

    def state(self) -> dict[str, Any]:
        """What /healthz reports about the schedule."""
        next_run = self.next_run_time
        report = self.last_report
        return {
            "role": self._role,
            "cron": self.cron,
            "next_run_time": next_run.isoformat() if next_run else None,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_report": report.as_json() | {"scope": report.scope, "errors": len(report.errors)} if report else None,
        }

    def start(self) -> None:
        self._scheduler.start()  # binds to the running loop
        if self._try_lead():
            return
        logger.info(
            "snapshot schedule: follower, another process holds the lock",
            extra={"lock_path": str(self.lock_path), "retry_s": self._leadership_retry_s},
        )
        if self._leadership_retry_s:
            self._scheduler.add_job(
                self._retry_leadership,
                IntervalTrigger(seconds=self._leadership_retry_s, timezone=UTC),
                id=LEADERSHIP_JOB_ID,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )

    def _try_lead(self) -> bool:
        try:
            self._lock.acquire()
        except Timeout:
            return False
        self._role = "leader"
        self._scheduler.add_job(
            self._rebuild,
            self._trigger,
            id=REBUILD_JOB_ID,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
            replace_existing=True,
        )
        logger.info(
            "snapshot schedule: leader",
            extra={"lock_path": str(self.lock_path), "cron": self.cron, "next_run_time": str(self.next_run_time)},
        )
        return True

    async def _retry_leadership(self) -> None:
        if self._stopped or self._role == "leader" or not self._try_lead():
            return
        if self._scheduler.get_job(LEADERSHIP_JOB_ID):
            self._scheduler.remove_job(LEADERSHIP_JOB_ID)

    async def _rebuild(self) -> None:
        started = datetime.now(UTC)
        try:
            # The change log says which products to check: with nothing changed, two reads and no per-product work.
            report = await asyncio.to_thread(functools.partial(rebuild_snapshots, self._db, changed_only=True))
        except Exception:  # the schedule must outlive a bad run; the next one may succeed
            logger.exception("scheduled snapshot rebuild crashed")
        else:
            self.last_report = report
            logger.info(
                "scheduled snapshot rebuild finished",
                extra={
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
            self._run_finished.set()

    def run_soon(self) -> bool:
        """Make the leader's rebuild job due now, run by the scheduler as a cron firing is; False on a follower."""
        job = self._scheduler.get_job(REBUILD_JOB_ID) if not self._stopped and self._scheduler.running else None
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
        if self._lock.is_locked:
            self._lock.release()
        self._role = "follower"


def start_snapshot_schedule(
    db: Database, cron: str, lock_path: Path, *, leadership_retry_s: float | None = LEADERSHIP_RETRY_S
) -> SnapshotSchedule:
    """Start the scheduled rebuild on the running event loop (call it from async code).

    Raises ValueError for a cron expression that is not 5-field crontab syntax.
    """
    schedule = SnapshotSchedule(db, cron, lock_path, leadership_retry_s)
    schedule.start()
    return schedule
