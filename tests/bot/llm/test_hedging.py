"""Hedged calls and provider racing, against two fake OpenAI-compatible servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.llm import LLMGateway
from knowledge.db import Database
from tests.support.fake_openai import FAKE_API_KEY, FAST_LLM_SETTINGS, Fail, FakeOpenAI, Reply
from bot.settings import load_settings

SYSTEM = "You are pitcrew, a sales assistant."


@pytest.fixture
async def second_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def provider(server: FakeOpenAI, name: str) -> dict[str, Any]:
    return {"name": name, "base_url": server.base_url, "api_key": FAKE_API_KEY}


def gateway(database: Database, *servers: FakeOpenAI, **overrides: Any) -> LLMGateway:
    """A gateway on `servers` (in order) through LLM_PROVIDERS, with small timeouts."""
    settings = load_settings(**(FAST_LLM_SETTINGS | {
        "llm_providers": [provider(server, f"p{index}") for index, server in enumerate(servers, start=1)],
    } | overrides))
    return LLMGateway.from_settings(settings, database)


async def settle(*servers: FakeOpenAI) -> None:
    """Until the servers have seen every request end (a cancelled one's disconnect arrives a moment later)."""
    for _ in range(100):
        if all(server.in_flight == 0 for server in servers):
            return
        await asyncio.sleep(0.01)


async def test_a_slow_call_is_hedged_to_the_next_provider_which_wins_and_the_slow_request_is_closed(
        fake_openai: FakeOpenAI, second_openai: FakeOpenAI, database: Database) -> None:
    fake_openai.always(Reply("slow provider", delay_s=3.0))
    second_openai.always(Reply("fast provider"))
    # 200 ms: time enough for the first request to reach its server even on a busy machine
    llm = gateway(database, fake_openai, second_openai, llm_hedge_after_ms=200, llm_answer_timeout_s=5.0,
                  llm_deadline_s=6.0)
    try:
        answer = await asyncio.wait_for(llm.complete(system=SYSTEM, user="what does Team cost?"), 2.0)
        await settle(fake_openai, second_openai)
    finally:
        await llm.aclose()
    assert answer == "fast provider"
    assert fake_openai.request_count == 1 and second_openai.request_count == 1
    assert fake_openai.disconnects == 1 and fake_openai.completed == 0  # the loser's request really closed


async def test_with_one_provider_the_hedge_goes_to_the_same_one_and_a_stream_shows_the_first_to_answer(
        fake_openai: FakeOpenAI, database: Database) -> None:
    fake_openai.script(Reply("stuck replica", delay_s=3.0))
    fake_openai.always(Reply("first token wins"))
    llm = gateway(database, fake_openai, llm_hedge_after_ms=200, llm_answer_timeout_s=5.0, llm_deadline_s=6.0)
    try:
        chunks = await asyncio.wait_for(llm.stream(system=SYSTEM, user="recap the Acme call"), 2.0)
        assert chunks is not None
        text = "".join([chunk async for chunk in chunks])
        await settle(fake_openai)
    finally:
        await llm.aclose()
    assert text == "first token wins"
    assert fake_openai.request_count == 2 and fake_openai.disconnects == 1


async def test_without_a_slow_call_nothing_is_hedged(fake_openai: FakeOpenAI, second_openai: FakeOpenAI,
                                                      database: Database) -> None:
    llm = gateway(database, fake_openai, second_openai, llm_hedge_after_ms=300)
    try:
        answers = [await llm.complete(system=SYSTEM, user=f"question {n}") for n in range(3)]
    finally:
        await llm.aclose()
    assert all(answers) and fake_openai.request_count == 3 and second_openai.request_count == 0


async def test_hedges_are_limited_to_their_share_of_calls(fake_openai: FakeOpenAI, database: Database) -> None:
    fake_openai.always(Reply("slowish", delay_s=0.15))
    llm = gateway(database, fake_openai, llm_hedge_after_ms=20, llm_hedge_max_ratio=0.05)
    try:
        answers = await asyncio.gather(*(llm.complete(system=SYSTEM, user=f"question {n}") for n in range(20)))
        await settle(fake_openai)
    finally:
        await llm.aclose()
    assert all(answers)
    # 20 calls at 5 %: one hedge, though every call was slow enough for one
    assert fake_openai.request_count == 21


async def test_hedging_off_sends_no_hedge(fake_openai: FakeOpenAI, database: Database) -> None:
    fake_openai.script(Reply("slow", delay_s=0.2))
    llm = gateway(database, fake_openai, llm_hedge_after_ms=20, llm_hedge_max_ratio=0.0)
    try:
        assert await llm.complete(system=SYSTEM, user="question") == "slow"
    finally:
        await llm.aclose()
    assert fake_openai.request_count == 1


async def test_each_provider_has_its_own_breaker_and_an_open_one_routes_to_the_next(
        fake_openai: FakeOpenAI, second_openai: FakeOpenAI, database: Database) -> None:
    fake_openai.always(Fail(500))
    second_openai.always(Reply("from the second provider"))
    llm = gateway(database, fake_openai, second_openai, llm_breaker_failure_threshold=2, llm_max_attempts=1,
                  llm_breaker_recovery_s=30.0)
    try:
        answers = [await llm.complete(system=SYSTEM, user=f"question {n}") for n in range(5)]
        first, second = llm.providers.all
        assert first.breaker.state.value == "open" and second.breaker.state.value == "closed"
        assert llm.available and llm.breaker_state == "closed"
    finally:
        await llm.aclose()
    assert answers == ["from the second provider"] * 5
    assert fake_openai.request_count == 2  # until its breaker opened; then straight to the second
    assert second_openai.request_count == 5


async def test_every_provider_down_makes_the_gateway_unavailable(
        fake_openai: FakeOpenAI, second_openai: FakeOpenAI, database: Database) -> None:
    for server in (fake_openai, second_openai):
        server.always(Fail(500))
    llm = gateway(database, fake_openai, second_openai, llm_breaker_failure_threshold=1, llm_max_attempts=1,
                  llm_breaker_recovery_s=30.0)
    try:
        assert await llm.complete(system=SYSTEM, user="question") is None
        assert not llm.available and llm.breaker_state == "open"
        assert await llm.complete(system=SYSTEM, user="question") is None
    finally:
        await llm.aclose()
    assert fake_openai.request_count == 1 and second_openai.request_count == 1


async def test_a_cached_answer_is_never_hedged(fake_openai: FakeOpenAI, second_openai: FakeOpenAI,
                                               database: Database) -> None:
    llm = gateway(database, fake_openai, second_openai, llm_hedge_after_ms=1)
    key = {"question": "what does team cost", "intent": "product_question", "entities": {}, "snapshot_version": 1,
           "prompt_version": "t"}
    try:
        for server in (fake_openai, second_openai):
            server.always(Reply("the answer", delay_s=0.1))
        first = await llm.complete(system=SYSTEM, user="what does Team cost?", cache_key=key)
        await settle(fake_openai, second_openai)
        sent = fake_openai.request_count + second_openai.request_count
        again = await llm.complete(system=SYSTEM, user="what does Team cost?", cache_key=key)
    finally:
        await llm.aclose()
    assert first == again == "the answer"
    assert second_openai.request_count == 1  # uncached, the call was slow enough to be hedged (after 1 ms)
    assert fake_openai.request_count + second_openai.request_count == sent  # cached: no call, so no hedge


async def test_provider_keys_stay_out_of_the_call_log(fake_openai: FakeOpenAI, second_openai: FakeOpenAI,
                                                      database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    fake_openai.always(Reply("slow", delay_s=0.3))
    llm = gateway(database, fake_openai, second_openai, llm_hedge_after_ms=20)
    try:
        await llm.complete(system=SYSTEM, user="question")
    finally:
        await llm.aclose()
    (call,) = [r for r in caplog.records if r.getMessage() == "llm call"]
    assert call.provider == "p2" and call.hedged_to == "p2" and call.hedge_won is True
    assert FAKE_API_KEY not in caplog.text
    assert all(FAKE_API_KEY not in repr(vars(record)) for record in caplog.records)


@pytest.mark.parametrize("value", ["nope", '{"base_url": "http://127.0.0.1:1/v1"}', '[{"base_url": "ftp://x"}]'])
def test_a_bad_provider_list_is_one_line_naming_the_variable(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import SettingsError

    monkeypatch.setenv("LLM_PROVIDERS", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert "LLM_PROVIDERS" in message and "\n" not in message and "ftp://x" not in message


def test_provider_keys_are_secrets_to_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDERS", '[{"base_url": "http://127.0.0.1:1/v1", "api_key": "sk-provider-one"}]')
    settings = load_settings()
    assert settings.llm_configured and "sk-provider-one" in settings.secret_values()
    assert "sk-provider-one" not in repr(settings)
