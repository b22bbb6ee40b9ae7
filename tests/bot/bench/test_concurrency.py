"""The concurrency benchmark's parts: its message mix as the control plane reads it, and the fake LLM's counts."""

from __future__ import annotations

from collections import Counter

from openai import AsyncOpenAI

from bot.bench.concurrency import COPIES, IDENTICAL, _calls_about, _prompt_counts, build_mix, message_pools
from bot.bench.llm import BENCH_KEY, VALIDATION_REPLY, LoopbackLLM
from bot.settings import Settings
from knowledge.db import Database


def test_a_burst_holds_the_copies_and_unsure_and_sure_questions_three_to_one(settings: Settings,
                                                                             demo_db: Database) -> None:
    unsure, sure = message_pools(settings.database_url)
    first_unsure, first_sure = next(unsure), next(sure)
    mix = build_mix(100, unsure, sure)
    counts = Counter(mix.texts)
    assert len(mix.texts) == 100
    assert all(counts[question] == COPIES for question in IDENTICAL)
    assert (mix.validated, mix.answered) == (57, 19)  # the 76 others, 3 to 1
    others = [text for text in mix.texts if text not in IDENTICAL]
    assert len(set(others)) == 76 and first_unsure not in others and first_sure not in others  # all distinct

    from control_plane import ControlPlane, ControlPlaneConfig
    from knowledge.vocabulary import load_vocabulary

    plane = ControlPlane(ControlPlaneConfig(), load_vocabulary(demo_db), None)
    decisions = [plane.classify(text) for text in others]
    assert all(decision.intent.value == "product_question" for decision in decisions)
    assert sum(decision.llm_validation != "skipped" for decision in decisions) == mix.validated
    assert all(plane.classify(question).llm_validation == "skipped" for question in IDENTICAL)


async def test_the_fake_llm_answers_validations_in_json_and_counts_calls_per_message() -> None:
    async with LoopbackLLM(validation_reply=VALIDATION_REPLY) as server:
        client = AsyncOpenAI(api_key=BENCH_KEY, base_url=server.base_url, max_retries=0)
        try:
            structured = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": '{"message": "how much is orbit pro per seat?"}'}],
                response_format={"type": "json_schema", "json_schema": {"name": "V", "schema": {}}})
            plain = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "Question: how much is Orbit Pro per seat?"}])
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "other"}])
        finally:
            await client.close()
        import aiohttp

        async with aiohttp.ClientSession() as http:
            counts = await _prompt_counts(server.base_url, http)
    assert structured.choices[0].message.content == VALIDATION_REPLY
    assert plain.choices[0].message.content == server.reply
    assert _calls_about(counts, {}, "How much is Orbit Pro per seat?") == 2
    assert _calls_about(counts, counts, "how much is orbit pro per seat?") == 0
