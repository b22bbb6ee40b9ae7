"""Answering one Slack message: the inbox state, progress, the pipeline, then the reply in the thread."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.observability import new_correlation_id
from bot.pipeline import Deliver, IncomingMessage, Reply, StreamSink, failure_reply
from bot.pipeline.clean_text import clean_text
from bot.slack.capabilities import WorkspaceFeatures
from bot.slack.delivery import (
    ATTEMPT_TIMEOUT_S,
    DEFAULT_DEADLINE_S,
    Failure,
    ReplyDelivery,
)
from bot.slack.feedback import answer_blocks, feedback_block
from bot.slack.format import fit_message, strip_bot_mention
from bot.slack.inbox import EventInbox
from bot.slack.inbox_store import ANSWERED, FAILED
from bot.slack.inflight import InflightTasks
from bot.slack.progress import PROGRESS_DELAY_S, Progress
from bot.slack.streaming import SlackStreamSink, can_stream

log = logging.getLogger(__name__)


class ReplyPipeline(Protocol):
    async def handle(self, message: IncomingMessage, sink: StreamSink | None = None,
                     deliver: Deliver | None = None) -> Reply: ...


@dataclass(frozen=True)
class SlackTurn:
    """A user's message to pitcrew, reduced to what answering it needs."""

    channel: str
    thread_ts: str  # the thread to answer in: the message's thread, or the message itself
    text: str  # bot mention removed
    user: str | None = None
    team: str | None = None
    channel_type: str | None = None
    event_id: str | None = None
    retry_num: str | None = None  # X-Slack-Retry-Num of this delivery, for the logs
    message_ts: str | None = None  # the message's own ts

    @property
    def starts_thread(self) -> bool:
        """The message is not in a thread yet: pitcrew's reply opens one, so nothing came before it."""
        return self.thread_ts == self.message_ts

    @property
    def thread_key(self) -> str:
        return f"slack:{self.channel}:{self.thread_ts}"

    @classmethod
    def from_event(cls, body: dict[str, Any], event: dict[str, Any], *, bot_user_id: str | None,
                   retry_num: str | None = None) -> SlackTurn:
        return cls(
            channel=event["channel"],
            thread_ts=event.get("thread_ts") or event["ts"],
            text=strip_bot_mention(clean_text(event.get("text") or ""), bot_user_id),
            user=event.get("user"),
            team=event.get("team") or body.get("team_id"),
            channel_type=event.get("channel_type"),
            event_id=body.get("event_id"),
            retry_num=retry_num,
            message_ts=event.get("ts"),
        )


class Responder:
    def __init__(self, pipeline: ReplyPipeline, inbox: EventInbox, inflight: InflightTasks, *,
                 streaming: bool, features: WorkspaceFeatures | None = None,
                 progress_delay_s: float = PROGRESS_DELAY_S, delivery_deadline_s: float = DEFAULT_DEADLINE_S,
                 attempt_timeout_s: float = ATTEMPT_TIMEOUT_S, feedback_buttons: bool = False) -> None:
        self._pipeline = pipeline
        self.inbox = inbox
        self._inflight = inflight
        self._streaming = streaming
        self.features = features or WorkspaceFeatures()
        self._progress_delay_s = progress_delay_s
        self._delivery_deadline_s = delivery_deadline_s
        self._attempt_timeout_s = attempt_timeout_s
        self.feedback_buttons = feedback_buttons  # 👍/👎 under every answer (not under an apology)

    async def respond(self, turn: SlackTurn, client: AsyncWebClient) -> None:
        """Answer `turn` in its thread (the intake claimed its event in the inbox), then record it answered."""
        async with self._inflight.track():
            if turn.event_id is not None and not await self.inbox.start(turn.event_id):
                log.info("event taken over by another instance; not answering it here",
                         extra={"event_id": turn.event_id, "channel": turn.channel})
                return
            if turn.event_id is not None and await self._answered_before_a_crash(turn, client):
                await self.inbox.finish(turn.event_id, ANSWERED)
                return
            delivered = await self._answer(turn, client)
            if turn.event_id is not None and not delivered:
                await self.inbox.finish(turn.event_id, FAILED)

    async def _answered_before_a_crash(self, turn: SlackTurn, client: AsyncWebClient) -> bool:
        """Whether an event resumed after a crash already has its reply in the thread (posted in the last
        moments before the crash, before the inbox could record it): then it is not answered again."""
        received_at = self.inbox.resumed.pop(turn.event_id or "", None)
        if received_at is None:
            return False
        delivery = ReplyDelivery(client, channel=turn.channel, thread_ts=turn.thread_ts, correlation_id="",
                                 deadline_s=self._delivery_deadline_s, attempt_timeout_s=self._attempt_timeout_s,
                                 event_id=turn.event_id)
        since = received_at.replace(tzinfo=UTC).timestamp() - 1.0
        if await delivery.find_reply_to_event(since) is None:
            return False
        log.info("a resumed event was answered before the crash; not answering it again",
                 extra={"event_id": turn.event_id, "channel": turn.channel})
        return True

    async def skip(self, event_id: str | None) -> None:
        """An event that needs no answer is done as soon as it is seen."""
        if event_id is not None:
            await self.inbox.finish(event_id, ANSWERED)

    async def _answer(self, turn: SlackTurn, client: AsyncWebClient) -> bool:
        """Whether the reply reached Slack."""
        started = time.perf_counter()
        progress = Progress(client, turn.channel, turn.thread_ts, self.features, self._progress_delay_s)
        sink = None
        if can_stream(self.features, enabled=self._streaming, channel_type=turn.channel_type,
                      user=turn.user, team=turn.team):
            sink = SlackStreamSink(client, channel=turn.channel, thread_ts=turn.thread_ts, progress=progress,
                                   features=self.features, user=turn.user, team=turn.team,
                                   channel_type=turn.channel_type)
        message = IncomingMessage(text=turn.text, thread_key=turn.thread_key, user=turn.user, channel=turn.channel,
                                  event_id=turn.event_id, source="slack", new_thread=turn.starts_thread,
                                  on_intent=progress.note_intent)
        outcome = _Outcome()

        async def deliver(reply: Reply) -> bool:
            outcome.attempted = True
            outcome.answered_ms = (time.perf_counter() - started) * 1000.0
            delivery = ReplyDelivery(client, channel=turn.channel, thread_ts=turn.thread_ts,
                                     correlation_id=reply.correlation_id, deadline_s=self._delivery_deadline_s,
                                     attempt_timeout_s=self._attempt_timeout_s, event_id=turn.event_id)
            streaming = sink is not None and sink.started
            if turn.event_id is not None and not streaming and not await self.inbox.still_ours(turn.event_id):
                log.info("event taken over by another instance while it was being answered; not posting here",
                         extra={"event_id": turn.event_id, "channel": turn.channel})
                await progress.clear_status()
                return False
            with_buttons = self.feedback_buttons and not reply.failed
            final = fit_message(reply.mrkdwn)
            outcome.streamed = sink is not None and sink.started and await sink.finish(
                final, failure_note=f"\n\n{reply.mrkdwn}" if reply.failed else None, delivery=delivery,
                feedback=[feedback_block(reply)] if with_buttons else None,
                repair_blocks=answer_blocks(final, reply) if with_buttons else None)
            await progress.settle()
            outcome.delivered = outcome.streamed or await self._post(delivery, progress, reply)
            outcome.attempts = delivery.attempts
            if outcome.delivered and turn.event_id is not None:
                # At once, before the pipeline's bookkeeping: until this is written, a crash means a second reply.
                await self.inbox.finish(turn.event_id, ANSWERED)
            if not outcome.delivered:
                await progress.clear_status()
            outcome.reply_ms = (time.perf_counter() - started) * 1000.0
            return outcome.delivered

        progress.start()
        try:
            try:
                reply = await self._pipeline.handle(message, sink, deliver)
            except Exception:  # the pipeline promises not to raise; if it ever does, still answer
                log.exception("pipeline raised", extra={"event_id": turn.event_id, "channel": turn.channel})
                reply = _apology()
                if not outcome.attempted:  # a reply half delivered is not sent again
                    await deliver(reply)
        finally:
            await progress.settle()
        log.info("slack reply", extra={
            "correlation_id": reply.correlation_id, "event_id": turn.event_id, "channel": turn.channel,
            "delivered": outcome.delivered, "streamed": outcome.streamed, "delivery_attempts": outcome.attempts,
            "answer_ms": _ms(outcome.answered_ms),
            "reply_ms": _ms(outcome.reply_ms),
            "progress": "status" if progress.status_shown else "placeholder" if progress.placeholder_ts else "none",
        })
        return outcome.delivered

    async def _post(self, delivery: ReplyDelivery, progress: Progress, reply: Reply) -> bool:
        """Post the answer (replacing the placeholder if there is one); False if Slack never took it."""
        text = fit_message(reply.mrkdwn)
        blocks = answer_blocks(text, reply) if self.feedback_buttons and not reply.failed else None
        if progress.placeholder_ts is None and progress.placeholder_unsure:  # it may be there all the same
            progress.placeholder_ts = await delivery.find_placeholder(progress.placeholder_key)
        if progress.placeholder_ts is not None:
            if await delivery.update(progress.placeholder_ts, text, blocks):
                return True
            if delivery.last_failure is not Failure.PERMANENT:  # out of time: posting would not fare better
                return self._undelivered(delivery)
            log.warning("could not replace the placeholder; posting the answer instead",
                        extra={"correlation_id": reply.correlation_id, "slack_error": delivery.last_error})
        if await delivery.post(text, blocks) is not None:
            return True
        return self._undelivered(delivery)

    @staticmethod
    def _undelivered(delivery: ReplyDelivery) -> bool:
        log.error("reply could not be delivered to Slack", extra={
            "correlation_id": delivery.correlation_id, "event_id": delivery.event_id, "channel": delivery.channel,
            "slack_error": delivery.last_error, "attempts": delivery.attempts})
        return False


@dataclass
class _Outcome:
    """What became of one reply, for the `slack reply` record."""

    attempted: bool = False  # delivery started
    delivered: bool = False
    streamed: bool = False
    attempts: int = 0  # Slack calls made to deliver it
    answered_ms: float | None = None  # event taken -> reply ready
    reply_ms: float | None = None  # event taken -> reply in Slack


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _apology() -> Reply:
    return failure_reply(new_correlation_id(), handler="slack")
