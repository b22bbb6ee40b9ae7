"""How many attempts a call makes: the first runs outside the retry controller, the rest under it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.llm import LLMGateway
from knowledge.db import Database
from tests.support.fake_openai import Fail, FakeOpenAI, Reply, fast_llm_settings

SYSTEM = "You are pitcrew, a sales assistant. Answer briefly."


async def _complete(server: FakeOpenAI, database: Database, **overrides: Any) -> str | None:
    gateway = LLMGateway.from_settings(fast_llm_settings(server, **overrides), database)
    try:
        return await gateway.complete(system=SYSTEM, user="How much is Pro?")
    finally:
        await gateway.aclose()


def _entry(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    [entry] = [r for r in caplog.records if r.getMessage() == "llm call"]
    return entry


async def test_a_failing_provider_gets_exactly_max_attempts(fake_openai: FakeOpenAI, database: Database,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.llm")
    fake_openai.script(Fail(500), Fail(502), Fail(503), Reply("a fourth attempt is never made"))
    assert await _complete(fake_openai, database, llm_max_attempts=3) is None
    assert fake_openai.request_count == 3
    entry = _entry(caplog)
    assert (entry.outcome, entry.attempts, entry.status) == ("server_error", 3, 503)


async def test_a_single_attempt_setting_never_retries(fake_openai: FakeOpenAI, database: Database,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.llm")
    fake_openai.script(Fail(500), Reply("not asked for"))
    assert await _complete(fake_openai, database, llm_max_attempts=1) is None
    assert fake_openai.request_count == 1
    assert (_entry(caplog).outcome, _entry(caplog).attempts) == ("server_error", 1)


async def test_a_spent_retry_budget_stops_after_the_first_attempt(fake_openai: FakeOpenAI,
                                                                  database: Database,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.llm")
    fake_openai.script(Fail(500), Reply("not asked for"))
    assert await _complete(fake_openai, database, llm_retry_budget_min=0, llm_retry_budget_ratio=0.0) is None
    assert fake_openai.request_count == 1
    assert _entry(caplog).attempts == 1


async def test_a_second_attempt_after_a_timeout_answers(fake_openai: FakeOpenAI, database: Database,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.llm")
    fake_openai.script(Reply("too slow", delay_s=1.0), Reply("Pro is $49."))
    answer = await _complete(fake_openai, database, llm_answer_timeout_s=0.3, llm_deadline_s=2.0)
    assert answer == "Pro is $49."
    assert fake_openai.request_count == 2
    assert (_entry(caplog).outcome, _entry(caplog).attempts) == ("ok", 2)
