"""`pitcrew sync airtable` against the loopback fake Airtable API: the real pyairtable client over HTTP, the real
database. Full sync, changes from the webhook's cursor, deletions, rejections, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from knowledge.airtable.source import connect
from knowledge.airtable.state import read_state
from knowledge.airtable.sync import SyncRejected, full_sync, sync_changes
from knowledge.airtable.webhooks import create_webhook, verify_notification
from knowledge.db import Database
from knowledge.models import Faq, Plan, PlanLimit, Product, ProductSnapshot
from tests.support.fake_airtable import TOKEN, CatalogBase, LoopbackAirtable, example_mapping, fill_catalog
from tests.support.schema_rows import table_contents

COMPARED = ("product", "plan", "feature", "planfeature", "integration", "planlimit", "complianceitem", "addon", "faq",
            "account", "contact")


@pytest.fixture
async def airtable() -> AsyncIterator[LoopbackAirtable]:
    async with LoopbackAirtable() as fake:
        yield fake


@pytest.fixture
def catalog(airtable: LoopbackAirtable) -> CatalogBase:
    return fill_catalog(airtable)


def sync(db: Database, fake: LoopbackAirtable, changes: bool = False, **options: bool):
    run = sync_changes if changes else full_sync
    return asyncio.to_thread(run, db, connect(TOKEN, fake.url), example_mapping(), **options)


def plan_price(db: Database, product: str, plan: str) -> int | None:
    with db.engine.connect() as connection:
        return connection.execute(
            select(Plan.price_cents).join(Product, Product.id == Plan.product_id)
            .where(Product.slug == product, Plan.slug == plan)).scalar_one_or_none()


def snapshot_times(db: Database) -> dict[int, object]:
    with db.engine.connect() as connection:
        return dict(connection.execute(select(ProductSnapshot.product_id, ProductSnapshot.built_at)).all())


@pytest.mark.database
async def test_a_full_sync_of_the_demo_catalog_equals_the_demo_data(
        database: Database, demo_template: Path, airtable: LoopbackAirtable, catalog: CatalogBase) -> None:
    report = await sync(database, airtable)

    demo = create_engine(f"sqlite:///{demo_template}")
    try:
        expected = {name: value for name, value in table_contents(demo).items() if name in COMPARED}
    finally:
        demo.dispose()
    synced = {name: value for name, value in table_contents(database.engine).items() if name in COMPARED}
    assert synced == expected
    assert report.tables["plans"].created == len(airtable.table("Plans").records)
    assert report.tables["products"].created == len(airtable.table("Products").records)
    assert report.rebuild is not None and report.rebuild.built == len(airtable.table("Products").records)
    # Pages of 100: the fake holds more plan features than one page.
    assert len(airtable.table("Plan features").records) > 100

    again = await sync(database, airtable)
    assert not again.changed
    assert all(counts.unchanged == len(airtable.table(counts.table).records) for counts in again.tables.values())
    assert again.changed_products == []


async def webhook_on(db: Database, fake: LoopbackAirtable) -> str:
    created = await asyncio.to_thread(create_webhook, db, connect(TOKEN, fake.url), example_mapping(),
                                      "http://127.0.0.1:9/airtable/webhook")
    return created.webhook_id


@pytest.mark.database
async def test_a_price_change_is_applied_from_the_webhook_cursor_and_rebuilds_one_snapshot(
        database: Database, airtable: LoopbackAirtable, catalog: CatalogBase) -> None:
    await sync(database, airtable)
    await webhook_on(database, airtable)
    built_before = snapshot_times(database)
    pro = catalog.record_id("plans", product="orbit", slug="pro")
    airtable.update("Plans", pro, {"Price": 123.45})

    report = await sync(database, airtable, changes=True)

    assert plan_price(database, "orbit", "pro") == 12345
    assert report.tables["plans"].updated == 1 and report.changed_products == ["orbit"]
    assert report.rebuild is not None and report.rebuild.built == 1
    built_after = snapshot_times(database)
    assert [pid for pid in built_after if built_after[pid] != built_before[pid]] == [_product_id(database, "orbit")]
    assert read_state(database, airtable.base_id)["cursor"] == 2
    # Only the changed record was read: one filtered listing of the plans table, no full listing.
    assert ("GET", "/v0/appCATALOG0000001/Plans") in airtable.requests

    nothing = await sync(database, airtable, changes=True)
    assert nothing.payloads == 0 and not nothing.changed


def _product_id(db: Database, slug: str) -> int:
    with db.engine.connect() as connection:
        return connection.execute(select(Product.id).where(Product.slug == slug)).scalar_one()


@pytest.mark.database
async def test_payloads_are_read_page_after_page(database: Database, airtable: LoopbackAirtable,
                                                 catalog: CatalogBase) -> None:
    await sync(database, airtable)
    await webhook_on(database, airtable)
    pro = catalog.record_id("plans", product="orbit", slug="pro")
    for cents in range(60):  # more than one page of 50 payloads
        airtable.update("Plans", pro, {"Price": 100 + cents})

    report = await sync(database, airtable, changes=True)

    assert report.payloads == 60
    assert plan_price(database, "orbit", "pro") == 15900
    assert read_state(database, airtable.base_id)["cursor"] == 61


def faq_count(db: Database) -> int:
    with db.engine.connect() as connection:
        return len(connection.execute(select(Faq.id)).all())


@pytest.mark.database
async def test_a_deleted_record_disappears_unless_kept(database: Database, airtable: LoopbackAirtable,
                                                       catalog: CatalogBase) -> None:
    await sync(database, airtable)
    await webhook_on(database, airtable)
    faqs = faq_count(database)
    faq = next(iter(airtable.table("FAQs").records))
    airtable.delete("FAQs", faq)

    kept = await sync(database, airtable, keep_deleted=True)
    assert faq_count(database) == faqs and kept.tables["faqs"].deleted == 0

    limit = next(iter(airtable.table("Limits").records))
    airtable.delete("Limits", limit)
    removed = await sync(database, airtable, changes=True)  # from the webhook's payloads
    assert removed.tables["limits"].deleted == 1 and removed.changed_products == ["orbit"]

    airtable.delete("FAQs", next(iter(airtable.table("FAQs").records)))
    report = await sync(database, airtable)
    assert faq_count(database) == faqs - 1  # the kept one is no longer tracked; the new deletion is applied
    assert report.tables["faqs"].deleted == 1 and report.rebuild is not None and report.rebuild.built == 1


@pytest.mark.database
async def test_deleting_a_plan_that_rows_still_need_is_refused(database: Database, airtable: LoopbackAirtable,
                                                              catalog: CatalogBase) -> None:
    """Airtable empties the links to a deleted record: rows left without their plan are named, nothing applied."""
    await sync(database, airtable)
    airtable.delete("Plans", catalog.record_id("plans", product="orbit", slug="team"))

    with pytest.raises(SyncRejected, match="field 'Plan': required field is missing"):
        await sync(database, airtable)
    assert plan_price(database, "orbit", "team") == 3900


@pytest.mark.database
async def test_an_invalid_record_rolls_the_run_back_and_is_named(database: Database, airtable: LoopbackAirtable,
                                                                 catalog: CatalogBase) -> None:
    await sync(database, airtable)
    await webhook_on(database, airtable)
    pro = catalog.record_id("plans", product="orbit", slug="pro")
    team = catalog.record_id("plans", product="orbit", slug="team")
    airtable.update("Plans", team, {"Price": 77})  # valid, but in the same run as the invalid one
    airtable.update("Plans", pro, {"Price": -5})

    with pytest.raises(SyncRejected) as rejected:
        await sync(database, airtable, changes=True)

    assert str(rejected.value).startswith(f"Plans, record {pro}, field 'Price': ")
    assert plan_price(database, "orbit", "team") == 3900  # nothing applied
    state = read_state(database, airtable.base_id)
    assert state["cursor"] == 1 and "field 'Price'" in state["last_error"]

    skipped = await sync(database, airtable, changes=True, skip_invalid=True)
    assert plan_price(database, "orbit", "team") == 7700 and plan_price(database, "orbit", "pro") == 9900
    assert [(problem.row, problem.field) for problem in skipped.skipped] == [(f"record {pro}", "Price")]
    assert skipped.tables["plans"].skipped == 1
    assert read_state(database, airtable.base_id)["cursor"] == 3


@pytest.mark.database
async def test_a_link_to_an_unsynced_record_is_named(database: Database, airtable: LoopbackAirtable,
                                                     catalog: CatalogBase) -> None:
    await sync(database, airtable)
    faq = next(iter(airtable.table("FAQs").records))
    airtable.update("FAQs", faq, {"Product": ["recNOSUCHRECORD0"]})

    with pytest.raises(SyncRejected, match=f"FAQs, record {faq}, field 'Product': links to recNOSUCHRECORD0"):
        await sync(database, airtable)


@pytest.mark.database
async def test_rate_limits_are_retried(database: Database, airtable: LoopbackAirtable, catalog: CatalogBase) -> None:
    airtable.fail_next(3)

    report = await sync(database, airtable)

    assert airtable.throttled == 3 and report.tables["products"].created == len(airtable.table("Products").records)


@pytest.mark.database
async def test_a_notification_is_verified_with_the_stored_secret(database: Database, airtable: LoopbackAirtable,
                                                                 catalog: CatalogBase) -> None:
    import base64
    import hashlib
    import hmac
    import json

    webhook_id = await webhook_on(database, airtable)
    state = read_state(database, airtable.base_id)
    body = json.dumps({"base": {"id": airtable.base_id}, "webhook": {"id": webhook_id},
                       "timestamp": "2026-01-01T00:00:00.000Z"}).encode()
    secret = base64.b64decode(state["mac_secret"])
    good = "hmac-sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    wrong = "hmac-sha256=" + hmac.new(b"not the secret", body, hashlib.sha256).hexdigest()

    assert verify_notification(state, body, good)
    assert not verify_notification(state, body, wrong)
    assert not verify_notification(state, body, None)
    assert not verify_notification(state, body + b" ", good)


@pytest.mark.database
async def test_skip_invalid_leaves_out_the_record_and_the_records_linking_to_it(
        database: Database, airtable: LoopbackAirtable, catalog: CatalogBase) -> None:
    pro = catalog.record_id("plans", product="orbit", slug="pro")
    airtable.update("Plans", pro, {"Billing period": "fortnight"})

    report = await sync(database, airtable, skip_invalid=True)

    assert plan_price(database, "orbit", "pro") is None and plan_price(database, "orbit", "team") == 3900
    assert report.skipped[0].row == f"record {pro}" and report.skipped[0].field == "Billing period"
    below = [problem for problem in report.skipped[1:]]
    assert below and all(f"links to {pro}, which is invalid or skipped" in problem.message for problem in below)
    assert report.tables["plans"].skipped == 1 and report.tables["plan_features"].skipped > 0
    assert report.tables["plans"].created == len(airtable.table("Plans").records) - 1


@pytest.mark.database
async def test_a_renamed_slug_moves_the_rows_below_it(database: Database, airtable: LoopbackAirtable,
                                                      catalog: CatalogBase) -> None:
    await sync(database, airtable)
    await webhook_on(database, airtable)
    airtable.update("Plans", catalog.record_id("plans", product="orbit", slug="pro"), {"Slug": "professional"})

    report = await sync(database, airtable, changes=True)

    assert report.kind == "full"  # a parent's key changed: the rows linking to it are re-read
    assert plan_price(database, "orbit", "pro") is None and plan_price(database, "orbit", "professional") == 9900
    with database.engine.connect() as connection:
        limits = connection.execute(select(PlanLimit.name).join(Plan, Plan.id == PlanLimit.plan_id)
                                    .where(Plan.slug == "professional")).scalars().all()
    assert limits and len(limits) == sum(
        1 for record in airtable.table("Limits").records.values()
        if record["fields"]["Plan"] == [catalog.record_id("plans", product="orbit", slug="pro")])
    assert read_state(database, airtable.base_id)["cursor"] == 2
