"""The database: engine with SQLite pragmas, the schema brought to this pitcrew's revision on open (knowledge.schema).

The knowledge layer is synchronous on purpose. Measured on the 2-core dev machine, an indexed
point read costs ~0.10 ms inline with the sqlite3 driver, ~0.34 ms through one thread hop and
~1.0 ms through SQLAlchemy's asyncio + aiosqlite. Hot-path reads therefore run inline in the
event loop; bulk work (rebuild, import) is run in a worker thread by its async callers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

import knowledge.models  # noqa: F401  (registers every table on SQLModel.metadata)
from knowledge.dialects.connections import PoolSettings, postgresql_engine
from knowledge.schema import SchemaError, ensure_schema

BUSY_TIMEOUT_MS = 5000
# Per connection. SQLite's 2 MiB default made cold reads of a 10k-product catalog 10x slower (p95 ~4 ms vs
# 0.25 ms); 32 MiB holds the hot snapshot pages and keeps `pitcrew serve` well under its memory target.
PAGE_CACHE_KIB = 32 * 1024
# Connections that write from worker threads (thread memory, response cache, event inbox, snapshot
# rebuilds): sharing the readers' pool would give each of them a 32 MiB cache of catalog pages
# (measured: peak RSS of `serve` 153 -> 289 MB on a 10k-product catalog). A rebuild reads each page
# once, so a small cache costs it nothing measurable.
WRITER_PAGE_CACHE_KIB = 2 * 1024

# External-content FTS5 index over transcript segments, kept in step by triggers. Besides the text it
# indexes each segment's meeting id, so a search can restrict its matches to a few meetings inside FTS5
# (`meeting_id : ("12" OR "15")`) instead of testing every match of a common word against a list.
# Migration 0001 creates it; these statements (the head schema's, a test checks) recreate a trigger after a bulk load.
FTS_COLUMNS = ("text", "meeting_id")
FTS_DDL = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5(
        text, meeting_id, content='transcriptsegment', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS transcript_fts_ai AFTER INSERT ON transcriptsegment BEGIN
        INSERT INTO transcript_fts(rowid, text, meeting_id) VALUES (new.id, new.text, new.meeting_id); END""",
    """CREATE TRIGGER IF NOT EXISTS transcript_fts_ad AFTER DELETE ON transcriptsegment BEGIN
        INSERT INTO transcript_fts(transcript_fts, rowid, text, meeting_id)
        VALUES ('delete', old.id, old.text, old.meeting_id); END""",
    """CREATE TRIGGER IF NOT EXISTS transcript_fts_au AFTER UPDATE OF text, meeting_id ON transcriptsegment BEGIN
        INSERT INTO transcript_fts(transcript_fts, rowid, text, meeting_id)
        VALUES ('delete', old.id, old.text, old.meeting_id);
        INSERT INTO transcript_fts(rowid, text, meeting_id) VALUES (new.id, new.text, new.meeting_id); END""",
)

class DatabaseError(Exception):
    """The database cannot be opened or used; the message is meant for a person."""


def _sqlite_pragmas(busy_timeout_ms: int, page_cache_kib: int) -> Callable[[sqlite3.Connection, Any], None]:
    def set_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        _set_sqlite_pragmas(dbapi_connection, busy_timeout_ms, page_cache_kib)

    return set_pragmas


def _set_sqlite_pragmas(dbapi_connection: sqlite3.Connection, busy_timeout_ms: int, page_cache_kib: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{page_cache_kib}")
    cursor.close()


def create_db_engine(url: str, *, busy_timeout_ms: int | None = None, page_cache_kib: int = PAGE_CACHE_KIB,
                     create_directory: bool = False, pool: PoolSettings = PoolSettings()) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout, a page cache and foreign keys on every connection.
    A SQLite file's directory is made only with `create_directory` (a missing one is usually a typo).

    `busy_timeout_ms` bounds a statement's wait for another writer's lock: SQLite's busy timeout (default
    BUSY_TIMEOUT_MS), PostgreSQL's lock_timeout (default none). PostgreSQL's pool and statement timeout come from
    `pool`, which SQLite ignores."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return postgresql_engine(url, pool, lock_timeout_ms=busy_timeout_ms)
    if busy_timeout_ms is None:
        busy_timeout_ms = BUSY_TIMEOUT_MS
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory and create_directory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        hide_parameters=True,  # an error's message would quote them: search words, message text
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        poolclass=StaticPool if in_memory else None,
    )
    event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms, page_cache_kib))
    return engine


class Database:
    """The process's database handle: one engine, sessions on demand."""

    def __init__(self, url: str, *, create_directory: bool = False, auto_upgrade: bool = True,
                 pool: PoolSettings = PoolSettings()) -> None:
        """Open `url` and bring its schema to this pitcrew's revision (`auto_upgrade`), or refuse a database
        that is not at it (DB_AUTO_UPGRADE=off: `pitcrew db upgrade` upgrades it). `pool`: PostgreSQL's
        connections and statement timeout."""
        self.url = url
        self.pool = pool
        try:
            self.engine = create_db_engine(url, create_directory=create_directory, pool=pool)
            ensure_schema(self.engine, auto_upgrade=auto_upgrade)
        except SchemaError as exc:
            self.engine.dispose()
            raise DatabaseError(f"database {redact_url(url)} {exc}") from None
        except Exception as exc:  # the driver's message is the useful part; hide the traceback
            raise DatabaseError(f"cannot open database {redact_url(url)}: {exc}") from exc
        self._write_engine: Engine | None = None

    @property
    def write_engine(self) -> Engine:
        """Connections for writes made from worker threads (thread memory, response cache, snapshot rebuilds),
        apart from the readers' pool and with a small page cache; the same engine for an in-memory database."""
        if self._write_engine is None:
            self._write_engine = (self.engine if not is_sqlite_file(self.url)
                                  else create_db_engine(self.url, page_cache_kib=WRITER_PAGE_CACHE_KIB))
        return self._write_engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def close(self) -> None:
        if self._write_engine is not None and self._write_engine is not self.engine:
            self._write_engine.dispose()
        self.engine.dispose()


def is_in_memory(url: str) -> bool:
    """A SQLite database in memory: one connection shared by everything (no engine of its own for anyone)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (parsed.database or "") in ("", ":memory:")


def is_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (parsed.database or "") not in ("", ":memory:")


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)
