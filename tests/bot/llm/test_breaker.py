"""The circuit breaker: its state machine on a fake clock, and the gateway using it against the fake server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from bot.llm import LLMGateway
from bot.llm.breaker import BreakerState, CircuitBreaker
from knowledge.db import Database
from tests.support.fake_openai import DEFAULT_REPLY, Fail, FakeOpenAI, Reply, fast_llm_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_breaker(clock: FakeClock, **overrides: float) -> CircuitBreaker:
    options = {"failure_threshold": 3, "timeout_threshold": 2, "recovery_s": 10.0, "failure_rate": 0.5, "min_calls": 6,
               "window_s": 60.0}
    return CircuitBreaker(clock=clock, **(options | overrides))  # type: ignore[arg-type]


def test_consecutive_failures_open_the_breaker() -> None:
    breaker = make_breaker(FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success in between resets the run
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow() and breaker.rejects()


def test_consecutive_timeouts_open_the_breaker_sooner_than_other_failures() -> None:
    breaker = make_breaker(FakeClock(), failure_threshold=5, timeout_threshold=2)
    breaker.record_failure(timeout=True)
    assert breaker.silent and breaker.state is BreakerState.CLOSED
    breaker.record_failure()  # a 5xx: the provider answered, so the silent run is broken
    assert not breaker.silent
    breaker.record_failure(timeout=True)
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(timeout=True)
    assert breaker.state is BreakerState.OPEN and breaker.silent


def test_a_success_ends_the_silence() -> None:
    breaker = make_breaker(FakeClock(), timeout_threshold=2)
    breaker.record_failure(timeout=True)
    breaker.record_success()
    assert not breaker.silent
    breaker.record_failure(timeout=True)
    assert breaker.state is BreakerState.CLOSED  # one timeout since the success, not two


def test_a_half_open_trial_that_times_out_opens_the_breaker_again() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock, timeout_threshold=2)
    breaker.record_failure(timeout=True)
    breaker.record_failure(timeout=True)
    clock.now += 10.0
    assert breaker.allow() and breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # one trial at a time
    breaker.record_failure(timeout=True)
    assert breaker.state is BreakerState.OPEN and breaker.silent


def test_a_high_failure_rate_in_the_window_opens_the_breaker() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock, failure_threshold=100)
    for _ in range(3):  # alternating: never 3 in a row, but half of the calls fail
        breaker.record_success()
        clock.now += 1
        assert breaker.state is BreakerState.CLOSED
        breaker.record_failure()
        clock.now += 1
    assert breaker.state is BreakerState.OPEN


def test_old_outcomes_leave_the_window() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock, failure_threshold=100)
    for _ in range(3):
        breaker.record_failure()
        breaker.record_success()
        clock.now += 30  # each pair lands in a different part of the 60 s window
    assert breaker.state is BreakerState.CLOSED  # never 6 outcomes inside one window


def test_after_recovery_exactly_one_trial_goes_through_and_its_success_closes() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 9.9
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the trial
    assert not breaker.allow() and breaker.rejects()  # everyone else waits for its verdict
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_a_failed_trial_opens_the_breaker_for_another_recovery_period() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 9
    assert breaker.state is BreakerState.OPEN
    clock.now += 1
    assert breaker.state is BreakerState.HALF_OPEN


def test_an_abandoned_trial_lets_the_next_caller_try() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.release()
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()


def test_every_transition_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.llm.breaker")
    clock = FakeClock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    breaker.allow()
    breaker.record_success()
    transitions = [(r.from_state, r.to_state) for r in caplog.records]
    assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert caplog.records[0].levelno == logging.WARNING


# The gateway with its breaker, against the fake server -----------------------------------------------------


@pytest.fixture
async def gateway(fake_openai: FakeOpenAI, database: Database) -> AsyncIterator[LLMGateway]:
    settings = fast_llm_settings(fake_openai, llm_breaker_failure_threshold=3, llm_max_attempts=1,
                                 llm_breaker_recovery_s=0.3)
    gateway = LLMGateway.from_settings(settings, database)
    yield gateway
    await gateway.aclose()


async def test_open_breaker_fails_fast_then_one_trial_closes_it(fake_openai: FakeOpenAI,
                                                                gateway: LLMGateway,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.llm")
    fake_openai.always(Fail(500))
    for _ in range(3):
        assert await gateway.complete(system="sys", user="hi") is None
    assert gateway.breaker_state == "open" and not gateway.available
    assert fake_openai.request_count == 3

    for _ in range(5):
        assert await gateway.complete(system="sys", user="hi") is None
    assert fake_openai.request_count == 3  # refused without reaching the server
    outcomes = [r.outcome for r in caplog.records if r.getMessage() == "llm call"]
    assert outcomes[-5:] == ["breaker_open"] * 5

    fake_openai.always(Reply(DEFAULT_REPLY, delay_s=0.1))
    await asyncio.sleep(0.3)
    assert gateway.breaker_state == "half_open" and gateway.available
    trial = asyncio.create_task(gateway.complete(system="sys", user="trial"))
    await asyncio.sleep(0.02)
    assert await gateway.complete(system="sys", user="while the trial runs") is None
    assert await trial == DEFAULT_REPLY
    assert fake_openai.request_count == 4  # exactly one trial went through
    assert gateway.breaker_state == "closed"
    assert await gateway.complete(system="sys", user="hi") == DEFAULT_REPLY


async def test_retries_stop_once_the_breaker_opens(fake_openai: FakeOpenAI, database: Database) -> None:
    settings = fast_llm_settings(fake_openai, llm_breaker_failure_threshold=2, llm_max_attempts=5,
                                 llm_retry_budget_min=10)
    gateway = LLMGateway.from_settings(settings, database)
    fake_openai.always(Fail(503))
    assert await gateway.complete(system="sys", user="hi") is None
    assert fake_openai.request_count == 2  # not 5: the breaker opened after the second failure
    await gateway.aclose()
