"""`pitcrew knowledge import`: load a folder of JSON/CSV files into the database, all or nothing.

Rows are validated with pydantic, then upserted on their natural keys inside ONE write transaction:
any problem (a bad value, a duplicate key, a dangling reference) rolls everything back. Importing the
same folder twice changes nothing the second time. Import never deletes rows. Into a SQLite file, that
transaction runs on a private copy and its changes reach the live database in short slices
(`knowledge.staged_import`), so `serve` never waits long on the write lock. Into PostgreSQL it runs on the
live database: readers keep seeing the committed rows until it commits (MVCC), and imports take turns.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, Table, and_, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from knowledge.db import Database
from knowledge.dialects.bulk_load import refresh_statistics
from knowledge.dialects.transactions import begin_import
from knowledge.import_files import ImportProblem, ImportRejected, SourceFile, SourceRow, read_folder
from knowledge.import_rows import ROW_MODELS, ImportRow
from knowledge.models import (
    Account,
    AddOn,
    ComplianceItem,
    Contact,
    Faq,
    Feature,
    Integration,
    Meeting,
    Plan,
    PlanFeature,
    PlanLimit,
    Product,
    TranscriptSegment,
)
from knowledge.revision import bump_revision, read_revision
from knowledge.staged_import import StagedImportConflict, apply_staged, import_turn, sqlite_file, staged_copy

if TYPE_CHECKING:
    from knowledge.snapshots import RebuildReport

__all__ = ["ImportProblem", "ImportRejected", "ImportReport", "KindCounts", "import_files", "import_folder"]

log = logging.getLogger(__name__)

CHUNK = 500  # keys per IN (...) query, well under SQLite's bound-parameter limit
STATISTICS_AFTER_ROWS = 1_000  # rows written into a table that make an import refresh its planner statistics
CATALOG_KINDS = ("products", "plans", "features", "plan_features", "integrations", "limits", "compliance",
                 "addons", "faqs")


# Work an import's caller does in its transaction: (connection, the changed product slugs, to amend).
InTransaction = Callable[[Connection, set[str]], None]


@dataclass
class KindCounts:
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    source: str
    kinds: dict[str, KindCounts] = field(default_factory=dict)
    changed_products: list[str] = field(default_factory=list)  # slugs whose snapshot sources changed
    seconds: float = 0.0
    rebuild: RebuildReport | None = None
    rebuild_error: str | None = None

    @property
    def changed(self) -> bool:
        return any(counts.inserted or counts.updated for counts in self.kinds.values())


@dataclass(frozen=True)
class ParsedRow:
    file: str
    where: str
    row: Any  # the kind's ImportRow model


def import_folder(db: Database, path: Path, *, rebuild: bool = True) -> ImportReport:
    """Validate and import every file under `path`; raises ImportRejected (database unchanged) on any problem."""
    return import_files(db, read_folder(path), source=str(path), rebuild=rebuild)


def import_files(db: Database, files: Sequence[SourceFile], *, source: str, rebuild: bool = True,
                 precondition: Callable[[Connection], bool] | None = None,
                 in_transaction: InTransaction | None = None) -> ImportReport:
    """Import already-read files in one write transaction, then rebuild the snapshots of changed products.

    `precondition`, checked inside the write transaction, lets a caller (the demo loader) skip the import
    atomically; when it returns False nothing is written and the report is empty. `in_transaction` runs in the
    same transaction once the rows are written without a problem (the Airtable sync deletes what the source
    deleted and stores its cursor there); it may add product slugs to the changed set, or drop deleted ones.
    Such an import writes on the live database: the staged copy carries only inserted and updated rows.
    """
    started = time.perf_counter()
    parsed = parse_files(files)
    report = ImportReport(source=source, kinds={f.kind: KindCounts(file=f.name, rows=len(f.rows)) for f in files})
    live_file = sqlite_file(db)
    if live_file is None:  # PostgreSQL has no database-wide write lock; an in-memory database has no copy
        writer = _write(db, parsed, report, source, precondition, in_transaction)
    elif in_transaction is not None:  # on the live file, still taking turns with the staged imports
        with import_turn(live_file):
            writer = _write(db, parsed, report, source, precondition, in_transaction)
    else:
        with import_turn(live_file), staged_copy(live_file) as staging:
            revision = read_revision(staging)
            writer = _write(staging, parsed, report, source, precondition)
            if writer is not None and report.changed:
                try:
                    apply_staged(live_file, Path(staging.url.removeprefix("sqlite:///")), revision)
                except (StagedImportConflict, sqlite3.Error) as exc:
                    raise ImportRejected([ImportProblem(source, f"the database refused the import: {exc}")]) from exc
    if writer is None:
        return report
    _refresh_statistics(db, writer)
    report.changed_products = sorted(writer.changed_products)
    report.seconds = time.perf_counter() - started
    log.info("import finished", extra={"source": source, "changed_products": len(report.changed_products),
                                       "import_s": round(report.seconds, 3)})
    if rebuild and report.changed_products:
        _rebuild(db, report)
    return report


def _write(db: Database, parsed: dict[str, list[ParsedRow]], report: ImportReport, source: str,
           precondition: Callable[[Connection], bool] | None,
           in_transaction: InTransaction | None = None) -> _Writer | None:
    """Write the parsed rows into `db` in one transaction; None when `precondition` said no."""
    with write_transaction(db.engine) as connection:
        if precondition is not None and not precondition(connection):
            report.kinds = {}
            return None
        writer = _Writer(connection, report)
        try:
            writer.write_all(parsed)
        except SQLAlchemyError as exc:  # e.g. the database is locked or read-only
            problem = ImportProblem(source, f"the database refused the import: {getattr(exc, 'orig', None) or exc}")
            raise ImportRejected([problem]) from exc
        if writer.problems:
            raise ImportRejected(writer.problems)  # rolls the transaction back
        if in_transaction is not None:
            in_transaction(connection, writer.changed_products)
        if report.changed:
            bump_revision(connection)
    return writer


def parse_files(files: Sequence[SourceFile]) -> dict[str, list[ParsedRow]]:
    """Validate every row against its kind's model; all problems of all files are reported together."""
    parsed: dict[str, list[ParsedRow]] = {}
    problems: list[ImportProblem] = []
    for source in files:
        model = ROW_MODELS[source.kind]
        rows = parsed.setdefault(source.kind, [])
        for raw in source.rows:
            try:
                rows.append(ParsedRow(source.name, raw.where, model.model_validate(raw.data)))
            except ValidationError as exc:
                problems.extend(_describe(source.name, raw, model, exc))
    if problems:
        raise ImportRejected(problems)
    return parsed


def _describe(file: str, raw: SourceRow, model: type[ImportRow], exc: ValidationError) -> Iterator[ImportProblem]:
    for error in exc.errors(include_url=False, include_context=False):
        loc = error["loc"]
        field_name = str(loc[0]) if loc else None
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "extra_forbidden":
            message = f"unknown field; the fields of {file.rsplit('.', 1)[0]} are: {', '.join(model.model_fields)}"
        else:
            message = error["msg"]
            if "input" in error and not isinstance(error["input"], dict | list):
                message += f" (got {str(error['input'])[:60]!r})"
        yield ImportProblem(file, message, row=raw.where, field=field_name)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """An import's one transaction: on SQLite it holds the write lock from its first statement, so reads and writes
    agree; on PostgreSQL other imports wait for it, and readers keep seeing the committed rows until it commits."""
    with engine.connect() as connection:
        begin_import(connection)
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def _refresh_statistics(db: Database, writer: _Writer) -> None:
    """After a large import, tell the query planner (PostgreSQL) the tables' new sizes before the rebuild reads them."""
    tables = [table.name for table, rows in writer.rows_written.items() if rows >= STATISTICS_AFTER_ROWS]
    if tables:
        with db.engine.begin() as connection:
            refresh_statistics(connection, tables)


def _rebuild(db: Database, report: ImportReport) -> None:
    from knowledge.snapshots import rebuild_snapshots  # the snapshot layer sits above the importer

    try:
        report.rebuild = rebuild_snapshots(db, product_slugs=report.changed_products)
    except Exception as exc:  # the import is committed either way; the scheduled rebuild retries
        log.exception("snapshot rebuild after import failed")
        report.rebuild_error = str(exc) or type(exc).__name__


@dataclass
class _Pending:
    """A validated row turned into column values, with the columns it explicitly sets."""

    parsed: ParsedRow
    values: dict[str, Any]
    sets: frozenset[str]
    product: str | None = None  # the catalog product it belongs to, for the changed set


class _Writer:
    """Applies parsed rows kind by kind on one connection, collecting problems instead of stopping."""

    def __init__(self, connection: Connection, report: ImportReport) -> None:
        self.connection = connection
        self.report = report
        self.problems: list[ImportProblem] = []
        self.changed_products: set[str] = set()
        self.rows_written: dict[Table, int] = defaultdict(int)  # inserted or updated

    def write_all(self, parsed: Mapping[str, list[ParsedRow]]) -> None:
        steps: dict[str, Callable[[list[ParsedRow]], None]] = {
            "products": self._products, "plans": self._plans, "features": self._features,
            "plan_features": self._plan_features, "integrations": self._integrations, "limits": self._limits,
            "compliance": self._compliance, "addons": self._addons, "faqs": self._faqs,
            "accounts": self._accounts, "contacts": self._contacts, "meetings": self._meetings,
            "transcripts": self._transcripts,
        }
        for kind in ROW_MODELS:
            if parsed.get(kind):
                steps[kind](parsed[kind])

    # -- problems and lookups --------------------------------------------------------------------

    def _dangling(self, parsed: ParsedRow, field_name: str, what: str, value: str) -> None:
        self.problems.append(ImportProblem(parsed.file, f"no {what} '{value}' in this import or the database",
                                           row=parsed.where, field=field_name))

    def _ids(self, table: Table, key_columns: Sequence[str], scope: str, scope_values: Iterable[Any]) -> dict:
        """Map key tuple (or single key) -> id for rows of `table` whose `scope` column is in `scope_values`."""
        columns = [table.c[name] for name in key_columns]
        result: dict[Any, int] = {}
        for chunk in _chunks(sorted(set(scope_values))):
            query = select(table.c.id, *columns).where(table.c[scope].in_(chunk))
            for row in self.connection.execute(query):
                key = row[1] if len(key_columns) == 1 else tuple(row[1:])
                result[key] = row[0]
        return result

    def _product_ids(self, slugs: Iterable[str]) -> dict[str, int]:
        return self._ids(Product.__table__, ["slug"], "slug", slugs)

    def _resolve_products(self, rows: list[ParsedRow]) -> list[tuple[ParsedRow, int]]:
        ids = self._product_ids(row.row.product for row in rows)
        resolved = []
        for row in rows:
            if row.row.product in ids:
                resolved.append((row, ids[row.row.product]))
            else:
                self._dangling(row, "product", "product", row.row.product)
        return resolved

    def _resolve_plans(self, rows: list[ParsedRow]) -> list[tuple[ParsedRow, int, int]]:
        """(row, product_id, plan_id) for rows naming `product` and `plan`."""
        with_products = self._resolve_products(rows)
        plan_ids = self._ids(Plan.__table__, ["product_id", "slug"], "product_id", (pid for _, pid in with_products))
        resolved = []
        for row, product_id in with_products:
            plan_id = plan_ids.get((product_id, row.row.plan))
            if plan_id is None:
                self._dangling(row, "plan", f"plan of product '{row.row.product}' with slug", row.row.plan)
            else:
                resolved.append((row, product_id, plan_id))
        return resolved

    def _plan_slugs(self, product_ids: Iterable[int]) -> dict[int, set[str]]:
        slugs: dict[int, set[str]] = defaultdict(set)
        for product_id, slug in self._ids(Plan.__table__, ["product_id", "slug"], "product_id", product_ids):
            slugs[product_id].add(slug)
        return slugs

    # -- the generic upsert ----------------------------------------------------------------------

    def _upsert(self, kind: str, table: Table, pending: list[_Pending], key_columns: Sequence[str], scope: str,
                existing_keys: Callable[[Mapping[str, Any]], list[tuple]] | None = None,
                row_key: Callable[[Mapping[str, Any]], tuple] | None = None) -> None:
        """Insert new rows, update changed ones (only the columns a row sets), count the rest unchanged."""
        counts = self.report.kinds[kind]
        row_key = row_key or (lambda values: tuple(values[name] for name in key_columns))
        existing_keys = existing_keys or (lambda values: [tuple(values[name] for name in key_columns)])
        existing: dict[tuple, Mapping[str, Any]] = {}
        for chunk in _chunks(sorted({item.values[scope] for item in pending})):
            for found in self.connection.execute(select(table).where(table.c[scope].in_(chunk))).mappings():
                for key in existing_keys(found):
                    existing[key] = found
        first_seen: dict[tuple, str] = {}
        inserts: list[dict[str, Any]] = []
        updates: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
        for item in pending:
            key = row_key(item.values)
            if key in first_seen:
                self.problems.append(ImportProblem(item.parsed.file, f"duplicate of {first_seen[key]} (same key)",
                                                   row=item.parsed.where))
                continue
            first_seen[key] = item.parsed.where
            current = existing.get(key)
            if current is None:
                inserts.append(item.values)
                counts.inserted += 1
            else:
                changed = {name for name in item.sets if current[name] != item.values[name]}
                if not changed:
                    counts.unchanged += 1
                    continue
                counts.updated += 1
                match = {"id": current["id"]} if "id" in table.c else {name: current[name] for name in key_columns}
                updates[frozenset(changed)].append(
                    {**{f"k_{name}": value for name, value in match.items()},
                     **{f"v_{name}": item.values[name] for name in changed}})
            if item.product is not None:
                self.changed_products.add(item.product)
        # Written even when problems were found (the transaction is rolled back then), so later kinds
        # resolve their references and report only their own problems.
        if inserts:
            self.connection.execute(table.insert(), inserts)
        self.rows_written[table] += len(inserts) + sum(len(params) for params in updates.values())
        for columns, params in updates.items():
            match_columns = ["id"] if "id" in table.c else list(key_columns)
            statement = (update(table)
                         .where(and_(*(table.c[name] == bindparam(f"k_{name}") for name in match_columns)))
                         .values({name: bindparam(f"v_{name}") for name in sorted(columns)}))
            self.connection.execute(statement, params)

    @staticmethod
    def _pending(parsed: ParsedRow, values: dict[str, Any], rename: Mapping[str, str] | None = None,
                 product: str | None = None, always: Iterable[str] = ()) -> _Pending:
        """Columns set by the row: the fields it carried (renamed to columns) plus the key columns."""
        rename = rename or {}
        sets = {rename.get(name, name) for name in parsed.row.model_fields_set}
        sets = {name for name in sets if name in values} | set(always)
        return _Pending(parsed, values, frozenset(sets), product)

    # -- one step per kind -----------------------------------------------------------------------

    def _products(self, rows: list[ParsedRow]) -> None:
        primaries = [row for row in rows if row.row.is_primary]
        for extra in primaries[1:]:
            self.problems.append(ImportProblem(extra.file, f"only one product can be primary ({primaries[0].where}"
                                               " already is)", row=extra.where, field="is_primary"))
        pending = [self._pending(row, row.row.model_dump(), product=row.row.slug) for row in rows]
        self._upsert("products", Product.__table__, pending, ["slug"], "slug")
        if primaries:
            self._demote_other_primaries(primaries[0].row.slug)

    def _demote_other_primaries(self, primary: str) -> None:
        """One product is "the platform": importing a new primary makes the previous one an ordinary product."""
        table = Product.__table__
        demoted = self.connection.execute(
            select(table.c.slug).where(table.c.is_primary.is_(True), table.c.slug != primary)).scalars().all()
        if demoted:
            self.connection.execute(update(table).where(table.c.slug.in_(demoted)).values(is_primary=False))
            self.changed_products.update(demoted)

    def _plans(self, rows: list[ParsedRow]) -> None:
        order: dict[str, int] = defaultdict(int)
        pending = []
        for row, product_id in self._resolve_products(rows):
            values = row.row.model_dump(exclude={"product"})
            values["product_id"] = product_id
            if values["position"] is None:
                values["position"] = order[row.row.product]  # default: the order of the rows in the file
            order[row.row.product] += 1
            pending.append(self._pending(row, values, product=row.row.product))
        self._upsert("plans", Plan.__table__, pending, ["product_id", "slug"], "product_id")

    def _features(self, rows: list[ParsedRow]) -> None:
        pending = [self._pending(row, {**row.row.model_dump(exclude={"product"}), "product_id": product_id},
                                 product=row.row.product)
                   for row, product_id in self._resolve_products(rows)]
        self._upsert("features", Feature.__table__, pending, ["product_id", "slug"], "product_id")

    def _plan_features(self, rows: list[ParsedRow]) -> None:
        resolved = self._resolve_plans(rows)
        feature_ids = self._ids(Feature.__table__, ["product_id", "slug"], "product_id",
                                (product_id for _, product_id, _ in resolved))
        pending = []
        for row, product_id, plan_id in resolved:
            feature_id = feature_ids.get((product_id, row.row.feature))
            if feature_id is None:
                self._dangling(row, "feature", f"feature of product '{row.row.product}' with slug", row.row.feature)
                continue
            values = {"plan_id": plan_id, "feature_id": feature_id, "detail": row.row.detail}
            pending.append(self._pending(row, values, product=row.row.product))
        self._upsert("plan_features", PlanFeature.__table__, pending, ["plan_id", "feature_id"], "plan_id")

    def _integrations(self, rows: list[ParsedRow]) -> None:
        resolved = self._resolve_products(rows)
        plan_slugs = self._plan_slugs(product_id for _, product_id in resolved)
        pending = []
        for row, product_id in resolved:
            if row.row.min_plan and row.row.min_plan not in plan_slugs[product_id]:
                self._dangling(row, "min_plan", f"plan of product '{row.row.product}' with slug", row.row.min_plan)
                continue
            values = {**row.row.model_dump(exclude={"product", "min_plan"}), "product_id": product_id,
                      "min_plan_slug": row.row.min_plan}
            pending.append(self._pending(row, values, {"min_plan": "min_plan_slug"}, product=row.row.product))
        self._upsert("integrations", Integration.__table__, pending, ["product_id", "slug"], "product_id")

    def _limits(self, rows: list[ParsedRow]) -> None:
        pending = [self._pending(row, {"plan_id": plan_id, "name": row.row.name, "value": row.row.value},
                                 product=row.row.product)
                   for row, _, plan_id in self._resolve_plans(rows)]
        self._upsert("limits", PlanLimit.__table__, pending, ["plan_id", "name"], "plan_id")

    def _compliance(self, rows: list[ParsedRow]) -> None:
        pending = [self._pending(row, {**row.row.model_dump(exclude={"product"}), "product_id": product_id},
                                 product=row.row.product)
                   for row, product_id in self._resolve_products(rows)]
        self._upsert("compliance", ComplianceItem.__table__, pending, ["product_id", "name"], "product_id")

    def _addons(self, rows: list[ParsedRow]) -> None:
        resolved = self._resolve_products(rows)
        plan_slugs = self._plan_slugs(product_id for _, product_id in resolved)
        pending = []
        for row, product_id in resolved:
            unknown = [slug for slug in row.row.available_on if slug not in plan_slugs[product_id]]
            if unknown:
                self._dangling(row, "available_on", f"plan of product '{row.row.product}' with slug", unknown[0])
                continue
            values = {**row.row.model_dump(exclude={"product"}), "product_id": product_id,
                      "available_on": ",".join(row.row.available_on)}
            pending.append(self._pending(row, values, product=row.row.product))
        self._upsert("addons", AddOn.__table__, pending, ["product_id", "slug"], "product_id")

    def _faqs(self, rows: list[ParsedRow]) -> None:
        pending = [self._pending(row, {**row.row.model_dump(exclude={"product"}), "product_id": product_id},
                                 product=row.row.product)
                   for row, product_id in self._resolve_products(rows)]
        self._upsert("faqs", Faq.__table__, pending, ["product_id", "question"], "product_id")

    def _accounts(self, rows: list[ParsedRow]) -> None:
        pending = [self._pending(row, row.row.model_dump()) for row in rows]
        self._upsert("accounts", Account.__table__, pending, ["slug"], "slug")

    def _resolve_accounts(self, rows: list[ParsedRow]) -> list[tuple[ParsedRow, int]]:
        ids = self._ids(Account.__table__, ["slug"], "slug", (row.row.account for row in rows))
        resolved = []
        for row in rows:
            if row.row.account in ids:
                resolved.append((row, ids[row.row.account]))
            else:
                self._dangling(row, "account", "account", row.row.account)
        return resolved

    def _contacts(self, rows: list[ParsedRow]) -> None:
        pending = [self._pending(row, {**row.row.model_dump(exclude={"account"}), "account_id": account_id})
                   for row, account_id in self._resolve_accounts(rows)]
        self._upsert("contacts", Contact.__table__, pending, ["account_id", "name"], "account_id",
                     existing_keys=_contact_keys, row_key=lambda values: _contact_keys(values)[0])

    def _meetings(self, rows: list[ParsedRow]) -> None:
        pending = []
        for row, account_id in self._resolve_accounts(rows):
            values = {**row.row.model_dump(exclude={"account"}), "account_id": account_id}
            # Stored as naive UTC text; the column type (sqlmodel's UTCDateTime) insists on an aware value.
            values["started_at"] = row.row.started_at.replace(tzinfo=UTC)
            pending.append(self._pending(row, values))
        self._upsert("meetings", Meeting.__table__, pending, ["external_id"], "external_id")

    def _transcripts(self, rows: list[ParsedRow]) -> None:
        ids = self._ids(Meeting.__table__, ["external_id"], "external_id", (row.row.meeting for row in rows))
        pending = []
        for row in rows:
            if row.row.meeting not in ids:
                self._dangling(row, "meeting", "meeting with external_id", row.row.meeting)
                continue
            values = {**row.row.model_dump(exclude={"meeting"}), "meeting_id": ids[row.row.meeting]}
            pending.append(self._pending(row, values))
        self._upsert("transcripts", TranscriptSegment.__table__, pending, ["meeting_id", "seq"], "meeting_id")


def _contact_keys(values: Mapping[str, Any]) -> list[tuple]:
    """A contact is matched within its account by email when it has one, otherwise by name."""
    account_id, email, name = values["account_id"], (values["email"] or "").lower(), values["name"].lower()
    keys: list[tuple] = [(account_id, "email", email)] if email else []
    keys.append((account_id, "name", name))
    return keys


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
