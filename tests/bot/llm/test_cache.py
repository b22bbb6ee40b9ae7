"""The response cache: keys, TTL, LRU eviction, statistics and the gateway's use of it (the `pitcrew cache` commands
are tested in tests/bot/cli/test_cache.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from bot.llm import LLMGateway
from bot.llm.cache import ResponseCache, cache_key, normalize_question
from control_plane.intents import Entities, TimeRange
from knowledge.db import Database
from tests.support.fake_openai import DEFAULT_REPLY, Fail, FakeOpenAI, Reply, fast_llm_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 4, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


BASE_KEY = {
    "question": "How much is the Pro plan?",
    "intent": "product_question",
    "entities": Entities(product="orbit", plans=("pro",),
                         time_range=TimeRange(datetime(2025, 3, 1), datetime(2025, 3, 4), "this week")),
    "snapshot_version": 3,
    "prompt_version": "answer-v1",
}


# Keys ---------------------------------------------------------------------------------------------------------


def test_key_ignores_field_order_and_question_surface() -> None:
    reordered = dict(reversed(list(BASE_KEY.items()))) | {"question": "  how much is the PRO   plan "}
    assert cache_key(reordered, "gpt") == cache_key(BASE_KEY, "gpt")
    assert normalize_question("What's in Pro?!") == "what's in pro"


@pytest.mark.parametrize(
    "change",
    [
        {"snapshot_version": 4},
        {"prompt_version": "answer-v2"},
        {"intent": "call_search"},
        {"question": "How much is the Team plan?"},
        {"entities": Entities(product="orbit", plans=("team",), time_range=None)},
    ],
)
def test_key_changes_with_what_the_answer_depends_on(change: dict[str, object]) -> None:
    assert cache_key(BASE_KEY | change, "gpt") != cache_key(BASE_KEY, "gpt")


def test_key_changes_with_the_model() -> None:
    assert cache_key(BASE_KEY, "gpt-4.1-mini") != cache_key(BASE_KEY, "gpt-4.1-nano")


# Storage ------------------------------------------------------------------------------------------------------


def test_entries_expire_after_their_ttl(database: Database) -> None:
    clock = FakeClock()
    cache = ResponseCache(database, ttl_s=60, max_entries=10, clock=clock)
    cache.put("k", "answer", "gpt")
    clock.advance(59)
    assert cache.get("k") == "answer"
    clock.advance(2)
    assert cache.get("k") is None
    assert cache.stats().expired == 1


def test_hits_and_last_access_are_counted(database: Database) -> None:
    clock = FakeClock()
    cache = ResponseCache(database, ttl_s=60, max_entries=10, clock=clock)
    cache.put("k", "answer", "gpt")
    clock.advance(5)
    cache.get("k")
    clock.advance(5)
    cache.get("k")
    cache.get("missing")
    with database.engine.connect() as connection:
        hits, last_access = connection.execute(text("SELECT hits, last_access_at FROM responsecacheentry")).one()
    assert hits == 2
    assert str(last_access).startswith("2025-03-04 12:00:10")
    stats = cache.stats()
    assert (stats.entries, stats.live, stats.total_hits, stats.entries_hit) == (1, 1, 2, 1)


def test_least_recently_used_entries_are_evicted_past_the_limit(database: Database) -> None:
    clock = FakeClock()
    cache = ResponseCache(database, ttl_s=3600, max_entries=3, clock=clock, evict_every=1)
    for name in ("a", "b", "c"):
        cache.put(name, name.upper())
        clock.advance(1)
    assert cache.get("a") == "A"  # "a" is now the most recently used
    clock.advance(1)
    cache.put("d", "D")
    assert cache.get("b") is None
    assert [cache.get(name) for name in ("a", "c", "d")] == ["A", "C", "D"]
    assert cache.stats().entries == 3


def test_clear_all_or_only_expired(database: Database) -> None:
    clock = FakeClock()
    cache = ResponseCache(database, ttl_s=60, max_entries=10, clock=clock)
    cache.put("old", "1")
    clock.advance(120)
    cache.put("new", "2")
    assert cache.clear(expired_only=True) == 1
    assert cache.get("new") == "2"
    assert cache.clear() == 1
    assert cache.stats().entries == 0


def test_ttl_zero_turns_caching_off(database: Database) -> None:
    cache = ResponseCache(database, ttl_s=0, max_entries=10)
    cache.put("k", "v")
    assert cache.get("k") is None
    assert cache.stats().entries == 0


# The gateway --------------------------------------------------------------------------------------------------


@pytest.fixture
async def gateway(fake_openai: FakeOpenAI, database: Database) -> AsyncIterator[LLMGateway]:
    gateway = LLMGateway.from_settings(fast_llm_settings(fake_openai), database)
    yield gateway
    await gateway.aclose()


async def test_a_cache_hit_makes_no_request_and_a_new_snapshot_is_a_miss(fake_openai: FakeOpenAI,
                                                                        gateway: LLMGateway) -> None:
    fake_openai.script(Reply("Pro is $49."), Reply("Pro is now $59."))
    assert await gateway.complete(system="sys", user="How much is Pro?", cache_key=BASE_KEY) == "Pro is $49."
    same_question = BASE_KEY | {"question": "how much is the pro plan"}
    assert await gateway.complete(system="sys", user="how much is the pro plan", cache_key=same_question) == "Pro is $49."
    assert fake_openai.request_count == 1
    rebuilt = BASE_KEY | {"snapshot_version": 4}
    assert await gateway.complete(system="sys", user="How much is Pro?", cache_key=rebuilt) == "Pro is now $59."
    assert fake_openai.request_count == 2


async def test_a_cached_answer_streams_as_one_chunk(fake_openai: FakeOpenAI, gateway: LLMGateway) -> None:
    first = await gateway.stream(system="sys", user="hi", cache_key=BASE_KEY)
    assert first is not None
    streamed = [chunk async for chunk in first]
    assert len(streamed) > 1
    again = await gateway.stream(system="sys", user="hi", cache_key=BASE_KEY)
    assert again is not None
    assert [chunk async for chunk in again] == [DEFAULT_REPLY]
    assert await gateway.complete(system="sys", user="hi", cache_key=BASE_KEY) == DEFAULT_REPLY  # shared with complete
    assert fake_openai.request_count == 1


async def test_failures_are_not_cached_and_hits_work_while_the_breaker_is_open(fake_openai: FakeOpenAI,
                                                                               database: Database) -> None:
    settings = fast_llm_settings(fake_openai, llm_breaker_failure_threshold=1, llm_max_attempts=1)
    gateway = LLMGateway.from_settings(settings, database)
    assert await gateway.complete(system="sys", user="hi", cache_key=BASE_KEY) == DEFAULT_REPLY
    fake_openai.always(Fail(500))
    other = BASE_KEY | {"question": "something else"}
    assert await gateway.complete(system="sys", user="else", cache_key=other) is None
    assert gateway.breaker_state == "open"
    assert await gateway.complete(system="sys", user="hi", cache_key=BASE_KEY) == DEFAULT_REPLY
    assert fake_openai.request_count == 2
    assert gateway.cache is not None and gateway.cache.stats().entries == 1
    await gateway.aclose()
