"""Retry rules: what is retried, how long to wait, and the budget that caps retries in an outage."""

from __future__ import annotations

import email.utils

import httpx2
import openai
import pytest

from bot.llm import LLMGateway
from bot.llm.outcomes import Outcome, classify, is_retryable, retry_after_seconds
from bot.llm.retry import RetryBudget
from knowledge.db import Database
from tests.support.fake_openai import Fail, FakeOpenAI, fast_llm_settings

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


def status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = httpx2.Response(status, headers=headers or {}, request=REQUEST)
    error_class = {400: openai.BadRequestError, 401: openai.AuthenticationError, 404: openai.NotFoundError,
                   429: openai.RateLimitError}.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return error_class(f"Error code: {status}", response=response, body=None)


@pytest.mark.parametrize(
    ("exc", "outcome", "retryable"),
    [
        (openai.APITimeoutError(request=REQUEST), Outcome.TIMEOUT, True),
        (TimeoutError(), Outcome.TIMEOUT, True),
        (openai.APIConnectionError(request=REQUEST), Outcome.CONNECTION_ERROR, True),
        (status_error(429), Outcome.RATE_LIMITED, True),
        (status_error(500), Outcome.SERVER_ERROR, True),
        (status_error(503), Outcome.SERVER_ERROR, True),
        (status_error(400), Outcome.CLIENT_ERROR, False),
        (status_error(401), Outcome.CLIENT_ERROR, False),
        (status_error(404), Outcome.CLIENT_ERROR, False),
        (status_error(409), Outcome.CLIENT_ERROR, False),
        (ValueError("bug"), Outcome.ERROR, False),
    ],
)
def test_only_provider_trouble_is_retried(exc: BaseException, outcome: Outcome, retryable: bool) -> None:
    assert classify(exc) is outcome
    assert is_retryable(exc) is retryable


def test_retry_after_is_read_in_every_form() -> None:
    assert retry_after_seconds(status_error(429, {"Retry-After": "2"})) == 2.0
    assert retry_after_seconds(status_error(429, {"Retry-After": "0.5"})) == 0.5
    assert retry_after_seconds(status_error(429, {"retry-after-ms": "250", "Retry-After": "9"})) == 0.25
    http_date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(status_error(503, {"Retry-After": http_date}), now=1_000_000) == pytest.approx(30)
    assert retry_after_seconds(status_error(429, {"Retry-After": "soon"})) is None
    assert retry_after_seconds(status_error(429)) is None
    assert retry_after_seconds(TimeoutError()) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget_allows_the_floor_then_a_share_of_calls() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, minimum=2, window_s=60, clock=clock)
    assert [budget.try_acquire() for _ in range(3)] == [True, True, False]
    for _ in range(10):
        budget.record_call()
    assert [budget.try_acquire() for _ in range(3)] == [True, True, False]  # 2 + 0.2 * 10 = 4 in all


def test_budget_forgets_what_left_the_window() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, minimum=1, window_s=10, clock=clock)
    assert budget.try_acquire()
    clock.now = 9.9
    assert not budget.try_acquire()
    clock.now = 10.1
    assert budget.try_acquire()
    assert budget.retries_in_window == 1


async def test_the_budget_caps_requests_in_a_sustained_outage(fake_openai: FakeOpenAI,
                                                              database: Database) -> None:
    calls, ratio, floor = 20, 0.2, 2
    # The breaker would hide the budget by refusing calls outright; keep it out of the way here.
    settings = fast_llm_settings(fake_openai, llm_max_attempts=3, llm_retry_budget_ratio=ratio,
                                 llm_retry_budget_min=floor, llm_breaker_failure_threshold=1000,
                                 llm_breaker_min_calls=1000)
    gateway = LLMGateway.from_settings(settings, database)
    fake_openai.always(Fail(500))
    for index in range(calls):
        assert await gateway.complete(system="sys", user=f"q{index}") is None
    assert calls < fake_openai.request_count <= calls * (1 + ratio) + floor  # without the budget: 3 * calls
    await gateway.aclose()
