"""The scheduled rebuild: one leader per lock file, followers take over, a firing really rebuilds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from knowledge.db import Database
from knowledge.schedule import default_lock_path, start_snapshot_schedule
from tests.support.catalog_factory import sample_catalog

NEVER_SOON = "0 0 1 1 *"  # once a year: nothing fires by itself during a test


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
