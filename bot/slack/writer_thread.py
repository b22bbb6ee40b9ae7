"""One thread that runs blocking database writes for the event loop, most urgent first.

Acknowledgements wait on claims, and a reply Slack has taken is answered twice after a crash until it
is recorded as answered: so claims go first, then answered marks, then the rest. One thread keeps the
writes of one instance from queueing on SQLite's lock against each other.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

URGENT, SOON, LATER = 0, 1, 2


class WriterThread:
    def __init__(self, name: str) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = queue.PriorityQueue()
        self._order = itertools.count()  # first come, first served within one priority
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    async def run(self, work: Callable[[], T], priority: int = SOON) -> T:
        """Run `work` on the thread; its result or exception comes back here."""
        if self._closed:
            raise RuntimeError("writer thread closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def job() -> None:
            result: Any = None
            error: BaseException | None = None
            try:
                result = work()
            except BaseException as exc:  # handed to the awaiting task, which decides
                error = exc
            settle_future(loop, future, result, error)

        self.submit(job, priority)
        return await future

    def submit(self, job: Callable[[], None], priority: int = SOON) -> None:
        """Queue `job`, which reports its own outcome (see `settle_future`)."""
        if self._closed:
            raise RuntimeError("writer thread closed")
        self._queue.put((priority, next(self._order), job))

    def close(self) -> None:
        """Finish the queued work, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put((LATER + 1, next(self._order), None))
        self._thread.join()

    def _run(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            job()


def settle_future(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any,
                  error: BaseException | None) -> None:
    """From the writer thread: hand `result` (or `error`) to `future`, which belongs to `loop`."""
    try:
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:  # the loop is gone: nobody waits for this any more
        pass


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
