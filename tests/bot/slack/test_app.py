"""End to end on 127.0.0.1: signed Slack events into the real Bolt app and pipeline, replies into a fake Slack API."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from sqlalchemy import text

from bot.settings import load_settings
from knowledge.db import Database
from tests.support.fake_openai import FakeOpenAI, Reply, sensible_reply
from tests.support.fake_slack import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    FakeSlack,
    dm_event,
    event_callback,
    mention_event,
    signed_headers,
    socket_envelope,
)
from tests.support.slack_service import QUESTION, Stack, replies_in, start_stack
from tests.support.slack_stack import SIGNING_SECRET, open_pipeline

@pytest.fixture
async def stack(fake_slack: FakeSlack) -> AsyncIterator[Stack]:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake_slack.api_url)
    async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
        running = await start_stack(fake_slack, settings, db, pipeline, http)
        yield running
        await running.service.shutdown(grace_s=5)


async def settle(stack: Stack, marker_ts: str) -> None:
    """Barrier: send one more answerable event and wait for its reply, so earlier events are done too."""
    assert await stack.post_event(event_callback(mention_event("help", ts=marker_ts), event_id=f"Ev{marker_ts}")) == 200
    await stack.fake.wait_for(lambda fake: any(c.body.get("thread_ts") == marker_ts for c in fake.replies()))
    await asyncio.sleep(0.1)


async def test_a_mention_gets_exactly_one_answer_in_its_thread(stack: Stack) -> None:
    event = mention_event(QUESTION, channel="C0SALES", ts="1712345678.000100")
    assert await stack.post_event(event_callback(event, event_id="EvMention1")) == 200
    [reply] = await stack.fake.wait_for_calls("chat.postMessage")
    assert reply.body["channel"] == "C0SALES"
    assert reply.body["thread_ts"] == "1712345678.000100"
    assert reply.body["text"] == await stack.expected_answer(QUESTION)
    assert reply.token == BOT_TOKEN
    await settle(stack, "1712345999.000001")
    assert len(replies_in(stack.fake, "1712345678.000100")) == 1


async def test_a_mention_inside_a_thread_is_answered_in_that_thread(stack: Stack) -> None:
    event = mention_event(QUESTION, ts="1712345700.000500", thread_ts="1712345600.000100")
    assert await stack.post_event(event_callback(event, event_id="EvThreaded")) == 200
    [reply] = await stack.fake.wait_for_calls("chat.postMessage")
    assert reply.body["thread_ts"] == "1712345600.000100"


async def test_a_follow_up_in_the_thread_continues_the_conversation(stack: Stack) -> None:
    opening = mention_event("What does the Pro plan cost?", ts="1712345710.000100")
    assert await stack.post_event(event_callback(opening, event_id="EvOpening")) == 200
    await stack.fake.wait_for(lambda fake: len(replies_in(fake, "1712345710.000100")) == 1)
    follow_up = mention_event("and Enterprise?", ts="1712345720.000200", thread_ts="1712345710.000100")
    assert await stack.post_event(event_callback(follow_up, event_id="EvFollowUp")) == 200
    await stack.fake.wait_for(lambda fake: len(replies_in(fake, "1712345710.000100")) == 2)
    answer = replies_in(stack.fake, "1712345710.000100")[1].body["text"]
    assert "Enterprise" in answer and "$" in answer  # Enterprise's price, not "outside what I can help with"
    # The same words opening a thread of their own have no conversation to continue.
    alone = mention_event("and Enterprise?", ts="1712345730.000300")
    assert await stack.post_event(event_callback(alone, event_id="EvAlone")) == 200
    await stack.fake.wait_for(lambda fake: len(replies_in(fake, "1712345730.000300")) == 1)
    assert replies_in(stack.fake, "1712345730.000300")[0].body["text"] != answer


async def test_a_burst_of_events_is_acknowledged_and_each_answered_once(stack: Stack) -> None:
    questions = [QUESTION, "help", "what integrations does Orbit have?", "what does the Team plan cost?"]
    bodies = [event_callback(mention_event(questions[i % len(questions)], ts=f"1712346000.{i:06d}"),
                             event_id=f"EvBurst{i}") for i in range(50)]
    statuses = await asyncio.gather(*(stack.post_event(body) for body in bodies))
    assert statuses == [200] * 50
    await stack.fake.wait_for(lambda fake: all(replies_in(fake, f"1712346000.{i:06d}") for i in range(50)))
    await settle(stack, "1712346999.000001")
    for i in range(50):
        [reply] = replies_in(stack.fake, f"1712346000.{i:06d}")
        assert reply.body["text"] and "went wrong" not in reply.body["text"]


def slow_bolt(app: AsyncApp, seconds: float) -> None:
    """Make every Bolt dispatch take `seconds` longer (a global middleware that waits, then goes on)."""

    async def wait_then_continue(next_: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(seconds)
        await next_()

    app.middleware(wait_then_continue)


async def test_an_event_is_acknowledged_without_waiting_for_bolt(stack: Stack) -> None:
    slow_bolt(stack.service.app, 0.5)
    started = time.perf_counter()
    assert await stack.post_event(event_callback(mention_event(QUESTION, ts="1712345740.000100"),
                                                 event_id="EvEarlyAck")) == 200
    assert time.perf_counter() - started < 0.45  # acknowledged before Bolt's 0.5 s wait was over
    [reply] = await stack.fake.wait_for_calls("chat.postMessage")
    assert reply.body["thread_ts"] == "1712345740.000100"
    assert time.perf_counter() - started >= 0.5  # and answered once Bolt did


async def test_slacks_url_check_still_gets_its_challenge_back(stack: Stack) -> None:
    raw = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "ch4ll3nge"})
    async with stack.http.post(stack.events_url, data=raw, headers=signed_headers(raw, SIGNING_SECRET)) as response:
        assert response.status == 200
        assert "ch4ll3nge" in await response.text()


async def test_a_direct_message_gets_exactly_one_answer(stack: Stack) -> None:
    event = dm_event(QUESTION, channel="D0ALICE", ts="1712345679.000200")
    assert await stack.post_event(event_callback(event, event_id="EvDm1")) == 200
    [reply] = await stack.fake.wait_for_calls("chat.postMessage")
    assert reply.body["channel"] == "D0ALICE"
    assert reply.body["thread_ts"] == "1712345679.000200"
    assert reply.body["text"] == await stack.expected_answer(QUESTION)


async def test_a_redelivered_event_is_answered_once(stack: Stack) -> None:
    body = event_callback(mention_event(QUESTION, ts="1712345800.000100"), event_id="EvRetried")
    statuses = [await stack.post_event(body)]
    statuses += [await stack.post_event(body, retry_num=n) for n in (1, 2)]
    assert statuses == [200, 200, 200]
    await stack.fake.wait_for_calls("chat.postMessage")
    await settle(stack, "1712345999.000002")
    assert len(replies_in(stack.fake, "1712345800.000100")) == 1
    with stack.db.engine.connect() as connection:
        claimed = connection.execute(text("SELECT state FROM inboxevent WHERE event_id = 'EvRetried'"))
        assert claimed.scalars().all() == ["answered"]


async def test_a_redelivery_after_a_restart_is_not_answered_again(stack: Stack) -> None:
    body = event_callback(mention_event(QUESTION, ts="1712345810.000100"), event_id="EvRestart")
    assert await stack.post_event(body) == 200
    await stack.fake.wait_for_calls("chat.postMessage")
    await stack.service.shutdown(grace_s=5)

    restarted = await start_stack(stack.fake, stack.settings, stack.db, stack.pipeline, stack.http)
    stack.service = restarted.service
    assert await stack.post_event(body, retry_num=1) == 200
    await settle(stack, "1712345999.000003")
    assert len(replies_in(stack.fake, "1712345810.000100")) == 1


async def test_requests_that_slack_did_not_sign_are_refused(stack: Stack) -> None:
    body = event_callback(mention_event(QUESTION, ts="1712345820.000100"), event_id="EvForged")
    assert await stack.post_event(body, secret="not-the-signing-secret") == 401
    assert await stack.post_event(body, timestamp=int(time.time()) - 6 * 60) == 401
    await settle(stack, "1712345999.000004")
    assert replies_in(stack.fake, "1712345820.000100") == []


async def test_a_malformed_body_is_refused_and_the_server_stays_healthy(stack: Stack) -> None:
    status = await stack.post_event('{"type": "event_callback", "event": {')
    assert 400 <= status < 500
    async with stack.http.get(f"http://127.0.0.1:{stack.service.port}/healthz") as response:
        assert response.status == 200
    await settle(stack, "1712345999.000005")


@pytest.mark.parametrize("event", [
    dm_event("a bot speaking", bot_id="B0OTHER", subtype="bot_message", ts="1712345830.000001"),
    dm_event("pitcrew's own message", user=BOT_USER_ID, bot_id=BOT_ID, ts="1712345830.000002"),
    {"type": "message", "subtype": "message_changed", "channel": "D0ALICE", "channel_type": "im",
     "ts": "1712345830.000003", "message": {"type": "message", "user": "U0ALICE", "text": "edited", "ts": "1.0"}},
    {"type": "message", "subtype": "message_deleted", "channel": "D0ALICE", "channel_type": "im",
     "ts": "1712345830.000004", "deleted_ts": "1.0"},
    {"type": "message", "subtype": "channel_join", "channel": "C0SALES", "channel_type": "channel",
     "user": "U0BOB", "text": "<@U0BOB> has joined the channel", "ts": "1712345830.000005"},
    {"type": "member_joined_channel", "user": "U0BOB", "channel": "C0SALES", "event_ts": "1712345830.000006"},
    {"type": "reaction_added", "user": "U0BOB", "reaction": "tada", "event_ts": "1712345830.000007"},
    mention_event("from another bot", ts="1712345830.000008") | {"bot_id": "B0OTHER"},
], ids=["other-bot", "own-message", "edited", "deleted", "join", "member-joined", "unsubscribed-type",
        "bot-mention"])
async def test_events_pitcrew_does_not_answer_are_acknowledged_without_reply(stack: Stack, event: dict) -> None:
    event_id = f"EvIgnored{event.get('ts', 'x')}"
    assert await stack.post_event(event_callback(event, event_id=event_id)) == 200
    await settle(stack, "1712345999.000006")
    assert len(stack.fake.replies()) == 1  # only the barrier's
    # Done with, whether a listener skipped it or Bolt dropped it first: nothing for a restart to answer.
    assert inbox_state(stack.db, event_id) == "answered"


def inbox_state(db: Database, event_id: str) -> str | None:
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT state FROM inboxevent WHERE event_id = :id"),
                                  {"id": event_id}).scalar_one_or_none()


async def test_a_rate_limited_reply_arrives_after_retry_after(stack: Stack) -> None:
    await settle(stack, "1712345999.000007")  # auth.test done; now only the reply is measured
    stack.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    assert await stack.post_event(event_callback(mention_event(QUESTION, ts="1712345840.000100"),
                                                 event_id="EvLimited")) == 200
    await stack.fake.wait_for(lambda fake: len(replies_in(fake, "1712345840.000100")) == 2, timeout=5)
    refused, delivered = replies_in(stack.fake, "1712345840.000100")
    assert refused.answered_status == 429 and delivered.answered_status == 200
    assert delivered.at - refused.at >= 1.0
    assert delivered.body["text"] == await stack.expected_answer(QUESTION)


async def test_a_reply_slack_never_takes_is_logged_with_its_correlation_id(stack: Stack,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    await settle(stack, "1712345999.000011")
    stack.fake.fail_next("chat.postMessage", error="channel_not_found")
    caplog.set_level(logging.INFO)
    assert await stack.post_event(event_callback(mention_event(QUESTION, ts="1712345890.000100"),
                                                 event_id="EvLost")) == 200
    await stack.fake.wait_for(lambda fake: replies_in(fake, "1712345890.000100"))
    await asyncio.sleep(0.1)
    [lost] = [r for r in caplog.records if r.getMessage() == "reply could not be delivered to Slack"]
    assert lost.levelno == logging.ERROR
    assert lost.event_id == "EvLost" and lost.slack_error == "channel_not_found"
    [summary] = [r for r in caplog.records if r.name == "bot.slack.responder" and r.getMessage() == "slack reply"
                 and r.event_id == "EvLost"]
    assert lost.correlation_id == summary.correlation_id and len(lost.correlation_id) == 8
    assert summary.delivered is False
    assert inbox_state(stack.db, "EvLost") == "failed"
    assert BOT_TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text


async def test_shutdown_lets_a_reply_in_flight_finish(stack: Stack) -> None:
    await settle(stack, "1712345999.000008")
    stack.fake.method_delay_s = 0.5  # Slack is slow to take the reply
    assert await stack.post_event(event_callback(mention_event(QUESTION, ts="1712345860.000100"),
                                                 event_id="EvDrain")) == 200
    await asyncio.sleep(0.1)
    assert await stack.service.shutdown(grace_s=5) == 0
    [reply] = replies_in(stack.fake, "1712345860.000100")
    assert reply.body["text"] == await stack.expected_answer(QUESTION)


async def test_shutdown_right_after_acknowledging_still_answers_every_event(stack: Stack) -> None:
    await settle(stack, "1712345999.000010")
    bodies = [event_callback(mention_event(QUESTION, ts=f"1712345880.{i:06d}"), event_id=f"EvLast{i}")
              for i in range(10)]
    assert await asyncio.gather(*(stack.post_event(body) for body in bodies)) == [200] * 10
    # No pause: the answers may still be waiting for their turn behind the acks.
    assert await stack.service.shutdown(grace_s=5) == 0
    for i in range(10):
        assert len(replies_in(stack.fake, f"1712345880.{i:06d}")) == 1


async def test_shutdown_cancels_replies_still_running_after_the_grace_period(stack: Stack) -> None:
    await settle(stack, "1712345999.000009")
    stack.fake.method_delay_s = 0.8
    assert await stack.post_event(event_callback(mention_event(QUESTION, ts="1712345870.000100"),
                                                 event_id="EvTooSlow")) == 200
    await asyncio.sleep(0.1)
    assert await stack.service.shutdown(grace_s=0.2) == 1  # the reply, still waiting on Slack, was cut off


@pytest.fixture
async def socket_stack(fake_slack: FakeSlack) -> AsyncIterator[Stack]:
    """The app in Socket Mode, connected to the fake Slack's WebSocket."""
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_url=fake_slack.api_url)
    async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
        running = await start_stack(fake_slack, settings, db, pipeline, http)
        try:
            await fake_slack.wait_connected()
            yield running
        finally:
            await running.service.shutdown(grace_s=5)


async def test_socket_mode_envelopes_are_acknowledged_and_answered(socket_stack: Stack) -> None:
    fake_slack = socket_stack.fake
    [opened] = fake_slack.calls_of("apps.connections.open")
    assert opened.token == APP_TOKEN
    body = event_callback(mention_event(QUESTION, ts="1712345850.000100"), event_id="EvSocket")
    await fake_slack.push_envelope(socket_envelope(body, envelope_id="env-1"))
    assert await fake_slack.wait_for_ack("env-1") == {"envelope_id": "env-1"}
    [reply] = await fake_slack.wait_for_calls("chat.postMessage")
    assert reply.body["thread_ts"] == "1712345850.000100"
    assert reply.body["text"] == await socket_stack.expected_answer(QUESTION)
    # Slack redelivers an envelope it thinks was lost: acknowledged again, not answered again.
    await fake_slack.push_envelope(socket_envelope(body, envelope_id="env-2", retry_attempt=1))
    await fake_slack.wait_for_ack("env-2")
    await asyncio.sleep(0.3)
    assert len(fake_slack.replies()) == 1


async def test_a_burst_of_socket_mode_envelopes_is_acknowledged_and_each_answered_once(socket_stack: Stack) -> None:
    fake_slack = socket_stack.fake
    for i in range(30):
        body = event_callback(mention_event(QUESTION if i % 2 else "help", ts=f"1712346500.{i:06d}"),
                              event_id=f"EvSocketBurst{i}")
        await fake_slack.push_envelope(socket_envelope(body, envelope_id=f"env-burst-{i}"))
    for i in range(30):
        await fake_slack.wait_for_ack(f"env-burst-{i}")
    await fake_slack.wait_for(lambda fake: all(replies_in(fake, f"1712346500.{i:06d}") for i in range(30)))
    await asyncio.sleep(0.2)
    assert all(len(replies_in(fake_slack, f"1712346500.{i:06d}")) == 1 for i in range(30))


async def test_a_socket_mode_envelope_is_acknowledged_without_waiting_for_bolt(socket_stack: Stack) -> None:
    fake_slack = socket_stack.fake
    slow_bolt(socket_stack.service.app, 0.5)
    body = event_callback(mention_event(QUESTION, ts="1712346600.000100"), event_id="EvSocketEarly")
    started = time.perf_counter()
    await fake_slack.push_envelope(socket_envelope(body, envelope_id="env-early"))
    await fake_slack.wait_for_ack("env-early")
    assert time.perf_counter() - started < 0.25
    [reply] = await fake_slack.wait_for_calls("chat.postMessage")
    assert reply.body["thread_ts"] == "1712346600.000100"
    assert time.perf_counter() - started >= 0.5


LLM_ANSWER = "Orbit **Pro** costs $99 per seat per month, with 20% off when billed annually. " * 8


def slow_llm_answer(body: dict) -> Reply:
    """Intent validations answered at once; the written answer starts after 0.6 s, then streams word by word."""
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return sensible_reply(body)  # type: ignore[return-value]
    return Reply(LLM_ANSWER, delay_s=0.6, chunk_delay_s=0.001)


def streamed_text(fake: FakeSlack) -> str:
    return "".join(chunk["text"] for method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
                   for call in fake.calls_of(method) for chunk in call.body.get("chunks", [])
                   if chunk.get("type") == "markdown_text")


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "whole"])
async def test_a_slow_llm_answer_shows_a_status_then_arrives_in_the_thread(fake_slack: FakeSlack,
                                                                             streaming: bool) -> None:
    async with FakeOpenAI(responder=slow_llm_answer) as llm:
        settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                 slack_api_url=fake_slack.api_url, streaming=streaming, **llm.settings_overrides())
        async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
            running = await start_stack(fake_slack, settings, db, pipeline, http)
            try:
                await settle(running, "1712345999.000010")  # warm: auth.test done, so timing is the reply's own
                assert await running.post_event(event_callback(mention_event(QUESTION, ts="1712345880.000100"),
                                                               event_id="EvSlowLlm")) == 200
                [status] = await fake_slack.wait_for_calls("assistant.threads.setStatus", timeout=5)
                assert status.body["channel_id"] == "C0SALES" and status.body["thread_ts"] == "1712345880.000100"
                if streaming:
                    [stop] = await fake_slack.wait_for_calls("chat.stopStream", timeout=10)
                    [start] = fake_slack.calls_of("chat.startStream")
                    assert start.body["thread_ts"] == "1712345880.000100"
                    assert start.body["recipient_user_id"] == "U0ALICE"
                    assert streamed_text(fake_slack).strip() == LLM_ANSWER.strip()
                    assert status.at < start.at  # the status showed while the LLM was still writing
                    await asyncio.sleep(0.1)
                    assert replies_in(fake_slack, "1712345880.000100") == []
                else:
                    await fake_slack.wait_for(lambda fake: replies_in(fake, "1712345880.000100"), timeout=10)
                    [reply] = replies_in(fake_slack, "1712345880.000100")
                    assert "*Pro*" in reply.body["text"] and "**Pro**" not in reply.body["text"]
                    assert status.at < reply.at
                    assert fake_slack.calls_of("chat.startStream") == []
            finally:
                await running.service.shutdown(grace_s=5)


async def test_socket_mode_answers_health_checks_on_its_http_port(socket_stack: Stack) -> None:
    """A container's health check asks /healthz over HTTP whichever way events arrive."""
    service = socket_stack.service
    assert service.mode == "socket" and service.port
    async with socket_stack.http.get(f"http://127.0.0.1:{service.port}/healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
    async with socket_stack.http.post(f"http://127.0.0.1:{service.port}/slack/events", data=b"{}") as response:
        assert response.status in (404, 405)  # events come over the socket only
