"""A running server picks up an import: the threaded reload and the watcher (the knowledge revision they follow
is tested in tests/knowledge/test_revision.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from bot.app.knowledge_watch import KnowledgeWatcher
from bot.pipeline import Pipeline
from bot.settings import Settings
from knowledge.db import Database
from knowledge.importer import import_folder
from tests.support.import_folders import import_new_accounts, write_folder
from tests.support.pipeline import make_pipeline

QUESTION = "summarize my last call with Quasar Freight"


async def test_a_reload_recognises_names_imported_after_the_pipeline_was_built(
    settings: Settings, demo_db: Database, tmp_path: Path
) -> None:
    pipeline = make_pipeline(settings, demo_db, None)
    before = pipeline.knowledge_revision
    assert pipeline.control_plane.classify(QUESTION).entities.account is None
    import_new_accounts(demo_db, tmp_path)
    await pipeline.reload_knowledge()
    assert pipeline.knowledge_revision == before + 1
    assert pipeline.control_plane.classify(QUESTION).entities.account == "Quasar Freight"
    assert [c.name for c in pipeline.resolver.names.contacts_named("Ines")] == ["Ines Quarry"]


async def test_the_watcher_reloads_only_when_the_revision_moved(
    settings: Settings, demo_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline: Pipeline = make_pipeline(settings, demo_db, None)
    watcher = KnowledgeWatcher(pipeline, interval_s=0.05)
    assert not await watcher.check()  # nothing imported since the pipeline was built
    caplog.set_level(logging.INFO, logger="bot.app.knowledge_watch")
    watcher.start()
    try:
        import_new_accounts(demo_db, tmp_path)
        for _ in range(100):
            if pipeline.control_plane.classify(QUESTION).entities.account == "Quasar Freight":
                break
            await asyncio.sleep(0.02)
    finally:
        await watcher.stop()
    assert pipeline.control_plane.classify(QUESTION).entities.account == "Quasar Freight"
    assert [r.getMessage() for r in caplog.records].count("reloaded the knowledge base's names after an import") == 1
    assert not await watcher.check()


@pytest.mark.postgres_only
async def test_a_product_imported_on_one_instance_is_recognised_by_the_two_others_without_waiting_for_their_check(
    settings: Settings, demo_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    others_db = [Database(demo_db.url) for _ in range(2)]  # the other instances' engines
    others = [make_pipeline(settings, db, None) for db in others_db]
    # Their checks would come in an hour: only the announcement can tell them in time.
    watchers = [KnowledgeWatcher(other, interval_s=3600) for other in others]
    caplog.set_level(logging.INFO, logger="bot.app.knowledge_watch")
    for watcher in watchers:
        watcher.start()
    question = "how much is Zephyr Pro?"
    recognised_s: dict[int, float] = {}
    try:
        for _ in range(500):
            if all(watcher.listening for watcher in watchers):
                break
            await asyncio.sleep(0.01)
        assert all(watcher.listening for watcher in watchers)
        assert all(other.control_plane.classify(question).entities.product is None for other in others)
        folder = write_folder(tmp_path / "zephyr", {
            "products": [{"slug": "zephyr", "name": "Zephyr", "tagline": "Feedback in the wind"}],
            "plans": [{"product": "zephyr", "slug": "pro", "name": "Pro", "price_cents": 1500, "per_seat": True}],
        }, "json")
        started = time.monotonic()
        importing = asyncio.create_task(asyncio.to_thread(import_folder, demo_db, folder))  # this instance imports
        while time.monotonic() - started < 15 and len(recognised_s) < len(others):
            for n, other in enumerate(others):
                if n not in recognised_s and other.control_plane.classify(question).entities.product == "Zephyr":
                    recognised_s[n] = time.monotonic() - started
            await asyncio.sleep(0.01)
        await importing
    finally:
        for watcher in watchers:
            await watcher.stop()
        for db in others_db:
            db.close()
    assert sorted(recognised_s) == [0, 1]
    reloads = [r for r in caplog.records if r.getMessage() == "reloaded the knowledge base's names after an import"]
    assert [r.trigger for r in reloads] == ["notify", "notify"]  # type: ignore[attr-defined]
    print(f"the two other instances recognised the new product {sorted(recognised_s.values())} s after the import "
          "started")
