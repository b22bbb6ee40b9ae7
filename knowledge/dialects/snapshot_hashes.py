"""The queries behind snapshot source hashes (knowledge.snapshots.source_hashes), one version per backend.

Each query turns every source row of a catalog table into one JSON line inside the database (no Python per
row) and concatenates a product's lines, newline-separated; the caller sorts each product's lines and hashes
them. Surrogate ids are left out, so re-importing identical data keeps the hash. Both versions write the same
line for the same row (a compact JSON array, booleans as 0/1), so a catalog hashes the same on either backend
and snapshots copied from one to the other (`pitcrew db copy`) stay current.

SQLite: `json_array` and `group_concat`; the joins are pinned (CROSS JOIN) so SQLite walks the product_id
indexes and the lines come in one fixed order without a sort. PostgreSQL: `to_json` per value and
`string_agg`. Each query has a `{cond}` slot for the condition on its product id column (the chunk's ids,
from knowledge.dialects.bulk_reads.id_condition).
"""

from __future__ import annotations

from sqlalchemy import Connection

# (the product id column the condition filters on, the query)
HashQueries = tuple[tuple[str, str], ...]

SQLITE: HashQueries = (
    ("id", "SELECT id, json_array(slug, name, tagline, description, category, is_primary) FROM product WHERE {cond}"),
    (
        "product_id",
        "SELECT product_id, group_concat(json_array(slug, name, position, price_cents, currency, billing_period,"
        " per_seat, annual_discount_pct, description), char(10)) FROM plan WHERE {cond} GROUP BY product_id",
    ),
    (
        "plan.product_id",
        "SELECT plan.product_id, group_concat(json_array(plan.slug, planlimit.name, planlimit.value), char(10))"
        " FROM plan CROSS JOIN planlimit ON planlimit.plan_id = plan.id WHERE {cond} GROUP BY plan.product_id",
    ),
    (
        "product_id",
        "SELECT product_id, group_concat(json_array(slug, name, category, description), char(10)) FROM feature"
        " WHERE {cond} GROUP BY product_id",
    ),
    (
        "feature.product_id",
        "SELECT feature.product_id, group_concat(json_array(feature.slug, plan.slug,"
        " plan.product_id = feature.product_id, planfeature.detail), char(10)) FROM feature"
        " CROSS JOIN planfeature ON planfeature.feature_id = feature.id"
        " CROSS JOIN plan ON plan.id = planfeature.plan_id"
        " WHERE {cond} GROUP BY feature.product_id",
    ),
    (
        "product_id",
        "SELECT product_id, group_concat(json_array(slug, name, category, description, min_plan_slug), char(10))"
        " FROM integration WHERE {cond} GROUP BY product_id",
    ),
    (
        "product_id",
        "SELECT product_id, group_concat(json_array(name, status, details), char(10)) FROM complianceitem"
        " WHERE {cond} GROUP BY product_id",
    ),
    (
        "product_id",
        "SELECT product_id, group_concat(json_array(slug, name, price_cents, currency, billing_period, per_seat,"
        " available_on, description), char(10)) FROM addon WHERE {cond} GROUP BY product_id",
    ),
    (
        "product_id",
        "SELECT product_id, group_concat(json_array(question, answer), char(10)) FROM faq WHERE {cond}"
        " GROUP BY product_id",
    ),
)


def _json_line(*values: str) -> str:
    """PostgreSQL for SQLite's `json_array(values...)` text: compact, NULL as null (`to_json` of NULL is NULL)."""
    return "'[' || concat_ws(',', " + ", ".join(f"coalesce(to_json({value})::text, 'null')" for value in values) + ") || ']'"


def _lines(*values: str) -> str:
    return f"string_agg({_json_line(*values)}, chr(10))"


POSTGRESQL: HashQueries = (
    ("id", "SELECT id, " + _json_line("slug", "name", "tagline", "description", "category", "is_primary::int")
     + " FROM product WHERE {cond}"),
    (
        "product_id",
        "SELECT product_id, " + _lines("slug", "name", "position", "price_cents", "currency", "billing_period",
                                       "per_seat::int", "annual_discount_pct", "description")
        + " FROM plan WHERE {cond} GROUP BY product_id",
    ),
    (
        "plan.product_id",
        "SELECT plan.product_id, " + _lines("plan.slug", "planlimit.name", "planlimit.value")
        + " FROM plan JOIN planlimit ON planlimit.plan_id = plan.id WHERE {cond} GROUP BY plan.product_id",
    ),
    (
        "product_id",
        "SELECT product_id, " + _lines("slug", "name", "category", "description")
        + " FROM feature WHERE {cond} GROUP BY product_id",
    ),
    (
        "feature.product_id",
        "SELECT feature.product_id, " + _lines("feature.slug", "plan.slug", "(plan.product_id = feature.product_id)::int",
                                               "planfeature.detail")
        + " FROM feature JOIN planfeature ON planfeature.feature_id = feature.id"
        " JOIN plan ON plan.id = planfeature.plan_id WHERE {cond} GROUP BY feature.product_id",
    ),
    (
        "product_id",
        "SELECT product_id, " + _lines("slug", "name", "category", "description", "min_plan_slug")
        + " FROM integration WHERE {cond} GROUP BY product_id",
    ),
    (
        "product_id",
        "SELECT product_id, " + _lines("name", "status", "details") + " FROM complianceitem WHERE {cond}"
        " GROUP BY product_id",
    ),
    (
        "product_id",
        "SELECT product_id, " + _lines("slug", "name", "price_cents", "currency", "billing_period", "per_seat::int",
                                       "available_on", "description")
        + " FROM addon WHERE {cond} GROUP BY product_id",
    ),
    (
        "product_id",
        "SELECT product_id, " + _lines("question", "answer") + " FROM faq WHERE {cond} GROUP BY product_id",
    ),
)

_QUERIES = {"sqlite": SQLITE, "postgresql": POSTGRESQL}


def hash_queries(connection: Connection) -> HashQueries:
    """The source hash queries for this connection's database, in the hash's section order."""
    return _QUERIES[connection.dialect.name]
