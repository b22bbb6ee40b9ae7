"""What the gateway needs from the settings: models, per-kind timeouts and deadlines, retry and breaker limits.

The defaults live in `bot.settings` only; everything here receives its values from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.llm.retry import RetryPolicy
from bot.settings import Settings

KINDS = ("validate", "shadow", "answer", "draft", "short")
# Calls wait for a slot in their kind's pool: validations have slots of their own, so a burst of written
# answers (which hold theirs for seconds) never starves the validations every unsure message waits for.
VALIDATE_POOL = "validate"
ANSWER_POOL = "answer"


@dataclass(frozen=True)
class KindProfile:
    """How one kind of call runs: which model, how long one attempt may take, how long the whole call."""

    model: str
    timeout_s: float  # one attempt, start to last byte
    deadline_s: float  # the whole call, retries included
    first_byte_s: float  # silence allowed before a stream's first chunk (and before any reply once one timed out)
    retry_timeouts: bool  # whether a timed-out attempt is tried again
    pool: str  # whose concurrency slots it takes: VALIDATE_POOL or ANSWER_POOL
    fast: bool = False  # asks the fast model (a provider's `fast_model`), not the main one


@dataclass(frozen=True)
class BreakerLimits:
    """When the circuit breaker opens and how long it stays open (see `bot.llm.breaker`)."""

    failure_threshold: int
    timeout_threshold: int
    failure_rate: float
    min_calls: int
    window_s: float
    recovery_s: float


@dataclass(frozen=True)
class GatewayConfig:
    kinds: dict[str, KindProfile]
    request_deadline_s: float  # all LLM calls of one request, from the request's start
    connect_timeout_s: float
    retry: RetryPolicy
    retry_budget_ratio: float
    retry_budget_min: int
    retry_budget_window_s: float
    slots: dict[str, int]  # concurrency slots per pool
    breaker: BreakerLimits
    cache_ttl_s: int
    cache_max_entries: int
    hedge_after_s: float | None = None  # fixed hedge delay; None: the recent p95 of the call's kind
    hedge_max_ratio: float = 0.0  # hedges per call at most (sliding window); 0: never hedge

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        first_byte = settings.llm_first_byte_timeout_s
        # A validation that times out is not tried again: the pattern decision stands at once.
        validate = KindProfile(settings.openai_fast_model, settings.llm_validate_timeout_s,
                               min(settings.llm_validate_deadline_s, settings.llm_deadline_s), first_byte,
                               retry_timeouts=False, pool=VALIDATE_POOL, fast=True)
        answer = KindProfile(settings.openai_model, settings.llm_answer_timeout_s, settings.llm_deadline_s, first_byte,
                             retry_timeouts=True, pool=ANSWER_POOL)
        short = KindProfile(settings.openai_fast_model, settings.llm_answer_timeout_s, settings.llm_deadline_s,
                            first_byte, retry_timeouts=True, pool=ANSWER_POOL, fast=True)
        return cls(
            # "shadow": the background check of a decision made without the LLM (a validation in all but name,
            # so that its outcome is never taken for the request's own validation's).
            kinds={"validate": validate, "shadow": validate, "answer": answer, "draft": answer, "short": short},
            request_deadline_s=settings.llm_deadline_s,
            connect_timeout_s=settings.llm_connect_timeout_s,
            retry=RetryPolicy(max_attempts=settings.llm_max_attempts, backoff_initial_s=settings.llm_backoff_initial_s,
                              backoff_max_s=settings.llm_backoff_max_s),
            retry_budget_ratio=settings.llm_retry_budget_ratio,
            retry_budget_min=settings.llm_retry_budget_min,
            retry_budget_window_s=settings.llm_retry_budget_window_s,
            slots={VALIDATE_POOL: settings.llm_validate_max_concurrency, ANSWER_POOL: settings.llm_max_concurrency},
            breaker=BreakerLimits(
                failure_threshold=settings.llm_breaker_failure_threshold,
                timeout_threshold=settings.llm_breaker_timeout_threshold,
                failure_rate=settings.llm_breaker_failure_rate,
                min_calls=settings.llm_breaker_min_calls,
                window_s=settings.llm_breaker_window_s,
                recovery_s=settings.llm_breaker_recovery_s,
            ),
            cache_ttl_s=settings.response_cache_ttl_s,
            cache_max_entries=settings.response_cache_max_entries,
            hedge_after_s=settings.llm_hedge_after_ms / 1000.0 if settings.llm_hedge_after_ms else None,
            hedge_max_ratio=settings.llm_hedge_max_ratio,
        )

    def profile(self, kind: str) -> KindProfile:
        try:
            return self.kinds[kind]
        except KeyError:
            raise ValueError(f"unknown LLM call kind {kind!r}; expected one of {', '.join(self.kinds)}") from None
