"""One LLM call, one log record: the gateway's `llm call`, not the SDK's HTTP line as well."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.llm import LLMGateway
from bot.llm.client import HTTP_LOGGER
from knowledge.db import Database
from tests.support.fake_openai import FakeOpenAI, fast_llm_settings

SYSTEM = "You are pitcrew, a sales assistant. Answer briefly."


@pytest.fixture
def http_logger() -> Iterator[logging.Logger]:
    """The SDK's HTTP logger at its default (unset) level, restored after the test."""
    http = logging.getLogger(HTTP_LOGGER)
    before = http.level
    http.setLevel(logging.NOTSET)
    yield http
    http.setLevel(before)


async def _one_call(server: FakeOpenAI, database: Database) -> None:
    gateway = LLMGateway.from_settings(fast_llm_settings(server), database)
    try:
        assert await gateway.complete(system=SYSTEM, user="How much is Pro?")
    finally:
        await gateway.aclose()


async def test_a_call_logs_the_gateway_record_and_no_http_line(
    fake_openai: FakeOpenAI, database: Database, http_logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    await _one_call(fake_openai, database)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bot.llm")] == ["llm call"]
    assert not [r for r in caplog.records if r.name.startswith(HTTP_LOGGER)]


async def test_a_level_set_on_purpose_for_the_http_log_is_kept(
    fake_openai: FakeOpenAI, database: Database, http_logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    http_logger.setLevel(logging.DEBUG)  # someone debugging the HTTP traffic
    await _one_call(fake_openai, database)
    assert http_logger.level == logging.DEBUG
    assert any(r.name == HTTP_LOGGER and "HTTP Request" in r.getMessage() for r in caplog.records)
