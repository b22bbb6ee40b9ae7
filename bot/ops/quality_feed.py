"""The quality score the alerts, `/metrics` and the dashboard read: the latest scored answers' score, kept fresh.

They read it synchronously, on the event loop, as often as every fifth of a second; reading the signals is a
query that can take more than a few ms. So the figure is kept here and re-read in a worker thread once it is
older than `REFRESH_S` (outside a running loop, as in a command, it is read there and then).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from knowledge.db import Database
from knowledge.quality_score import recent_score

log = logging.getLogger(__name__)

REFRESH_S = 30.0


class RecentQuality:
    """`quality(answers)`: the score over the latest `answers` scored answers, None when none was scored."""

    def __init__(self, db: Database, refresh_s: float = REFRESH_S) -> None:
        self._db = db
        self._refresh_s = refresh_s
        self._scores: dict[int, float | None] = {}
        self._read_at: dict[int, float] = {}
        self._reading: set[int] = set()

    def __call__(self, answers: int) -> float | None:
        if time.monotonic() - self._read_at.get(answers, float("-inf")) >= self._refresh_s:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._store(answers, self._read(answers))
            else:
                if answers not in self._reading:
                    self._reading.add(answers)
                    loop.create_task(self._refresh(answers), name="quality-score")
        return self._scores.get(answers)

    def _read(self, answers: int) -> float | None:
        return recent_score(self._db, answers, datetime.now(UTC).replace(tzinfo=None))

    def _store(self, answers: int, score: float | None) -> None:
        self._scores[answers] = score
        self._read_at[answers] = time.monotonic()

    async def _refresh(self, answers: int) -> None:
        try:
            self._store(answers, await asyncio.to_thread(self._read, answers))
        except Exception:  # a figure for operators: a failed read keeps the last one and is tried again later
            log.warning("reading the quality score failed", exc_info=True)
            self._read_at[answers] = time.monotonic()
        finally:
            self._reading.discard(answers)
