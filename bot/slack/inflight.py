"""Events being answered right now, so a shutdown can let them finish (within a grace period)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)


class InflightTasks:
    """Tracks the tasks answering events; `drain` waits for them, then cancels stragglers."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `work` as a task that counts as in flight from this moment (not from its first step)."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        """Count the current task as in flight until the block ends."""
        task = asyncio.current_task()
        assert task is not None, "track() must run inside a task"
        self._tasks.add(task)
        self._idle.clear()
        try:
            yield
        finally:
            self._finished(task)

    async def drain(self, grace_s: float) -> int:
        """Wait up to `grace_s` for in-flight work; cancel what is left and return how many were cancelled."""
        # Bolt starts a listener in a future created just before the ack is sent; give futures
        # created by the last acks a few loop turns to enter `track()` before judging "idle".
        for _ in range(3):
            await asyncio.sleep(0)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace_s)
            return 0
        except TimeoutError:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            log.warning("shutdown grace period over: cancelled unfinished replies",
                        extra={"cancelled": len(pending), "grace_s": grace_s})
            return len(pending)

    def cancel_all(self) -> int:
        """Cancel every answer in flight (a second Ctrl-C); returns how many."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)
