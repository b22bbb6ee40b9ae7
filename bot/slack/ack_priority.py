"""Acknowledgements before answers: answer work waits while Slack events are still arriving.

Everything runs in one event loop, whose ready queue is first come, first served. In a burst, the
answers of the first events (milliseconds of CPU each) would be queued ahead of the acknowledgements
of the events still being read, so the later acks would wait behind them. Instead an answer starts
only once the loop has gone a few turns without a new event entering Bolt, and answers start one per
loop turn, so an event arriving meanwhile waits behind at most one answer step, not a whole queue.
A lone event waits a few loop turns (microseconds); a waiting answer is never held longer than
`max_wait_s`, so a steady stream of events cannot starve the answers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# On Python 3.11 aiohttp hands a request read in one loop turn to its handler two turns later
# (connection task, then request task; newer Pythons start both at once): three quiet turns mean no
# HTTP event is on its way through.
QUIET_TURNS = 3
MAX_WAIT_S = 0.1


class AckPriority:
    """Counts events entering Bolt (`track`, a global middleware) and lets answers start (`turn`) when quiet."""

    def __init__(self, *, quiet_turns: int = QUIET_TURNS, max_wait_s: float = MAX_WAIT_S) -> None:
        self._quiet_turns = quiet_turns
        self._max_wait_s = max_wait_s
        self._entered = 0  # events that have entered Bolt's dispatch, ever
        self._acking = 0  # events between entering and being acknowledged
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._checking = False
        self._seen = 0
        self._quiet_for = 0

    async def track(self, next_: Callable[[], Awaitable[T]]) -> T:
        """Wrap one event's dispatch (its ack is the listener runner's return)."""
        self._entered += 1
        self._acking += 1
        try:
            return await next_()
        finally:
            self._acking -= 1

    async def turn(self) -> None:
        """Wait until this answer may start."""
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
        """Runs once per loop turn while answers wait; releases at most one of them."""
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
