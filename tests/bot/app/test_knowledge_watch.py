"""A running server picks up an import: the threaded reload and the watcher (the knowledge revision they follow
is tested in tests/knowledge/test_revision.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.app.knowledge_watch import KnowledgeWatcher
from bot.pipeline import Pipeline
from bot.settings import Settings
from knowledge.db import Database
from tests.support.import_folders import import_new_accounts
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
