"""A database that cannot take the claim: the event is not acknowledged, and Slack's redelivery is answered once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.settings import load_settings
from tests.support.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack, event_callback, mention_event, socket_envelope
from tests.support.slack_service import QUESTION, replies_in, start_stack
from tests.support.slack_stack import SIGNING_SECRET, open_pipeline


@contextmanager
def write_locked(database_url: str) -> Iterator[None]:
    """Hold SQLite's write lock (as a long import used to) for the duration of the block."""
    locker = sqlite3.connect(Path(database_url.removeprefix("sqlite:///")), isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        locker.execute("UPDATE knowledgerevision SET changed_at = changed_at")
        yield
        locker.execute("COMMIT")
    finally:
        locker.close()


@pytest.mark.slow
async def test_an_http_event_whose_claim_cannot_be_written_gets_503_then_one_answer(fake_slack: FakeSlack) -> None:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake_slack.api_url)
    async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
        stack = await start_stack(fake_slack, settings, db, pipeline, http)
        try:
            body = event_callback(mention_event(QUESTION, ts="1712347000.000100"), event_id="EvLocked")
            with write_locked(settings.database_url):
                assert await stack.post_event(body) == 503  # not acknowledged: Slack will send it again
            await asyncio.sleep(0.3)
            assert fake_slack.replies() == []
            assert await stack.post_event(body, retry_num=1) == 200
            assert await stack.post_event(body, retry_num=2) == 200
            await fake_slack.wait_for(lambda fake: replies_in(fake, "1712347000.000100"), timeout=10)
            await asyncio.sleep(0.3)
            assert len(replies_in(fake_slack, "1712347000.000100")) == 1
        finally:
            await stack.service.shutdown(grace_s=5)


@pytest.mark.slow
async def test_a_socket_mode_envelope_whose_claim_cannot_be_written_is_not_acknowledged(fake_slack: FakeSlack) -> None:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_url=fake_slack.api_url)
    async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
        stack = await start_stack(fake_slack, settings, db, pipeline, http)
        try:
            await fake_slack.wait_connected()
            body = event_callback(mention_event(QUESTION, ts="1712347100.000100"), event_id="EvLockedSocket")
            with write_locked(settings.database_url):
                await fake_slack.push_envelope(socket_envelope(body, envelope_id="env-locked"))
                await asyncio.sleep(1.5)  # past the claim's budget, still locked
            await asyncio.sleep(0.5)
            assert fake_slack.socket_acks == []  # Slack will send the envelope again
            await fake_slack.push_envelope(socket_envelope(body, envelope_id="env-again", retry_attempt=1))
            await fake_slack.wait_for_ack("env-again")
            await fake_slack.wait_for(lambda fake: replies_in(fake, "1712347100.000100"), timeout=10)
            await asyncio.sleep(0.3)
            assert len(replies_in(fake_slack, "1712347100.000100")) == 1
        finally:
            await stack.service.shutdown(grace_s=5)
