"""The scheduled rebuild: one leader per database (a lock file on SQLite, an advisory lock on PostgreSQL), followers
take over, a firing really rebuilds."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from knowledge.db import Database
from knowledge.dialects.leader import SCHEDULE_LOCK_KEY
from knowledge.schedule import SnapshotSchedule, default_lock_path, start_snapshot_schedule
from tests.support.catalog_factory import sample_catalog
from tests.support.paths import REPO_ROOT

NEVER_SOON = "0 0 1 1 *"  # once a year: nothing fires by itself during a test


def every_second(database: Database, lock: Path) -> SnapshotSchedule:
    """A schedule firing every second (a follower tries the lock at each firing only)."""
    return start_snapshot_schedule(database, "* * * * *", lock, leadership_retry_s=None,
                                   trigger=CronTrigger(second="*", timezone=UTC))


def snapshot_count(db: Database) -> int:
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM productsnapshot")).scalar_one()


async def wait_until(condition: object, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return False


async def test_second_schedule_on_the_same_lock_is_a_follower(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock = tmp_path / "schedule.lock"
    leader = start_snapshot_schedule(database, "*/5 * * * *", lock)
    caplog.set_level("INFO", logger="knowledge.schedule")
    follower = start_snapshot_schedule(database, "*/5 * * * *", lock, leadership_retry_s=None)
    try:
        assert leader.role == "leader"
        next_run = leader.next_run_time
        assert next_run is not None and next_run > datetime.now(UTC) and next_run.minute % 5 == 0
        assert follower.role == "follower" and follower.next_run_time is None
        assert "snapshot schedule: follower, another process holds the lock" in caplog.text
        assert follower.run_soon() is False
        assert follower.state()["role"] == "follower" and leader.state()["next_run_time"] == next_run.isoformat()
    finally:
        follower.shutdown()
        leader.shutdown()


async def test_follower_takes_over_when_the_leader_stops(database: Database, tmp_path: Path) -> None:
    lock = tmp_path / "schedule.lock"
    leader = start_snapshot_schedule(database, NEVER_SOON, lock)
    follower = start_snapshot_schedule(database, NEVER_SOON, lock, leadership_retry_s=0.05)
    try:
        await asyncio.sleep(0.2)
        assert follower.role == "follower"
        leader.shutdown()
        assert leader.role == "follower" and leader.next_run_time is None
        assert await wait_until(lambda: follower.role == "leader")
        assert follower.next_run_time is not None
    finally:
        follower.shutdown()
        leader.shutdown()


@pytest.mark.sqlite_only
async def test_a_lock_held_by_another_process_makes_a_follower(database: Database, tmp_path: Path) -> None:
    lock = tmp_path / "schedule.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from filelock import FileLock
                with FileLock({str(lock)!r}):
                    print("locked", flush=True)
                    sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        schedule = start_snapshot_schedule(database, NEVER_SOON, lock, leadership_retry_s=0.05)
        try:
            await asyncio.sleep(0.2)
            assert schedule.role == "follower"
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=10)
            assert await wait_until(lambda: schedule.role == "leader")
        finally:
            schedule.shutdown()
    finally:
        holder.kill()
        holder.wait()


async def test_a_firing_rebuilds_the_snapshots_in_a_worker_thread(database: Database, tmp_path: Path) -> None:
    sample_catalog(database)
    schedule = start_snapshot_schedule(database, NEVER_SOON, tmp_path / "schedule.lock")
    try:
        assert snapshot_count(database) == 0
        assert schedule.run_soon() is True
        assert await schedule.wait_for_run(timeout=10)
        assert snapshot_count(database) == 3
        assert schedule.last_report is not None and schedule.last_report.built == 3
        assert schedule.state()["last_report"]["built"] == 3
        # The job stays scheduled for its next cron time after firing.
        next_run = schedule.next_run_time
        assert next_run is not None and (next_run.month, next_run.day, next_run.hour) == (1, 1, 0)

        # Nothing changed since: the change log is empty and the run checks no product.
        with database.engine.connect() as connection:
            built_at = connection.execute(text("SELECT slug, built_at FROM productsnapshot")).all()
        assert schedule.run_soon() is True
        assert await schedule.wait_for_run(timeout=10)
        report = schedule.last_report
        assert report is not None and (report.built, report.unchanged, report.scope) == (0, 0, "changed")
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT slug, built_at FROM productsnapshot")).all() == built_at

        # A change written straight into the database is logged, and the next firing rebuilds that product only.
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE product SET tagline = 'New' WHERE slug = 'relay'"))
        assert schedule.run_soon() is True
        assert await schedule.wait_for_run(timeout=10)
        report = schedule.last_report
        assert report is not None and (report.built, report.unchanged, report.scope) == (1, 0, "changed")
    finally:
        schedule.shutdown()


async def test_shutdown_releases_the_lock(database: Database, tmp_path: Path) -> None:
    lock = tmp_path / "schedule.lock"
    first = start_snapshot_schedule(database, NEVER_SOON, lock)
    first.shutdown()
    await asyncio.sleep(0)
    second = start_snapshot_schedule(database, NEVER_SOON, lock)
    try:
        assert second.role == "leader"
    finally:
        second.shutdown()


async def test_invalid_cron_is_refused(database: Database, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        start_snapshot_schedule(database, "every hour", tmp_path / "schedule.lock")


def test_lock_path_next_to_the_database(tmp_path: Path) -> None:
    assert default_lock_path(f"sqlite:///{tmp_path}/data/pitcrew.db") == tmp_path / "data" / "pitcrew.db.schedule.lock"
    assert default_lock_path("sqlite:///:memory:", tmp_path) == tmp_path / "snapshot-schedule.lock"
    assert default_lock_path("sqlite://", tmp_path) == tmp_path / "snapshot-schedule.lock"


async def test_of_three_instances_one_runs_each_firing_and_a_stopped_leader_is_replaced_at_the_next(
    database: Database, tmp_path: Path
) -> None:
    schedules = [every_second(database, tmp_path / "schedule.lock") for _ in range(3)]
    try:
        leader, *followers = schedules
        assert [s.role for s in schedules] == ["leader", "follower", "follower"]
        assert await wait_until(lambda: leader.runs >= 3, timeout=15)
        assert [f.runs for f in followers] == [0, 0] and [f.role for f in followers] == ["follower", "follower"]

        leader.shutdown()  # its lock is free: the next firing of a follower takes it and rebuilds
        stopped = time.monotonic()
        assert await wait_until(lambda: any(f.runs for f in followers), timeout=10)
        handover_s = time.monotonic() - stopped
        [successor] = [f for f in followers if f.runs]
        [other] = [f for f in followers if f is not successor]
        runs = successor.runs
        assert await wait_until(lambda: successor.runs >= runs + 2, timeout=15)
        assert (successor.role, other.role, other.runs) == ("leader", "follower", 0)
        print(f"handover after the leader stopped: {handover_s:.2f} s (firings every 1 s)")
    finally:
        for schedule in schedules:
            schedule.shutdown()


@pytest.mark.postgres_only
async def test_a_leader_whose_session_ended_gives_up_at_its_next_firing(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="knowledge.schedule")
    first, second = every_second(database, tmp_path / "l"), every_second(database, tmp_path / "l")
    try:
        assert (first.role, second.role) == ("leader", "follower")
        # The server ends the leader's session, as it does for a vanished host once the keepalives give up.
        with database.engine.begin() as connection:
            ended = connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": SCHEDULE_LOCK_KEY}).scalars().all()
        assert ended == [True]
        assert await wait_until(lambda: "lost the leadership lock" in caplog.text, timeout=10)
        # One of them leads again (whichever tried first), and only that one runs.
        assert await wait_until(lambda: [first.role, second.role].count("leader") == 1, timeout=10)
        leader, follower = (first, second) if first.role == "leader" else (second, first)
        runs, follower_runs = leader.runs, follower.runs
        assert await wait_until(lambda: leader.runs >= runs + 2, timeout=15)
        assert follower.runs == follower_runs and follower.role == "follower"
    finally:
        first.shutdown()
        second.shutdown()


class ScheduleProcesses:
    """Instances in processes of their own (tests/support/schedule_instance.py), their output lines collected."""

    def __init__(self, url: str, count: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.processes = [subprocess.Popen([sys.executable, "-m", "tests.support.schedule_instance", url],
                                           stdout=subprocess.PIPE, text=True, env=env) for _ in range(count)]
        self.lines: list[dict[str, Any]] = []
        self._readers = [threading.Thread(target=self._read, args=(p,), daemon=True) for p in self.processes]
        for reader in self._readers:
            reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(json.loads(line) | {"pid": process.pid})

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in list(self.lines) if line["event"] == kind]

    def close(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


TICKS = 10  # firings watched across the kill: half before, half after


@pytest.mark.slow
async def test_three_processes_on_one_database_one_runs_each_firing_and_a_killed_leader_is_replaced(
    database: Database
) -> None:
    instances = ScheduleProcesses(database.url, 3)
    try:
        assert await wait_until(lambda: len(instances.events("started")) == 3, timeout=60)
        [leader] = [line for line in instances.events("started") if line["role"] == "leader"]
        assert await wait_until(lambda: len(instances.events("run")) >= TICKS // 2, timeout=30)
        os.kill(leader["pid"], 9)  # no shutdown: the kernel closes its lock file / its database session
        killed_at = datetime.now(UTC)
        before = len(instances.events("run"))
        assert await wait_until(lambda: len(instances.events("run")) >= before + TICKS // 2, timeout=30)
        runs = instances.events("run")
        assert {run["instance"] for run in runs[:before]} == {leader["instance"]}
        # (The killed leader's last lines may still have been in the pipe when `before` was counted.)
        successors = {run["instance"] for run in runs[before:]} - {leader["instance"]}
        assert len(successors) == 1
        # One run a firing: no second saw runs of two instances.
        by_second: dict[str, set[str]] = {}
        for run in runs:
            by_second.setdefault(run["started_at"][:19], set()).add(run["instance"])
        assert all(len(names) == 1 for names in by_second.values()), by_second
        first_run = datetime.fromisoformat(next(r for r in runs if r["instance"] in successors)["started_at"])
        print(f"first run of the new leader {(first_run - killed_at).total_seconds():.2f} s after the kill, "
              f"{first_run.microsecond / 1000:.0f} ms after its firing (firings every 1 s)")
    finally:
        instances.close()


async def test_a_leader_job_runs_on_the_leader_only(database: Database, tmp_path: Path) -> None:
    """The daily digest's way onto the schedule: a job that fires on every instance and runs on the leader."""
    lock = tmp_path / "schedule.lock"
    leader = start_snapshot_schedule(database, NEVER_SOON, lock)
    follower = start_snapshot_schedule(database, NEVER_SOON, lock, leadership_retry_s=None)
    ran: list[str] = []
    try:
        for name, schedule in (("leader", leader), ("follower", follower)):
            async def job(name: str = name) -> None:
                ran.append(name)
            schedule.add_leader_job("digest", IntervalTrigger(seconds=0.1, timezone=UTC), job)
        assert await wait_until(lambda: len(ran) >= 3, timeout=3.0)
        assert set(ran) == {"leader"}
    finally:
        follower.shutdown()
        leader.shutdown()
