"""The speculative answer: the pattern's intent answered while the LLM validates it.

A message the patterns are unsure of waits for an LLM validation. Meanwhile its pattern intent's handler runs
(`Speculation.start`), its reply held back: no sink (nothing is streamed), its cache writes deferred
(`bot.llm.speculation`), its turn not stored. When the validation confirms the intent and the frame, the
held reply is the answer (`confirmed`), and the time it ran beside the validation is saved. Otherwise it is
cancelled, its provider calls closed, and the validated intent is answered as if nothing had run
(`reconciled`); the tokens it spent are counted as wasted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from bot.llm.speculation import SpeculationLedger, speculating
from bot.observability import record
from control_plane.frame import Frame
from control_plane.intents import Decision
from handlers.context import HandlerResult
from handlers.declaration import IntentHandler
from knowledge.meetings import MeetingResolution

Answered = tuple[HandlerResult, MeetingResolution]
Outcome = Literal["confirmed", "reconciled", "off"]


@dataclass(eq=False)
class Speculation:
    """One speculative answer under way."""

    decision: Decision  # the pattern tier's
    frame: Frame
    handler: IntentHandler
    task: asyncio.Task[Answered]
    ledger: SpeculationLedger
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None

    @classmethod
    def start(cls, decision: Decision, frame: Frame, handler: IntentHandler,
              answer: Callable[[], Awaitable[Answered]]) -> Speculation:
        """Run `answer()` (the handler, with no sink) as a task of its own, its LLM work on a ledger."""
        ledger = SpeculationLedger()

        async def run() -> Answered:
            with speculating(ledger):  # the task's own context: the ledger ends with it
                try:
                    return await answer()
                finally:
                    speculation.ended = time.perf_counter()

        speculation = cls(decision, frame, handler, asyncio.get_running_loop().create_task(run(), name="speculation"),
                          ledger)
        return speculation

    def agrees(self, decision: Decision, frame: Frame) -> bool:
        """The validated decision asks what the speculative answer answers: same intent, same frame."""
        return decision.intent is self.decision.intent and frame == self.frame

    async def confirm(self, validated_at: float) -> Answered | None:
        """The held answer (waiting for it if still running), its cache writes made; None if it failed."""
        try:
            answered = await asyncio.shield(self.task)
        except asyncio.CancelledError:
            await self.discard()
            raise
        except Exception:
            await self.discard()
            return None
        await self.ledger.commit()
        ended = self.ended if self.ended is not None else time.perf_counter()
        saved_ms = max(0.0, min(validated_at, ended) - self.started) * 1000.0
        record(speculation="confirmed", speculation_saved_ms=round(saved_ms, 3))
        return answered

    async def discard(self) -> None:
        """Cancel it and wait until its provider calls have closed; nothing of it is kept but its cost."""
        self.task.cancel()
        await asyncio.wait([self.task])  # not `await self.task`: its cancellation is not ours to raise
        await self.ledger.settled()
        self.ledger.discard()
        record(speculation="reconciled", speculation_wasted_tokens=self.ledger.tokens)
