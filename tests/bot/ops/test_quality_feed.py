"""The quality score the alerts read: the latest scored answers' score, from the stored signals, read off the loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.ops.quality_feed import RecentQuality
from knowledge.db import Database
from knowledge.quality import FEEDBACK, AnswerFacts, Signal, record_signals


def _click(number: int, positive: bool, at: datetime) -> Signal:
    facts = AnswerFacts(f"corr{number:04d}", "product_question", "product_question", "price-for-plan", "skipped", 1)
    return Signal(facts, f"U{number:04d}", FEEDBACK, positive, at, None, "slack")


def test_the_score_is_over_the_latest_answers_only(database: Database) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    # 10 older good answers, then 6 recent bad ones: the latest 6 score low, all 16 higher
    record_signals(database, [_click(n, True, now - timedelta(hours=2, minutes=n)) for n in range(10)]
                   + [_click(100 + n, False, now - timedelta(minutes=n)) for n in range(6)])
    quality = RecentQuality(database)
    assert quality(6) == round(100 * (0 + 3) / (6 + 4), 1)  # 30.0
    assert quality(16) == round(100 * (10 + 3) / (16 + 4), 1)  # 65.0
    assert RecentQuality(database, refresh_s=0)(1000) == 65.0


async def test_on_the_event_loop_it_is_read_in_a_worker_and_kept(database: Database) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    quality = RecentQuality(database, refresh_s=3600)
    assert quality(50) is None  # nothing read yet: the read is started, not waited for
    for _ in range(100):
        await asyncio.sleep(0.01)
        if quality(50) is not None or quality._read_at:  # noqa: SLF001 (the first read has landed)
            break
    assert quality(50) is None  # no signal stored: nothing scored
    record_signals(database, [_click(1, True, now)])
    assert quality(50) is None  # kept for an hour: not re-read on every call
