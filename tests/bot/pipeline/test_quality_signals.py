"""Implicit quality signals from the pipeline: rephrasings (same user, same thread, within 2 minutes, the same
question), fallbacks, failed and undelivered replies; stored against the right answer, never in the summary."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from bot.pipeline import IncomingMessage, Pipeline, Reply
from bot.pipeline.quality import QualityRecorder
from knowledge.quality import FAILED, FALLBACK, REPHRASED, UNDELIVERED, Signal, read_signals

T0 = datetime(2026, 6, 1, 9, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def with_clock(pipeline: Pipeline) -> Clock:
    clock = Clock()
    assert pipeline.quality is not None
    pipeline.quality = QualityRecorder(pipeline.db, clock=clock)
    return clock


async def say(pipeline: Pipeline, text: str, *, user: str = "U1", thread: str = "slack:D1:1.0",
              delivered: bool = True) -> Reply:
    async def deliver(reply: Reply) -> bool:
        return delivered

    reply = await pipeline.handle(IncomingMessage(text=text, thread_key=thread, user=user, channel="D1"),
                                  deliver=deliver)
    assert pipeline.quality is not None
    await pipeline.quality.drain()  # stored in the background
    return reply


def stored(pipeline: Pipeline) -> list[Signal]:
    return read_signals(pipeline.db, T0 - timedelta(days=1), T0 + timedelta(days=1))


async def test_asking_the_same_thing_again_marks_the_first_answer(offline: Pipeline) -> None:
    clock = with_clock(offline)
    first = await say(offline, "find calls about pricing")
    clock.now += timedelta(seconds=30)
    await say(offline, "find calls about pricing please")
    [signal] = stored(offline)
    assert (signal.kind, signal.positive, signal.user_id) == (REPHRASED, False, "U1")
    assert signal.answer.correlation_id == first.correlation_id and signal.answer.intent == "call_search"


async def test_follow_ups_other_users_other_threads_and_late_repeats_are_no_rephrasing(offline: Pipeline) -> None:
    clock = with_clock(offline)
    await say(offline, "What does the Pro plan cost?")
    await say(offline, "What does the Enterprise plan cost?")  # alike, but another plan
    await say(offline, "What does the Enterprise plan cost?", user="U2")  # someone else in the thread
    await say(offline, "What does the Enterprise plan cost?", thread="slack:D1:2.0")  # another thread
    clock.now += timedelta(minutes=3)
    await say(offline, "What does the Enterprise plan cost?")  # past the 2 minutes
    assert stored(offline) == []


async def test_fallbacks_and_undelivered_replies_are_negative_signals(offline: Pipeline) -> None:
    with_clock(offline)
    fallback = await say(offline, "zxqv blorp wug")
    lost = await say(offline, "What does the Pro plan cost?", thread="slack:D1:3.0", delivered=False)
    signals = {s.kind: s for s in stored(offline)}
    assert set(signals) == {FALLBACK, UNDELIVERED}
    assert signals[FALLBACK].answer.correlation_id == fallback.correlation_id
    assert signals[UNDELIVERED].answer.correlation_id == lost.correlation_id
    assert signals[UNDELIVERED].answer.snapshot_version is not None  # read from a product snapshot


async def test_a_failed_request_is_a_signal_and_the_summary_names_no_one_new(
        offline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    with_clock(offline)
    caplog.set_level(logging.INFO, logger="bot.request")

    class Broken:
        async def decide(self, text: str, now: datetime | None = None):  # noqa: ANN201
            raise RuntimeError("control plane down")

    real = offline.control_plane
    offline.control_plane = Broken()  # type: ignore[assignment]
    try:
        reply = await say(offline, "What does the Pro plan cost?")
    finally:
        offline.control_plane = real
    assert reply.failed
    [signal] = stored(offline)
    assert (signal.kind, signal.answer.correlation_id) == (FAILED, reply.correlation_id)
    [summary] = [r for r in caplog.records if r.name == "bot.request"]
    # The summary's user and channel are what it always logged; nothing about quality or the text is added.
    assert summary.user == "U1" and not {"positive", "feedback", "quality", "question", "signals"} & set(vars(summary))
