"""Message text and reply bodies stay out of the log files, even at DEBUG, unless LOG_MESSAGE_TEXT=on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.settings import Settings
from tests.support.fake_openai import FakeOpenAI, fast_llm_settings
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, event_callback, mention_event
from tests.support.http_stack import RunningServer, running_server
from tests.support.slack_stack import SIGNING_SECRET

MARKER = "zebracornish"  # a word nobody else logs


async def converse(server: RunningServer) -> list[str]:
    """Two questions with the marker (one answered from the call search, one by the LLM); the replies."""
    replies = []
    for index, text in enumerate([f"find calls about {MARKER}", f"write a haiku about {MARKER} for me"]):
        ts = f"17123500{index:02d}.000100"
        body = json.dumps(event_callback(mention_event(text, ts=ts), event_id=f"EvPrivacy{index}")).encode()
        assert await server.post_signed(body) == 200
        await server.fake.wait_for(lambda fake, ts=ts: any(c.body.get("thread_ts") == ts or
                                                           c.method == "chat.stopStream" for c in fake.calls),
                                   timeout=10)
    # A channel message (mentions arrive as app_mention): ignored, with a DEBUG record of pitcrew's own.
    ignored = {"type": "message", "channel": "C0SALES", "channel_type": "channel", "user": "U0ALICE",
               "text": f"not for the bot: {MARKER}", "ts": "1712350099.000100"}
    assert await server.post_signed(json.dumps(event_callback(ignored, event_id="EvPrivacyIgnored")).encode()) == 200
    for call in server.fake.calls:
        for key in ("text", "markdown_text"):
            if isinstance(call.body.get(key), str) and call.body[key].strip():
                replies.append(call.body[key])
    await server.service.shutdown(grace_s=5)  # every answer finished and logged
    return replies


def debug_settings(fake_slack: FakeSlack, llm: FakeOpenAI, **overrides: str) -> Settings:
    return fast_llm_settings(llm, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake_slack.api_url, log_level="DEBUG", **overrides)


@pytest.fixture
async def default_server(fake_slack: FakeSlack, fake_openai: FakeOpenAI) -> AsyncIterator[RunningServer]:
    async with running_server(fake_slack, debug_settings(fake_slack, fake_openai)) as running:
        yield running


async def test_at_debug_no_message_or_reply_text_reaches_the_logs(default_server: RunningServer,
                                                                   fake_openai: FakeOpenAI) -> None:
    replies = await converse(default_server)
    assert any(MARKER in reply for reply in replies)  # the replies did quote the user's word
    assert any(MARKER in json.dumps(request) for request in fake_openai.requests)  # and so did the prompt
    logs = default_server.log_text()
    # pitcrew's own DEBUG records were written: the absence below is not LOG_LEVEL's doing.
    assert '"message": "slack event ignored"' in logs
    assert MARKER not in logs
    for reply in replies:
        for line in reply.splitlines():
            if len(line) > 20:
                assert line not in logs


async def test_with_log_message_text_on_the_words_do_reach_the_logs(fake_slack: FakeSlack,
                                                                     fake_openai: FakeOpenAI) -> None:
    settings = debug_settings(fake_slack, fake_openai, log_message_text="on")
    assert settings.log_message_text is True
    async with running_server(fake_slack, settings) as server:
        await converse(server)
        assert MARKER in server.log_text()


def test_database_errors_do_not_quote_their_parameters(database) -> None:  # noqa: ANN001  (fixture)
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    with pytest.raises(SQLAlchemyError) as failure, database.engine.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE topic = :word"), {"word": MARKER})
    assert "no_such_table" in str(failure.value)  # the error still says what went wrong...
    assert MARKER not in str(failure.value)  # ...but not what the user searched for
