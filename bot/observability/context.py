"""The request being served, held in a contextvar so any module's log records can carry its id."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from bot.observability.timing import StageTimer


def new_correlation_id() -> str:
    """Eight hex characters: short enough to quote to a person, unique enough per day."""
    return secrets.token_hex(4)


@dataclass
class RequestContext:
    correlation_id: str
    source: str = "slack"  # slack | shell
    channel: str | None = None
    user: str | None = None
    event_id: str | None = None
    timer: StageTimer = field(default_factory=StageTimer)
    started: float = field(default_factory=time.perf_counter)
    # The request's facts for the summary record: intent, confidence, llm_validation, handler,
    # snapshot_path, cache, ...
    facts: dict[str, Any] = field(default_factory=dict)
    llm_calls: int = 0
    # Set by fail(): the summary is then logged as "Request failed" with this exception.
    failure: BaseException | None = None

    def record(self, **facts: Any) -> None:
        self.facts.update(facts)

    def fail(self, exc: BaseException) -> None:
        """Mark the request failed (its handler raised and the user got an apology instead)."""
        self.failure = exc

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


_current: ContextVar[RequestContext | None] = ContextVar("pitcrew_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


def current_correlation_id() -> str | None:
    request = _current.get()
    return request.correlation_id if request is not None else None


@contextmanager
def bind_request(request: RequestContext) -> Iterator[RequestContext]:
    """Make `request` current for this task (and tasks it creates) until the block ends."""
    token = _current.set(request)
    try:
        yield request
    finally:
        _current.reset(token)


def record(**facts: Any) -> None:
    """Add facts to the current request's summary; outside a request this does nothing."""
    request = _current.get()
    if request is not None:
        request.record(**facts)


def count_llm_call() -> None:
    request = _current.get()
    if request is not None:
        request.llm_calls += 1


def stage(name: str) -> AbstractContextManager[None]:
    """Time `name` on the current request's timer; outside a request this only runs the block."""
    request = _current.get()
    return request.timer.stage(name) if request is not None else nullcontext()
