"""When to hedge a call: its kind's recent p95 latency (or `LLM_HEDGE_AFTER_MS`), within a share of calls.

Latencies are those of provider calls that ended on their own (a stream's: to its first chunk). A call
cancelled because its hedge won, or one that outlived the delay when the hedge share was spent, is
*censored*: it is of the tail the hedges are for, so it counts among the slowest without a value. The p95 is read by rank over both; when the rank falls among the censored calls
the delay is the slowest latency seen to complete, so the tail the hedges are for never sets it.
"""

from __future__ import annotations

import math
from collections import deque

from bot.llm.retry import RetryBudget

SAMPLES = 200  # per kind: the recent past
MIN_SAMPLES = 20  # before a p95 means anything (and hedging starts, unless the delay is fixed)
HEDGE_WINDOW_S = 60.0


class LatencyWindow:
    """Recent provider call latencies of one kind, in seconds; None marks a censored call."""

    def __init__(self, size: int = SAMPLES) -> None:
        self._samples: deque[float | None] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def censor(self) -> None:
        self._samples.append(None)

    def p95(self) -> float | None:
        if len(self._samples) < MIN_SAMPLES:
            return None
        completed = sorted(sample for sample in self._samples if sample is not None)
        if not completed:
            return None
        rank = math.ceil(0.95 * len(self._samples)) - 1
        return completed[min(rank, len(completed) - 1)]


class HedgePolicy:
    """Whether and when a call of a kind gets a hedge; the share of hedged calls is capped in a sliding window."""

    def __init__(self, *, after_s: float | None, max_ratio: float) -> None:
        self.after_s = after_s
        self.max_ratio = max_ratio
        self._windows: dict[str, LatencyWindow] = {}
        self._budget = RetryBudget(ratio=max_ratio, minimum=0, window_s=HEDGE_WINDOW_S)

    def window(self, kind: str) -> LatencyWindow:
        return self._windows.setdefault(kind, LatencyWindow())

    def delay(self, kind: str) -> float | None:
        """How long a call of `kind` waits before a hedge may be sent; None: it is never hedged."""
        if self.max_ratio <= 0:
            return None
        return self.after_s if self.after_s is not None else self.window(kind).p95()

    def record_call(self) -> None:
        self._budget.record_call()

    def try_hedge(self) -> bool:
        """Spend one hedge if the share allows it."""
        return self.max_ratio > 0 and self._budget.try_acquire()
