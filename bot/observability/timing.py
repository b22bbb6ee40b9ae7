"""Stage timings on the monotonic clock, in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StageTimer:
    """Times named stages; a stage timed twice accumulates, nested stages keep their own names."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started: dict[str, float] = {}
        self.stages: dict[str, float] = {}

    def start_stage(self, name: str) -> None:
        self._started[name] = self._clock()

    def end_stage(self, name: str) -> float:
        """Stop `name` and return its elapsed milliseconds; an unknown stage is an error."""
        started = self._started.pop(name, None)
        if started is None:
            raise KeyError(f"stage {name!r} was not started")
        elapsed_ms = (self._clock() - started) * 1000.0
        self.stages[name] = round(self.stages.get(name, 0.0) + elapsed_ms, 3)
        return elapsed_ms

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.start_stage(name)
        try:
            yield
        finally:
            self.end_stage(name)

    def close_open_stages(self) -> None:
        """End stages left running (a request that failed mid-stage still reports their time)."""
        for name in list(self._started):
            self.end_stage(name)
