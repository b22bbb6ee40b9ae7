"""Databases for schema tests: a blank one on the pass's backend, a row in every table, and what every table holds
(counts and a checksum of the rows) to compare before and after an upgrade or a copy."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url

from knowledge.copy_database import copy_order
from knowledge.db import create_db_engine
from knowledge.models import (
    AirtableRecord,
    AirtableSyncState,
    InboxEvent,
    QualityExchange,
    QualitySignal,
    ResponseCacheEntry,
    RolloutSetting,
    SchedulerLease,
    SnapshotChange,
    ThreadTurn,
)

WHEN = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
# Tables later migrations add: absent from a database at the first revision.
@contextmanager
def blank_database_url(settings_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database on the backend of the pass (PostgreSQL when DATABASE_URL is), dropped afterwards."""
    if make_url(settings_url).get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    postgres = request.getfixturevalue("postgres_databases")
    url = postgres.create()
    try:
        yield url
    finally:
        postgres.drop(url)


def upgrade_to(url: str, revision: str) -> None:
    """Bring the database at `url` to `revision` (not further), as that release would have."""
    from alembic import command

    from knowledge.dialects.upgrade_lock import upgrade_transaction
    from knowledge.migrations.config import alembic_config

    engine = create_db_engine(url)
    try:
        with engine.connect() as connection, upgrade_transaction(connection):
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def fill_every_table(url: str, demo_template: Path) -> None:
    """The demo knowledge base (catalog, calls, snapshots, revision) and runtime rows: a row in every table the
    database has (one at an older revision lacks the tables later migrations add)."""
    demo = create_engine(f"sqlite:///{demo_template}")
    engine = create_db_engine(url)
    present: set[str] = set()
    try:
        with demo.connect() as source, engine.begin() as target:
            present = set(inspect(target).get_table_names())
            for table in copy_order():
                if table.name not in present:  # added by a later migration than the database's
                    continue
                rows = [row._asdict() for row in source.execute(select(table))]
                if rows:
                    target.execute(insert(table), rows)
            _add_runtime_rows(target, present)
    finally:
        demo.dispose()
        engine.dispose()
    empty = [name for name, (count, present) in table_contents(url).items() if count == 0 and name in present]
    assert not empty, f"tables left empty: {empty}"


def _add_runtime_rows(connection: Connection, present: set[str]) -> None:
    connection.execute(insert(InboxEvent), [{
        "event_id": f"Ev{number}", "envelope": '{"event": {"text": "hi"}}', "state": "answered", "attempts": 1,
        "owner": "host:1:a", "lease_until": WHEN, "received_at": WHEN, "updated_at": WHEN} for number in range(3)])
    connection.execute(insert(ResponseCacheEntry), [{
        "key": f"k{number}", "value": "an answer", "model": "gpt", "created_at": WHEN,
        "expires_at": WHEN + timedelta(hours=1), "last_access_at": WHEN, "hits": number} for number in range(4)])
    connection.execute(insert(ThreadTurn), [{
        "thread_key": "slack:C1:1.0", "created_at": WHEN + timedelta(seconds=number), "intent": "product",
        "context": '{"product": "orbit"}'} for number in range(5)])
    if "qualitysignal" in present:
        _add_quality_rows(connection)
    connection.execute(insert(SchedulerLease), [{"name": "snapshots", "holder": "host:1", "expires_at": WHEN}])
    connection.execute(SnapshotChange.__table__.delete())  # type: ignore[attr-defined]  (SQLite's triggers' entries)
    connection.execute(insert(SnapshotChange), [{"product_id": 1, "tick": 3}, {"product_id": 4, "tick": 2}])
    if "airtablesyncstate" in present:
        connection.execute(insert(AirtableSyncState), [{"base_id": "appTEST", "cursor": 7, "webhook_id": "achTEST",
                                                        "last_sync_at": WHEN, "last_counts": "{}"}])
        connection.execute(insert(AirtableRecord), [{"record_id": "rec1", "base_id": "appTEST", "kind": "products",
                                                     "natural_key": '{"slug": "orbit"}'}])
    if RolloutSetting.__tablename__ in present:  # type: ignore[attr-defined]
        connection.execute(insert(RolloutSetting), [{"mode": "canary", "canary_percent": 20.0, "changed_at": WHEN,
                                                     "changed_by": "operator", "reason": None}])


def _add_quality_rows(connection: Connection) -> None:
    connection.execute(insert(QualitySignal), [{
        "correlation_id": f"c{number}", "user_id": "U1", "kind": "feedback", "positive": number % 2 == 0,
        "intent": "product_question", "handler": "product_question", "pattern": "price.cost", "llm": "skipped",
        "snapshot_version": 3, "reason": None if number % 2 == 0 else "wrong plan", "source": "slack",
        "created_at": WHEN + timedelta(seconds=number)} for number in range(2)])
    connection.execute(insert(QualityExchange), [{
        "correlation_id": "c0", "created_at": WHEN, "intent": "product_question", "handler": "product_question",
        "question": "what does pro cost?", "answer": "$99", "frame": "{}"}])


def table_contents(url_or_engine: str | Engine) -> dict[str, tuple[int, str]]:
    """Table -> (rows, checksum of the rows as Python values in key order): equal across SQLite and PostgreSQL.
    Tables the database lacks (an older revision) are left out."""
    engine = create_db_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    contents = {}
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            for table in copy_order():
                if table.name not in present:  # not made yet at the database's revision: as good as empty
                    contents[table.name] = (0, hashlib.sha256(repr([]).encode()).hexdigest())
                    continue
                key = [column.name for column in table.primary_key.columns]
                rows = sorted((tuple(row) for row in connection.execute(select(table))),
                              key=lambda row, names=[table.columns.keys().index(name) for name in key]:
                              repr([row[index] for index in names]))
                contents[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
    return contents


def stored_revision(url: str) -> str | None:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
