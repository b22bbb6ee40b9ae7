"""The quality score: how often pitcrew's answers did what the rep needed, out of 100, per kind of answer.

Outcomes: one per (answer, user) with a signal. A 👍/👎 decides it (the rep's latest click); without a click,
any implicit signal (rephrased, fallback, failed, undelivered) makes it negative. Answers nobody reacted to are
not outcomes (they would only say nobody clicked).

Score: the posterior mean of the share of positive outcomes under a Beta(3, 1) prior, times 100:
`100 * (positives + 3) / (outcomes + 4)`. The prior is worth four outcomes at the rollout baseline of 75, so a
group with two clicks does not swing to 0 or 100; with many outcomes the score is the plain share. Each score
comes with `n` (outcomes) and a 95 % Wilson interval of the plain share (0-100 when n is 0), which says how far
to trust it. The trend is the score minus the previous period's (same length, just before); a drop of
`ALERT_DROP` points or more is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from knowledge.quality import AnswerFacts, Signal
from knowledge.quality_score import BASELINE, Outcome, outcomes, score

ALERT_DROP = 5.0
Z_95 = 1.959964
EXAMPLES = 3  # correlation ids shown per worst group
WORST = 5  # worst patterns and handlers listed

GROUPINGS: dict[str, Callable[[AnswerFacts], str]] = {
    "intent": lambda facts: facts.intent,
    "handler": lambda facts: facts.handler,
    "pattern": lambda facts: facts.pattern or "(none)",
    "llm": lambda facts: facts.llm,
}


def wilson_interval(positives: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of the plain share, in points out of 100."""
    if n == 0:
        return 0.0, 100.0
    share = positives / n
    centre = share + z * z / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return round(100 * max(0.0, (centre - spread) / denominator), 1), round(100 * min(1.0, (centre + spread) / denominator), 1)


@dataclass
class GroupScore:
    name: str
    n: int = 0
    positives: int = 0
    examples: list[str] = field(default_factory=list)  # correlation ids of negative outcomes, to trace

    def add(self, outcome: Outcome) -> None:
        self.n += 1
        if outcome.positive:
            self.positives += 1
        elif outcome.answer.correlation_id not in self.examples and len(self.examples) < EXAMPLES:
            self.examples.append(outcome.answer.correlation_id)

    @property
    def score(self) -> float:
        return score(self.positives, self.n)

    def as_json(self, previous: GroupScore | None = None) -> dict[str, Any]:
        low, high = wilson_interval(self.positives, self.n)
        result: dict[str, Any] = {"name": self.name, "score": self.score, "n": self.n, "positive": self.positives,
                                  "negative": self.n - self.positives, "interval_95": [low, high],
                                  "examples": self.examples}
        if previous is not None:
            result["previous"] = {"score": previous.score, "n": previous.n}
            result["trend"] = round(self.score - previous.score, 1) if previous.n and self.n else None
        return result


def _grouped(found: list[Outcome], key: Callable[[AnswerFacts], str]) -> dict[str, GroupScore]:
    groups: dict[str, GroupScore] = {}
    for outcome in found:
        name = key(outcome.answer)
        groups.setdefault(name, GroupScore(name)).add(outcome)
    return groups


def _worst(groups: dict[str, GroupScore]) -> list[dict[str, Any]]:
    negative = [group for group in groups.values() if group.positives < group.n]
    negative.sort(key=lambda g: (g.score, -g.n, g.name))
    return [group.as_json() for group in negative[:WORST]]


def quality_report(current: list[Signal], previous: list[Signal], *, by: str = "intent",
                   period: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
    """The report `pitcrew quality` prints: overall and per group, worst patterns and handlers, the trend."""
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}")
    now, before = outcomes(current), outcomes(previous)
    overall, overall_before = GroupScore("overall"), GroupScore("overall")
    for outcome in now:
        overall.add(outcome)
    for outcome in before:
        overall_before.add(outcome)
    groups, groups_before = _grouped(now, GROUPINGS[by]), _grouped(before, GROUPINGS[by])
    summary = overall.as_json(overall_before)
    trend = summary.get("trend")
    report: dict[str, Any] = {
        "definition": "100 * (positive + 3) / (outcomes + 4); 95% Wilson interval of the plain share",
        "baseline": BASELINE,
        "overall": summary,
        "alert": trend is not None and trend <= -ALERT_DROP,
        "by": by,
        "groups": [groups[name].as_json(groups_before.get(name))
                   for name in sorted(groups, key=lambda name: (groups[name].score, name))],
        "worst_patterns": _worst(_grouped(now, GROUPINGS["pattern"])),
        "worst_handlers": _worst(_grouped(now, GROUPINGS["handler"])),
        "signals": {kind: sum(1 for s in current if s.kind == kind) for kind in sorted({s.kind for s in current})},
    }
    if period is not None:
        report["period"] = {"start": period[0].isoformat(), "end": period[1].isoformat()}
    return report
