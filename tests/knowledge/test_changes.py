"""Knowledge changes announced on PostgreSQL: an import's commit reaches every listening instance; a rolled-back
import announces nothing; a listener whose session ended reconnects and looks again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from knowledge.db import Database
from knowledge.dialects.changes import ChangeListener, listener_for
from knowledge.import_files import ImportRejected
from knowledge.importer import import_folder
from tests.support.import_folders import import_new_accounts, write_folder


async def wait_until(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.01)
    return False


class Heard:
    def __init__(self) -> None:
        self.revisions: list[int | None] = []
        self.at: list[float] = []

    async def __call__(self, revision: int | None) -> None:
        self.revisions.append(revision)
        self.at.append(time.monotonic())


@pytest.mark.sqlite_only
def test_sqlite_has_no_listener_the_revision_check_is_its_only_way(database: Database) -> None:
    assert listener_for(database, Heard()) is None


@pytest.mark.postgres_only
async def test_an_import_committed_by_another_instance_is_heard_at_once_and_a_rejected_one_not_at_all(
    database: Database, tmp_path: Path
) -> None:
    heard = Heard()
    listening = Database(database.url)  # another instance's engine
    listener = listener_for(listening, heard)
    assert isinstance(listener, ChangeListener)
    listener.start()
    try:
        assert await wait_until(lambda: heard.revisions == [None])  # connected: "look, something may have changed"
        started = time.monotonic()
        await asyncio.to_thread(import_new_accounts, database, tmp_path)
        assert await wait_until(lambda: heard.revisions == [None, 1])
        print(f"heard revision 1 {heard.at[-1] - started:.3f} s after the import started")

        broken = write_folder(tmp_path / "broken", {"contacts": [{"account": "nobody", "name": "X"}]}, "json")
        with pytest.raises(ImportRejected):
            await asyncio.to_thread(import_folder, database, broken)
        await asyncio.sleep(0.3)
        assert heard.revisions == [None, 1]  # rolled back with the import: nothing announced
    finally:
        await listener.stop()
        listening.close()


@pytest.mark.postgres_only
async def test_a_listener_whose_session_ended_reconnects_and_looks_again(database: Database, tmp_path: Path) -> None:
    heard = Heard()
    listener = listener_for(database, heard)
    assert listener is not None
    listener.start()
    try:
        assert await wait_until(lambda: listener.listening)
        with database.engine.begin() as connection:
            ended = connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name LIKE 'pitcrew-knowledge-listener %' AND datname = current_database()"
            )).scalars().all()
        assert ended == [True]
        assert await wait_until(lambda: not listener.listening, timeout=5)
        await asyncio.to_thread(import_new_accounts, database, tmp_path)  # while it is away: only the look covers it
        assert await wait_until(lambda: listener.listening and heard.revisions.count(None) == 2, timeout=10)
        assert 1 not in heard.revisions  # not heard: the look after reconnecting is what finds it
        more = write_folder(tmp_path / "more", {"accounts": [{"slug": "vega", "name": "Vega Ltd", "segment": "SMB",
                                                               "owner": "Maya"}]}, "json")
        await asyncio.to_thread(import_folder, database, more)
        assert await wait_until(lambda: heard.revisions[-1] == 2)  # and it hears the next one
    finally:
        await listener.stop()
