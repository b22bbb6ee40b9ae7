"""In-process listeners of what the logs record: request summaries and LLM calls, for metrics, alerts and rollout.

An observer runs synchronously where the record is made (on the event loop): it must be quick and must not block.
One that raises is logged and the request goes on: watching a request never breaks it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Observer = Callable[[dict[str, Any]], None]


class Observers:
    """A set of observers of one kind of record."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._observers: tuple[Observer, ...] = ()  # a tuple: emitting iterates a snapshot, no copy per call

    def add(self, observer: Observer) -> None:
        self._observers = (*self._observers, observer)

    def remove(self, observer: Observer) -> None:
        self._observers = tuple(item for item in self._observers if item is not observer)

    def __bool__(self) -> bool:
        return bool(self._observers)

    def emit(self, fields: dict[str, Any]) -> None:
        for observer in self._observers:
            try:
                observer(fields)
            except Exception:
                log.exception("an observer of %s records failed", self.kind)


# Each request's summary fields (as logged), plus `failed`: whether it is a "Request failed" summary.
REQUEST_SUMMARIES = Observers("request summary")
# Each LLM call's record fields (as logged): model, kind, latency_ms, outcome, cache, tokens.
LLM_CALLS = Observers("llm call")
