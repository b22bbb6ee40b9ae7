"""`pitcrew sync airtable`: the mapped base's records into the knowledge base, through the importer.

A run turns records into import rows (knowledge.airtable.records) and hands them to `import_files`: the same
validation and the same all-or-nothing upsert as `pitcrew knowledge import`. A changes sync (and any sync on
PostgreSQL) also, in that one transaction, deletes the rows of records Airtable deleted, remembers which record
became which row, and stores the webhook cursor the run read up to, so rows and cursor commit together or not
at all: a run killed half-way leaves the cursor where it was and the next run reads the same changes again. A
full sync into a SQLite file imports its rows staged (as `knowledge import` does, so the write lock is never
held for seconds) and does the rest in one short transaction after; both halves are idempotent. The products whose rows changed have their
snapshots rebuilt right after the commit, from the snapshot change log (the catalog tables' triggers write it in
the rows' transaction), so a run killed between the commit and the rebuild has its snapshots rebuilt by the
next run (or the scheduled rebuild).

A full sync reads every record of every mapped table; a changes sync reads the webhook's payloads from the
stored cursor and fetches only the records they name.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Mapping as MappingType
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, select

from knowledge.airtable.deletions import delete_row
from knowledge.airtable.mapping import Mapping
from knowledge.airtable.records import Converted, convert, where
from knowledge.airtable.source import AirtableBase
from knowledge.airtable.state import (
    StoredRecord,
    forget_records,
    now,
    record_error,
    remember_records,
    save_state,
    state_row,
    stored_records,
)
from knowledge.db import Database
from knowledge.import_files import SourceFile
from knowledge.import_problems import ImportProblem, ImportRejected
from knowledge.importer import import_files, write_transaction
from knowledge.models import Product
from knowledge.revision import bump_revision
from knowledge.staged_import import sqlite_file

if TYPE_CHECKING:
    from pyairtable import Api

    from knowledge.snapshots import RebuildReport

log = logging.getLogger(__name__)

SyncKind = Literal["full", "changes"]
MAX_SKIP_ROUNDS = 5  # --skip-invalid: a skipped parent can leave its children dangling, found in the next round
PARENT_KINDS = frozenset({"products", "plans", "features", "accounts"})  # their rows are what others link to


class SyncError(Exception):
    """The sync cannot run (no webhook yet, Airtable unreachable...); one line for a person."""


class SyncRejected(ImportRejected):
    """Records failed validation: the run was rolled back (nothing written, cursor unchanged)."""


@dataclass
class TableCounts:
    table: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0


@dataclass
class SyncReport:
    base: str
    kind: SyncKind
    tables: dict[str, TableCounts] = field(default_factory=dict)  # kind -> counts
    skipped: list[ImportProblem] = field(default_factory=list)  # --skip-invalid: the records left out, and why
    changed_products: list[str] = field(default_factory=list)
    cursor: int | None = None
    payloads: int = 0  # webhook payloads read (changes sync)
    seconds: float = 0.0
    rebuild: RebuildReport | None = None
    rebuild_error: str | None = None

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deleted for c in self.tables.values())

    def counts_json(self) -> str:
        return json.dumps({kind: {k: v for k, v in asdict(c).items() if k != "table"} for kind, c in self.tables.items()})


def full_sync(db: Database, api: Api, mapping: Mapping, *, keep_deleted: bool = False,
              skip_invalid: bool = False) -> SyncReport:
    """Every record of every mapped table; rows of records no longer in Airtable are deleted (unless kept)."""
    started = time.perf_counter()
    source = AirtableBase(api, mapping)
    state = _state(db, mapping.base)
    cursor = None
    try:
        if state and state.get("webhook_id"):
            # Read first: changes made while the records are read are in payloads from here on, applied again
            # (idempotently) by the next changes sync.
            try:
                cursor = _webhook(source, state["webhook_id"]).cursor_for_next_payload
            except SyncError as exc:  # the webhook is gone: the full sync still runs, the cursor stays
                log.warning("airtable: %s", exc)
        records = {kind: source.all_records(kind) for kind in mapping.tables}
    except Exception as exc:
        raise _unreachable(db, mapping, exc) from exc
    with db.engine.connect() as connection:
        known = stored_records(connection, mapping.base)
    seen = {record["id"] for kind_records in records.values() for record in kind_records}
    deleted = {record_id: stored for record_id, stored in known.items()
               if stored.kind in mapping.tables and record_id not in seen}
    report = _apply(db, mapping, "full", records, deleted, known, cursor=cursor, keep_deleted=keep_deleted,
                    skip_invalid=skip_invalid)
    report.seconds = time.perf_counter() - started
    return report


def sync_changes(db: Database, api: Api, mapping: Mapping, *, keep_deleted: bool = False,
                 skip_invalid: bool = False) -> SyncReport:
    """The changes the webhook recorded since the stored cursor: only the records they name are read and applied."""
    started = time.perf_counter()
    state = _state(db, mapping.base)
    if not state or not state.get("webhook_id"):
        raise SyncError("no webhook registered for this base; run `pitcrew sync airtable --webhook create`")
    source = AirtableBase(api, mapping)
    try:
        webhook = _webhook(source, state["webhook_id"])
        payloads = list(webhook.payloads(cursor=max(1, int(state["cursor"]))))
    except SyncError:
        raise
    except Exception as exc:
        raise _unreachable(db, mapping, exc) from exc
    if not payloads:
        return SyncReport(base=mapping.base, kind="changes", cursor=int(state["cursor"]),
                          seconds=time.perf_counter() - started)
    next_cursor = int(payloads[-1].cursor or state["cursor"]) + 1
    touched: dict[str, set[str]] = defaultdict(set)
    destroyed: dict[str, set[str]] = defaultdict(set)
    for payload in payloads:
        for table_id, changes in payload.changed_tables_by_id.items():
            for record_id in (*changes.created_records_by_id, *changes.changed_records_by_id):
                touched[table_id].add(record_id)
                destroyed[table_id].discard(record_id)
            for record_id in changes.destroyed_record_ids:
                destroyed[table_id].add(record_id)
                touched[table_id].discard(record_id)
    try:
        kinds = source.kinds_by_table_id()
        records = {kinds[table_id]: source.records(kinds[table_id], ids)
                   for table_id, ids in touched.items() if ids and table_id in kinds}
    except Exception as exc:
        raise _unreachable(db, mapping, exc) from exc
    needed = {record_id for ids in (*touched.values(), *destroyed.values()) for record_id in ids}
    needed |= _linked_ids(mapping, records)
    with db.engine.connect() as connection:  # only the records this run names or links to
        known = stored_records(connection, mapping.base, needed)
    gone = {record_id for ids in destroyed.values() for record_id in ids}
    for table_id, ids in touched.items():  # named by a payload, deleted since
        kind = kinds.get(table_id)
        if kind is not None:
            gone |= ids - {record["id"] for record in records.get(kind, [])}
    deleted = {record_id: known[record_id] for record_id in gone if record_id in known}
    if _parent_key_changed(mapping, records, known):
        # A renamed slug moves every row below it: only a full sync re-reads those.
        log.info("airtable: a linked record's slug changed; running a full sync instead")
        return full_sync(db, api, mapping, keep_deleted=keep_deleted, skip_invalid=skip_invalid)
    report = _apply(db, mapping, "changes", records, deleted, known, cursor=next_cursor, keep_deleted=keep_deleted,
                    skip_invalid=skip_invalid)
    report.payloads = len(payloads)
    report.seconds = time.perf_counter() - started
    return report


def _apply(db: Database, mapping: Mapping, kind: SyncKind, records: MappingType[str, list[dict[str, Any]]],
           deleted: MappingType[str, StoredRecord], known: MappingType[str, StoredRecord], *, cursor: int | None,
           keep_deleted: bool, skip_invalid: bool) -> SyncReport:
    report = SyncReport(base=mapping.base, kind=kind, cursor=cursor,
                        tables={k: TableCounts(table=t.table) for k, t in mapping.tables.items()})
    excluded: set[tuple[str, str]] = set()  # (table, "record rec...") left out by --skip-invalid
    for _round in range(MAX_SKIP_ROUNDS + 1):
        converted = _convert(mapping, records, known, excluded)
        problems = [problem for c in converted.values() for problem in c.problems]
        try:
            if problems:
                raise ImportRejected(problems)
            # Records linking to an invalid one: left out; without --skip-invalid the importer rejects the run,
            # naming the invalid record (the cause), not every record below it.
            blocked = [problem for c in converted.values() for problem in c.blocked]
            return _import(db, mapping, report, converted, deleted, known, keep_deleted, blocked)
        except ImportRejected as exc:
            named = [_for_airtable(mapping, problem) for problem in exc.problems]
            if not skip_invalid or any(problem.row is None for problem in named):
                rejected = SyncRejected(named)
                record_error(db, mapping.base, f"{len(named)} problem(s), rolled back: {rejected.describe(5)}")
                raise rejected from None
            for problem in named:
                if (problem.file, problem.row) not in excluded:
                    excluded.add((problem.file, str(problem.row)))
                    report.skipped.append(problem)
    rejected = SyncRejected(report.skipped)
    record_error(db, mapping.base, "too many rounds of skipped records; rolled back")
    raise rejected


def _convert(mapping: Mapping, records: MappingType[str, list[dict[str, Any]]], known: MappingType[str, StoredRecord],
             excluded: set[tuple[str, str]]) -> dict[str, Converted]:
    links = dict(known)
    invalid: set[str] = set()
    converted = {}
    for kind, table in mapping.tables.items():
        if kind not in records:
            continue
        kept = []
        for record in records[kind]:
            if (table.table, where(record["id"])) in excluded:
                invalid.add(record["id"])
            else:
                kept.append(record)
        converted[kind] = convert(table, kept, links, invalid)
    return converted


def _import(db: Database, mapping: Mapping, report: SyncReport, converted: dict[str, Converted],
            deleted: MappingType[str, StoredRecord], known: MappingType[str, StoredRecord],
            keep_deleted: bool, blocked: list[ImportProblem]) -> SyncReport:
    imported = {record_id: key for c in converted.values() for record_id, key in c.keys.items()}

    def in_transaction(connection: Connection, changed_products: set[str]) -> None:
        removed = 0
        if not keep_deleted:
            for stored in deleted.values():
                if delete_row(connection, stored.kind, stored.key):
                    report.tables[stored.kind].deleted += 1
                    removed += 1
                    _note_product(stored, changed_products)
        for record_id, key in imported.items():  # a record whose key changed: its old row is gone
            old = known.get(record_id)
            if old is not None and old != key and delete_row(connection, old.kind, old.key):
                removed += 1
                _note_product(old, changed_products)
        forget_records(connection, deleted)
        remember_records(connection, mapping.base, imported, known)
        if removed:
            bump_revision(connection)
        _keep_existing(connection, changed_products)
        values: dict[str, Any] = {"last_sync_at": now(), "last_sync_kind": report.kind, "last_error": None,
                                  "last_counts": report.counts_json()}
        if report.cursor is not None:
            values["cursor"] = report.cursor
        save_state(connection, mapping.base, **values)

    files: list[SourceFile] = [c.file for c in converted.values() if c.file.rows]
    source = f"airtable base {mapping.base}"
    if report.kind == "changes" or sqlite_file(db) is None:
        result = import_files(db, files, source=source, rebuild=False, in_transaction=in_transaction)
        changed_products = list(result.changed_products)
    else:
        # A full sync into a SQLite file compares every row: in one transaction on the live file it would hold the
        # write lock for seconds (2 s for 30,000 unchanged records), keeping serve's inbox waiting. So the rows go
        # through the staged import (the lock held in short slices only), then deletions, the record map and the
        # state in one short transaction. Killed between the two, the next full sync does the second part again
        # (both are idempotent, and the cursor it stores only moves forward over changes re-applied harmlessly).
        result = import_files(db, files, source=source, rebuild=False)
        extra: set[str] = set()
        with write_transaction(db.engine) as connection:
            in_transaction(connection, extra)
        changed_products = sorted({*result.changed_products, *extra})
    rebuild, rebuild_error = _rebuild_changed(db)
    report.skipped.extend(blocked)
    for kind, counts in report.tables.items():
        counts.skipped = sum(1 for problem in report.skipped if problem.file == mapping.tables[kind].table)
    for kind_name, counts in result.kinds.items():
        table = report.tables[kind_name]
        table.created, table.updated, table.unchanged = counts.inserted, counts.updated, counts.unchanged
    _store_counts(db, mapping.base, report)
    report.changed_products = changed_products
    report.rebuild, report.rebuild_error = rebuild, rebuild_error
    log.info("airtable sync finished", extra={
        "base": mapping.base, "sync": report.kind, "cursor": report.cursor, "changed": report.changed,
        "changed_products": len(report.changed_products), "skipped": len(report.skipped)})
    return report


def _rebuild_changed(db: Database) -> tuple[RebuildReport | None, str | None]:
    """Rebuild the snapshots of the products the snapshot change log holds: those this run changed, plus any a
    killed run (or another writer) left, so a sync always leaves the snapshots in step with the rows."""
    from knowledge.snapshots import rebuild_snapshots  # the snapshot layer sits above the importer

    try:
        report = rebuild_snapshots(db, changed_only=True)
    except Exception as exc:  # the rows are committed either way; the scheduled rebuild retries
        log.exception("snapshot rebuild after an airtable sync failed")
        return None, str(exc) or type(exc).__name__
    return report, "; ".join(report.errors) or None if report.failed else None


def _store_counts(db: Database, base: str, report: SyncReport) -> None:
    """The counts are known only once the importer returns: stored after, in a short transaction of their own."""
    with db.engine.begin() as connection:
        save_state(connection, base, last_counts=report.counts_json())


def _note_product(stored: StoredRecord, changed_products: set[str]) -> None:
    product = stored.key.get("product") or (stored.key.get("slug") if stored.kind == "products" else None)
    if product:
        changed_products.add(product)


def _keep_existing(connection: Connection, changed_products: set[str]) -> None:
    """Deleted products have no snapshot to rebuild (it went with them)."""
    if not changed_products:
        return
    table = Product.__table__  # type: ignore[attr-defined]
    existing = set(connection.execute(select(table.c.slug).where(table.c.slug.in_(sorted(changed_products))))
                   .scalars())
    changed_products.intersection_update(existing)


def _parent_key_changed(mapping: Mapping, records: MappingType[str, list[dict[str, Any]]],
                        known: MappingType[str, StoredRecord]) -> bool:
    links = dict(known)
    for kind, table in mapping.tables.items():
        if kind in PARENT_KINDS and kind in records:
            for record_id, key in convert(table, records[kind], links).keys.items():
                if record_id in known and known[record_id] != key:
                    return True
    return False


def _linked_ids(mapping: Mapping, records: MappingType[str, list[dict[str, Any]]]) -> set[str]:
    """Every record id the linked-record fields of `records` name."""
    linked: set[str] = set()
    for kind, kind_records in records.items():
        names = [fm.airtable for fm in mapping.tables[kind].fields.values() if fm.link is not None]
        for record in kind_records:
            for name in names:
                value = (record.get("fields") or {}).get(name)
                linked.update(str(item) for item in (value if isinstance(value, list) else [value]) if item)
    return linked


def _for_airtable(mapping: Mapping, problem: ImportProblem) -> ImportProblem:
    """A problem named as the Airtable user sees it: the table, the record id and the Airtable field."""
    kind = mapping.kind_of_table(problem.file)
    if kind is None:
        return problem
    table = mapping.tables[kind]
    known_fields = {fm.airtable for fm in table.fields.values()}
    field_name = problem.field if problem.field in known_fields else table.airtable_field(problem.field)
    return ImportProblem(problem.file, problem.message, row=problem.row, field=field_name)


def _state(db: Database, base: str) -> dict[str, Any] | None:
    with db.engine.connect() as connection:
        return state_row(connection, base)


def _webhook(source: AirtableBase, webhook_id: str) -> Any:
    try:
        return source.base.webhook(webhook_id)
    except KeyError as exc:  # pyairtable's MissingRecordError
        raise SyncError(f"the webhook {webhook_id} is gone from the base; run "
                        "`pitcrew sync airtable --webhook create` again") from exc


def _unreachable(db: Database, mapping: Mapping, exc: Exception) -> SyncError:
    message = f"cannot read the Airtable base {mapping.base}: {_describe(exc)}"
    record_error(db, mapping.base, message)
    return SyncError(message)


def _describe(exc: Exception) -> str:
    """One line, without the request URL's query or any header (the token never appears)."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    return type(exc).__name__
