"""Snapshot builds: payload shape, aliases, incremental and atomic rebuilds (the `pitcrew snapshots` commands are
tested in tests/bot/cli/test_snapshots.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from knowledge.db import Database
from knowledge.snapshot_prompt import format_price, render_prompt
from knowledge.snapshots import (
    UnknownProductError,
    build_payload,
    rebuild_snapshots,
    source_hashes,
)
from tests.support.backend_sql import foreign_keys_off, record_statements, stop_recording
from tests.support.catalog_factory import add_product, sample_catalog


def snapshot_rows(db: Database) -> dict[str, tuple[Any, ...]]:
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT slug, product_id, name, payload, prompt, source_hash, version, built_at FROM productsnapshot"
        ).all()
    return {row[0]: tuple(row) for row in rows}


def alias_rows(db: Database) -> set[tuple[str, int, str, int]]:
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT alias, product_id, kind, rank FROM snapshotalias")
        return {(alias, product_id, kind, rank) for alias, product_id, kind, rank in rows}


def execute(db: Database, sql: str, **params: Any) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(sql), params)


# A trigger failing the insert of relay's snapshot.
REFUSE_RELAY = {
    "sqlite": ("CREATE TRIGGER refuse_relay BEFORE INSERT ON productsnapshot WHEN NEW.slug = 'relay'"
               " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",),
    "postgresql": ("CREATE FUNCTION refuse_relay() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                   " IF NEW.slug = 'relay' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$",
                   "CREATE TRIGGER refuse_relay BEFORE INSERT ON productsnapshot FOR EACH ROW"
                   " EXECUTE FUNCTION refuse_relay()"),
}


def current_hashes(db: Database) -> dict[int, str]:
    with db.engine.connect() as connection:
        return source_hashes(connection)


def stored_payload(db: Database, slug: str) -> dict[str, Any]:
    return json.loads(snapshot_rows(db)[slug][3])


# --- payload -------------------------------------------------------------------------------------


def test_payload_has_every_fact_in_catalog_order(database: Database) -> None:
    ids = sample_catalog(database)
    with database.session() as session:
        payload = build_payload(session, [ids["orbit"]])[ids["orbit"]]

    assert payload["product"] == {
        "slug": "orbit",
        "name": "Orbit",
        "tagline": "Revenue intelligence for B2B teams",
        "description": "Orbit records, transcribes and analyses sales calls.",
        "category": "Sales",
        "is_primary": True,
    }
    assert [plan["slug"] for plan in payload["plans"]] == ["starter", "team", "pro", "enterprise"]
    team = payload["plans"][1]
    assert team["price_cents"] == 5900 and team["per_seat"] is True and team["annual_discount_pct"] == 15
    assert team["limits"] == {"Seats": "50", "API rate limit": "600 requests/minute"}
    assert payload["plans"][3]["price_cents"] is None
    features = {feature["slug"]: feature for feature in payload["features"]}
    assert features["sso"]["plans"] == ["pro", "enterprise"]
    assert features["sso"]["details"] == {"pro": "SAML only"}
    # Linked Enterprise first in the source, but listed cheapest plan first.
    assert features["forecasting"]["plans"] == ["team", "enterprise"]
    assert [(i["slug"], i["min_plan"]) for i in payload["integrations"]] == [("salesforce", "team"), ("slack", "")]
    assert payload["compliance"][1] == {"name": "HIPAA", "status": "in progress", "details": ""}
    addons = {addon["slug"]: addon for addon in payload["addons"]}
    assert addons["analytics"]["available_on"] == ["team", "pro"]
    assert addons["storage"]["available_on"] == ["starter", "team", "pro", "enterprise"]  # "" means every plan
    assert payload["faqs"][0] == {"question": "Is there a free trial?", "answer": "Yes, 14 days on every plan."}


def test_build_payload_uses_the_same_few_queries_for_many_products(database: Database) -> None:
    product_ids = [
        add_product(database, f"p{n}", f"P{n}", plans=[{"slug": "basic", "name": "Basic"}], faqs=[("q?", "a")])
        for n in range(40)
    ]
    statements: list[str] = []
    with database.engine.connect() as connection:
        record_statements(connection.connection.driver_connection, statements)  # every SQL statement run
        one = build_payload(connection, product_ids[:1])
        few = len(statements)
        statements.clear()
        many = build_payload(connection, product_ids)
        stop_recording(connection.connection.driver_connection)
    assert len(one) == 1 and len(many) == 40
    assert len(statements) == few <= 10  # one query per table, whatever the number of products


def test_prompt_is_dense_deterministic_text_of_the_facts(database: Database) -> None:
    ids = sample_catalog(database)
    with database.session() as session:
        payload = build_payload(session, [ids["orbit"]])[ids["orbit"]]
        again = build_payload(session, [ids["orbit"]])[ids["orbit"]]
    prompt = render_prompt(payload)
    assert prompt == render_prompt(again)
    for fact in (
        "Orbit",
        "Team: $59/seat/month, 15% off billed annually",
        "Enterprise: contact sales",
        "Single sign-on [Security]: Pro (SAML only), Enterprise",
        "Salesforce [CRM]: from Team",
        "Advanced analytics: $15/seat/month on Team, Pro",
        "SOC 2 Type II: certified",
        "Q: Is there a free trial? A: Yes, 14 days on every plan.",
    ):
        assert fact in prompt
    assert len(prompt) < len(json.dumps(payload))


@pytest.mark.parametrize(
    ("cents", "currency", "period", "per_seat", "expected"),
    [
        (None, "USD", "month", False, "contact sales"),
        (0, "USD", "month", True, "free"),
        (2900, "USD", "month", True, "$29/seat/month"),
        (120000, "USD", "year", False, "$1,200/year"),
        (4950, "EUR", "month", False, "€49.50/month"),
        (1000, "CHF", "custom", False, "10 CHF"),
    ],
)
def test_format_price(cents: int | None, currency: str, period: str, per_seat: bool, expected: str) -> None:
    assert format_price(cents, currency, period, per_seat) == expected


# --- rebuild -------------------------------------------------------------------------------------


def test_rebuild_writes_snapshots_and_aliases(database: Database) -> None:
    ids = sample_catalog(database)
    report = rebuild_snapshots(database)
    assert (report.built, report.unchanged, report.failed, report.errors) == (3, 0, 0, [])

    rows = snapshot_rows(database)
    assert set(rows) == {"orbit", "beacon", "relay"}
    assert all(row[6] == 1 for row in rows.values())  # first version
    with database.session() as session:
        assert stored_payload(database, "beacon") == build_payload(session, [ids["beacon"]])[ids["beacon"]]
    assert rows["orbit"][4] == render_prompt(stored_payload(database, "orbit"))
    assert alias_rows(database) == {
        ("orbit", ids["orbit"], "product", 0),
        ("starter", ids["orbit"], "plan", 0),
        ("team", ids["orbit"], "plan", 0),
        ("pro", ids["orbit"], "plan", 0),
        ("enterprise", ids["orbit"], "plan", 0),
        ("beacon", ids["beacon"], "product", 1),
        ("basic", ids["beacon"], "plan", 1),
        ("growth", ids["beacon"], "plan", 1),
        ("relay", ids["relay"], "product", 1),
        ("pro", ids["relay"], "plan", 1),
    }


def test_incremental_rebuild_skips_unchanged_and_bumps_changed_versions(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    before = snapshot_rows(database)

    again = rebuild_snapshots(database)
    assert (again.built, again.unchanged, again.failed) == (0, 3, 0)
    assert snapshot_rows(database) == before

    execute(database, "UPDATE plan SET price_cents = 6900 WHERE slug = 'team'")
    changed = rebuild_snapshots(database)
    assert (changed.built, changed.unchanged) == (1, 2)
    after = snapshot_rows(database)
    assert after["orbit"][6] == 2 and stored_payload(database, "orbit")["plans"][1]["price_cents"] == 6900
    assert "$69/seat/month" in after["orbit"][4]
    assert after["beacon"] == before["beacon"] and after["relay"] == before["relay"]


def test_hash_follows_content_not_row_ids(database: Database) -> None:
    ids = sample_catalog(database)
    rebuild_snapshots(database)
    hashes = current_hashes(database)

    # The same FAQs deleted and inserted again (new ids, same order): nothing to rebuild.
    execute(database, "DELETE FROM faq WHERE product_id = :pid", pid=ids["orbit"])
    for question, answer in (("Is there a free trial?", "Yes, 14 days on every plan."), ("Can I cancel anytime?", "Yes.")):
        execute(
            database,
            "INSERT INTO faq (product_id, question, answer) VALUES (:p, :q, :a)",
            p=ids["orbit"],
            q=question,
            a=answer,
        )
    assert rebuild_snapshots(database).built == 0

    # A feature detail, a limit, a compliance status: each is a change.
    for statement in (
        "UPDATE planfeature SET detail = 'SAML and SCIM' WHERE detail = 'SAML only'",
        "UPDATE planlimit SET value = '7' WHERE value = '5'",
        "UPDATE complianceitem SET status = 'certified' WHERE name = 'HIPAA'",
    ):
        execute(database, statement)
        report = rebuild_snapshots(database)
        assert (report.built, report.unchanged) == (1, 2), statement
    assert current_hashes(database)[ids["orbit"]] != hashes[ids["orbit"]]
    assert snapshot_rows(database)["orbit"][6] == 4


# Text a JSON encoder must escape or may pass through: quotes, backslashes, control characters, non-ASCII.
AWKWARD = 'Qu\u00e9bec "Pro" \\ tab\there\nnew line \u0001 \u2028 \U0001f680 \u00a0'


def awkward_catalog(db: Database) -> None:
    add_product(db, "awkward", AWKWARD, tagline=AWKWARD, is_primary=True,
                plans=[{"slug": "pro", "name": AWKWARD, "price_cents": None, "description": AWKWARD,
                        "limits": {AWKWARD: AWKWARD}}],
                features=[{"slug": "f", "name": AWKWARD, "plans": ["pro"], "details": {"pro": AWKWARD}}],
                integrations=[{"slug": "i", "name": AWKWARD, "min_plan_slug": "pro"}],
                compliance=[{"name": AWKWARD, "details": AWKWARD}],
                addons=[{"slug": "a", "name": AWKWARD, "price_cents": None, "available_on": "pro"}],
                faqs=[(AWKWARD, AWKWARD)])


@pytest.mark.postgres_only
def test_a_catalog_hashes_the_same_on_both_backends(database: Database, tmp_path: Any) -> None:
    """Snapshots copied from SQLite into PostgreSQL (`pitcrew db copy`) stay current: no rebuild of every product."""
    sqlite = Database(f"sqlite:///{tmp_path / 'same.db'}")
    try:
        for db in (database, sqlite):
            sample_catalog(db)
            awkward_catalog(db)
        by_slug = []
        for db in (database, sqlite):
            with db.engine.connect() as connection:
                slugs = dict(connection.execute(text("SELECT id, slug FROM product")).all())
                by_slug.append({slugs[pid]: digest for pid, digest in source_hashes(connection).items()})
        assert len(by_slug[0]) == 4 and by_slug[0] == by_slug[1]
    finally:
        sqlite.close()


def test_force_rebuilds_everything_without_bumping_unchanged_payloads(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    before = snapshot_rows(database)
    report = rebuild_snapshots(database, force=True)
    assert (report.built, report.unchanged) == (3, 0)
    after = snapshot_rows(database)
    assert {slug: row[6] for slug, row in after.items()} == {"orbit": 1, "beacon": 1, "relay": 1}
    assert all(after[slug][3] == before[slug][3] for slug in before)


def test_rebuild_of_named_products_only(database: Database) -> None:
    sample_catalog(database)
    report = rebuild_snapshots(database, product_slugs=["Relay"])
    assert (report.built, report.unchanged) == (1, 0)
    assert set(snapshot_rows(database)) == {"relay"}
    with pytest.raises(UnknownProductError, match="'nope'"):
        rebuild_snapshots(database, product_slugs=["relay", "nope"])


def test_deleted_products_lose_snapshots_and_aliases(database: Database) -> None:
    ids = sample_catalog(database)
    rebuild_snapshots(database)
    # Without the foreign-key cascade (e.g. a tool with foreign keys off), the rebuild cleans up.
    with database.engine.begin() as connection:
        foreign_keys_off(connection)
        connection.exec_driver_sql(f"DELETE FROM product WHERE id = {ids['beacon']}")
    database.engine.dispose()
    report = rebuild_snapshots(database)
    assert report.removed == 1
    assert set(snapshot_rows(database)) == {"orbit", "relay"}
    assert all(row[1] != ids["beacon"] for row in alias_rows(database))


def test_renamed_slugs_swapping_between_products_rebuild_cleanly(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    execute(database, "UPDATE product SET slug = 'tmp' WHERE slug = 'beacon'")
    execute(database, "UPDATE product SET slug = 'beacon' WHERE slug = 'relay'")
    execute(database, "UPDATE product SET slug = 'relay' WHERE slug = 'tmp'")
    report = rebuild_snapshots(database)
    assert (report.built, report.failed) == (2, 0)
    rows = snapshot_rows(database)
    assert rows["beacon"][2] == "Relay" and rows["relay"][2] == "Beacon"


def test_progress_reports_every_product(database: Database) -> None:
    sample_catalog(database)
    calls: list[tuple[int, int]] = []
    rebuild_snapshots(database, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    calls.clear()
    rebuild_snapshots(database, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3)


def test_a_product_that_breaks_the_builder_fails_the_run_and_keeps_every_snapshot(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    snapshots_before, aliases_before = snapshot_rows(database), alias_rows(database)

    # One product changes for the better, another gets data the builder cannot use.
    execute(database, "UPDATE plan SET price_cents = 9900 WHERE slug = 'growth'")
    execute(database, "UPDATE addon SET available_on = 'team,platinum' WHERE slug = 'analytics'")
    report = rebuild_snapshots(database)

    assert (report.built, report.unchanged, report.failed) == (0, 1, 2)
    assert report.errors == ["orbit: add-on 'analytics' names unknown plan 'platinum'"]
    assert snapshot_rows(database) == snapshots_before
    assert alias_rows(database) == aliases_before

    execute(database, "UPDATE addon SET available_on = 'team' WHERE slug = 'analytics'")
    fixed = rebuild_snapshots(database)
    assert (fixed.built, fixed.failed) == (2, 0)
    assert stored_payload(database, "beacon")["plans"][1]["price_cents"] == 9900


def test_a_database_failure_mid_write_rolls_back_every_change(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    snapshots_before, aliases_before = snapshot_rows(database), alias_rows(database)
    execute(database, "UPDATE product SET tagline = 'New' WHERE slug IN ('orbit', 'beacon', 'relay')")
    # A real database error, raised after the orbit snapshot has already been replaced in the transaction.
    for statement in REFUSE_RELAY[database.engine.dialect.name]:
        execute(database, statement)
    report = rebuild_snapshots(database)
    assert (report.built, report.failed) == (0, 3)
    assert "disk on fire" in report.errors[0]
    assert snapshot_rows(database) == snapshots_before
    assert alias_rows(database) == aliases_before


def test_rebuild_of_an_empty_catalog(database: Database) -> None:
    report = rebuild_snapshots(database)
    assert (report.built, report.unchanged, report.failed) == (0, 0, 0)


def test_a_full_rebuild_right_after_the_demo_load_rebuilds_nothing(tmp_path: Any) -> None:
    """The import builds each product's snapshot by id; a full rebuild reads all products at once. Both
    must hash a product's rows the same, or every scheduled rebuild redoes the whole catalog."""
    from knowledge.demo import ensure_demo_data

    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        assert ensure_demo_data(db)
        report = rebuild_snapshots(db)
        assert (report.built, report.failed) == (0, 0) and report.unchanged >= 6
    finally:
        db.close()
