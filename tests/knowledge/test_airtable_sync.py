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
from knowledge.models import AirtableRecord, Plan, Product, ProductSnapshot
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
