"""A provider that takes connections and never answers costs seconds, not half a minute.

The real pipeline and gateway (openai client) talk to the fake OpenAI server on 127.0.0.1 in hang
mode. Behaviour is asserted (breaker state, provider calls, where the reply came from); the only
time bounds are generous ones: a reply must not wait for the answer timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.llm import LLMGateway
from bot.pipeline import Pipeline
from knowledge.db import Database
from tests.support.fake_openai import FakeOpenAI, fast_llm_settings, sensible_reply
from tests.support.pipeline import ask, make_pipeline

WAIT_S = 0.4  # first-byte and validation timeouts
ANSWER_TIMEOUT_S = 8.0  # what a stalled answer would cost without a first-byte timeout
QUESTIONS = [
    "What does the Pro plan cost?",
    "does the Team plan include SSO?",
    "compare the Team and Enterprise plans",
    "what are the limits of the Starter plan?",
]


@pytest.fixture
async def silent() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        server.hang()
        yield server


def silent_settings(server: FakeOpenAI, **overrides: Any) -> Any:
    return fast_llm_settings(server, **({
        "llm_first_byte_timeout_s": WAIT_S, "llm_validate_timeout_s": WAIT_S, "llm_validate_deadline_s": 5.0,
        "llm_answer_timeout_s": ANSWER_TIMEOUT_S, "llm_deadline_s": 20.0, "llm_breaker_recovery_s": 60.0,
    } | overrides))


async def expected(offline: Pipeline, question: str) -> str:
    """The deterministic answer (no LLM configured)."""
    return (await ask(offline, question, thread=f"shell:offline:{question}")).plain


async def test_two_stalled_calls_open_the_breaker_and_later_questions_are_answered_without_the_llm(
        silent: FakeOpenAI, demo_db: Database, offline: Pipeline) -> None:
    # Every message is validated; without speculation (its answer would be a second call stalling beside the
    # validation: test_speculation_beside_a_silent_provider_waits_one_timeout below).
    settings = silent_settings(silent, control_plane_skip_threshold=1.5, llm_speculate=False)
    llm = LLMGateway.from_settings(settings, demo_db)
    pipeline = make_pipeline(settings, demo_db, llm)
    try:
        first = await ask(pipeline, QUESTIONS[0], thread="shell:s0")
        # The validation timed out and was not tried again: the pattern decision stood at once. The request
        # had waited once for a silent provider, so its written answer was not asked for.
        assert first.llm_validation == "unavailable" and first.intent == "product_question"
        assert silent.request_count == 1
        assert llm.breaker_state == "closed" and llm.breaker.silent
        assert first.plain == await expected(offline, QUESTIONS[0])
        assert first.total_ms < ANSWER_TIMEOUT_S * 1000

        second = await ask(pipeline, QUESTIONS[1], thread="shell:s1")
        assert silent.request_count == 2  # its validation was the second stalled call: the breaker opened
        assert llm.breaker_state == "open"
        assert second.plain == await expected(offline, QUESTIONS[1])

        for index, question in enumerate(QUESTIONS[2:], start=2):
            reply = await ask(pipeline, question, thread=f"shell:s{index}")
            assert reply.llm_validation == "unavailable"
            assert reply.plain == await expected(offline, question)
            assert reply.total_ms < ANSWER_TIMEOUT_S * 1000 / 4
        assert silent.request_count == 2  # the open breaker kept them all off the network
    finally:
        await llm.aclose()


async def test_speculation_beside_a_silent_provider_waits_one_timeout(
        silent: FakeOpenAI, demo_db: Database, offline: Pipeline) -> None:
    settings = silent_settings(silent, control_plane_skip_threshold=1.5)  # every message validated, speculating
    llm = LLMGateway.from_settings(settings, demo_db)
    pipeline = make_pipeline(settings, demo_db, llm)
    try:
        first = await ask(pipeline, QUESTIONS[0], thread="shell:s0")
        # The validation and the speculative answer stalled side by side: one wait, not two in a row
        assert silent.request_count == 2 and llm.breaker_state == "open"
        assert first.llm_validation == "unavailable" and first.plain == await expected(offline, QUESTIONS[0])
        assert first.total_ms < 2 * WAIT_S * 1000
    finally:
        await llm.aclose()


async def test_many_questions_at_once_wait_one_first_byte_timeout_not_the_answer_timeout(
        silent: FakeOpenAI, demo_db: Database, offline: Pipeline) -> None:
    # Confident patterns: no validation, straight to the written answer; fewer slots than questions.
    settings = silent_settings(silent, llm_max_concurrency=2)
    llm = LLMGateway.from_settings(settings, demo_db)
    pipeline = make_pipeline(settings, demo_db, llm)
    try:
        questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(20)]
        replies = await asyncio.gather(*(ask(pipeline, q, thread=f"shell:c{i}") for i, q in enumerate(questions)))
        assert llm.breaker_state == "open"
        # About one attempt per slot reached the provider: the calls waiting for a slot found the breaker open
        # (one freed by the first timeout may go out before the second timeout opens it).
        assert silent.request_count <= settings.llm_max_concurrency + settings.llm_breaker_timeout_threshold
        for question, reply in zip(questions, replies, strict=True):
            assert reply.llm_validation == "skipped" and not reply.failed
            assert reply.plain == await expected(offline, question)
            assert reply.total_ms < ANSWER_TIMEOUT_S * 1000
    finally:
        await llm.aclose()


async def test_the_open_breaker_probes_with_one_call_and_closes_when_the_provider_answers_again(
        silent: FakeOpenAI, demo_db: Database) -> None:
    settings = silent_settings(silent, llm_breaker_recovery_s=0.3)
    llm = LLMGateway.from_settings(settings, demo_db)
    pipeline = make_pipeline(settings, demo_db, llm)
    try:
        await ask(pipeline, QUESTIONS[0], thread="shell:p0")
        assert silent.request_count == 1  # its answer timed out once and was not retried: the request had waited
        await ask(pipeline, QUESTIONS[1], thread="shell:p1")
        assert llm.breaker_state == "open" and silent.request_count == 2
        await asyncio.sleep(0.35)
        assert llm.breaker_state == "half_open"
        await asyncio.gather(*(ask(pipeline, q, thread=f"shell:p{i}") for i, q in enumerate(QUESTIONS, start=2)))
        assert silent.request_count == 3  # one trial; the others were refused while it ran
        assert llm.breaker_state == "open"  # the trial timed out too

        silent.responder = sensible_reply  # the provider is back
        await asyncio.sleep(0.35)
        reply = await ask(pipeline, QUESTIONS[2], thread="shell:p9")
        assert llm.breaker_state == "closed"
        assert silent.request_count == 4 and "fake model" in reply.plain
    finally:
        await llm.aclose()
