"""Single flight: callers that ask for the same thing while it is being fetched share one provider call.

The first caller for a key starts the call as a task of its own (its *flight*); later callers for the key
board it instead of calling again. The task belongs to no caller: a caller that is cancelled, or stops
waiting, only leaves the flight, and the call goes on for the others. When the last caller leaves a flight
still under way, nobody wants its result any more and it is cancelled. A flight is forgotten as soon as it
ends, so a failure is shared by the callers aboard and the next caller starts a new call.

Single event loop, no awaits inside: the bookkeeping needs no lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

S = TypeVar("S")


@dataclass(eq=False)
class Flight(Generic[S]):
    """One call under way: `state` is what it fills in as it goes, read by every caller aboard."""

    key: Hashable
    state: S
    task: asyncio.Task[None] = field(init=False)
    waiters: int = 0


class SingleFlight(Generic[S]):
    """The flights under way, by key. The flight's task must end its callers' waits however it ends (its state
    says how); callers wait on the state, never on the task, so cancelling one never cancels it."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, Flight[S]] = {}

    def __len__(self) -> int:
        """Flights under way."""
        return len(self._flights)

    def has(self, key: Hashable) -> bool:
        """Whether a flight for `key` is under way (a caller asking now would board it)."""
        return key in self._flights

    def join(self, key: Hashable, state: Callable[[], S], fly: Callable[[S], Coroutine[Any, Any, None]]) -> tuple[
            Flight[S], bool]:
        """The flight for `key`, started as `fly(state())` if none is under way; True for the caller that started
        it. Every join must be matched by one `leave`."""
        flight = self._flights.get(key)
        started = flight is None
        if flight is None:
            flight = Flight(key, state())
            flight.task = asyncio.get_running_loop().create_task(fly(flight.state), name="llm-flight")
            self._flights[key] = flight
            flight.task.add_done_callback(lambda _task, landed=flight: self._forget(landed))
        flight.waiters += 1
        return flight, started

    def leave(self, flight: Flight[S]) -> None:
        """A caller is done with `flight`; the last one to leave a flight still under way cancels it."""
        flight.waiters -= 1
        if flight.waiters <= 0 and not flight.task.done():
            self._forget(flight)  # a caller arriving now must not board a flight being cancelled
            flight.task.cancel()

    async def close(self) -> None:
        """Cancel every flight still under way (at shutdown) and wait for them to end."""
        tasks = [flight.task for flight in self._flights.values()]
        self._flights.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, flight: Flight[S]) -> None:
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]
