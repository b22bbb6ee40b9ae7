"""Shadow validation: a share of the skipped decisions is checked by the LLM in the background.

The reply never waits for it; the result is one log record, `shadow validation` with a boolean
`shadow_agreement`, which `pitcrew logs stats` turns into the agreement rate that shows whether
skipping is safe.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence

from control_plane.intents import Candidate, Intent
from control_plane.validation import IntentLLM, IntentValidation, user_prompt

logger = logging.getLogger(__name__)

CLOSE_GRACE_S = 2.0


class ShadowValidator:
    def __init__(self, llm: IntentLLM | None, rate: float, system: str, schema: type[IntentValidation],
                 rng: random.Random) -> None:
        self._llm = llm
        self._rate = rate
        self._system = system
        self._schema = schema
        self._rng = rng
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_result: Callable[[bool], None] | None = None  # told each agreement (the rollout's measure)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def maybe_validate(self, text: str, candidates: Sequence[Candidate], intent: Intent) -> bool:
        """Start a background validation of a skipped decision for `rate` of the calls; True if started."""
        if self._rate <= 0 or self._llm is None or not self._llm.available:
            return False
        if self._rng.random() >= self._rate:
            return False
        user = user_prompt(text, candidates)
        try:
            task = asyncio.get_running_loop().create_task(self._validate(user, intent), name="shadow-validation")
        except RuntimeError:  # no running loop (a synchronous caller): nothing to run it on
            return False
        # The loop keeps only weak references to tasks: hold one until it is done.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _validate(self, user: str, intent: Intent) -> None:
        assert self._llm is not None
        try:
            validation = await self._llm.structured(system=self._system, user=user, schema=self._schema, kind="shadow")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("shadow validation failed", exc_info=True)
            return
        if validation is None:
            logger.info("shadow validation unavailable", extra={"intent": intent.value})
            return
        if self.on_result is not None:
            self.on_result(validation.intent == intent)
        logger.info(
            "shadow validation",
            extra={
                "shadow_agreement": validation.intent == intent,
                "intent": intent.value,
                "llm_intent": validation.intent,
                "llm_confidence": round(min(1.0, max(0.0, validation.confidence)), 3),
            },
        )

    async def drain(self, timeout: float | None = None) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self) -> None:
        await self.drain(CLOSE_GRACE_S)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=CLOSE_GRACE_S)
