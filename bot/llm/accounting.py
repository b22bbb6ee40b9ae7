"""One `llm call` log record per gateway call: model, kind, latency, attempts, tokens, cache and outcome."""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.llm.outcomes import Outcome
from bot.observability import record, stage
from bot.observability.observers import LLM_CALLS

logger = logging.getLogger(__name__)

CacheUse = Literal["hit", "miss", "none"]
VALIDATE_KIND = "validate"

# Expected states of a degraded bot are INFO; failures worth a look are WARNING.
_QUIET_OUTCOMES = frozenset({Outcome.OK, Outcome.UNCONFIGURED, Outcome.BREAKER_OPEN, Outcome.SILENT})


@dataclass
class CallRecord:
    kind: str
    model: str
    stream: bool = False
    cache: CacheUse = "none"
    attempts: int = 0
    outcome: Outcome | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    first_chunk_ms: float | None = None
    details: dict[str, Any] = field(default_factory=dict)  # error type, status, ...
    started: float = field(default_factory=time.perf_counter)
    _logged: bool = False

    def add_usage(self, usage: Any) -> None:
        """Token counts from a completion's `usage`, when the server reports them."""
        if usage is None:
            return
        self.prompt_tokens = getattr(usage, "prompt_tokens", None)
        self.completion_tokens = getattr(usage, "completion_tokens", None)
        self.total_tokens = getattr(usage, "total_tokens", None)

    def fail(self, outcome: Outcome, exc: BaseException | None = None) -> None:
        """Note why the call is unavailable; never the exception's message (it may quote a key)."""
        self.outcome = outcome
        if exc is not None:
            self.details["error"] = type(exc).__name__
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                self.details["status"] = status

    def finish(self, outcome: Outcome | None = None) -> None:
        """Log the record (once) and note the outcome on the current request."""
        if self._logged:
            return
        self._logged = True
        if outcome is not None:
            self.outcome = outcome
        final = self.outcome or Outcome.ERROR
        fields: dict[str, Any] = {
            "model": self.model,
            "kind": self.kind,
            "stream": self.stream,
            "latency_ms": round((time.perf_counter() - self.started) * 1000.0, 3),
            "attempts": self.attempts,
            "cache": self.cache,
            "outcome": final.value,
        }
        for name in ("prompt_tokens", "completion_tokens", "total_tokens", "first_chunk_ms"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = value
        fields.update(self.details)
        if LLM_CALLS:
            LLM_CALLS.emit(fields)
        logger.log(logging.INFO if final in _QUIET_OUTCOMES else logging.WARNING, "llm call", extra=fields)
        record(llm_outcome=final.value)
        if self.kind == VALIDATE_KIND:  # the request's own validation: why it gave no verdict, when it gave none
            record(llm_validation_outcome=final.value)


def llm_stage() -> AbstractContextManager[None]:
    """Time the block as the request's `llm` stage (overlapping LLM calls of one request each add their time)."""
    return stage("llm")
