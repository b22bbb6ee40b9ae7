"""A real `pitcrew serve` with the Airtable sync on: notifications from the fake Airtable API are verified
(401 otherwise), acknowledged, and their changes reach Slack answers; a serve killed half-way through a sync
loses nothing, the next sync resumes from the stored cursor."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.app.airtable import WEBHOOK_PATH, AirtableConnection, AirtableService
from bot.settings import load_settings
from knowledge.airtable.source import connect
from knowledge.airtable.state import read_state
from knowledge.airtable.sync import full_sync, sync_changes
from knowledge.airtable.webhooks import create_webhook
from knowledge.db import Database
from knowledge.models import Plan, Product, ProductSnapshot
from tests.support.fake_airtable import EXAMPLE_MAPPING, TOKEN, LoopbackAirtable, example_mapping, fill_catalog
from tests.support.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack, event_callback, mention_event, signed_headers
from tests.support.serve_process import ServeProcess, serve_env
from tests.support.slack_service import start_stack
from tests.support.slack_stack import SIGNING_SECRET, open_pipeline


def pro_price(db: Database) -> int:
    with db.engine.connect() as connection:
        return connection.execute(select(Plan.price_cents).join(Product, Product.id == Plan.product_id)
                                  .where(Product.slug == "orbit", Plan.slug == "pro")).scalar_one()


def snapshot_times(db: Database) -> dict[int, object]:
    with db.engine.connect() as connection:
        return dict(connection.execute(select(ProductSnapshot.product_id, ProductSnapshot.built_at)).all())


async def ask(http: aiohttp.ClientSession, serve: ServeProcess, slack: FakeSlack, n: int) -> str:
    """Mention the bot about Orbit Pro's price in a thread of its own; the answer's text."""
    ts = f"1712500000.{n:06d}"
    body = json.dumps(event_callback(mention_event(f"how much is Orbit Pro per seat? (#{n})", ts=ts),
                                     event_id=f"EvAT{n:04d}"))
    async with http.post(f"http://127.0.0.1:{serve.port}/slack/events", data=body,
                         headers=signed_headers(body, SIGNING_SECRET)) as response:
        assert response.status == 200
    await slack.wait_for(lambda fake: any(m.get("text") for m in fake.thread_messages(ts)), timeout=10)
    return " ".join(m.get("text") or "" for m in slack.thread_messages(ts))


@pytest.mark.slow
async def test_a_signed_notification_updates_answers_and_a_killed_sync_loses_nothing(
        fake_slack: FakeSlack, tmp_path: Path) -> None:
    async with LoopbackAirtable() as airtable, aiohttp.ClientSession() as http:
        catalog = fill_catalog(airtable)
        mapping_path = tmp_path / "airtable.toml"
        mapping_path.write_text(EXAMPLE_MAPPING.read_text())
        serve = ServeProcess(serve_env(tmp_path, fake_slack, AIRTABLE_TOKEN=TOKEN, AIRTABLE_API_URL=airtable.url,
                                       AIRTABLE_MAPPING=str(mapping_path), SNAPSHOT_REBUILD_CRON="0 0 1 1 *",
                                       AIRTABLE_SYNC_CRON="0 0 1 1 *"), tmp_path, "serve")
        db = Database(serve.env["DATABASE_URL"])
        api, mapping = connect(TOKEN, airtable.url), example_mapping()
        try:
            first = await asyncio.to_thread(full_sync, db, api, mapping)  # the demo database already holds it all
            assert not first.changed
            await asyncio.to_thread(create_webhook, db, api, mapping,
                                    f"http://127.0.0.1:{serve.port}/airtable/webhook")
            await serve.start(http)
            assert "$99" in await ask(http, serve, fake_slack, 1)

            pro = catalog.record_id("plans", product="orbit", slug="pro")
            airtable.update("Plans", pro, {"Price": 123})
            built_before = snapshot_times(db)
            # Unsigned, or signed with another secret: refused, and nothing is read or changed.
            assert await airtable.notify(sign=False) == 401
            assert await airtable.notify(secret=b"not-the-mac-secret") == 401
            await asyncio.sleep(0.2)
            assert pro_price(db) == 9900 and read_state(db, mapping.base)["cursor"] == 1
            assert not any(path.endswith("/payloads") for _, path in airtable.requests)

            started = time.perf_counter()
            assert await airtable.notify() == 200
            # The snapshot is rebuilt right after the rows commit: wait for it, not for the row.
            while snapshot_times(db) == built_before and time.perf_counter() - started < 10:
                await asyncio.sleep(0.02)
            assert pro_price(db) == 12300
            answer = await ask(http, serve, fake_slack, 2)
            assert "$123" in answer, answer
            built_after = snapshot_times(db)
            assert sum(1 for pid in built_after if built_after[pid] != built_before.get(pid)) == 1
            assert read_state(db, mapping.base)["cursor"] == 2

            # Killed while the sync waits on Airtable: neither the row nor the cursor moved.
            airtable.hold_records()
            airtable.update("Plans", pro, {"Price": 150})
            assert await airtable.notify() == 200
            deadline = time.perf_counter() + 10
            while not airtable.requests[-1][1].endswith("/Plans") and time.perf_counter() < deadline:
                await asyncio.sleep(0.02)
            await serve.kill_9()
            airtable.release_records()
            assert pro_price(db) == 12300 and read_state(db, mapping.base)["cursor"] == 2

            resumed = await asyncio.to_thread(sync_changes, db, api, mapping)
            assert resumed.payloads == 1 and pro_price(db) == 15000
            assert read_state(db, mapping.base)["cursor"] == 3
        finally:
            await serve.stop()
            db.close()


async def test_in_socket_mode_the_webhook_is_served_next_to_healthz(fake_slack: FakeSlack, tmp_path: Path) -> None:
    """Socket Mode has no events endpoint, but its small HTTP server takes Airtable's notifications."""
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_url=fake_slack.api_url,
                             database_url=f"sqlite:///{tmp_path / 'socket.db'}")
    async with LoopbackAirtable() as airtable, open_pipeline(settings) as (db, pipeline), \
            aiohttp.ClientSession() as http:
        catalog = fill_catalog(airtable)
        api, mapping = connect(TOKEN, airtable.url), example_mapping()
        await asyncio.to_thread(full_sync, db, api, mapping)
        await asyncio.to_thread(create_webhook, db, api, mapping, "http://127.0.0.1:9/unused")
        service = AirtableService(db, AirtableConnection(api, mapping))
        stack = await start_stack(fake_slack, settings, db, pipeline, http, routes=service.routes())
        try:
            assert stack.service.mode == "socket"
            url = f"http://127.0.0.1:{stack.service.port}{WEBHOOK_PATH}"
            airtable.update("Plans", catalog.record_id("plans", product="orbit", slug="pro"), {"Price": 111})
            assert await airtable.notify(url=url, sign=False) == 401
            assert await airtable.notify(url=url) == 200
            await service.idle()
            assert pro_price(db) == 11100
        finally:
            await service.stop()
            await stack.service.shutdown(grace_s=5)
