"""The sync's stored state: one `airtablesyncstate` row per base, and the `airtablerecord` map of imported records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from knowledge.db import Database
from knowledge.models import AirtableRecord, AirtableSyncState

STATE = AirtableSyncState.__table__  # type: ignore[attr-defined]
RECORDS = AirtableRecord.__table__  # type: ignore[attr-defined]
CHUNK = 500


@dataclass(frozen=True)
class StoredRecord:
    kind: str
    key: dict[str, Any]  # the natural key fields of the row it became


def now() -> datetime:
    return datetime.now(UTC)


def read_state(db: Database, base: str) -> dict[str, Any] | None:
    """The base's state row as a dict (with `mac_secret`: keep it out of logs), or None before its first sync."""
    with db.engine.connect() as connection:
        return state_row(connection, base)


def state_row(connection: Connection, base: str) -> dict[str, Any] | None:
    row = connection.execute(select(STATE).where(STATE.c.base_id == base)).mappings().first()
    return dict(row) if row else None


def save_state(connection: Connection, base: str, **values: Any) -> None:
    """Set these columns of the base's state row, making the row if it is the base's first."""
    if state_row(connection, base) is None:
        connection.execute(insert(STATE).values(base_id=base, cursor=1, last_counts="{}"))
    if values:
        connection.execute(update(STATE).where(STATE.c.base_id == base).values(**values))


def record_error(db: Database, base: str, error: str) -> None:
    """Remember why the last sync failed (its own transaction: the sync's was rolled back)."""
    with db.engine.begin() as connection:
        save_state(connection, base, last_error=error[:2000], last_sync_at=now())


def stored_records(connection: Connection, base: str, record_ids: Iterable[str] | None = None) -> dict[str, StoredRecord]:
    """record id -> what it became, for every record of the base imported so far (or those of `record_ids`)."""
    query = select(RECORDS.c.record_id, RECORDS.c.kind, RECORDS.c.natural_key).where(RECORDS.c.base_id == base)
    if record_ids is None:
        rows = list(connection.execute(query))
    else:
        ids = sorted(set(record_ids))
        rows = [row for start in range(0, len(ids), CHUNK)
                for row in connection.execute(query.where(RECORDS.c.record_id.in_(ids[start:start + CHUNK])))]
    return {row.record_id: StoredRecord(row.kind, json.loads(row.natural_key)) for row in rows}


def remember_records(connection: Connection, base: str, records: Mapping[str, StoredRecord],
                     known: Mapping[str, StoredRecord]) -> None:
    """Store the records imported this run (new ones inserted, changed keys updated)."""
    inserts = [{"record_id": record_id, "base_id": base, "kind": record.kind, "natural_key": _dump(record.key)}
               for record_id, record in records.items() if record_id not in known]
    if inserts:
        connection.execute(insert(RECORDS), inserts)
    for record_id, record in records.items():
        if record_id in known and known[record_id] != record:
            connection.execute(update(RECORDS).where(RECORDS.c.record_id == record_id)
                               .values(kind=record.kind, natural_key=_dump(record.key)))


def forget_records(connection: Connection, record_ids: Iterable[str]) -> None:
    ids = sorted(set(record_ids))
    for start in range(0, len(ids), CHUNK):
        connection.execute(delete(RECORDS).where(RECORDS.c.record_id.in_(ids[start:start + CHUNK])))


def _dump(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)
