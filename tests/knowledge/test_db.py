"""The database's schema: the transcript index of an older shape is migrated in place when a database made by an
earlier release is adopted, and a current one is left alone."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sqlalchemy import delete

from knowledge.db import FTS_COLUMNS, Database
from knowledge.models import Meeting
from knowledge.search import search_calls
from tests.support.catalog_factory import add_meeting

NOW = datetime(2025, 5, 1, 12, 0)
# The index and triggers as databases made before the meeting id was indexed have them (and before migrations:
# no alembic_version).
TEXT_ONLY_INDEX = """
DROP TABLE alembic_version;
DROP TRIGGER transcript_fts_ai; DROP TRIGGER transcript_fts_ad; DROP TRIGGER transcript_fts_au;
DROP TABLE transcript_fts;
CREATE VIRTUAL TABLE transcript_fts USING fts5(
    text, content='transcriptsegment', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER transcript_fts_ai AFTER INSERT ON transcriptsegment BEGIN
    INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text); END;
CREATE TRIGGER transcript_fts_ad AFTER DELETE ON transcriptsegment BEGIN
    INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text); END;
CREATE TRIGGER transcript_fts_au AFTER UPDATE OF text ON transcriptsegment BEGIN
    INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text); END;
INSERT INTO transcript_fts(transcript_fts) VALUES ('rebuild');
"""


def _index_columns(path: Path) -> tuple[str, ...]:
    with sqlite3.connect(path) as connection:
        return tuple(row[1] for row in connection.execute("PRAGMA table_info(transcript_fts)"))


def test_a_text_only_transcript_index_is_rebuilt_in_the_current_shape(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    add_meeting(db, ("acme", "Acme Corp"), "Acme discovery", NOW - timedelta(days=3), [("A", "SSO and pricing.")])
    db.close()
    with sqlite3.connect(path) as connection:
        connection.executescript(TEXT_ONLY_INDEX)
    assert _index_columns(path) == ("text",)

    db = Database(f"sqlite:///{path}")
    try:
        assert _index_columns(path) == FTS_COLUMNS
        assert [hit.title for hit in search_calls(db, topic="sso")] == ["Acme discovery"]
        # The new triggers keep it in step: a new call is found, a deleted one is gone.
        add_meeting(db, ("acme", "Acme Corp"), "Acme demo", NOW, [("A", "SSO demo.")])
        assert [hit.title for hit in search_calls(db, topic="sso")] == ["Acme demo", "Acme discovery"]
        with db.session() as session:
            session.exec(delete(Meeting).where(Meeting.title == "Acme discovery"))  # type: ignore[call-overload]
            session.commit()
        assert [hit.title for hit in search_calls(db, topic="sso")] == ["Acme demo"]
        with db.engine.begin() as connection:  # raises if the index and the segments disagree
            connection.exec_driver_sql("INSERT INTO transcript_fts(transcript_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        db.close()


@pytest.mark.parametrize("before_migrations", [False, True], ids=["at-head", "adopted"])
def test_a_current_index_is_left_alone(tmp_path: Path, before_migrations: bool) -> None:
    path = tmp_path / "current.db"
    Database(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        # An entry the segments do not have: a rebuild of the index would drop it.
        connection.execute("INSERT INTO transcript_fts(rowid, text, meeting_id) VALUES (999, 'marker', 1)")
        if before_migrations:
            connection.execute("DROP TABLE alembic_version")
    Database(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        found = connection.execute("SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH 'marker'").fetchall()
    assert found == [(999,)]
