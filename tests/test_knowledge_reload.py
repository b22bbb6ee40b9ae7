"""A running server picks up an import: the knowledge revision, the threaded reload and the watcher."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.app.knowledge_watch import KnowledgeWatcher
from bot.pipeline import Pipeline
from bot.settings import Settings
from knowledge.db import Database
from knowledge.import_files import ImportRejected
from knowledge.importer import import_folder
from knowledge.revision import read_revision
from tests.pipeline_support import demo_db, demo_template, make_pipeline  # noqa: F401  (fixtures)
from tests.test_import import write_folder

NEW_ACCOUNTS = {
    "accounts": [{"slug": "quasar", "name": "Quasar Freight", "segment": "Mid-market", "owner": "Maya"}],
    "contacts": [{"account": "quasar", "name": "Ines Quarry", "email": "ines@quasar.example", "title": "COO"}],
}
QUESTION = "summarize my last call with Quasar Freight"


def import_new_accounts(db: Database, tmp_path: Path) -> None:
    import_folder(db, write_folder(tmp_path / "quasar", NEW_ACCOUNTS, "json"))


def test_an_import_that_changes_something_bumps_the_revision(database: Database, tmp_path: Path) -> None:
    assert read_revision(database) == 0
    import_new_accounts(database, tmp_path)
    assert read_revision(database) == 1
    import_new_accounts(database, tmp_path)  # the same rows again: nothing changed
    assert read_revision(database) == 1
    broken = write_folder(tmp_path / "broken", {"contacts": [{"account": "nobody", "name": "X"}]}, "json")
    with pytest.raises(ImportRejected):
        import_folder(database, broken)
    assert read_revision(database) == 1  # rolled back with the import
    write_folder(tmp_path / "more", {"accounts": [{"slug": "vega", "name": "Vega Ltd", "segment": "SMB",
                                                    "owner": "Maya"}]}, "json")
    import_folder(database, tmp_path / "more")
    assert read_revision(database) == 2


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
