"""The assistant panel and feedback buttons end to end, over HTTP and Socket Mode: the real Bolt app and pipeline,
a fake Slack and a fake LLM on 127.0.0.1, clicks stored in the real database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import aiohttp
import pytest

from bot.settings import load_settings
from knowledge.quality import FEEDBACK, read_signals
from tests.support.fake_openai import FakeOpenAI, Reply, sensible_reply
from tests.support.fake_slack import (
    APP_TOKEN,
    BOT_TOKEN,
    FakeSlack,
    assistant_thread_started_event,
    block_actions_payload,
    dm_event,
    event_callback,
    feedback_buttons_of,
    interactive_envelope,
    mention_event,
    socket_envelope,
    view_submission_payload,
)
from tests.support.slack_service import QUESTION, Stack, start_stack
from tests.support.slack_stack import SIGNING_SECRET, open_pipeline

THREAD = "1712346000.000100"
LLM_ANSWER = "Orbit **Pro** costs $99 per seat per month, with 20% off when billed annually."


def slow_llm_answer(body: dict) -> Reply:
    """Validations at once; the written answer after 0.4 s (so the status shows), streamed."""
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return sensible_reply(body)  # type: ignore[return-value]
    return Reply(LLM_ANSWER, delay_s=0.4, chunk_delay_s=0.001)


@pytest.fixture(params=["http", "socket"])
async def panel(request: pytest.FixtureRequest, fake_slack: FakeSlack) -> AsyncIterator[Stack]:
    async with FakeOpenAI(responder=slow_llm_answer) as llm:
        tokens = {"slack_app_token": APP_TOKEN} if request.param == "socket" else {}
        settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                 slack_api_url=fake_slack.api_url, **tokens, **llm.settings_overrides())
        async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
            running = await start_stack(fake_slack, settings, db, pipeline, http)
            try:
                if request.param == "socket":
                    await fake_slack.wait_connected()
                yield running
            finally:
                await running.service.shutdown(grace_s=5)


async def send_event(stack: Stack, event: dict, event_id: str) -> None:
    body = event_callback(event, event_id=event_id)
    if stack.service.mode == "socket":
        await stack.fake.push_envelope(socket_envelope(body, envelope_id=f"env-{event_id}"))
        await stack.fake.wait_for_ack(f"env-{event_id}")
    else:
        assert await stack.post_event(body) == 200


async def send_interaction(stack: Stack, payload: dict, name: str) -> None:
    if stack.service.mode == "socket":
        await stack.fake.push_envelope(interactive_envelope(payload, envelope_id=f"env-{name}"))
        ack = await stack.fake.wait_for_ack(f"env-{name}")
        assert ack["envelope_id"] == f"env-{name}"
    else:
        status, _ = await stack.post_interaction(payload)
        assert status == 200


def feedback_rows(stack: Stack) -> list:
    now = datetime.now()
    return [s for s in read_signals(stack.db, now - timedelta(days=2), now + timedelta(days=2)) if s.kind == FEEDBACK]


async def test_the_panel_greets_answers_with_buttons_and_stores_clicks(panel: Stack) -> None:
    fake = panel.fake
    await send_event(panel, assistant_thread_started_event(thread_ts=THREAD), "EvStarted")
    [prompts] = await fake.wait_for_calls("assistant.threads.setSuggestedPrompts")
    [greeting] = fake.calls_of("chat.postMessage")
    assert greeting.body["thread_ts"] == THREAD and "ask me anything" in greeting.body["text"].lower()
    assert prompts.body["channel_id"] == "D0ALICE" and prompts.body["thread_ts"] == THREAD
    suggested = " | ".join(p["message"] for p in prompts.body["prompts"])
    # Drawn from the demo knowledge base: a real plan, a real account's last call, a real contact.
    assert 3 <= len(prompts.body["prompts"]) <= 4
    assert "Orbit" in suggested and "Globex" in suggested and "Priya Raman" in suggested

    await send_event(panel, dm_event(QUESTION, ts="1712346001.000200", thread_ts=THREAD), "EvAsk")
    [stop] = await fake.wait_for_calls("chat.stopStream", timeout=10)
    [title] = await fake.wait_for_calls("assistant.threads.setTitle")
    statuses = fake.calls_of("assistant.threads.setStatus")
    assert statuses and statuses[0].body["thread_ts"] == THREAD
    loading = [m for call in statuses for m in call.body.get("loading_messages") or []]
    assert "Looking up Orbit plans…" in loading  # the stage, once the control plane knew it
    assert title.body == {"channel_id": "D0ALICE", "thread_ts": THREAD, "title": QUESTION} | {
        k: v for k, v in title.body.items() if k not in ("channel_id", "thread_ts", "title")}
    [answer] = [m for m in fake.thread_messages(THREAD) if m.get("blocks")]
    assert "$99" in answer["text"] and feedback_buttons_of(answer) is not None
    assert statuses[0].at < stop.at

    await send_interaction(panel, block_actions_payload(answer, positive=True), "good")
    [thanks] = await fake.wait_for_calls("chat.postEphemeral")
    assert thanks.body["user"] == "U0ALICE" and thanks.body["channel"] == "D0ALICE"
    assert thanks.body["thread_ts"] == THREAD
    [good] = feedback_rows(panel)
    assert (good.user_id, good.positive, good.answer.intent, good.answer.handler, good.answer.llm) == (
        "U0ALICE", True, "product_question", "product_question", "used")
    assert good.answer.correlation_id == answer["metadata"]["event_payload"]["correlation_id"]

    # The same rep changes their mind: one row, now 👎, and the optional reason modal is offered.
    await send_interaction(panel, block_actions_payload(answer, positive=False), "bad")
    [modal] = await fake.wait_for_calls("views.open")
    await fake.wait_for_calls("chat.postEphemeral", 2)
    [bad] = feedback_rows(panel)
    assert bad.positive is False and bad.answer.correlation_id == good.answer.correlation_id
    view = modal.body["view"] if isinstance(modal.body["view"], dict) else json.loads(modal.body["view"])
    await send_interaction(panel, view_submission_payload(view, {"reason": {"reason_input": {
        "type": "plain_text_input", "value": "It quoted the monthly price, I asked yearly"}}}), "why")
    for _ in range(50):
        if feedback_rows(panel)[0].reason:
            break
        await asyncio.sleep(0.02)
    assert feedback_rows(panel)[0].reason == "It quoted the monthly price, I asked yearly"

    # Another rep's click is theirs: a second row.
    await send_interaction(panel, block_actions_payload(answer, positive=True, user="U0BOB"), "bob")
    await fake.wait_for_calls("chat.postEphemeral", 3)
    assert sorted((s.user_id, s.positive) for s in feedback_rows(panel)) == [("U0ALICE", False), ("U0BOB", True)]


@pytest.mark.parametrize("buttons", [True, False], ids=["buttons", "no-buttons"])
async def test_a_posted_answer_carries_the_buttons_unless_turned_off(fake_slack: FakeSlack, buttons: bool) -> None:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake_slack.api_url, slack_feedback_buttons=buttons)
    async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
        running = await start_stack(fake_slack, settings, db, pipeline, http)
        try:
            await send_event(running, mention_event(QUESTION, ts="1712346100.000100"), "EvMentionButtons")
            [reply] = await fake_slack.wait_for_calls("chat.postMessage")
            assert reply.body["text"] == await running.expected_answer(QUESTION)
            [message] = fake_slack.thread_messages("1712346100.000100")
            if not buttons:
                assert "blocks" not in message
                return
            sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
            assert "\n".join(sections) == reply.body["text"]  # the blocks show the whole answer
            element = feedback_buttons_of(message)
            assert element is not None and element["action_id"] == "pitcrew_feedback"
            assert message["metadata"]["event_payload"]["correlation_id"] in element["positive_button"]["value"]
        finally:
            await running.service.shutdown(grace_s=5)
