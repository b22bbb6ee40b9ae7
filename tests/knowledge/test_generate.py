"""The synthetic generator: shape, referential consistency and determinism (the `pitcrew knowledge generate` command
is tested in tests/bot/cli/test_knowledge.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from knowledge.db import Database
from knowledge.generate import GenerateError, generate
from knowledge.snapshots import rebuild_snapshots
from tests.support.stored_values import stored_datetime, stored_json

NOW = datetime(2025, 6, 1)
SOURCE_TABLES = ("product", "plan", "feature", "planfeature", "integration", "planlimit", "complianceitem", "addon",
                 "faq", "account", "contact", "meeting", "transcriptsegment")


def query(db: Database, sql: str) -> list[Any]:
    with db.engine.connect() as connection:
        return connection.execute(text(sql)).all()


def dump(db: Database) -> dict[str, list[Any]]:
    """Every generated row, in key order, with datetimes and JSON as values (as either backend stores them)."""
    tables = {table.name: table for table in SQLModel.metadata.sorted_tables}
    rows = {}
    for name in SOURCE_TABLES:
        table = tables[name]
        with db.engine.connect() as connection:
            found = connection.execute(text(f"SELECT {', '.join(table.c.keys())} FROM {name} ORDER BY "
                                            + ", ".join(column.name for column in table.primary_key))).all()
        rows[name] = [tuple(_value(name, column, value) for column, value in zip(table.c.keys(), row, strict=True))
                      for row in found]
    return rows


def _value(table: str, column: str, value: Any) -> Any:
    if (table, column) == ("meeting", "started_at"):
        return stored_datetime(value)
    if table == "meeting" and column in ("participants", "decisions", "action_items"):
        return stored_json(value)
    return bool(value) if column in ("is_primary", "per_seat") else value


@pytest.fixture
def generated(database: Database) -> Database:
    report = generate(database, products=25, calls=12, segments_per_call=6, seed=7, now=NOW)
    assert report.rows["product"] == 25 and report.rows["meeting"] == 12 and report.rows["transcriptsegment"] == 72
    return database


def test_catalog_shape_and_references_are_consistent(generated: Database) -> None:
    assert query(generated, "SELECT count(*) FROM product WHERE is_primary") == [(1,)]
    per_product = query(generated, "SELECT product_id, count(*), min(position), max(position) FROM plan "
                                   "GROUP BY product_id")
    assert len(per_product) == 25
    assert all(3 <= count <= 5 and low == 0 and high == count - 1 for _, count, low, high in per_product)
    assert query(generated, "SELECT count(*) FROM feature") >= [(25 * 6,)]
    # every plan-feature pair belongs to one product; every min_plan / available_on names a plan of that product
    assert query(generated, "SELECT count(*) FROM planfeature pf JOIN plan p ON p.id = pf.plan_id "
                            "JOIN feature f ON f.id = pf.feature_id WHERE p.product_id != f.product_id") == [(0,)]
    plan_slugs: dict[int, set[str]] = {}
    for product_id, slug in query(generated, "SELECT product_id, slug FROM plan"):
        plan_slugs.setdefault(product_id, set()).add(slug)
    for product_id, slug in query(generated, "SELECT product_id, min_plan_slug FROM integration"):
        assert slug == "" or slug in plan_slugs[product_id]
    for product_id, available in query(generated, "SELECT product_id, available_on FROM addon"):
        assert set(filter(None, available.split(","))) <= plan_slugs[product_id]
    assert query(generated, "SELECT count(*) FROM planlimit WHERE name = 'API rate limit'") == \
        query(generated, "SELECT count(*) FROM plan")


def test_calls_have_two_speakers_and_are_in_the_past_year(generated: Database) -> None:
    segments = query(generated, "SELECT meeting_id, count(*), count(DISTINCT speaker) FROM transcriptsegment "
                                "GROUP BY meeting_id")
    assert len(segments) == 12 and all(count == 6 and speakers == 2 for _, count, speakers in segments)
    started = [stored_datetime(value) for (value,) in query(generated, "SELECT started_at FROM meeting")]
    assert all(NOW.replace(year=NOW.year - 1) < moment < NOW for moment in started)
    assert query(generated, "SELECT count(*) FROM meeting m LEFT JOIN account a ON a.id = m.account_id "
                            "WHERE a.id IS NULL") == [(0,)]


@pytest.mark.sqlite_only  # the FTS5 index, built once after the bulk load; PostgreSQL's search column is the server's
def test_calls_are_searchable_and_the_index_keeps_following_new_segments(generated: Database) -> None:
    assert query(generated, "SELECT count(*) FROM transcript_fts") == [(72,)]
    topic_hits = query(generated, "SELECT count(*) FROM transcript_fts WHERE transcript_fts MATCH 'pricing'")
    assert topic_hits == query(generated, "SELECT count(*) FROM transcriptsegment WHERE text LIKE '%pricing%'")
    with generated.engine.begin() as connection:
        connection.execute(text("INSERT INTO transcriptsegment (meeting_id, seq, speaker, text, offset_s) "
                                "VALUES (1, 99, 'Rep', 'a quokka appeared', 0)"))
    assert query(generated, "SELECT count(*) FROM transcript_fts WHERE transcript_fts MATCH 'quokka'") == [(1,)]


def test_rows_added_after_a_generate_get_new_ids(generated: Database) -> None:
    """The generator writes explicit ids; a row inserted later without one must not collide with them."""
    with generated.engine.begin() as connection:
        product = connection.execute(text(
            "INSERT INTO product (slug, name, tagline, description, category, is_primary)"
            " VALUES ('later', 'Later', '', '', '', false) RETURNING id")).scalar_one()
        segment = connection.execute(text(
            "INSERT INTO transcriptsegment (meeting_id, seq, speaker, text, offset_s)"
            " VALUES (1, 99, 'Rep', 'a quokka appeared', 0) RETURNING id")).scalar_one()
    assert (product, segment) == (26, 73)


def test_generated_catalog_builds_snapshots(generated: Database) -> None:
    report = rebuild_snapshots(generated)
    assert (report.built, report.failed) == (25, 0)


@pytest.mark.postgres_only
def test_a_generated_postgresql_catalog_has_planner_statistics(generated: Database) -> None:
    estimated = dict(query(generated, "SELECT relname, reltuples FROM pg_class WHERE relname IN "
                                      "('product', 'planfeature', 'transcriptsegment')"))
    counts = {table: query(generated, f"SELECT count(*) FROM {table}")[0][0] for table in estimated}
    assert estimated == counts  # analyzed after the load (a never-analyzed table says -1)


@pytest.mark.postgres_only
def test_postgresql_gets_the_same_rows_as_sqlite(database: Database, tmp_path: Path) -> None:
    generate(database, products=10, calls=5, segments_per_call=4, seed=3, now=NOW)
    sqlite = Database(f"sqlite:///{tmp_path / 'same.db'}")
    try:
        generate(sqlite, products=10, calls=5, segments_per_call=4, seed=3, now=NOW)
        assert dump(database) == dump(sqlite)
    finally:
        sqlite.close()


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    dumps = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        db = Database(f"sqlite:///{tmp_path / name}.db")
        generate(db, products=10, calls=5, segments_per_call=4, seed=seed, now=NOW)
        dumps.append(dump(db))
        db.close()
    assert dumps[0] == dumps[1]
    assert dumps[0] != dumps[2]


def test_refuses_a_database_that_has_data(generated: Database) -> None:
    with pytest.raises(GenerateError, match="already has data"):
        generate(generated, products=1)
    assert query(generated, "SELECT count(*) FROM product") == [(25,)]
