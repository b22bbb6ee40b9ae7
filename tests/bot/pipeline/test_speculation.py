"""The speculative answer: the pattern intent's handler runs beside the LLM validation, against a fake
OpenAI-compatible server on loopback; confirmed, it is the reply; otherwise it leaves no trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.llm import LLMGateway
from bot.pipeline import Pipeline
from bot.settings import Settings, load_settings
from control_plane.intents import Intent
from handlers.context import HandlerContext, HandlerResult
from handlers.registry import Registry, default_registry
from knowledge.db import Database
from knowledge.thread_memory import recall
from tests.support.fake_openai import FakeOpenAI
from tests.support.pipeline import (
    NOW,
    SPECULATIVE_TEXT,
    RecordingSink,
    answer_requests,
    ask,
    day_file_records,
    make_pipeline,
    validating_as as model,
)

UNSURE = "what if they cancel"  # the patterns read a product question, not sure enough to skip validation
@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


Build = Callable[..., Pipeline]


@pytest.fixture
async def build(server: FakeOpenAI, demo_db: Database, logging_to_files: Settings) -> AsyncIterator[Build]:
    made: list[LLMGateway] = []

    def make(registry: Registry | None = None, **overrides: Any) -> Pipeline:
        settings = load_settings(**(server.settings_overrides() | {"log_dir": logging_to_files.log_dir} | overrides))
        llm = LLMGateway.from_settings(settings, demo_db)
        made.append(llm)
        return make_pipeline(settings, demo_db, llm, registry=registry)

    yield make
    for llm in made:
        await llm.aclose()


def summary(settings: Settings, correlation_id: str) -> dict[str, Any]:
    (found,) = [r for r in day_file_records(settings) if r.get("correlation_id") == correlation_id
                and "total_time_ms" in r]
    return found


async def settle(server: FakeOpenAI) -> None:
    for _ in range(100):
        if server.in_flight == 0:
            return
        await asyncio.sleep(0.01)


async def test_a_confirmed_speculative_answer_is_the_reply_and_was_asked_for_once(
        server: FakeOpenAI, build: Build, logging_to_files: Settings) -> None:
    server.responder = model("product_question", validation_delay_s=0.1, answer_delay_s=0.1)
    pipeline = build()
    reply = await ask(pipeline, UNSURE)
    assert reply.intent == "product_question" and reply.llm_validation == "used"
    assert "SPECULATIVE product answer" in reply.plain
    assert len(answer_requests(server)) == 1  # answered once, beside the validation, not again after it
    record = summary(logging_to_files, reply.correlation_id)
    assert record["speculation"] == "confirmed" and record["speculation_saved_ms"] > 0


async def test_a_disagreeing_validation_cancels_the_speculative_answer_and_answers_the_validated_intent(
        server: FakeOpenAI, build: Build, demo_db: Database, logging_to_files: Settings) -> None:
    server.responder = model("smalltalk", validation_delay_s=0.2, answer_delay_s=3.0)
    pipeline = build()
    sink = RecordingSink()
    reply = await asyncio.wait_for(ask(pipeline, UNSURE, thread="shell:reconcile", sink=sink), 2.0)
    await settle(server)
    assert reply.intent == "smalltalk"
    assert "SPECULATIVE" not in reply.plain + reply.mrkdwn + sink.text
    (speculative,) = answer_requests(server)
    assert server.disconnects == 1 and server.completed == 1  # the validation completed; the answer was closed
    memory = recall(demo_db, "shell:reconcile", now=NOW, ttl_s=86_400)
    assert memory.last_intent in (None, "smalltalk")
    record = summary(logging_to_files, reply.correlation_id)
    assert record["speculation"] == "reconciled" and record["speculation_wasted_tokens"] > 0


async def test_a_discarded_answer_that_came_back_whole_is_neither_cached_nor_remembered(
        server: FakeOpenAI, build: Build, demo_db: Database) -> None:
    server.responder = model("call_search", validation_delay_s=0.5, answer_delay_s=0.0)
    pipeline = build()
    sink = RecordingSink()
    reply = await ask(pipeline, UNSURE, thread="shell:whole", sink=sink)
    assert reply.intent == "call_search"
    assert server.completed == 2 and server.disconnects == 0  # the speculative answer came back whole
    assert "SPECULATIVE" not in reply.plain + reply.mrkdwn + sink.text
    assert (await asyncio.to_thread(pipeline.llm.cache.stats)).entries == 0  # type: ignore[union-attr]
    assert all(SPECULATIVE_TEXT not in (value or "") for value in _cached_values(demo_db))
    memory = recall(demo_db, "shell:whole", now=NOW, ttl_s=86_400)
    assert memory.last_intent == "call_search"
    assert memory.context.product is None  # nothing of the product question it was read as


def _cached_values(db: Database) -> list[str]:
    from sqlalchemy import text as sql

    from bot.llm.cache import TABLE

    with db.engine.connect() as connection:
        return [row[0] for row in connection.execute(sql(f"SELECT value FROM {TABLE}"))]


async def test_a_handler_with_side_effects_is_never_speculated(server: FakeOpenAI, build: Build,
                                                               logging_to_files: Settings) -> None:
    server.responder = model("smalltalk", validation_delay_s=0.05, answer_delay_s=0.0)
    calls: list[str] = []
    real = default_registry().handler_for(Intent.PRODUCT_QUESTION).handle

    async def writes_somewhere(ctx: HandlerContext) -> HandlerResult:
        calls.append(ctx.decision.llm_validation)
        return await real(ctx)

    pipeline = build(default_registry().replacing(Intent.PRODUCT_QUESTION, writes_somewhere, side_effects=True))
    reply = await ask(pipeline, UNSURE)
    assert reply.intent == "smalltalk" and calls == []
    assert answer_requests(server) == []
    assert summary(logging_to_files, reply.correlation_id)["speculation"] == "off"


async def test_speculation_switched_off_answers_after_the_validation(server: FakeOpenAI, build: Build,
                                                                     logging_to_files: Settings) -> None:
    server.responder = model("smalltalk", validation_delay_s=0.05, answer_delay_s=0.0)
    pipeline = build(llm_speculate=False)
    reply = await ask(pipeline, UNSURE)
    assert reply.intent == "smalltalk" and answer_requests(server) == []
    assert summary(logging_to_files, reply.correlation_id)["speculation"] == "off"


async def test_a_cached_answer_makes_no_speculative_call(server: FakeOpenAI, build: Build) -> None:
    server.responder = model("product_question", validation_delay_s=0.05, answer_delay_s=0.0)
    pipeline = build()
    first = await ask(pipeline, UNSURE, thread="shell:one")
    second = await ask(pipeline, UNSURE, thread="shell:two")
    assert first.plain == second.plain and "SPECULATIVE" in second.plain
    assert len(answer_requests(server)) == 1  # the confirmed answer was cached; the second came from there
