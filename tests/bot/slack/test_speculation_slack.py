"""End to end through Slack: a speculative answer the validation disagreed with never reaches Slack."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.settings import load_settings
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, event_callback, mention_event
from tests.support.pipeline import SPECULATIVE_TEXT, validating_as
from tests.support.slack_service import replies_in, start_stack
from tests.support.slack_stack import SIGNING_SECRET, open_pipeline


async def test_a_discarded_speculative_answer_is_neither_posted_nor_streamed(fake_slack: FakeSlack) -> None:
    # The speculative answer is whole before the validation (call search) comes back and disagrees.
    responder = validating_as("call_search", validation_delay_s=0.5, answer_delay_s=0.0)
    async with FakeOpenAI(responder=responder) as llm:
        settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                 slack_api_url=fake_slack.api_url, streaming=True, **llm.settings_overrides())
        async with open_pipeline(settings) as (db, pipeline), aiohttp.ClientSession() as http:
            running = await start_stack(fake_slack, settings, db, pipeline, http)
            try:
                thread = "1712345880.000200"
                assert await running.post_event(event_callback(mention_event("what if they cancel", ts=thread),
                                                               event_id="EvSpeculation")) == 200
                await fake_slack.wait_for(lambda fake: replies_in(fake, thread) or fake.calls_of("chat.stopStream"),
                                          timeout=10)
                await asyncio.sleep(0.1)
            finally:
                await running.service.shutdown(grace_s=5)
    sent = [call.body for call in fake_slack.calls]
    assert sent and SPECULATIVE_TEXT.split()[0] not in repr(sent)
    # The validation and the speculative answer, which came back whole before it was discarded
    assert len(llm.requests) == 2 and llm.completed == 2
