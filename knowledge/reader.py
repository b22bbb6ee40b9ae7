"""Everything about one product, for the handlers: the prebuilt snapshot in one query, or built on the spot.

Fast path: one indexed query (alias JOIN snapshot) and one `json.loads`. Slow path, for a product
that exists but has no snapshot yet: the same structure assembled from the catalog tables by the
same builder the rebuild uses, so both paths return equal views.
"""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnClause, Connection, Integer, String, TextClause, column, text

from knowledge.db import Database
from knowledge.snapshot_prompt import render_prompt
from knowledge.snapshot_schema import ProductPayload
from knowledge.snapshots import (
    SnapshotBuildError,
    build_payload,
    canonical_json,
    install_alias_function,
    normalize_alias,
)

logger = logging.getLogger(__name__)

MatchKind = Literal["product", "plan", "primary"]

SUGGESTION_CUTOFF = 0.75  # difflib similarity below which a name is not worth suggesting


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
# primary product (rank 0), then to the oldest product.
# Typed result columns let SQLAlchemy cache the result metadata along with the compiled statement.
def _snapshot_columns() -> list[ColumnClause[Any]]:
    names = ("slug", "name", "version", "payload", "prompt")
    return [column(name, Integer if name == "version" else String) for name in names]


_FAST_BY_ALIAS = text(
    "SELECT s.slug, s.name, s.version, s.payload, s.prompt, a.kind"
    " FROM snapshotalias AS a JOIN productsnapshot AS s ON s.product_id = a.product_id"
    " WHERE a.alias = :alias ORDER BY a.kind <> 'product', a.rank, a.product_id LIMIT 1"
).columns(*_snapshot_columns(), column("kind", String))
_FAST_PRIMARY = text(
    "SELECT p.id, s.slug, s.name, s.version, s.payload, s.prompt"
    " FROM product AS p LEFT JOIN productsnapshot AS s ON s.product_id = p.id"
    " ORDER BY p.is_primary DESC, p.id LIMIT 1"
).columns(column("id", Integer), *_snapshot_columns())
# The slow path serves products that have no snapshot yet: the catalog's products minus the snapshots.
_STORED_VERSION = text("SELECT version, payload FROM productsnapshot WHERE product_id = :product_id")
_ANY_UNBUILT = text(
    "SELECT EXISTS (SELECT 1 FROM product AS p"
    " WHERE NOT EXISTS (SELECT 1 FROM productsnapshot AS s WHERE s.product_id = p.id))"
)


def _slow_by_name(fold: str) -> TextClause:
    """Find an unbuilt product by name, slug or plan name, with `fold` (a SQL function) normalizing names."""
    return text(
        "WITH unbuilt AS MATERIALIZED (SELECT p.id, p.slug, p.name, p.is_primary FROM product AS p"
        " WHERE NOT EXISTS (SELECT 1 FROM productsnapshot AS s WHERE s.product_id = p.id))"
        " SELECT product_id, kind FROM ("
        f" SELECT id AS product_id, 'product' AS kind, is_primary FROM unbuilt"
        f" WHERE {fold}(slug) = :alias OR {fold}(name) = :alias"
        " UNION ALL"
        " SELECT plan.product_id, 'plan', unbuilt.is_primary FROM unbuilt JOIN plan ON plan.product_id = unbuilt.id"
        f" WHERE {fold}(plan.name) = :alias"
        ") ORDER BY kind <> 'product', is_primary DESC, product_id LIMIT 1"
    )


# SQLite's lower() settles ASCII names in C; the aliases' own normalization (a Python function)
# catches the rest, so both paths accept exactly the same names.
_SLOW_LOOKUPS = (_slow_by_name("lower"), _slow_by_name("pitcrew_alias"))


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
        return _read_slow_by_name(connection, alias)


def _read_primary(db: Database) -> ProductView | None:
    with db.engine.connect() as connection:
        row = connection.execute(_FAST_PRIMARY).first()
        if row is None:
            return None
        product_id, slug, name, version, payload, prompt = row
        if slug is not None:
            return ProductView(slug, name, version, json.loads(payload), prompt, "fast", "primary")
        return _build_view(connection, product_id, "primary")


def _read_slow_by_name(connection: Connection, alias: str) -> ProductView | None:
    if not connection.execute(_ANY_UNBUILT).scalar():
        return None  # every product has a snapshot: the fast path's miss is final
    install_alias_function(connection)
    for lookup in _SLOW_LOOKUPS:
        row = connection.execute(lookup, {"alias": alias}).first()
        if row is not None:
            product_id, kind = row
            return _build_view(connection, product_id, kind)
    return None


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


def list_products(db: Database, limit: int) -> tuple[list[tuple[str, str]], int]:
    """Up to `limit` products (the primary first) as (name, tagline), and how many there are."""
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, tagline FROM product ORDER BY is_primary DESC, name LIMIT ?", (limit,)
        ).all()
        total = connection.exec_driver_sql("SELECT count(*) FROM product").scalar_one()
    return [(name, tagline or "") for name, tagline in rows], int(total)


def suggest_products(db: Database, key: str, limit: int = 3) -> list[str]:
    """Product and plan names close to `key`, best first, for a "did you mean" reply."""
    wanted = normalize_alias(key)
    if not wanted or limit <= 0:
        return []
    with db.engine.connect() as connection:
        products = connection.exec_driver_sql("SELECT name, slug FROM product ORDER BY is_primary DESC, id").all()
        plans = connection.exec_driver_sql("SELECT DISTINCT name FROM plan ORDER BY name").all()
    display: dict[str, str] = {}  # normalized candidate -> the name to show
    for name, slug in products:
        display.setdefault(normalize_alias(name), name)
        display.setdefault(normalize_alias(slug), name)
    for (name,) in plans:
        display.setdefault(normalize_alias(name), name)
    prefixed = [
        candidate
        for candidate in display
        if len(candidate) >= 3 and len(wanted) >= 3 and (candidate.startswith(wanted) or wanted.startswith(candidate))
    ]
    close = difflib.get_close_matches(wanted, list(display), n=limit * 3, cutoff=SUGGESTION_CUTOFF)
    suggestions: list[str] = []
    for candidate in [*close, *prefixed]:
        name = display[candidate]
        if name not in suggestions:
            suggestions.append(name)
    return suggestions[:limit]
