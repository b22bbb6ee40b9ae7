"""The quality score's outcomes and formula (defined in `bot.evaluation.quality`, whose report builds on them), and
the score over the latest scored answers that the alerts, `/metrics` and the dashboard read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from knowledge.db import Database
from knowledge.quality import FEEDBACK, AnswerFacts, Signal, read_signals

PRIOR_POSITIVE = 3.0
PRIOR_NEGATIVE = 1.0
BASELINE = 100 * PRIOR_POSITIVE / (PRIOR_POSITIVE + PRIOR_NEGATIVE)  # 75: the score of a group with no outcome
# The latest answers are looked for in this many days before now: a quiet week scores nothing, not stale answers.
RECENT_DAYS = 7


@dataclass(frozen=True)
class Outcome:
    answer: AnswerFacts
    user_id: str
    positive: bool
    why: str  # "feedback" or the implicit signal that made it negative
    at: datetime


def outcomes(signals: Iterable[Signal]) -> list[Outcome]:
    """One outcome per (answer, user): their click if any, else negative for an implicit signal."""
    by_key: dict[tuple[str, str], list[Signal]] = defaultdict(list)
    for signal in signals:
        by_key[signal.answer.correlation_id, signal.user_id].append(signal)
    result = []
    for found in by_key.values():
        click = next((s for s in found if s.kind == FEEDBACK), None)
        if click is not None:
            result.append(Outcome(click.answer, click.user_id, click.positive, FEEDBACK, click.created_at))
        else:
            first = min(found, key=lambda s: s.created_at)
            negative = next((s for s in found if not s.positive), first)
            result.append(Outcome(negative.answer, negative.user_id, negative.positive, negative.kind,
                                  negative.created_at))
    return sorted(result, key=lambda o: (o.at, o.answer.correlation_id, o.user_id))


def score(positives: int, n: int) -> float:
    return round(100 * (positives + PRIOR_POSITIVE) / (n + PRIOR_POSITIVE + PRIOR_NEGATIVE), 1)


def recent_score(db: Database, answers: int, now: datetime) -> float | None:
    """The score over the latest `answers` scored answers of the last `RECENT_DAYS` days; None when none was scored."""
    found = outcomes(read_signals(db, now - timedelta(days=RECENT_DAYS), now + timedelta(seconds=1)))[-answers:]
    if not found:
        return None
    return score(sum(1 for outcome in found if outcome.positive), len(found))
