"""`serve`'s scheduled Airtable run: the webhook refreshed before it expires, and a full sync that finds nothing to
do when the notifications kept up (or catches up one that was missed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.app.airtable import AirtableConnection, AirtableService
from knowledge.airtable.source import connect
from knowledge.airtable.state import read_state
from knowledge.airtable.sync import full_sync
from knowledge.airtable.webhooks import create_webhook
from knowledge.db import Database
from knowledge.models import AirtableSyncState
from tests.support.fake_airtable import TOKEN, LoopbackAirtable, example_mapping, fill_catalog


@pytest.fixture
async def airtable() -> AsyncIterator[LoopbackAirtable]:
    async with LoopbackAirtable() as fake:
        yield fake


def refreshes(fake: LoopbackAirtable) -> int:
    return sum(1 for method, path in fake.requests if method == "POST" and path.endswith("/refresh"))


@pytest.mark.database
async def test_the_scheduled_run_refreshes_an_expiring_webhook_and_catches_up(database: Database,
                                                                             airtable: LoopbackAirtable) -> None:
    fill_catalog(airtable)
    api, mapping = connect(TOKEN, airtable.url), example_mapping()
    await asyncio.to_thread(full_sync, database, api, mapping)
    await asyncio.to_thread(create_webhook, database, api, mapping, "http://127.0.0.1:9/airtable/webhook")
    service = AirtableService(database, AirtableConnection(api, mapping))

    await service.scheduled()  # a week left: no refresh; all in step: nothing to do
    assert refreshes(airtable) == 0
    assert service.last_report is not None and service.last_report.kind == "full" and not service.last_report.changed

    with database.engine.begin() as connection:
        connection.execute(update(AirtableSyncState).values(webhook_expires_at=datetime.now(UTC) + timedelta(hours=20)))
    # An edit whose notification never came.
    airtable.update("FAQs", next(iter(airtable.table("FAQs").records)), {"Answer": "Yes, always."})
    await service.scheduled()

    assert refreshes(airtable) == 1
    expires = read_state(database, mapping.base)["webhook_expires_at"]
    assert expires.replace(tzinfo=expires.tzinfo or UTC) > datetime.now(UTC) + timedelta(days=6)
    assert service.last_report.tables["faqs"].updated == 1 and service.last_error is None
