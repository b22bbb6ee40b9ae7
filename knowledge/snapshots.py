"""Build product snapshots from the catalog tables in bulk, and rebuild them incrementally.

A rebuild checks products a chunk at a time inside one read transaction (a consistent view of the
catalog, taking no write lock while it works), building the out-of-date ones into a scratch table,
so its memory does not grow with the catalog; then it publishes them in short write transactions.
A product whose data breaks the builder fails the run before anything is published: every previous
snapshot stays in place and keeps serving. Which products a scheduled run checks comes from the
change log (knowledge.snapshot_changes), so with nothing changed it does no work per product.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from knowledge import snapshot_changes
from knowledge.db import Database
from knowledge.dialects.bulk_load import refresh_statistics
from knowledge.dialects.bulk_reads import fetch_all, id_condition, prefer_index_reads
from knowledge.dialects.bulk_writes import insert_rows
from knowledge.dialects.snapshot_hashes import hash_queries
from knowledge.dialects.transactions import (
    begin_consistent_read,
    begin_derived_write,
    begin_write,
    writers_take_turns,
)
from knowledge.snapshot_prompt import render_prompt
from knowledge.snapshot_schema import (
    AddOnEntry,
    ComplianceEntry,
    FaqEntry,
    FeatureEntry,
    IntegrationEntry,
    PlanEntry,
    ProductPayload,
)

logger = logging.getLogger(__name__)

# Part of every source hash: bump it when the builder or the prompt text changes what it makes of the same rows,
# so the next incremental rebuild rebuilds every product.
PAYLOAD_FORMAT = 1

# Product ids per bulk query: well under SQLite's bound-parameter limit, big enough to keep queries few.
CHUNK_SIZE = 500
WRITE_SLICE = 50  # products per write transaction of a rebuild on SQLite (~10-20 ms of write lock each)
WRITE_PAUSE_S = 0.01
STATISTICS_AFTER_PRODUCTS = 1_000  # snapshots built that make a rebuild refresh the planner's statistics

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime columns in SQLite

ProgressCallback = Callable[[int, int], None]


@dataclass
class RebuildReport:
    built: int
    unchanged: int
    failed: int  # products whose new snapshot was not written because the run failed
    seconds: float
    errors: list[str] = field(default_factory=list)
    removed: int = 0  # snapshots of deleted products dropped
    scope: str = "all"  # which products were checked: "changed" (the change log), "all" or "named"

    def as_json(self) -> dict[str, Any]:
        """The `--json` object: exactly built, unchanged, failed and seconds."""
        return {"built": self.built, "unchanged": self.unchanged, "failed": self.failed, "seconds": self.seconds}


class SnapshotBuildError(Exception):
    """A product's source rows cannot make a consistent snapshot (e.g. a reference to a missing plan)."""

    def __init__(self, slug: str, reason: str) -> None:
        super().__init__(f"{slug}: {reason}")
        self.slug = slug
        self.reason = reason


class UnknownProductError(LookupError):
    """Rebuild was asked for product slugs that do not exist."""

    def __init__(self, slugs: Sequence[str]) -> None:
        super().__init__("unknown product " + ", ".join(repr(slug) for slug in slugs))
        self.slugs = list(slugs)


def canonical_json(payload: ProductPayload) -> str:
    """The stored form of a payload: compact, key order as built (the builder is deterministic)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def normalize_alias(text: str) -> str:
    """How names are compared: case-insensitive, whitespace collapsed."""
    return " ".join(text.split()).lower()


def chunked(items: Sequence[int], size: int = CHUNK_SIZE) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


# --- source rows -------------------------------------------------------------------------------
# Row order here is the payload's order and uses only the catalog's own ordering (plan position,
# insertion order); the hash queries below read the same rows in the same order.

# name -> (the product id column the chunk's condition is on, the query with a `{cond}` slot for it)
_SOURCE_SQL = {
    "products": ("id", "SELECT id, slug, name, tagline, description, category, is_primary FROM product WHERE {cond}"),
    "plans": ("product_id", "SELECT id, product_id, slug, name, position, price_cents, currency, billing_period,"
              " per_seat, annual_discount_pct, description FROM plan WHERE {cond} ORDER BY product_id, position, id"),
    "limits": ("p.product_id", "SELECT l.plan_id, l.name, l.value FROM planlimit l JOIN plan p ON p.id = l.plan_id"
               " WHERE {cond} ORDER BY l.plan_id, l.id"),
    "features": ("product_id", "SELECT id, product_id, slug, name, category, description FROM feature"
                 " WHERE {cond} ORDER BY product_id, id"),
    "plan_features": ("f.product_id", "SELECT f.product_id, pf.feature_id, pf.plan_id, pf.detail FROM planfeature pf"
                      " JOIN feature f ON f.id = pf.feature_id WHERE {cond}"),
    "integrations": ("product_id", "SELECT product_id, slug, name, category, description, min_plan_slug"
                     " FROM integration WHERE {cond} ORDER BY product_id, id"),
    "compliance": ("product_id", "SELECT product_id, name, status, details FROM complianceitem"
                   " WHERE {cond} ORDER BY product_id, id"),
    "addons": ("product_id", "SELECT product_id, slug, name, price_cents, currency, billing_period, per_seat,"
               " available_on, description FROM addon WHERE {cond} ORDER BY product_id, id"),
    "faqs": ("product_id", "SELECT product_id, question, answer FROM faq WHERE {cond} ORDER BY product_id, id"),
}


@dataclass
class _SourceRows:
    """One chunk's catalog rows, grouped by product id (limits by plan id)."""

    products: dict[int, tuple[Any, ...]]
    plans: dict[int, list[tuple[Any, ...]]]
    limits: dict[int, list[tuple[Any, ...]]]
    features: dict[int, list[tuple[Any, ...]]]
    plan_features: dict[int, list[tuple[Any, ...]]]
    integrations: dict[int, list[tuple[Any, ...]]]
    compliance: dict[int, list[tuple[Any, ...]]]
    addons: dict[int, list[tuple[Any, ...]]]
    faqs: dict[int, list[tuple[Any, ...]]]


def _grouped(rows: Iterable[tuple[Any, ...]]) -> dict[int, list[tuple[Any, ...]]]:
    """Rows whose first column is the group key, grouped by it (the key is kept in the row)."""
    groups: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        groups[row[0]].append(row)
    return groups


def _fetch_sources(connection: Connection, product_ids: Sequence[int]) -> _SourceRows:
    def rows(name: str) -> list[tuple[Any, ...]]:
        column, sql = _SOURCE_SQL[name]
        condition, params = id_condition(connection, column, product_ids)
        return fetch_all(connection, sql.format(cond=condition), params)

    products = {row[0]: row for row in rows("products")}
    plans: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows("plans"):
        plans[row[1]].append(row)
    features: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows("features"):
        features[row[1]].append(row)
    return _SourceRows(
        products=products,
        plans=plans,
        limits=_grouped(rows("limits")),
        features=features,
        plan_features=_grouped(rows("plan_features")),
        integrations=_grouped(rows("integrations")),
        compliance=_grouped(rows("compliance")),
        addons=_grouped(rows("addons")),
        faqs=_grouped(rows("faqs")),
    )


def _assemble(product_id: int, source: _SourceRows) -> ProductPayload:
    """One product's payload from its rows; raises SnapshotBuildError when the rows contradict each other."""
    _, slug, name, tagline, description, category, is_primary = source.products[product_id]
    plan_rows = source.plans.get(product_id, [])
    plan_slug_by_id = {row[0]: row[2] for row in plan_rows}
    plan_order = {row[0]: index for index, row in enumerate(plan_rows)}
    plan_slugs = [row[2] for row in plan_rows]
    known_plans = set(plan_slugs)

    plans: list[PlanEntry] = []
    for plan_id, _pid, plan_slug, plan_name, position, price, currency, period, per_seat, discount, about in plan_rows:
        plans.append(
            {
                "slug": plan_slug,
                "name": plan_name,
                "position": position,
                "price_cents": price,
                "currency": currency,
                "billing_period": period,
                "per_seat": bool(per_seat),
                "annual_discount_pct": discount,
                "description": about,
                "limits": {limit_name: value for _plan, limit_name, value in source.limits.get(plan_id, ())},
            }
        )

    links: dict[int, list[tuple[int, str]]] = defaultdict(list)  # feature id -> [(plan id, detail)]
    for _pid, feature_id, plan_id, detail in source.plan_features.get(product_id, ()):
        links[feature_id].append((plan_id, detail))
    features: list[FeatureEntry] = []
    for feature_id, _pid, feature_slug, feature_name, feature_category, feature_desc in source.features.get(
        product_id, ()
    ):
        included = links.get(feature_id, [])
        foreign = [plan_id for plan_id, _detail in included if plan_id not in plan_order]
        if foreign:
            raise SnapshotBuildError(slug, f"feature {feature_slug!r} is linked to a plan of another product")
        included.sort(key=lambda link: plan_order[link[0]])
        features.append(
            {
                "slug": feature_slug,
                "name": feature_name,
                "category": feature_category,
                "description": feature_desc,
                "plans": [plan_slug_by_id[plan_id] for plan_id, _detail in included],
                "details": {plan_slug_by_id[plan_id]: detail for plan_id, detail in included if detail},
            }
        )

    integrations: list[IntegrationEntry] = []
    for _pid, integration_slug, integration_name, integration_category, integration_desc, min_plan in (
        source.integrations.get(product_id, ())
    ):
        if min_plan and min_plan not in known_plans:
            raise SnapshotBuildError(slug, f"integration {integration_slug!r} names unknown plan {min_plan!r}")
        integrations.append(
            {
                "slug": integration_slug,
                "name": integration_name,
                "category": integration_category,
                "description": integration_desc,
                "min_plan": min_plan,
            }
        )

    compliance: list[ComplianceEntry] = [
        {"name": item_name, "status": status, "details": details}
        for _pid, item_name, status, details in source.compliance.get(product_id, ())
    ]

    addons: list[AddOnEntry] = []
    for _pid, addon_slug, addon_name, price, currency, period, per_seat, available_on, addon_desc in (
        source.addons.get(product_id, ())
    ):
        named = {part.strip() for part in available_on.split(",") if part.strip()}
        unknown = sorted(named - known_plans)
        if unknown:
            raise SnapshotBuildError(slug, f"add-on {addon_slug!r} names unknown plan {unknown[0]!r}")
        addons.append(
            {
                "slug": addon_slug,
                "name": addon_name,
                "price_cents": price,
                "currency": currency,
                "billing_period": period,
                "per_seat": bool(per_seat),
                # Empty in the source means every plan; say so explicitly for the consumers.
                "available_on": [plan for plan in plan_slugs if not named or plan in named],
                "description": addon_desc,
            }
        )

    faqs: list[FaqEntry] = [
        {"question": question, "answer": answer} for _pid, question, answer in source.faqs.get(product_id, ())
    ]

    return {
        "product": {
            "slug": slug,
            "name": name,
            "tagline": tagline,
            "description": description,
            "category": category,
            "is_primary": bool(is_primary),
        },
        "plans": plans,
        "features": features,
        "integrations": integrations,
        "compliance": compliance,
        "addons": addons,
        "faqs": faqs,
    }


def _build_chunk(
    connection: Connection, product_ids: Sequence[int]
) -> tuple[dict[int, ProductPayload], list[SnapshotBuildError]]:
    source = _fetch_sources(connection, product_ids)
    payloads: dict[int, ProductPayload] = {}
    errors: list[SnapshotBuildError] = []
    for product_id in product_ids:
        if product_id not in source.products:
            continue  # deleted meanwhile, or never existed
        try:
            payloads[product_id] = _assemble(product_id, source)
        except SnapshotBuildError as exc:
            errors.append(exc)
        except Exception as exc:  # a builder bug on odd data must not hide which product broke it
            errors.append(SnapshotBuildError(str(source.products[product_id][1]), f"{type(exc).__name__}: {exc}"))
    return payloads, errors


def build_payload(session: Session | Connection, product_ids: Iterable[int]) -> dict[int, ProductPayload]:
    """Payloads of `product_ids` (missing ids are left out), from a few bulk queries per 500 products.

    Raises SnapshotBuildError for the first product whose rows cannot make a consistent payload.
    """
    connection = _connection(session)
    ids = list(dict.fromkeys(product_ids))
    payloads: dict[int, ProductPayload] = {}
    for chunk in chunked(ids):
        built, errors = _build_chunk(connection, chunk)
        if errors:
            raise errors[0]
        payloads.update(built)
    return payloads


# --- source hashes -------------------------------------------------------------------------------
# The queries (knowledge.dialects.snapshot_hashes) make one JSON line per source row inside the database and
# concatenate them per product. Were the database ever to order a group differently, the only cost would be
# rebuilding an unchanged payload: its version stays put.


def source_hashes(session: Session | Connection, product_ids: Sequence[int] | None = None) -> dict[int, str]:
    """product id -> sha256 of its source rows (every product when `product_ids` is None)."""
    connection = _connection(session)
    chunks = _all_product_ids(connection) if product_ids is None else chunked(list(product_ids))
    hashes: dict[int, str] = {}
    for chunk in chunks:
        hashes.update(_hash_chunk(connection, chunk))
    return hashes


def _hash_chunk(connection: Connection, product_ids: Sequence[int]) -> dict[int, str]:
    """Source hashes of up to CHUNK_SIZE products (missing ids are left out)."""
    queries = hash_queries(connection)
    sections: dict[int, list[str]] = {}
    for index, (column, sql) in enumerate(queries):
        condition, params = id_condition(connection, column, product_ids)
        for product_id, lines in fetch_all(connection, sql.format(cond=condition), params):
            if index == 0:
                sections[product_id] = [""] * len(queries)
            entry = sections.get(product_id)
            if entry is not None:  # rows of a product that is not there are nobody's source
                # The order of a group's lines follows the query plan (SQLite before 3.44 cannot order inside
                # an aggregate), so one product's rows could come out in another order when read with other
                # products. Sorted, the hash is the same however the rows were read. (JSON escapes newlines.)
                entry[index] = "\n".join(sorted((lines or "").split("\n")))
    prefix = f"pitcrew-snapshot/{PAYLOAD_FORMAT}\x1e"
    return {
        product_id: hashlib.sha256((prefix + "\x1e".join(parts)).encode()).hexdigest()
        for product_id, parts in sections.items()
    }


def _all_product_ids(connection: Connection, size: int = CHUNK_SIZE) -> Iterator[list[int]]:
    """Every product id, `size` at a time in id order (keyset pages: no list of the whole catalog)."""
    after = -1
    while True:
        ids = list(connection.execute(_PRODUCTS_AFTER, {"after": after, "size": size}).scalars())
        if not ids:
            return
        yield ids
        after = ids[-1]


# --- aliases -------------------------------------------------------------------------------------


def snapshot_aliases(product_id: int, payload: ProductPayload) -> list[tuple[str, int, str, int]]:
    """(alias, product id, kind, rank) rows: slug and name (kind product), plan names (kind plan)."""
    rank = 0 if payload["product"]["is_primary"] else 1
    aliases: dict[str, str] = {}
    for name in (payload["product"]["slug"], payload["product"]["name"]):
        alias = normalize_alias(name)
        if alias:
            aliases.setdefault(alias, "product")
    for plan in payload["plans"]:
        alias = normalize_alias(plan["name"])
        if alias:
            aliases.setdefault(alias, "plan")
    return [(alias, product_id, kind, rank) for alias, kind in aliases.items()]


# --- rebuild -------------------------------------------------------------------------------------
# A rebuild has two phases. Checking: inside one read transaction (a consistent view of the catalog, no
# write lock), the products in scope come CHUNK_SIZE at a time; each chunk is hashed, and the products
# whose hash differs from their snapshot's are built into a scratch table (a TEMP table: on disk and
# private to the connection), so memory holds one chunk whatever the catalog's size. A build failure
# means nothing is published. Publishing: the scratch rows replace the snapshots WRITE_SLICE products
# per short write transaction; a last one drops the snapshots of deleted products and clears the
# change-log entries the run checked.

RebuildScope = Literal["changed", "all", "named"]

_SCRATCH_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS snapshotbuild (seq INTEGER PRIMARY KEY, product_id INTEGER, slug TEXT,"
    " name TEXT, payload TEXT, prompt TEXT, source_hash TEXT, aliases TEXT)"
)
_DATABASE_ERRORS = SQLAlchemyError  # bulk reads raise it too (knowledge.dialects.bulk_reads)


def _by_ids(sql: str, name: str = "ids") -> TextClause:
    """`sql` with an expanding list parameter `name` (for `IN :name`)."""
    return text(sql).bindparams(bindparam(name, expanding=True))


_PRODUCTS_AFTER = text("SELECT id FROM product WHERE id > :after ORDER BY id LIMIT :size")
_PRODUCTS_BY_SLUG = _by_ids("SELECT lower(slug), id FROM product WHERE lower(slug) IN :slugs", "slugs")
_STORED_HASHES = _by_ids("SELECT product_id, source_hash FROM productsnapshot WHERE product_id IN :ids")
_ALIASED = _by_ids("SELECT DISTINCT product_id FROM snapshotalias WHERE product_id IN :ids")
_SCRATCH_AFTER = text(
    "SELECT seq, product_id, slug, name, payload, prompt, source_hash, aliases FROM snapshotbuild"
    " WHERE seq > :after ORDER BY seq LIMIT :size"
)
_PREVIOUS_SNAPSHOTS = _by_ids("SELECT product_id, version, payload FROM productsnapshot WHERE product_id IN :ids")
_DELETE_SNAPSHOTS = _by_ids("DELETE FROM productsnapshot WHERE product_id IN :ids")
_DELETE_SNAPSHOTS_BY_SLUG = _by_ids("DELETE FROM productsnapshot WHERE slug IN :slugs", "slugs")
_DELETE_ALIASES = _by_ids("DELETE FROM snapshotalias WHERE product_id IN :ids")
_DROP_GONE_ALIASES = _by_ids(
    "DELETE FROM snapshotalias WHERE product_id IN :ids AND product_id NOT IN (SELECT id FROM product)"
)
_DROP_GONE_SNAPSHOTS = _by_ids(
    "DELETE FROM productsnapshot WHERE product_id IN :ids AND product_id NOT IN (SELECT id FROM product)"
)


@dataclass
class _Built:
    product_id: int
    slug: str
    name: str
    payload: str
    prompt: str
    source_hash: str
    aliases: list[tuple[str, int, str, int]]


@dataclass
class _Checked:
    """What the checking phase found."""

    to_build: int = 0  # products whose snapshot is out of date (or all of them, forced)
    unchanged: int = 0
    scratched: int = 0  # built into the scratch table
    gone: list[int] = field(default_factory=list)  # logged products that no longer exist
    named: list[int] = field(default_factory=list)  # the ids of `product_slugs`
    errors: list[SnapshotBuildError] = field(default_factory=list)


def _target_products(connection: Connection, product_slugs: Sequence[str]) -> list[int]:
    wanted = list(dict.fromkeys(slug.strip().lower() for slug in product_slugs))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK_SIZE):
        chunk = wanted[start : start + CHUNK_SIZE]
        found.update(connection.execute(_PRODUCTS_BY_SLUG, {"slugs": chunk}).all())
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise UnknownProductError(missing)
    return sorted(found.values())


def rebuild_snapshots(
    db: Database,
    *,
    product_slugs: Sequence[str] | None = None,
    force: bool = False,
    changed_only: bool = False,
    progress: ProgressCallback | None = None,
) -> RebuildReport:
    """Rebuild the snapshots of changed products: checking every product, the named ones, or (`changed_only`,
    the schedule's runs) those in the change log, whose run with nothing logged reads two rows and returns.

    A product is rebuilt when its source hash differs from its snapshot's, or always with `force`. Raises
    UnknownProductError for slugs that do not exist; any other failure is reported in the result and
    publishes nothing.
    """
    started = time.perf_counter()
    # The small-cache writers' engine: a rebuild reads each page once, and must neither grow the process by a
    # reader's 32 MiB page cache nor evict the snapshot pages the readers' connections keep hot for replies.
    with db.write_engine.connect() as connection:
        scope: RebuildScope = "named" if product_slugs is not None else "all"
        if changed_only and product_slugs is None:
            logged = snapshot_changes.changed_scope(connection, PAYLOAD_FORMAT)
            if logged == "none":
                return RebuildReport(built=0, unchanged=0, failed=0, seconds=_seconds(started), scope="changed")
            scope = logged
        try:
            tick = snapshot_changes.start_run(connection)
        except _DATABASE_ERRORS as exc:
            connection.rollback()
            return _failed(started, scope, 0, 0, [f"cannot start the rebuild: {_first_line(exc)}"])
        try:
            checked = _check(connection, scope, product_slugs, force, progress)
        except UnknownProductError:
            raise
        except _DATABASE_ERRORS as exc:
            _drop_scratch(connection)
            return _failed(started, scope, 0, len(product_slugs or ()), [f"cannot read the catalog: {_first_line(exc)}"])

        if checked.errors:
            _drop_scratch(connection)
            return _failed(started, scope, checked.unchanged, checked.to_build, [str(error) for error in checked.errors])
        try:
            removed = _write_in_slices(connection, scope, tick, checked)
        except _DATABASE_ERRORS as exc:
            connection.rollback()
            return _failed(started, scope, checked.unchanged, checked.to_build,
                           [f"cannot write snapshots: {_first_line(exc)}"])
        finally:
            _drop_scratch(connection)

    report = RebuildReport(built=checked.scratched, unchanged=checked.unchanged, failed=0, seconds=_seconds(started),
                           removed=removed, scope=scope)
    logger.info(
        "snapshots rebuilt",
        extra={"scope": scope, "built": report.built, "unchanged": report.unchanged, "removed": removed,
               "seconds": report.seconds},
    )
    return report


def _check(
    connection: Connection,
    scope: RebuildScope,
    product_slugs: Sequence[str] | None,
    force: bool,
    progress: ProgressCallback | None,
) -> _Checked:
    """Hash the products in scope chunk by chunk and build the out-of-date ones into the scratch table."""
    checked = _Checked()
    begin_consistent_read(connection)  # one consistent view of the catalog for all the reads
    prefer_index_reads(connection)
    try:
        chunks: Iterable[Sequence[int]]
        if scope == "named":
            checked.named = _target_products(connection, product_slugs or ())
            total, chunks = len(checked.named), chunked(checked.named)
        elif scope == "changed":
            total, chunks = snapshot_changes.count_logged(connection), snapshot_changes.logged_products(
                connection, CHUNK_SIZE
            )
        else:
            total = connection.execute(text("SELECT count(*) FROM product")).scalar_one()
            chunks = _all_product_ids(connection)
        connection.exec_driver_sql(_SCRATCH_DDL)
        if progress is not None:
            progress(0, total)
        done = 0
        for chunk in chunks:
            _check_chunk(connection, chunk, force, checked)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    except BaseException:
        connection.rollback()
        raise
    # Ends the read transaction; it wrote only the scratch table. A failed run drops that instead.
    connection.commit()
    return checked


def _check_chunk(connection: Connection, product_ids: Sequence[int], force: bool, checked: _Checked) -> None:
    hashes = _hash_chunk(connection, product_ids)
    present = [pid for pid in product_ids if pid in hashes]
    checked.gone.extend(pid for pid in product_ids if pid not in hashes)
    if not present:
        return
    if force:
        to_build = present
    else:
        stored = dict(connection.execute(_STORED_HASHES, {"ids": present}).all())
        aliased = set(connection.execute(_ALIASED, {"ids": present}).scalars())
        to_build = [pid for pid in present if stored.get(pid) != hashes[pid] or pid not in aliased]
    checked.unchanged += len(present) - len(to_build)
    checked.to_build += len(to_build)
    if not to_build:
        return
    payloads, errors = _build_chunk(connection, to_build)
    checked.errors.extend(errors)
    if checked.errors:
        return  # nothing will be published; keep checking only to report every failing product
    rows = []
    for product_id, payload in payloads.items():
        rows.append(
            {
                "seq": checked.scratched + len(rows),
                "product_id": product_id,
                "slug": payload["product"]["slug"],
                "name": payload["product"]["name"],
                "payload": canonical_json(payload),
                "prompt": render_prompt(payload),
                "source_hash": hashes[product_id],
                "aliases": json.dumps(snapshot_aliases(product_id, payload)),
            }
        )
    insert_rows(connection, "snapshotbuild", rows)
    checked.scratched += len(rows)


def _scratch_slices(connection: Connection, size: int) -> Iterator[list[_Built]]:
    """The scratch table's rows as _Built, `size` at a time."""
    after = -1
    while True:
        rows = connection.execute(_SCRATCH_AFTER, {"after": after, "size": size}).all()
        if not rows:
            return
        yield [
            _Built(product_id, slug, name, payload, prompt, source_hash, [tuple(alias) for alias in json.loads(aliases)])
            for _seq, product_id, slug, name, payload, prompt, source_hash, aliases in rows
        ]
        after = rows[-1][0]


def _drop_scratch(connection: Connection) -> None:
    try:
        connection.rollback()
        connection.execute(text("DROP TABLE IF EXISTS snapshotbuild"))
        connection.commit()
    except _DATABASE_ERRORS:  # the connection is going back to the pool broken anyway; the pool discards it
        logger.debug("could not drop the rebuild's scratch table", exc_info=True)


def _write_in_slices(connection: Connection, scope: RebuildScope, tick: int, checked: _Checked) -> int:
    """Publish the scratch table a slice of products per transaction, then finish in one last transaction;
    returns how many snapshots of deleted products were dropped.

    Each product's snapshot and aliases change together; a large rebuild lands over several short
    transactions, on SQLite `WRITE_SLICE` products each with a pause between them, so no other writer (the Slack
    inbox) waits long for the lock; on PostgreSQL, whose writers do not wait for each other, `CHUNK_SIZE` each. Snapshots are derived data: their commits need not wait for the disk (a crash loses at most the last
    few, which the next rebuild redoes; the change log is cleared only by the durable last transaction).
    """
    built_at = datetime.now(UTC).replace(tzinfo=None)
    pause = writers_take_turns(connection)
    for batch in _scratch_slices(connection, WRITE_SLICE if pause else CHUNK_SIZE):
        begin_derived_write(connection)
        _write(connection, batch, built_at)
        connection.commit()
        if pause:
            time.sleep(WRITE_PAUSE_S)
    begin_write(connection)
    removed = _finish(connection, scope, tick, checked)
    if checked.scratched >= STATISTICS_AFTER_PRODUCTS:  # the readers' queries are planned for the new sizes
        refresh_statistics(connection, ("productsnapshot", "snapshotalias"))
    connection.commit()
    return removed


def _finish(connection: Connection, scope: RebuildScope, tick: int, checked: _Checked) -> int:
    """The last write of a successful run (in the caller's transaction): drop the snapshots of deleted
    products, clear the change-log entries the run checked; returns how many snapshots were dropped."""
    if scope == "all":
        connection.execute(text("DELETE FROM snapshotalias WHERE product_id NOT IN (SELECT id FROM product)"))
        removed = connection.execute(
            text("DELETE FROM productsnapshot WHERE product_id NOT IN (SELECT id FROM product)")
        ).rowcount
    else:
        removed = 0
        for chunk in chunked(checked.gone):
            # NOT IN: an id handed to a new product since the read (SQLite reuses the largest) keeps its snapshot.
            connection.execute(_DROP_GONE_ALIASES, {"ids": chunk})
            removed += max(connection.execute(_DROP_GONE_SNAPSHOTS, {"ids": chunk}).rowcount, 0)
    snapshot_changes.clear_checked(connection, tick, checked.named if scope == "named" else None)
    if scope == "all":
        snapshot_changes.mark_verified(connection, PAYLOAD_FORMAT)
    return max(removed, 0)


def _write(connection: Connection, built: list[_Built], built_at: datetime) -> None:
    """Replace the snapshots and aliases of `built` (inside the caller's transaction)."""
    for start in range(0, len(built), CHUNK_SIZE):
        batch = built[start : start + CHUNK_SIZE]
        ids = [item.product_id for item in batch]
        previous = {
            product_id: (version, payload)
            for product_id, version, payload in connection.execute(_PREVIOUS_SNAPSHOTS, {"ids": ids})
        }
        connection.execute(_DELETE_SNAPSHOTS, {"ids": ids})
        # A stale snapshot of another product may still hold a slug that moved (only on --product runs).
        connection.execute(_DELETE_SNAPSHOTS_BY_SLUG, {"slugs": [item.slug for item in batch]})
        connection.execute(_DELETE_ALIASES, {"ids": ids})
        rows = []
        for item in batch:
            version, old_payload = previous.get(item.product_id, (0, None))
            version = version if old_payload == item.payload else version + 1
            rows.append({"product_id": item.product_id, "slug": item.slug, "name": item.name, "payload": item.payload,
                         "prompt": item.prompt, "source_hash": item.source_hash, "version": version,
                         "built_at": built_at})
        insert_rows(connection, "productsnapshot", rows)
        insert_rows(connection, "snapshotalias", [{"alias": alias, "product_id": product_id, "kind": kind, "rank": rank}
                                                  for item in batch for alias, product_id, kind, rank in item.aliases])


def _failed(started: float, scope: RebuildScope, unchanged: int, failed: int, errors: list[str]) -> RebuildReport:
    report = RebuildReport(
        built=0, unchanged=unchanged, failed=failed, seconds=_seconds(started), errors=errors, scope=scope
    )
    logger.error(
        "snapshot rebuild failed, previous snapshots kept",
        extra={"failed": failed, "unchanged": unchanged, "errors": errors[:20]},
    )
    return report


def _seconds(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
