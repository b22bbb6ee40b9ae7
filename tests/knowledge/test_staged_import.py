"""Imports into a SQLite file: prepared on a private copy, applied to the live database in short slices."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from knowledge.db import Database
from knowledge.export_folder import export_catalog
from knowledge.generate import generate
from knowledge.import_files import ImportRejected
from knowledge.importer import import_folder
from knowledge.revision import read_revision
from knowledge.staged_import import StagedImportConflict, apply_staged, staged_copy
from tests.support.import_folders import sample_rows, write_folder


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if ".staging-" in path.name)


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("product", "plan", "feature", "planfeature", "meeting", "transcriptsegment")}


def test_an_import_reaches_the_live_database_and_leaves_no_copy_behind(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    db = Database(f"sqlite:///{live}")
    try:
        report = import_folder(db, write_folder(tmp_path / "in", sample_rows(), "json"), rebuild=False)
        assert report.changed and read_revision(db) == 1
        assert counts(live)["product"] == 2 and counts(live)["transcriptsegment"] > 0
        assert leftovers(tmp_path) == []
    finally:
        db.close()


def test_a_rejected_import_leaves_the_live_database_as_it_was_and_no_copy(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    db = Database(f"sqlite:///{live}")
    try:
        import_folder(db, write_folder(tmp_path / "good", sample_rows(), "json"), rebuild=False)
        before = counts(live)
        rows = sample_rows()
        rows["plans"].append({"product": "ghost", "slug": "pro", "name": "Pro"})  # a dangling reference
        rows["products"].append({"slug": "orion", "name": "Orion"})  # would be new, were the import taken
        with pytest.raises(ImportRejected):
            import_folder(db, write_folder(tmp_path / "bad", rows, "json"), rebuild=False)
        assert counts(live) == before and read_revision(db) == 1
        assert leftovers(tmp_path) == []
    finally:
        db.close()


def test_a_copy_is_not_applied_over_a_knowledge_base_that_changed_meanwhile(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    db = Database(f"sqlite:///{live}")
    try:
        import_folder(db, write_folder(tmp_path / "in", sample_rows(), "json"), rebuild=False)
        with staged_copy(live) as staging:
            with staging.engine.begin() as connection:
                connection.exec_driver_sql("INSERT INTO product (slug, name, tagline, description, category, "
                                           "is_primary) VALUES ('orion', 'Orion', '', '', '', 0)")
                connection.exec_driver_sql("UPDATE knowledgerevision SET revision = revision + 1")
            with db.engine.begin() as connection:  # another import landed after the copy was taken
                connection.exec_driver_sql("UPDATE knowledgerevision SET revision = revision + 1")
            with pytest.raises(StagedImportConflict):
                apply_staged(live, Path(staging.url.removeprefix("sqlite:///")), expected_revision=1)
        assert counts(live)["product"] == 2
    finally:
        db.close()


def test_other_writers_get_the_lock_while_a_large_import_is_applied(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    generated = Database(f"sqlite:///{tmp_path / 'generated.db'}")
    generate(generated, products=400)
    export_catalog(generated, tmp_path / "catalog")
    generated.close()
    live = tmp_path / "live.db"
    db = Database(f"sqlite:///{live}")
    finished = threading.Event()
    written_during: list[float] = []

    def write_while_importing() -> None:
        writer = sqlite3.connect(live, timeout=30, isolation_level=None)
        writer.execute("CREATE TABLE IF NOT EXISTS probe (at REAL)")
        while not finished.is_set():
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO probe VALUES (?)", (time.monotonic(),))
            writer.execute("COMMIT")
            if not finished.is_set():
                written_during.append(time.monotonic())
            time.sleep(0.005)
        writer.close()

    applying = threading.Event()

    def applied(*args: object, **kwargs: object) -> int:
        """The real apply, marking when the live database is being written."""
        applying.set()
        try:
            return apply_staged(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            finished.set()

    monkeypatch.setattr("knowledge.importer.apply_staged", applied)
    probe = threading.Thread(target=write_while_importing)
    try:
        import_thread = threading.Thread(target=lambda: import_folder(db, tmp_path / "catalog", rebuild=False))
        import_thread.start()
        assert applying.wait(timeout=60)
        started_applying = time.monotonic()
        probe.start()
        import_thread.join(timeout=120)
        finished.set()
        probe.join()
    finally:
        db.close()
    assert counts(live)["product"] == 400
    # The apply is many short transactions: the other writer got in again and again while it ran.
    assert len([at for at in written_during if at >= started_applying]) >= 3
