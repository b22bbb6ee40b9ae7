"""Stage timings on the monotonic clock, in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ContextDecorator


class StageTimer:
    """Times named stages; a stage timed twice accumulates, nested stages keep their own names."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started: dict[str, float] = {}
        self._first_started: dict[str, None] = {}  # stage names in the order they first started
        self.stages: dict[str, float] = {}

    def start_stage(self, name: str) -> None:
        self._first_started.setdefault(name, None)
        self._started[name] = self._clock()

    def end_stage(self, name: str) -> float:
        """Stop `name` and return its elapsed milliseconds; an unknown stage is an error."""
        started = self._started.pop(name, None)
        if started is None:
            raise KeyError(f"stage {name!r} was not started")
        return self._add(name, started)

    def _add(self, name: str, started: float) -> float:
        elapsed_ms = (self._clock() - started) * 1000.0
        self.stages[name] = round(self.stages.get(name, 0.0) + elapsed_ms, 3)
        return elapsed_ms

    def stage(self, name: str) -> AbstractContextManager[None]:
        """`with timer.stage(name):` times the block, even when it raises."""
        return _TimedStage(self, name)

    def ordered_stages(self) -> dict[str, float]:
        """Finished stages in the order they started (an enclosing stage before the ones nested in it)."""
        ordered = {name: self.stages[name] for name in self._first_started if name in self.stages}
        ordered.update((name, ms) for name, ms in self.stages.items() if name not in ordered)
        return ordered

    def close_open_stages(self) -> None:
        """End stages left running (a request that failed mid-stage still reports their time)."""
        for name in list(self._started):
            self.end_stage(name)


class _TimedStage(ContextDecorator):
    """The context-manager form (a class: cheaper than a generator).

    Each block keeps its own start time, so blocks of the same name may overlap (two LLM calls of one
    request running concurrently) and each adds its own elapsed time.
    """

    def __init__(self, timer: StageTimer, name: str) -> None:
        self._timer = timer
        self._name = name
        self._started = 0.0

    def __enter__(self) -> None:
        self._timer._first_started.setdefault(self._name, None)
        self._started = self._timer._clock()

    def __exit__(self, *exc_info: object) -> None:
        self._timer._add(self._name, self._started)
