"""What the gateway needs from the settings: models, per-kind timeouts and deadlines, retry and breaker limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.llm.retry import RetryPolicy
from bot.settings import Settings

KINDS = ("validate", "answer", "draft", "short")


@dataclass(frozen=True)
class KindProfile:
    """How one kind of call runs: which model, how long one attempt may take, how long the whole call."""

    model: str
    timeout_s: float
    deadline_s: float


@dataclass(frozen=True)
class GatewayConfig:
    kinds: dict[str, KindProfile]
    request_deadline_s: float  # all LLM calls of one request, from the request's start
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    retry_budget_ratio: float = 0.2
    retry_budget_min: int = 3
    retry_budget_window_s: float = 60.0
    max_concurrency: int = 8
    breaker_failure_threshold: int = 5
    breaker_failure_rate: float = 0.5
    breaker_min_calls: int = 10
    breaker_window_s: float = 60.0
    breaker_recovery_s: float = 30.0
    cache_ttl_s: int = 3600
    cache_max_entries: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        validate = KindProfile(settings.openai_fast_model, settings.llm_validate_timeout_s,
                               min(settings.llm_validate_deadline_s, settings.llm_deadline_s))
        answer = KindProfile(settings.openai_model, settings.llm_answer_timeout_s, settings.llm_deadline_s)
        short = KindProfile(settings.openai_fast_model, settings.llm_answer_timeout_s, settings.llm_deadline_s)
        return cls(
            kinds={"validate": validate, "answer": answer, "draft": answer, "short": short},
            request_deadline_s=settings.llm_deadline_s,
            retry=RetryPolicy(max_attempts=settings.llm_max_attempts, backoff_initial_s=settings.llm_backoff_initial_s,
                              backoff_max_s=settings.llm_backoff_max_s),
            retry_budget_ratio=settings.llm_retry_budget_ratio,
            retry_budget_min=settings.llm_retry_budget_min,
            retry_budget_window_s=settings.llm_retry_budget_window_s,
            max_concurrency=settings.llm_max_concurrency,
            breaker_failure_threshold=settings.llm_breaker_failure_threshold,
            breaker_failure_rate=settings.llm_breaker_failure_rate,
            breaker_min_calls=settings.llm_breaker_min_calls,
            breaker_window_s=settings.llm_breaker_window_s,
            breaker_recovery_s=settings.llm_breaker_recovery_s,
            cache_ttl_s=settings.response_cache_ttl_s,
            cache_max_entries=settings.response_cache_max_entries,
        )

    def profile(self, kind: str) -> KindProfile:
        try:
            return self.kinds[kind]
        except KeyError:
            raise ValueError(f"unknown LLM call kind {kind!r}; expected one of {', '.join(self.kinds)}") from None
