"""Imports into a SQLite file without holding its write lock for long.

An import used to run in one write transaction on the live database: 1.7 s for a 3,000-product
folder, during which every other writer (the Slack inbox, thread memory) waited. Instead the import
runs, all or nothing, on a private copy of the database (`staged_copy`: SQLite's backup API, a read
that blocks no one); only when it succeeded there are the rows it added or changed copied into the
live database (`apply_staged`), in slices that each hold the write lock for about `SLICE_S`, with a
pause between them so waiting writers get in. A rejected import therefore never touches the live
database. Readers may see a large import's rows arrive over a second or two (answers come from
product snapshots, rebuilt after it; the knowledge revision, which makes `serve` reload its names,
moves in the last slice); an import killed half-way is completed by running it again (imports are
idempotent). Imports into one database take turns (a file lock), so a copy is never applied over
another import's rows.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from sqlalchemy import Table
from sqlalchemy.engine import make_url

from knowledge.db import BUSY_TIMEOUT_MS, Database, is_sqlite_file
from knowledge.dialects.snapshot_changes import SQLITE_TRIGGER_DDL as SNAPSHOT_CHANGE_TRIGGERS
from knowledge.models import (
    Account,
    AddOn,
    ComplianceItem,
    Contact,
    Faq,
    Feature,
    Integration,
    KnowledgeRevision,
    Meeting,
    Plan,
    PlanFeature,
    PlanLimit,
    Product,
    TranscriptSegment,
)

log = logging.getLogger(__name__)

SLICE_S = 0.02  # write lock held per slice (a little more: the rows being written finish first)
PAUSE_S = 0.02  # between slices: long enough for a waiting writer's busy handler to poll and get in
ROWS_PER_STATEMENT = 200

# Parents before children (foreign keys are checked per slice); the revision last, so `serve` reloads
# its names once everything is in.
TABLES: tuple[Table, ...] = tuple(model.__table__ for model in (  # type: ignore[attr-defined]
    Product, Plan, Feature, PlanFeature, Integration, PlanLimit, ComplianceItem, AddOn, Faq,
    Account, Contact, Meeting, TranscriptSegment, KnowledgeRevision))


class StagedImportConflict(Exception):
    """The live database changed under the import (another writer): run the import again."""


def sqlite_file(db: Database) -> Path | None:
    """The database file when `db` is a SQLite file (staging applies), else None."""
    if not is_sqlite_file(db.url):
        return None
    return Path(make_url(db.url).database or "").expanduser()


@contextmanager
def import_turn(path: Path) -> Iterator[None]:
    """One import at a time per database file, across processes."""
    with FileLock(str(path) + ".import.lock"):
        yield


@contextmanager
def staged_copy(path: Path) -> Iterator[Database]:
    """A private copy of the database at `path` to import into; deleted afterwards."""
    handle, name = tempfile.mkstemp(prefix=path.name + ".staging-", dir=path.parent)
    os.close(handle)
    copy = Path(name)
    try:
        with sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        staging = Database(f"sqlite:///{copy}")
        try:
            # The copy's snapshot change log is thrown away with it (the live database's triggers log the rows
            # as `apply_staged` writes them): no trigger firing per imported row on the copy.
            with staging.engine.begin() as connection:
                for name in SNAPSHOT_CHANGE_TRIGGERS:
                    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
            yield staging
        finally:
            staging.close()
    finally:
        for leftover in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            leftover.unlink(missing_ok=True)


def apply_staged(path: Path, staging: Path, expected_revision: int) -> int:
    """Copy the rows the staging copy added or changed into the live database, slice by slice; returns
    how many. Raises StagedImportConflict if the live knowledge revision is no longer `expected_revision`."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("ATTACH DATABASE ? AS staging", (str(staging),))
        _check_revision(connection, expected_revision)
        written = 0
        slice_started = None
        for table in TABLES:
            columns = [column.name for column in table.columns]
            names = ", ".join(f'"{name}"' for name in columns)
            changed = connection.execute(
                f'SELECT {names} FROM staging."{table.name}" EXCEPT SELECT {names} FROM main."{table.name}"'
            ).fetchall()
            upsert = _upsert(table, columns)
            for start in range(0, len(changed), ROWS_PER_STATEMENT):
                if slice_started is None:
                    connection.execute("BEGIN IMMEDIATE")
                    slice_started = time.perf_counter()
                    if table is TABLES[-1]:
                        _check_revision(connection, expected_revision)
                connection.executemany(upsert, changed[start:start + ROWS_PER_STATEMENT])
                written += len(changed[start:start + ROWS_PER_STATEMENT])
                if time.perf_counter() - slice_started >= SLICE_S:
                    connection.execute("COMMIT")
                    slice_started = None
                    time.sleep(PAUSE_S)
        if slice_started is not None:
            connection.execute("COMMIT")
        return written
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


def _upsert(table: Table, columns: list[str]) -> str:
    keys = [column.name for column in table.primary_key.columns]
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in columns if name not in keys)
    conflict = ", ".join(f'"{name}"' for name in keys)
    return (f'INSERT INTO main."{table.name}" ({names}) VALUES ({marks}) '
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}")


def _check_revision(connection: sqlite3.Connection, expected: int) -> None:
    row = connection.execute("SELECT revision FROM main.knowledgerevision WHERE id = 1").fetchone()
    if int(row[0] if row else 0) != expected:
        raise StagedImportConflict("the knowledge base changed while the import was prepared; run the import again")
