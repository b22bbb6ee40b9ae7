"""A circuit breaker for the LLM provider: stop calling it while it is failing, probe it now and then.

CLOSED: calls go through. It opens after `failure_threshold` consecutive failures, after
`timeout_threshold` consecutive timeouts (a provider that takes connections and never answers costs
a full timeout per call, so it is given up sooner), or when at least `min_calls` attempts in the last
`window_s` seconds failed at `failure_rate` or more. After a timeout, until the provider answers
again, it is `silent`: callers then wait for a first byte only briefly.
OPEN: every call is refused at once. After `recovery_s` it turns HALF_OPEN.
HALF_OPEN: exactly one trial call is let through; its success closes the breaker, its failure opens it
again for another `recovery_s`. Every transition is logged.

Single event loop, no awaits inside: the state changes need no lock.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        timeout_threshold: int,
        recovery_s: float,
        failure_rate: float,
        min_calls: int,
        window_s: float,
        name: str = "llm",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.timeout_threshold = timeout_threshold
        self.recovery_s = recovery_s
        self.failure_rate = failure_rate
        self.min_calls = min_calls
        self.window_s = window_s
        self.name = name
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._consecutive_timeouts = 0
        self._silent = False  # the latest verdict was a timeout: the provider may have gone quiet
        self._outcomes: deque[tuple[float, bool]] = deque()  # (when, failed) in the window, while closed
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state; an OPEN breaker whose recovery time has passed reports (and becomes) HALF_OPEN."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.recovery_s:
            self._transition(BreakerState.HALF_OPEN, reason="recovery timeout elapsed")
        return self._state

    @property
    def silent(self) -> bool:
        """The provider's latest attempt timed out and none has been answered since."""
        return self._silent

    def rejects(self) -> bool:
        """Whether a call would be refused right now, without claiming the half-open trial."""
        state = self.state
        return state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._trial_in_flight)

    def allow(self) -> bool:
        """Admit one attempt. In HALF_OPEN the first caller gets the trial and everyone else is refused."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._silent = False
        self._consecutive_timeouts = 0
        if self._state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False
            self._transition(BreakerState.CLOSED, reason="trial call succeeded")
            return
        self._consecutive_failures = 0
        self._remember(failed=False)

    def record_failure(self, *, timeout: bool = False) -> None:
        """A failed attempt; `timeout`: the provider did not answer in time (anything else means it answered)."""
        self._silent = timeout
        if self._state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False
            self._open(reason="trial call timed out" if timeout else "trial call failed")
            return
        if self._state is BreakerState.OPEN:
            return  # a straggler that started before the breaker opened
        self._consecutive_failures += 1
        self._consecutive_timeouts = self._consecutive_timeouts + 1 if timeout else 0
        self._remember(failed=True)
        if self._consecutive_timeouts >= self.timeout_threshold:
            self._open(reason=f"{self._consecutive_timeouts} consecutive timeouts")
            return
        if self._consecutive_failures >= self.failure_threshold:
            self._open(reason=f"{self._consecutive_failures} consecutive failures")
            return
        failures = sum(1 for _, failed in self._outcomes if failed)
        if len(self._outcomes) >= self.min_calls and failures / len(self._outcomes) >= self.failure_rate:
            self._open(reason=f"{failures} of {len(self._outcomes)} calls failed in {self.window_s:g} s")

    def release(self) -> None:
        """The admitted attempt ended without a verdict (its caller was cancelled): free the trial slot."""
        if self._state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False

    def _remember(self, *, failed: bool) -> None:
        now = self._clock()
        self._outcomes.append((now, failed))
        horizon = now - self.window_s
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock()
        self._transition(BreakerState.OPEN, reason=reason)

    def _transition(self, new_state: BreakerState, reason: str) -> None:
        old_state = self._state
        self._state = new_state
        self._consecutive_failures = 0
        self._consecutive_timeouts = 0
        self._outcomes.clear()
        level = logging.WARNING if new_state is BreakerState.OPEN else logging.INFO
        logger.log(
            level,
            "circuit breaker %s -> %s",
            old_state.value,
            new_state.value,
            extra={"breaker": self.name, "from_state": old_state.value, "to_state": new_state.value,
                   "reason": reason, "recovery_s": self.recovery_s},
        )
