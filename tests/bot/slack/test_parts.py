"""The Slack building blocks on their own: mention stripping, progress and streaming against the fake API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

import bot
from bot.pipeline import Deliver, IncomingMessage, Reply
from bot.slack.capabilities import WorkspaceFeatures
from bot.slack.delivery import ReplyDelivery, reply_metadata
from bot.slack.format import (
    MAX_MESSAGE_CHARS,
    TRUNCATION_NOTE,
    fit_message,
    strip_bot_mention,
)
from bot.slack.inbox import EventInbox
from bot.slack.inflight import InflightTasks
from bot.slack.progress import PLACEHOLDER_TEXT, PROGRESS_DELAY_S, Progress
from bot.slack.responder import ReplyPipeline, Responder, SlackTurn
from bot.slack.streaming import SlackStreamSink, can_stream
from knowledge.db import Database
from tests.support.fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack

# ----- the app manifest


def test_the_manifest_asks_for_what_pitcrew_uses() -> None:
    manifest = json.loads((Path(bot.__file__).parent / "manifest.json").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {"app_mentions:read", "chat:write", "im:history",
                                                               "im:read", "im:write", "assistant:write"}
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.im", "assistant_thread_started", "assistant_thread_context_changed"}
    assert manifest["features"]["assistant_view"]["assistant_description"]  # the panel, with suggested prompts
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # feedback clicks and the reason modal
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # people can DM it


# ----- formatting


@pytest.mark.parametrize(("text", "expected"), [
    (f"<@{BOT_USER_ID}> how much is Orbit Pro?", "how much is Orbit Pro?"),
    (f"<@{BOT_USER_ID}|pitcrew>   price   of Orbit", "price of Orbit"),
    (f"hey <@{BOT_USER_ID}> what did <@U0BOB> say?", "hey what did <@U0BOB> say?"),
    (f"<@{BOT_USER_ID}>", ""),
    (f"<@{BOT_USER_ID}> line one\n  line two ", "line one\nline two"),
])
def test_the_bot_mention_is_stripped_and_other_mentions_kept(text: str, expected: str) -> None:
    assert strip_bot_mention(text, BOT_USER_ID) == expected


def test_without_a_known_bot_id_only_the_leading_mention_goes() -> None:
    assert strip_bot_mention("<@U0XYZ> ping <@U0BOB>", None) == "ping <@U0BOB>"


def test_long_messages_are_cut_to_fit_with_a_note() -> None:
    text = "\n".join(f"line {i} " + "x" * 80 for i in range(1000))
    fitted = fit_message(text)
    assert len(fitted) <= MAX_MESSAGE_CHARS
    assert fitted.endswith(TRUNCATION_NOTE)
    assert text.startswith(fitted[: -len(TRUNCATION_NOTE)])
    assert fit_message("short") == "short"


# ----- progress and streaming against the fake Slack Web API


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    web_client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    yield web_client


async def test_a_fast_answer_shows_no_indicator(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    progress = Progress(client, "C1", "1.0", WorkspaceFeatures(), delay_s=1.0)
    progress.start()
    await asyncio.sleep(0.05)
    await progress.settle()
    await asyncio.sleep(0.1)
    assert fake_slack.calls == []
    assert not progress.status_shown and progress.placeholder_ts is None


async def test_a_slow_answer_sets_the_thread_status_after_the_delay(fake_slack: FakeSlack,
                                                                    client: AsyncWebClient) -> None:
    progress = Progress(client, "C1", "1712.000100", WorkspaceFeatures(), delay_s=0.2)
    started = time.perf_counter()
    progress.start()
    [call] = await fake_slack.wait_for_calls("assistant.threads.setStatus", timeout=5)
    assert call.at - started >= 0.2  # not before the delay: fast answers never pay for a status
    assert call.body["channel_id"] == "C1" and call.body["thread_ts"] == "1712.000100"
    assert call.body["status"]
    await progress.settle()
    assert progress.status_shown and progress.placeholder_ts is None


async def test_a_refused_status_falls_back_to_a_placeholder_and_is_not_tried_again(
        fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    features = WorkspaceFeatures()
    fake_slack.fail_next("assistant.threads.setStatus", error="missing_scope")
    first = Progress(client, "C1", "1.0", features, delay_s=0.0)
    first.start()
    await fake_slack.wait_for_calls("chat.postMessage", timeout=2)
    await first.settle()
    assert first.placeholder_ts is not None and not first.status_shown
    assert fake_slack.replies()[0].body["text"] == PLACEHOLDER_TEXT
    assert fake_slack.replies()[0].body["thread_ts"] == "1.0"
    assert features.thread_status is False

    second = Progress(client, "C1", "2.0", features, delay_s=0.0)
    second.start()
    await fake_slack.wait_for_calls("chat.postMessage", count=2, timeout=2)
    await second.settle()
    assert len(fake_slack.calls_of("assistant.threads.setStatus")) == 1


async def test_settle_waits_for_a_placeholder_being_posted(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.method_delay_s = 0.15
    progress = Progress(client, "C1", "1.0", WorkspaceFeatures(thread_status=False), delay_s=0.0)
    progress.start()
    await asyncio.sleep(0.05)  # the placeholder call is under way
    await progress.settle()
    assert progress.placeholder_ts is not None  # the answer can replace it instead of leaving it behind


def test_the_progress_delay_leaves_room_to_show_progress_within_500_ms() -> None:
    # One Slack round trip is ~100 ms; the indicator must be on screen within 500 ms of the message.
    assert 0.1 <= PROGRESS_DELAY_S <= 0.3


def test_streaming_needs_the_recipient_outside_dms() -> None:
    features = WorkspaceFeatures()
    assert can_stream(features, enabled=True, channel_type="im", user=None, team=None)
    assert can_stream(features, enabled=True, channel_type="channel", user="U1", team="T1")
    assert not can_stream(features, enabled=True, channel_type="channel", user="U1", team=None)
    assert not can_stream(features, enabled=False, channel_type="im", user="U1", team="T1")
    assert not can_stream(WorkspaceFeatures(streaming=False), enabled=True, channel_type="im", user="U1", team="T1")


def _streamed_text(fake: FakeSlack) -> str:
    parts = []
    for method in ("chat.startStream", "chat.appendStream", "chat.stopStream"):
        for call in fake.calls_of(method):
            parts.extend(chunk["text"] for chunk in call.body.get("chunks", []) if chunk.get("type") == "markdown_text")
    return "".join(parts)


async def test_an_answer_streams_into_the_thread(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    features = WorkspaceFeatures()
    progress = Progress(client, "C1", "1712.5", features, delay_s=10)
    sink = SlackStreamSink(client, channel="C1", thread_ts="1712.5", progress=progress, features=features,
                           user="U0ALICE", team=TEAM_ID, channel_type="channel")
    progress.start()
    pieces = [f"**Part {i}.** " + "word " * 30 for i in range(6)]
    for piece in pieces:
        await sink.append(piece)
    assert await sink.finish("".join(pieces)) is True
    [start] = fake_slack.calls_of("chat.startStream")
    assert start.body["channel"] == "C1" and start.body["thread_ts"] == "1712.5"
    assert start.body["recipient_user_id"] == "U0ALICE" and start.body["recipient_team_id"] == TEAM_ID
    assert fake_slack.calls_of("chat.appendStream"), "a long answer is sent in several steps"
    assert len(fake_slack.calls_of("chat.stopStream")) == 1
    assert _streamed_text(fake_slack) == "".join(pieces)
    assert fake_slack.replies() == []


async def test_in_a_dm_the_stream_names_no_recipient(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    features = WorkspaceFeatures()
    progress = Progress(client, "D1", "5.0", features, delay_s=10)
    sink = SlackStreamSink(client, channel="D1", thread_ts="5.0", progress=progress, features=features,
                           user="U0ALICE", team=TEAM_ID, channel_type="im")
    await sink.append("short answer")
    assert await sink.finish("short answer") is True
    [start] = fake_slack.calls_of("chat.startStream")
    assert "recipient_user_id" not in start.body and "recipient_team_id" not in start.body
    assert _streamed_text(fake_slack) == "short answer"


async def test_a_refused_stream_leaves_the_answer_to_be_posted(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    features = WorkspaceFeatures()
    fake_slack.fail_next("chat.startStream", error="not_allowed")
    progress = Progress(client, "C1", "1.0", features, delay_s=10)
    sink = SlackStreamSink(client, channel="C1", thread_ts="1.0", progress=progress, features=features,
                           user="U1", team=TEAM_ID, channel_type="channel")
    await sink.append("x" * 300)  # past the buffer: startStream is called and refused
    await sink.append("more")
    assert await sink.finish("x" * 300 + "more") is False
    assert features.streaming is False
    assert fake_slack.calls_of("chat.appendStream") == [] and fake_slack.calls_of("chat.stopStream") == []


async def test_a_stream_broken_midway_is_replaced_by_the_whole_answer(fake_slack: FakeSlack,
                                                                        client: AsyncWebClient) -> None:
    features = WorkspaceFeatures()
    fake_slack.fail_next("chat.appendStream", error="message_not_in_streaming_state", times=5)
    fake_slack.fail_next("chat.stopStream", error="message_not_in_streaming_state", times=5)
    progress = Progress(client, "C1", "1.0", features, delay_s=10)
    sink = SlackStreamSink(client, channel="C1", thread_ts="1.0", progress=progress, features=features,
                           user="U1", team=TEAM_ID, channel_type="channel")
    await sink.append("a" * 300)
    await sink.append("b" * 300)
    assert await sink.finish("the whole answer") is True
    [update] = fake_slack.calls_of("chat.update")
    assert update.body["ts"] == sink.stream_ts and update.body["text"] == "the whole answer"
    assert features.streaming is True  # a stream that started works in this workspace


async def test_a_streamed_reply_carries_its_metadata_and_a_broken_one_is_repaired_through_a_5xx(
        fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    features = WorkspaceFeatures()
    progress = Progress(client, "C1", "1.0", features, delay_s=10)
    sink = SlackStreamSink(client, channel="C1", thread_ts="1.0", progress=progress, features=features,
                           user="U1", team=TEAM_ID, channel_type="channel")
    await sink.append("a" * 300)
    delivery = ReplyDelivery(client, channel="C1", thread_ts="1.0", correlation_id="feed0001", deadline_s=5)
    assert await sink.finish("a" * 300, delivery=delivery) is True
    [message] = fake_slack.thread_messages("1.0")
    assert message["metadata"] == reply_metadata("feed0001")

    broken = SlackStreamSink(client, channel="C1", thread_ts="2.0", progress=progress, features=features,
                             user="U1", team=TEAM_ID, channel_type="channel")
    fake_slack.fail_next("chat.stopStream", error="message_not_in_streaming_state")
    fake_slack.fail_next("chat.update", status=500)  # the repair's first try
    await broken.append("b" * 300)
    delivery = ReplyDelivery(client, channel="C1", thread_ts="2.0", correlation_id="feed0002", deadline_s=5)
    assert await broken.finish("the whole answer", delivery=delivery) is True
    assert len(fake_slack.calls_of("chat.update")) == 2
    [repaired] = fake_slack.thread_messages("2.0")
    assert repaired["text"] == "the whole answer" and repaired["metadata"] == reply_metadata("feed0002")


async def test_a_placeholder_is_removed_once_the_stream_is_visible(fake_slack: FakeSlack,
                                                                    client: AsyncWebClient) -> None:
    features = WorkspaceFeatures(thread_status=False)
    progress = Progress(client, "C1", "1.0", features, delay_s=0.0)
    progress.start()
    await fake_slack.wait_for_calls("chat.postMessage", timeout=2)
    sink = SlackStreamSink(client, channel="C1", thread_ts="1.0", progress=progress, features=features,
                           user="U1", team=TEAM_ID, channel_type="channel")
    await sink.append("y" * 300)
    [delete] = await fake_slack.wait_for_calls("chat.delete", timeout=2)
    assert delete.body["ts"] == progress.placeholder_ts
    assert await sink.finish("y" * 300) is True
    assert len(fake_slack.calls_of("chat.delete")) == 1


# ----- the responder when the pipeline breaks around delivery


class _BreaksAfterDelivering:
    """A pipeline that delivers its answer and then fails (the bookkeeping after the reply breaks)."""

    async def handle(self, message: IncomingMessage, sink: object = None, deliver: Deliver | None = None) -> Reply:
        reply = Reply(mrkdwn="The answer.", plain="The answer.", intent="help", confidence=1.0, handler="help",
                      llm_validation="skipped", correlation_id="0000abcd")
        assert deliver is not None
        await deliver(reply)
        raise RuntimeError("broke after the reply went out")


class _BreaksBeforeAnswering:
    async def handle(self, message: IncomingMessage, sink: object = None, deliver: Deliver | None = None) -> Reply:
        raise RuntimeError("broke before any reply")


@pytest.mark.parametrize(("pipeline", "expected"), [
    (_BreaksAfterDelivering(), "The answer."),  # not followed by an apology: the user has the answer
    (_BreaksBeforeAnswering(), "Sorry, something went wrong"),  # the user still hears back
])
async def test_a_broken_pipeline_gets_exactly_one_reply(fake_slack: FakeSlack, client: AsyncWebClient,
                                                        database: Database, pipeline: ReplyPipeline,
                                                        expected: str) -> None:
    inbox = EventInbox(database, recovery_s=600, retention_s=3600)
    assert await inbox.claim("EvBroken", "{}")
    responder = Responder(pipeline, inbox, InflightTasks(), streaming=False)
    turn = SlackTurn(channel="C1", thread_ts="1712.000200", text="help", event_id="EvBroken", message_ts="1712.000200")
    await responder.respond(turn, client)
    await inbox.close()
    [reply] = [call for call in fake_slack.calls if call.method == "chat.postMessage"]
    assert reply.body["thread_ts"] == "1712.000200" and reply.body["text"].startswith(expected)


# ----- work in flight


async def test_work_started_through_inflight_counts_before_its_first_step_and_is_drained() -> None:
    inflight = InflightTasks()
    finished: list[str] = []

    async def dispatch() -> None:
        await asyncio.sleep(0.05)
        finished.append("dispatched")

    inflight.start(dispatch(), name="dispatch")
    assert len(inflight) == 1  # counted at once, not when it first runs
    assert await inflight.drain(grace_s=1) == 0
    assert finished == ["dispatched"] and len(inflight) == 0


async def test_a_drain_cancels_started_work_that_outlives_the_grace_period() -> None:
    inflight = InflightTasks()
    task = inflight.start(asyncio.sleep(5), name="stuck")
    assert await inflight.drain(grace_s=0.05) == 1
    assert task.cancelled() and len(inflight) == 0


# ----- a placeholder whose post seemed to fail


class _SlowAnswer:
    """A pipeline that takes `seconds` to answer, so the progress placeholder goes out first."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def handle(self, message: IncomingMessage, sink: object = None, deliver: Deliver | None = None) -> Reply:
        await asyncio.sleep(self.seconds)
        reply = Reply(mrkdwn="The answer.", plain="The answer.", intent="help", confidence=1.0, handler="help",
                      llm_validation="skipped", correlation_id="0000beef")
        assert deliver is not None
        assert await deliver(reply) is True
        return reply


async def test_a_placeholder_posted_behind_a_timeout_is_found_and_replaced_not_left_beside_the_answer(
        fake_slack: FakeSlack, database: Database) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, timeout=1)
    fake_slack.slow_next("chat.postMessage", delay_s=1.5)  # the placeholder lands; its answer comes too late
    inbox = EventInbox(database, recovery_s=600, retention_s=3600)
    assert await inbox.claim("EvSlowPlaceholder", "{}")
    responder = Responder(_SlowAnswer(1.2), inbox, InflightTasks(), streaming=False,
                          features=WorkspaceFeatures(thread_status=False), progress_delay_s=0.0)
    turn = SlackTurn(channel="C1", thread_ts="1712.000300", text="help", event_id="EvSlowPlaceholder",
                     message_ts="1712.000300")
    await responder.respond(turn, client)
    await inbox.close()
    [visible] = fake_slack.thread_messages("1712.000300")
    assert visible["text"] == "The answer." and visible["metadata"] == reply_metadata("0000beef", "EvSlowPlaceholder")
    assert len(fake_slack.calls_of("chat.postMessage")) == 1  # only the placeholder's: the answer replaced it
    assert len(fake_slack.calls_of("chat.update")) == 1


# ----- an event resumed after a crash


@pytest.mark.parametrize("already_answered", [True, False])
async def test_a_resumed_event_whose_reply_reached_slack_before_the_crash_is_not_answered_again(
        fake_slack: FakeSlack, client: AsyncWebClient, database: Database, already_answered: bool) -> None:
    thread = "1712.000400"
    if already_answered:  # the reply the crashed instance posted, carrying the event it answered
        await client.chat_postMessage(channel="C1", thread_ts=thread, text="The answer.",
                                      metadata=reply_metadata("0000dead", "EvResumed"))
    await client.chat_postMessage(channel="C1", thread_ts=thread, text="Another event's reply.",
                                  metadata=reply_metadata("0000beef", "EvOther"))
    posts_before = len(fake_slack.calls_of("chat.postMessage"))
    inbox = EventInbox(database, recovery_s=600, retention_s=3600)
    assert await inbox.claim("EvResumed", "{}")
    inbox.resumed["EvResumed"] = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=30)
    responder = Responder(_SlowAnswer(0.0), inbox, InflightTasks(), streaming=False,
                          features=WorkspaceFeatures(thread_status=False), progress_delay_s=60.0)
    turn = SlackTurn(channel="C1", thread_ts=thread, text="help", event_id="EvResumed", message_ts=thread)
    await responder.respond(turn, client)
    await inbox.close()
    posted = len(fake_slack.calls_of("chat.postMessage")) - posts_before
    assert posted == (0 if already_answered else 1)
    assert inbox.store.unanswered() == 0  # answered either way
