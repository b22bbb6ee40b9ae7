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


def test_a_miss_costs_two_queries_when_every_product_is_built(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert read_product(database, "platinum") is None
    assert len(statements) == 2


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
