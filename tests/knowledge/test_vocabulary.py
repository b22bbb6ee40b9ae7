"""The vocabulary's plans: each name's products, names in the order of their first plan (products by slug, then
each product's plans by position), however SQLite hands the rows over."""

from __future__ import annotations

from sqlalchemy import text

from knowledge.db import Database
from knowledge.vocabulary import _PLAN_ROWS, load_vocabulary
from tests.support.catalog_factory import add_product


def _row_by_row(database: Database) -> dict[str, frozenset[str]]:
    """The plans read one row each, in the statement's order: what the grouped read must equal."""
    plans: dict[str, list[str]] = {}
    with database.engine.connect() as connection:
        for name, slug in connection.execute(text(_PLAN_ROWS)):
            plans.setdefault(name, []).append(slug)
    return {name: frozenset(slugs) for name, slugs in plans.items()}


def test_plan_names_come_in_first_product_then_position_order_with_all_their_products(database: Database) -> None:
    # Inserted out of slug order; "zeta" lists Team before Pro, "alpha" Pro before Team, "beta" only Team.
    add_product(database, "zeta", "Zeta", plans=[{"slug": "team", "name": "Team"}, {"slug": "pro", "name": "Pro"},
                                                 {"slug": "max", "name": "Max"}])
    add_product(database, "beta", "Beta", plans=[{"slug": "team", "name": "Team"}])
    add_product(database, "alpha", "Alpha", plans=[{"slug": "pro", "name": "Pro", "position": 3},
                                                   {"slug": "team", "name": "Team", "position": 7}])
    plans = load_vocabulary(database).plans
    assert list(plans.items()) == [("Pro", frozenset({"alpha", "zeta"})), ("Team", frozenset({"alpha", "beta", "zeta"})),
                                   ("Max", frozenset({"zeta"}))]
    assert list(plans.items()) == list(_row_by_row(database).items())


def test_a_slug_holding_the_separator_is_read_row_by_row(database: Database) -> None:
    add_product(database, "odd\x1fslug", "Odd", plans=[{"slug": "pro", "name": "Pro"}])
    add_product(database, "plain", "Plain", plans=[{"slug": "pro", "name": "Pro"}, {"slug": "go", "name": "Go"}])
    plans = load_vocabulary(database).plans
    assert plans["Pro"] == frozenset({"odd\x1fslug", "plain"})
    assert list(plans.items()) == list(_row_by_row(database).items())


def test_no_plans_no_names(database: Database) -> None:
    add_product(database, "bare", "Bare")
    assert dict(load_vocabulary(database).plans) == {}
