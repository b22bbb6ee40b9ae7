"""Everything about one product, for the handlers: the prebuilt snapshot in one query, or built on the spot.

Fast path: one indexed query (alias JOIN snapshot) and one `json.loads`. Slow path, for a product
that exists but has no snapshot yet: the same structure assembled from the catalog tables by the
same builder the rebuild uses, so both paths return equal views. No read walks the catalog: which
product a name resolves to comes in index order (see READ_INDEX_DDL in knowledge/migrations/versions/0001_baseline.py), and which
products answer to a name without a snapshot from the names held in memory (knowledge.catalog_names).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnClause, Connection, Integer, String, TextClause, bindparam, column, text

from knowledge.catalog_names import CatalogNames, catalog_names
from knowledge.db import Database
from knowledge.snapshot_prompt import render_prompt
from knowledge.snapshot_schema import ProductPayload
from knowledge.snapshots import (
    SnapshotBuildError,
    build_payload,
    canonical_json,
    chunked,
    normalize_alias,
)

logger = logging.getLogger(__name__)

MatchKind = Literal["product", "plan", "primary"]


@dataclass(frozen=True)
class ProductView:
    slug: str
    name: str
    version: int
    payload: ProductPayload
    prompt: str
    path: Literal["fast", "slow"]  # which path served it, for the logs
    matched_by: MatchKind


# Module-level constructs: SQLAlchemy compiles each once and reuses it from its statement cache.
# A name shared by several products resolves to a product name before a plan name, then to the
# primary product (rank 0), then to the oldest product: the order of the ix_snapshotalias_winner
# index, so the first row is read without sorting every product that answers to "pro".
# Typed result columns let SQLAlchemy cache the result metadata along with the compiled statement.
def _snapshot_columns() -> list[ColumnClause[Any]]:
    names = ("slug", "name", "version", "payload", "prompt")
    return [column(name, Integer if name == "version" else String) for name in names]


_FAST_BY_ALIAS = text(
    "SELECT s.slug, s.name, s.version, s.payload, s.prompt, a.kind"
    " FROM snapshotalias AS a JOIN productsnapshot AS s ON s.product_id = a.product_id"
    " WHERE a.alias = :alias ORDER BY a.kind <> 'product', a.rank, a.product_id LIMIT 1"
).columns(*_snapshot_columns(), column("kind", String))
# The primary product, else the oldest: the first entry of the ix_product_primary index.
_FAST_PRIMARY = text(
    "SELECT p.id, s.slug, s.name, s.version, s.payload, s.prompt"
    " FROM product AS p LEFT JOIN productsnapshot AS s ON s.product_id = p.id"
    " ORDER BY p.is_primary DESC, p.id LIMIT 1"
).columns(column("id", Integer), *_snapshot_columns())
_STORED_VERSION = text("SELECT version, payload FROM productsnapshot WHERE product_id = :product_id")
# The slow path serves products that have no snapshot yet, among the few that answer to the name: by id, by
# slug, or either (one statement each, compiled once).
def _unbuilt_among(condition: str) -> TextClause:
    statement = text(
        f"SELECT p.id FROM product AS p WHERE ({condition})"
        " AND NOT EXISTS (SELECT 1 FROM productsnapshot AS s WHERE s.product_id = p.id)"
        " ORDER BY p.is_primary DESC, p.id LIMIT 1"
    )
    return statement.bindparams(bindparam("ids", expanding=True)) if ":ids" in condition else statement


_UNBUILT_AMONG = {
    (True, False): _unbuilt_among("p.id IN :ids"),
    (False, True): _unbuilt_among("p.slug = :slug"),
    (True, True): _unbuilt_among("p.id IN :ids OR p.slug = :slug"),
}
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")  # how slugs are written (knowledge.import_rows): stored normalized


def read_product(db: Database, key: str | None) -> ProductView | None:
    """The product named by `key` (its name, slug or one of its plans' names, any case); None: the primary product.

    Returns None when nothing matches (or there is no product at all).
    """
    if key is None:
        return _read_primary(db)
    alias = normalize_alias(key)
    if not alias:
        return None
    with db.engine.connect() as connection:
        row = connection.execute(_FAST_BY_ALIAS, {"alias": alias}).first()
    if row is not None:
        slug, name, version, payload, prompt, kind = row
        return ProductView(slug, name, version, json.loads(payload), prompt, "fast", kind)
    return _read_slow_by_name(db, catalog_names(db), alias)


def _read_primary(db: Database) -> ProductView | None:
    with db.engine.connect() as connection:
        row = connection.execute(_FAST_PRIMARY).first()
        if row is None:
            return None
        product_id, slug, name, version, payload, prompt = row
        if slug is not None:
            return ProductView(slug, name, version, json.loads(payload), prompt, "fast", "primary")
        return _build_view(connection, product_id, "primary")


def _read_slow_by_name(db: Database, names: CatalogNames, alias: str) -> ProductView | None:
    """A product without a snapshot that answers to `alias`: by its name or slug first, then by a plan's name.

    Only the products the names in memory say answer to it are looked at (and the product with that
    slug, by the slug index); a name nothing answers to costs at most that one indexed read.
    """
    named = names.products_named(alias)
    with_plan = names.products_with_plan(alias)
    slug = alias if _SLUG.fullmatch(alias) else None
    if not named and not with_plan and slug is None:
        return None
    with db.engine.connect() as connection:
        found = _first_unbuilt(connection, named, slug)
        if found is not None:
            return _build_view(connection, found, "product")
        for chunk in chunked(with_plan):  # in winning order: the first chunk holding one decides
            found = _first_unbuilt(connection, chunk, None)
            if found is not None:
                return _build_view(connection, found, "plan")
    return None


def _first_unbuilt(connection: Connection, product_ids: Sequence[int], slug: str | None) -> int | None:
    """Of `product_ids` and the product called `slug`, the first without a snapshot (primary, then oldest)."""
    statement = _UNBUILT_AMONG.get((bool(product_ids), slug is not None))
    if statement is None:
        return None
    row = connection.execute(statement, {"ids": list(product_ids), "slug": slug}).first()
    return None if row is None else int(row[0])


def _build_view(connection: Connection, product_id: int, matched_by: Any) -> ProductView | None:
    """The slow path: assemble the payload from the catalog exactly as a rebuild would."""
    try:
        payload = build_payload(connection, [product_id]).get(product_id)
    except SnapshotBuildError as exc:
        logger.error("product data cannot be assembled", extra={"product": exc.slug, "reason": exc.reason})
        return None
    if payload is None:
        return None
    slug = payload["product"]["slug"]
    logger.warning("snapshot missing, slow path", extra={"product": slug})
    # The version this payload gets when it is next written: the stored one if identical, else one more
    # (a snapshot can appear between the two queries).
    stored = connection.execute(_STORED_VERSION, {"product_id": product_id}).first()
    if stored is None:
        version = 1
    else:
        version = stored[0] if stored[1] == canonical_json(payload) else stored[0] + 1
    return ProductView(slug, payload["product"]["name"], version, payload, render_prompt(payload), "slow", matched_by)


_LISTING = text("SELECT name, tagline FROM product ORDER BY is_primary DESC, name LIMIT :limit")  # ix_product_listing


def list_products(db: Database, limit: int) -> tuple[list[tuple[str, str]], int]:
    """Up to `limit` products (the primary first) as (name, tagline), and how many there are."""
    with db.engine.connect() as connection:
        rows = connection.execute(_LISTING, {"limit": limit}).all()
    total = catalog_names(db).product_count
    return [(name, tagline or "") for name, tagline in rows], max(total, len(rows))


def suggest_products(db: Database, key: str, limit: int = 3) -> list[str]:
    """Product and plan names close to `key`, best first, for a "did you mean" reply (see
    knowledge.catalog_names: rapidfuzz over the names held in memory)."""
    return catalog_names(db).suggest(key, limit)
