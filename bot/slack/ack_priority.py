"""Acknowledgements before answers: work on events waits while Slack events are still arriving.

Everything runs in one event loop, whose ready queue is first come, first served. In a burst, the
work on the first events (Bolt's dispatch, then answers: milliseconds of CPU each) would be queued
ahead of the acknowledgements of the events still being read, so the later acks would wait behind
it. Instead that work starts only once the loop has gone a few turns without a new event being
acknowledged, one piece per loop turn, so an event arriving meanwhile waits behind at most one piece,
not a whole queue. A lone event waits a few loop turns (microseconds); waiting work is never held
longer than `max_wait_s`, so a steady stream of events cannot starve the answers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

# On Python 3.11 aiohttp hands a request read in one loop turn to its handler two turns later
# (connection task, then request task; newer Pythons start both at once): three quiet turns mean no
# HTTP event is on its way to being acknowledged.
QUIET_TURNS = 3
MAX_WAIT_S = 0.1


class AckPriority:
    """Counts events being acknowledged (`acknowledging`) and lets work on them start (`turn`) when quiet."""

    def __init__(self, *, quiet_turns: int = QUIET_TURNS, max_wait_s: float = MAX_WAIT_S) -> None:
        self._quiet_turns = quiet_turns
        self._max_wait_s = max_wait_s
        self._entered = 0  # events taken in, ever
        self._acking = 0  # events between being taken in and acknowledged
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._checking = False
        self._seen = 0
        self._quiet_for = 0

    @contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Around taking one event in, up to its acknowledgement."""
        self._entered += 1
        self._acking += 1
        try:
            yield
        finally:
            self._acking -= 1

    async def turn(self) -> None:
        """Wait until this piece of work may start."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((time.monotonic(), future))
        if not self._checking:
            self._checking = True
            self._seen, self._quiet_for = self._entered, 0
            asyncio.get_running_loop().call_soon(self._check)
        await future

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _check(self) -> None:
        """Runs once per loop turn while work waits; releases at most one piece."""
        quiet = self._entered == self._seen and self._acking == 0
        self._seen = self._entered
        self._quiet_for = self._quiet_for + 1 if quiet else 0
        while self._waiting and self._waiting[0][1].done():  # cancelled while waiting
            self._waiting.popleft()
        if self._waiting:
            since, future = self._waiting[0]
            if self._quiet_for >= self._quiet_turns or time.monotonic() - since >= self._max_wait_s:
                self._waiting.popleft()
                future.set_result(None)
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._check)
        else:
            self._checking = False
