"""A catalog as an import folder: the rows of a database written as the JSON files `knowledge import` reads.

Used to build large import folders from `pitcrew knowledge generate` output (benchmarks, fault tests).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from knowledge.db import Database

# kind -> the query producing its rows with the import format's field names (natural keys, not ids)
_QUERIES: dict[str, str] = {
    "products": "SELECT slug, name, tagline, description, category, is_primary FROM product ORDER BY id",
    "plans": "SELECT p.slug AS product, pl.slug, pl.name, pl.position, pl.price_cents, pl.currency, "
             "pl.billing_period, pl.per_seat, pl.annual_discount_pct, pl.description "
             "FROM plan pl JOIN product p ON p.id = pl.product_id ORDER BY pl.id",
    "features": "SELECT p.slug AS product, f.slug, f.name, f.category, f.description "
                "FROM feature f JOIN product p ON p.id = f.product_id ORDER BY f.id",
    "plan_features": "SELECT p.slug AS product, pl.slug AS plan, f.slug AS feature, pf.detail FROM planfeature pf "
                     "JOIN plan pl ON pl.id = pf.plan_id JOIN feature f ON f.id = pf.feature_id "
                     "JOIN product p ON p.id = pl.product_id ORDER BY pf.plan_id, pf.feature_id",
    "integrations": "SELECT p.slug AS product, i.slug, i.name, i.category, i.description, i.min_plan_slug AS min_plan "
                    "FROM integration i JOIN product p ON p.id = i.product_id ORDER BY i.id",
    "limits": "SELECT p.slug AS product, pl.slug AS plan, l.name, l.value FROM planlimit l "
              "JOIN plan pl ON pl.id = l.plan_id JOIN product p ON p.id = pl.product_id ORDER BY l.id",
    "compliance": "SELECT p.slug AS product, c.name, c.status, c.details "
                  "FROM complianceitem c JOIN product p ON p.id = c.product_id ORDER BY c.id",
    "addons": "SELECT p.slug AS product, a.slug, a.name, a.price_cents, a.currency, a.billing_period, a.per_seat, "
              "a.available_on, a.description FROM addon a JOIN product p ON p.id = a.product_id ORDER BY a.id",
    "faqs": "SELECT p.slug AS product, q.question, q.answer FROM faq q JOIN product p ON p.id = q.product_id "
            "ORDER BY q.id",
}
_BOOLEANS = frozenset({"is_primary", "per_seat"})


def export_catalog(db: Database, folder: Path) -> dict[str, int]:
    """Write the catalog of `db` into `folder` as one JSON file per kind; returns rows written per kind."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    with db.engine.connect() as connection:
        for kind, query in _QUERIES.items():
            rows = [_row(dict(row)) for row in connection.exec_driver_sql(query).mappings()]
            (folder / f"{kind}.json").write_text(json.dumps(rows), encoding="utf-8")
            written[kind] = len(rows)
    return written


def _row(row: dict[str, Any]) -> dict[str, Any]:
    for name in _BOOLEANS & row.keys():
        row[name] = bool(row[name])
    if "available_on" in row:
        row["available_on"] = [slug for slug in (row["available_on"] or "").split(",") if slug]
    return row
