"""Replies survive Slack's bad moments: retried within the delivery deadline, never posted twice, and a reply
that never arrives fails its request, in the summary and in `pitcrew logs stats`.

The real Bolt app, pipeline and slack_sdk client talk to the fake Slack Web API on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from typer.testing import CliRunner

from bot.cli.main import app as cli_app
from bot.observability import configure_logging, reset_logging
from bot.observability.request_log import SUMMARY_FAILED, SUMMARY_OK
from bot.settings import Settings, load_settings
from bot.slack.delivery import REPLY_EVENT_TYPE, Failure, ReplyDelivery, classify_failure
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, event_callback, mention_event
from tests.support.pipeline import day_file_records
from tests.support.slack_service import Stack, start_stack
from tests.support.slack_stack import SIGNING_SECRET, open_pipeline

QUESTION = "how much is Orbit Pro per seat?"
API_TIMEOUT_S = 0.5  # one Slack call; the "slow" Slack below answers after it


async def open_stack(fake: FakeSlack, **overrides: Any) -> AsyncIterator[Stack]:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake.api_url, slack_api_timeout_s=API_TIMEOUT_S, **overrides)
    configure_logging(settings, stderr=False)
    try:
        async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
            running = await start_stack(fake, settings, db, pipeline, http)
            yield running
            await running.service.shutdown(grace_s=10)
    finally:
        reset_logging()


@pytest.fixture
async def stack(fake_slack: FakeSlack) -> AsyncIterator[Stack]:
    async for running in open_stack(fake_slack, slack_delivery_deadline_s=10.0):
        yield running


@pytest.fixture
async def impatient_stack(fake_slack: FakeSlack) -> AsyncIterator[Stack]:
    """A stack whose replies must reach Slack within 1.5 s."""
    async for running in open_stack(fake_slack, slack_delivery_deadline_s=1.5):
        yield running


async def ask(stack: Stack, ts: str, event_id: str) -> None:
    assert await stack.post_event(event_callback(mention_event(QUESTION, ts=ts), event_id=event_id)) == 200


async def wait_for_summary(settings: Settings, event_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The request summary of `event_id` from the day file, once it is written."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + timeout
    while loop.time() < ends:
        found = [r for r in _records(settings) if r.get("event_id") == event_id
                 and r["message"] in (SUMMARY_OK, SUMMARY_FAILED)]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no summary for {event_id}")


def _records(settings: Settings) -> list[dict[str, Any]]:
    try:
        return day_file_records(settings)
    except FileNotFoundError:
        return []


def metadata_of(message: dict[str, Any]) -> dict[str, Any]:
    return message.get("metadata") or {}


@pytest.mark.parametrize(("failure", "processed"), [
    ({"status": 500}, False),
    ({"status": 500}, True),  # Slack posted it, then answered 500: posting again would show it twice
    ({"status": 503}, False),
    ({"error": "internal_error"}, False),
    ({"error": "internal_error"}, True),
    ({"error": "service_unavailable"}, False),
], ids=["500", "500-posted", "503", "internal_error", "internal_error-posted", "service_unavailable"])
async def test_a_failed_first_post_is_retried_and_the_reply_appears_exactly_once(
        stack: Stack, failure: dict[str, Any], processed: bool) -> None:
    thread = "1712346000.000100"
    stack.fake.fail_next("chat.postMessage", processed=processed, **failure)
    await ask(stack, thread, "EvFlaky")
    summary = await wait_for_summary(stack.settings, "EvFlaky")
    [visible] = stack.fake.thread_messages(thread)
    assert visible["text"] == await stack.expected_answer(QUESTION)
    assert metadata_of(visible) == {"event_type": REPLY_EVENT_TYPE,
                                    "event_payload": {"correlation_id": summary["correlation_id"], "event_id": "EvFlaky"}}
    assert summary["message"] == SUMMARY_OK and summary["delivery"] == "delivered"
    posts = [c for c in stack.fake.calls_of("chat.postMessage") if c.body.get("thread_ts") == thread]
    # Where Slack had posted it, the look at the thread finds it and nothing is posted again.
    assert len(posts) == (1 if processed else 2)
    assert len(stack.fake.calls_of("conversations.replies")) == 1


async def test_a_slow_slack_that_posted_the_reply_is_not_asked_to_post_it_again(stack: Stack) -> None:
    thread = "1712346100.000100"
    stack.fake.slow_next("chat.postMessage", delay_s=API_TIMEOUT_S * 4)  # posted at once, answered too late
    await ask(stack, thread, "EvSlow")
    summary = await wait_for_summary(stack.settings, "EvSlow")
    assert summary["message"] == SUMMARY_OK and summary["delivery"] == "delivered"
    assert len(stack.fake.calls_of("chat.postMessage")) == 1
    [replies_check] = stack.fake.calls_of("conversations.replies")
    assert replies_check.body["ts"] == thread and replies_check.body["include_all_metadata"] in ("1", "true")
    [visible] = stack.fake.thread_messages(thread)
    assert metadata_of(visible)["event_payload"]["correlation_id"] == summary["correlation_id"]


async def test_a_permanent_refusal_is_not_retried(stack: Stack) -> None:
    thread = "1712346200.000100"
    stack.fake.fail_next("chat.postMessage", error="channel_not_found")
    await ask(stack, thread, "EvGone")
    summary = await wait_for_summary(stack.settings, "EvGone")
    assert summary["message"] == SUMMARY_FAILED and summary["delivery"] == "failed"
    assert len(stack.fake.calls_of("chat.postMessage")) == 1
    assert not stack.fake.calls_of("conversations.replies")


async def test_slack_failing_past_the_deadline_fails_the_request_and_stats_count_it(impatient_stack: Stack) -> None:
    stack = impatient_stack
    stack.fake.fail_next("chat.postMessage", status=503, times=1000)
    await ask(stack, "1712346300.000100", "EvDown")
    summary = await wait_for_summary(stack.settings, "EvDown")
    assert summary["message"] == SUMMARY_FAILED and summary["level"] == "ERROR"
    assert summary["delivery"] == "failed" and "could not be delivered" in summary["error"]
    attempts = len(stack.fake.calls_of("chat.postMessage"))
    assert 2 <= attempts <= 20  # retried with backoff, within the 1.5 s deadline
    assert not stack.fake.thread_messages("1712346300.000100")
    stack.fake.clear_failures()  # Slack is back: one more request goes through, so the stats have both kinds
    await ask(stack, "1712346301.000100", "EvUp")
    assert (await wait_for_summary(stack.settings, "EvUp"))["delivery"] == "delivered"

    result = CliRunner().invoke(cli_app, ["logs", "stats", "--json", "--dir", str(stack.settings.log_dir)])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["requests"] == 2 and stats["errors"] == 1 and stats["undelivered"] == 1
    table = CliRunner().invoke(cli_app, ["logs", "stats", "--dir", str(stack.settings.log_dir)])
    assert "undelivered replies" in table.stdout and "1 (50.0%)" in table.stdout


async def test_an_ambiguous_failure_where_the_thread_cannot_be_read_still_delivers(fake_slack: FakeSlack) -> None:
    """Without a history scope the thread cannot be checked: a rare duplicate beats a lost reply."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    fake_slack.fail_next("chat.postMessage", status=500)
    fake_slack.fail_next("conversations.replies", error="missing_scope")
    delivery = ReplyDelivery(client, channel="C1", thread_ts="1712346400.000100", correlation_id="abcd0123",
                             deadline_s=5.0)
    ts = await delivery.post("the answer")
    assert ts and len(fake_slack.calls_of("chat.postMessage")) == 2
    [visible] = fake_slack.thread_messages("1712346400.000100")
    assert visible["ts"] == ts and metadata_of(visible)["event_payload"] == {"correlation_id": "abcd0123"}


def test_failures_are_told_apart_by_whether_slack_may_have_acted() -> None:
    assert classify_failure(TimeoutError()) is Failure.AMBIGUOUS
    assert classify_failure(aiohttp.ServerDisconnectedError()) is Failure.AMBIGUOUS
    assert classify_failure(ValueError("a bug")) is Failure.PERMANENT
