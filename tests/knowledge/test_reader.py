"""Reading a product: the fast path (one query) and the slow path (built from the catalog) agree."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from sqlalchemy import event, text

from knowledge.db import Database
from knowledge.reader import ProductView, read_product, suggest_products
from knowledge.snapshots import rebuild_snapshots
from tests.support.catalog_factory import add_product, sample_catalog

KEYS = [None, "orbit", "Orbit", "  ORBIT ", "team", "Enterprise", "pro", "beacon", "GROWTH", "basic", "relay"]


def drop_snapshots(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM productsnapshot"))


@pytest.mark.parametrize("key", KEYS)
def test_fast_and_slow_paths_return_equal_views(
    database: Database, key: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    fast = read_product(database, key)
    drop_snapshots(database)
    with caplog.at_level(logging.WARNING, logger="knowledge.reader"):
        slow = read_product(database, key)

    assert fast is not None and slow is not None
    assert (fast.path, slow.path) == ("fast", "slow")
    assert dataclasses.replace(slow, path="fast") == fast
    reader_records = [record.getMessage() for record in caplog.records if record.name == "knowledge.reader"]
    assert reader_records == ["snapshot missing, slow path"]


def test_lookup_by_name_slug_or_plan_in_any_case(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)

    def found(key: str | None) -> tuple[str, str] | None:
        view = read_product(database, key)
        return (view.slug, view.matched_by) if view else None

    assert found("Orbit") == ("orbit", "product")
    assert found("TEAM") == ("orbit", "plan")
    assert found("growth") == ("beacon", "plan")
    # Orbit and Relay both have a "Pro" plan: the primary product wins.
    assert found("pro") == ("orbit", "plan")
    assert found(None) == ("orbit", "primary")
    assert found("relay") == ("relay", "product")
    assert found("platinum") is None
    assert found("   ") is None


def test_a_product_name_beats_another_products_plan(database: Database) -> None:
    sample_catalog(database)
    add_product(database, "starter-kit", "Starter")  # Orbit, the primary product, has a plan called Starter
    rebuild_snapshots(database)
    view = read_product(database, "starter")
    assert view is not None and (view.slug, view.matched_by, view.path) == ("starter-kit", "product", "fast")
    drop_snapshots(database)
    slow = read_product(database, "starter")
    assert slow is not None and (slow.slug, slow.matched_by, slow.path) == ("starter-kit", "product", "slow")


def test_fast_path_is_one_query(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    view = read_product(database, "beacon")
    assert view is not None and view.path == "fast"
    assert len(statements) == 1


def test_new_product_is_served_by_the_slow_path_until_the_next_rebuild(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    add_product(database, "comet", "Comet", plans=[{"slug": "solo", "name": "Solo", "price_cents": 900}])

    slow = read_product(database, "Solo")
    assert slow is not None and (slow.slug, slow.path, slow.matched_by, slow.version) == ("comet", "slow", "plan", 1)
    rebuild_snapshots(database)
    fast = read_product(database, "Solo")
    assert fast is not None and fast.path == "fast"
    assert dataclasses.replace(slow, path="fast") == fast


def test_lost_aliases_are_restored_by_the_next_rebuild(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    with database.engine.begin() as connection:
        beacon = "(SELECT id FROM product WHERE slug = 'beacon')"
        connection.execute(text(f"DELETE FROM snapshotalias WHERE product_id = {beacon}"))
    assert read_product(database, "beacon") is None  # it has a snapshot, so the slow path does not look
    report = rebuild_snapshots(database)
    assert (report.built, report.unchanged) == (1, 2)
    view = read_product(database, "beacon")
    assert view is not None and (view.path, view.version) == ("fast", 1)


def _full_reads(db: Database, statements: list[tuple[str, object]]) -> list[str]:
    """The query-plan lines of `statements` that read a table or index in full (or sort what they read)."""
    lines = []
    with db.engine.connect() as connection:
        for statement, parameters in list(statements):  # (the EXPLAINs are recorded too)
            for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all():
                detail = str(row[-1])
                if ("SCAN" in detail and "CONSTANT ROW" not in detail) or "TEMP B-TREE" in detail:
                    lines.append(f"{detail}  <- {statement}")
    return lines


def _recorded(db: Database) -> list[tuple[str, object]]:
    statements: list[tuple[str, object]] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, parameters, *_: statements.append((statement, parameters)))
    return statements


@pytest.mark.sqlite_only  # SQLite's query plans; PostgreSQL plans tiny tables by cost, not by index
def test_a_miss_reads_no_table_in_full(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    assert read_product(database, "platinum") is None  # loads the names held in memory
    statements = _recorded(database)
    assert read_product(database, "platinum") is None
    assert read_product(database, "two words") is None
    assert suggest_products(database, "platinum") == []
    assert statements and _full_reads(database, statements) == []


@pytest.mark.sqlite_only  # SQLite's query plans; PostgreSQL plans tiny tables by cost, not by index
def test_shared_names_resolve_in_index_order(database: Database) -> None:
    """"pro" answers to many products: the winner is read first from an index, not sorted out of them all."""
    sample_catalog(database)
    rebuild_snapshots(database)
    read_product(database, "pro")
    statements = _recorded(database)
    assert read_product(database, "pro") is not None
    assert read_product(database, None) is not None
    plan_lines = _full_reads(database, statements)
    # The primary product is the first entry of its index: a scan that stops at once (LIMIT 1), never a sort.
    assert all("ix_product_primary" in line for line in plan_lines), plan_lines


def test_shared_names_resolve_as_they_always_did(database: Database) -> None:
    """On a catalog full of conflicts, every alias and the primary product resolve as the ordering rule says:
    a product name before a plan name, then the primary product, then the oldest."""
    add_product(database, "alpha", "Alpha", plans=[{"slug": "pro", "name": "Pro"}, {"slug": "max", "name": "Beta"}])
    add_product(database, "beta", "Beta", plans=[{"slug": "pro", "name": "pro"}, {"slug": "lite", "name": "Lite"}])
    add_product(database, "gamma", "Gamma", is_primary=True,
                plans=[{"slug": "pro", "name": "PRO"}, {"slug": "alpha", "name": "Alpha"}])
    add_product(database, "lite", "Delta", plans=[{"slug": "lite", "name": "Lite"}])
    add_product(database, "epsilon", "Epsilon", plans=[{"slug": "gamma", "name": "Gamma"}, {"slug": "l", "name": "Lite"}])
    rebuild_snapshots(database)
    with database.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT a.alias, a.kind, a.rank, a.product_id, s.slug FROM snapshotalias AS a"
            " JOIN productsnapshot AS s ON s.product_id = a.product_id")).all()
    expected: dict[str, tuple[str, str]] = {}
    for alias, kind, _rank, _id, slug in sorted(rows, key=lambda row: (row[1] != "product", row[2], row[3])):
        expected.setdefault(alias, (slug, kind))
    assert expected["pro"] == ("gamma", "plan") and expected["beta"] == ("beta", "product")
    assert expected["lite"] == ("lite", "product")
    for alias, winner in expected.items():
        view = read_product(database, alias)
        assert view is not None and (view.slug, view.matched_by) == winner, alias
    primary = read_product(database, None)
    assert primary is not None and primary.slug == "gamma"


def test_primary_product_falls_back_to_the_oldest(database: Database) -> None:
    assert read_product(database, None) is None
    add_product(database, "first", "First")
    add_product(database, "second", "Second")
    view = read_product(database, None)
    assert view is not None and (view.slug, view.path, view.matched_by) == ("first", "slow", "primary")
    rebuild_snapshots(database)
    view = read_product(database, None)
    assert view is not None and (view.slug, view.path) == ("first", "fast")


def test_names_outside_ascii_match_in_any_case(database: Database) -> None:
    add_product(database, "echelle", "Échelle Ü", plans=[{"slug": "grand", "name": "Größe"}])
    slow = read_product(database, "échelle ü")
    rebuild_snapshots(database)
    fast = read_product(database, "ÉCHELLE Ü")
    assert slow is not None and fast is not None
    assert (slow.path, fast.path) == ("slow", "fast")
    assert dataclasses.replace(slow, path="fast") == fast
    plan = read_product(database, "GRÖßE")
    assert plan is not None and plan.matched_by == "plan"


def test_product_whose_data_cannot_be_assembled_is_not_served(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    sample_catalog(database)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE integration SET min_plan_slug = 'gold' WHERE slug = 'salesforce'"))
    with caplog.at_level(logging.ERROR, logger="knowledge.reader"):
        assert read_product(database, "orbit") is None
    assert "product data cannot be assembled" in caplog.text
    beacon = read_product(database, "beacon")
    assert isinstance(beacon, ProductView)


def test_suggestions_for_unknown_names(database: Database) -> None:
    sample_catalog(database)
    assert suggest_products(database, "orbt") == ["Orbit"]
    assert suggest_products(database, "Enterprize")[0] == "Enterprise"
    assert suggest_products(database, "beaco") == ["Beacon"]
    assert suggest_products(database, "zzzzzz") == []
    assert suggest_products(database, "") == []
    assert len(suggest_products(database, "o", limit=2)) <= 2
