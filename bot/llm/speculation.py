"""Speculative LLM work: what a speculative answer spent, and the cache writes it holds back until confirmed.

The pipeline runs a speculative handler inside `speculating(ledger)`. Every written answer the gateway
fetches in that task (and in the flight tasks it starts, which inherit the context) adds its tokens to the
ledger, and its response-cache write waits in the ledger: `commit` makes the writes once the answer is
confirmed; a discarded answer's are dropped with it, so nothing of it is ever served from the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.llm.cache import ResponseCache

logger = logging.getLogger(__name__)

# Roughly four characters a token in English: for a call cut off before the provider reported its usage.
CHARS_PER_TOKEN = 4


@dataclass
class SpeculationLedger:
    """The LLM work of one speculative answer."""

    tokens: int = 0
    calls: int = 0
    deferred: list[tuple[ResponseCache, str, str, str]] = field(default_factory=list)  # (cache, key, answer, model)
    flights: list[asyncio.Task[object]] = field(default_factory=list)  # provider calls it started

    def track(self, task: asyncio.Task[object] | None) -> None:
        if task is not None:
            self.flights.append(task)

    async def settled(self) -> None:
        """Until every provider call it started has ended (a cancelled one closes its request first)."""
        if self.flights:
            await asyncio.wait(self.flights)

    def spent(self, tokens: int) -> None:
        self.calls += 1
        self.tokens += max(tokens, 0)

    def defer(self, cache: ResponseCache, key: str, answer: str, model: str) -> None:
        self.deferred.append((cache, key, answer, model))

    async def commit(self) -> None:
        """The answer was confirmed: make its cache writes (off the event loop); a failed write costs only a miss."""
        writes, self.deferred = self.deferred, []
        for cache, key, answer, model in writes:
            try:
                await asyncio.to_thread(cache.put, key, answer, model)
            except Exception as exc:
                logger.warning("response cache write failed", extra={"error": type(exc).__name__})

    def discard(self) -> None:
        self.deferred.clear()


_LEDGER: ContextVar[SpeculationLedger | None] = ContextVar("pitcrew_speculation", default=None)


def current_ledger() -> SpeculationLedger | None:
    """The ledger of the speculative answer being computed in this context, if any."""
    return _LEDGER.get()


@contextmanager
def speculating(ledger: SpeculationLedger) -> Iterator[None]:
    token = _LEDGER.set(ledger)
    try:
        yield
    finally:
        _LEDGER.reset(token)


def estimated_tokens(prompt_chars: int, reply_chars: int) -> int:
    return (prompt_chars + reply_chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
