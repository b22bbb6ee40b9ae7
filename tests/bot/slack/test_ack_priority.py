"""Acknowledgements before answers: work on events waits while events are being acknowledged, then starts
one piece per loop turn."""

from __future__ import annotations

import asyncio

from bot.slack.ack_priority import AckPriority


async def loop_turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def enter(priority: AckPriority, gate: asyncio.Event | None = None) -> None:
    """One event taken in; with `gate`, its ack is held until the gate opens (a body still arriving)."""
    with priority.acknowledging():
        if gate is not None:
            await gate.wait()


async def test_a_lone_answer_starts_after_a_few_quiet_loop_turns() -> None:
    priority = AckPriority(quiet_turns=3)
    answer = asyncio.create_task(priority.turn())
    await loop_turns(2)
    assert not answer.done()
    await asyncio.wait_for(answer, timeout=1)
    assert priority.waiting == 0


async def test_answers_wait_while_an_event_is_being_acknowledged() -> None:
    priority = AckPriority(quiet_turns=3, max_wait_s=10)
    gate = asyncio.Event()
    acking = asyncio.create_task(enter(priority, gate))
    await loop_turns(1)
    answer = asyncio.create_task(priority.turn())
    await loop_turns(20)
    assert not answer.done()
    gate.set()
    await acking
    await asyncio.wait_for(answer, timeout=1)


async def test_answers_wait_while_events_keep_arriving() -> None:
    priority = AckPriority(quiet_turns=3, max_wait_s=10)
    answer = asyncio.create_task(priority.turn())
    for _ in range(20):  # a new event enters on every loop turn
        await enter(priority)
        await asyncio.sleep(0)
        assert not answer.done()
    await asyncio.wait_for(answer, timeout=1)


async def test_waiting_answers_start_one_per_loop_turn_in_arrival_order() -> None:
    priority = AckPriority(quiet_turns=1)
    started: list[int] = []

    async def answer(number: int) -> None:
        await priority.turn()
        started.append(number)

    tasks = [asyncio.create_task(answer(number)) for number in range(5)]
    await loop_turns(1)  # every answer is waiting
    assert priority.waiting == 5
    progress = []
    for _ in range(12):
        await asyncio.sleep(0)
        progress.append(len(started))
    await asyncio.gather(*tasks)
    assert started == [0, 1, 2, 3, 4]
    assert all(later - earlier <= 1 for earlier, later in zip(progress, progress[1:], strict=False))


async def test_a_steady_stream_of_events_cannot_starve_an_answer() -> None:
    priority = AckPriority(quiet_turns=3, max_wait_s=0.05)
    answer = asyncio.create_task(priority.turn())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while not answer.done() and loop.time() < deadline:
        await enter(priority)
        await asyncio.sleep(0.001)
    assert answer.done()


async def test_a_cancelled_answer_does_not_hold_up_the_next() -> None:
    priority = AckPriority(quiet_turns=1)
    first = asyncio.create_task(priority.turn())
    second = asyncio.create_task(priority.turn())
    await loop_turns(1)
    first.cancel()
    await asyncio.wait_for(second, timeout=1)
    assert first.cancelled() and priority.waiting == 0
