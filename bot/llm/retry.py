"""Retries for LLM calls: tenacity with full-jitter backoff, `Retry-After`, a deadline and a retry budget."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from bot.llm.breaker import CircuitBreaker
from bot.llm.outcomes import Outcome, classify, is_retryable, retry_after_seconds


class RetryBudget:
    """Retries may be at most `ratio` of the calls in a sliding window, plus `minimum` per window.

    The floor keeps a quiet process able to retry a lone failure; the ratio keeps an outage from
    multiplying traffic (with 0.2, a sustained outage sends at most ~1.2 requests per call).
    """

    def __init__(self, *, ratio: float, minimum: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ratio = ratio
        self.minimum = minimum
        self.window_s = window_s
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def record_call(self) -> None:
        """A call (not a retry) is about to reach the provider."""
        now = self._clock()
        self._calls.append(now)
        self._prune(now)

    def try_acquire(self) -> bool:
        """Spend one retry if the budget allows it."""
        now = self._clock()
        self._prune(now)
        if len(self._retries) >= self.minimum + self.ratio * len(self._calls):
            return False
        self._retries.append(now)
        return True

    @property
    def retries_in_window(self) -> int:
        self._prune(self._clock())
        return len(self._retries)

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        for timestamps in (self._calls, self._retries):
            while timestamps and timestamps[0] < horizon:
                timestamps.popleft()


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per call and the backoff between them (values from `bot.settings`)."""

    max_attempts: int
    backoff_initial_s: float
    backoff_max_s: float


class wait_retry_after_or_backoff(wait_base):
    """Wait as long as a 429's `Retry-After` asks; otherwise exponential backoff with full jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._backoff = wait_random_exponential(multiplier=policy.backoff_initial_s, max=policy.backoff_max_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and outcome.failed:
            asked = retry_after_seconds(outcome.exception())
            if asked is not None:
                return asked
        return self._backoff(retry_state)


class stop_when_retry_is_pointless(stop_base):
    """Stop when attempts are used up, the next attempt could not start (with `min_attempt_s` left) before
    the deadline, the breaker is open, `give_up()` says so, or the retry budget is spent. The budget is
    asked last, so a retry is only paid for when it will happen."""

    def __init__(self, *, policy: RetryPolicy, deadline: float, min_attempt_s: float,
                 breaker: CircuitBreaker, budget: RetryBudget, give_up: Callable[[], bool] = lambda: False) -> None:
        self._give_up = give_up
        self._policy = policy
        self._deadline = deadline
        self._min_attempt_s = min_attempt_s
        self._breaker = breaker
        self._budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self._policy.max_attempts:
            return True
        remaining = self._deadline - asyncio.get_running_loop().time()
        if retry_state.upcoming_sleep + self._min_attempt_s > remaining:
            return True
        if self._breaker.rejects() or self._give_up():
            return True
        return not self._budget.try_acquire()


def retrying(*, policy: RetryPolicy, deadline: float, min_attempt_s: float, breaker: CircuitBreaker,
             budget: RetryBudget, retry_timeouts: bool = True,
             give_up: Callable[[], bool] = lambda: False) -> AsyncRetrying:
    """A tenacity controller for one call; `deadline` is on the event loop's clock. Re-raises the last error.
    Without `retry_timeouts`, an attempt that timed out ends the call; so does any failure once `give_up()`."""

    def worth_retrying(exc: BaseException) -> bool:
        return is_retryable(exc) and (retry_timeouts or classify(exc) is not Outcome.TIMEOUT)

    return AsyncRetrying(
        retry=retry_if_exception(worth_retrying),
        wait=wait_retry_after_or_backoff(policy),
        stop=stop_when_retry_is_pointless(policy=policy, deadline=deadline, min_attempt_s=min_attempt_s,
                                          breaker=breaker, budget=budget, give_up=give_up),
        sleep=asyncio.sleep,
        reraise=True,
    )
