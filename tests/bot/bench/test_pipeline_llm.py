"""The pipeline_llm benchmark's fairer figures: the fake provider's own times, paired with the right calls."""

from __future__ import annotations

import pytest
from openai import AsyncOpenAI

from bot.bench.llm import BENCH_KEY, LoopbackLLM
from bot.bench.pipeline import LLM_LATENCY_S, _llm_samples, _Run, provider_handling_ms


async def test_the_fake_provider_reports_its_time_for_each_completion() -> None:
    async with LoopbackLLM(latency_s=0.05) as server:
        client = AsyncOpenAI(api_key=BENCH_KEY, base_url=server.base_url, max_retries=0)
        try:
            for _ in range(3):
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        finally:
            await client.close()
        handling = await provider_handling_ms(server.base_url)
    assert handling == server.handling_ms
    assert len(handling) == 3
    assert all(ms >= 50.0 for ms in handling)  # its sleep is part of what it spent


def test_each_question_is_paired_with_its_own_calls_then_its_bare_call() -> None:
    nominal = LLM_LATENCY_S * 1000.0
    runs = [
        _Run(pipeline_ms=999.0, llm_stage_ms=990.0, calls=1, bare_ms=999.0),  # warm-up, left out
        _Run(pipeline_ms=nominal + 10.0, llm_stage_ms=nominal + 7.0, calls=1, bare_ms=305.0),
        _Run(pipeline_ms=2 * nominal + 12.0, llm_stage_ms=2 * nominal + 6.0, calls=2, bare_ms=304.0),
    ]
    # Arrival order: warm-up (1 + bare), run 1 (1 + bare), run 2 (2 + bare).
    handling = [500.0, 500.0, nominal + 2.0, 302.0, nominal + 1.0, nominal + 3.0, 301.0]
    samples = _llm_samples(runs, handling, warmup=1)
    assert samples.overhead == pytest.approx([10.0, 6.0])
    assert samples.outside_llm == pytest.approx([3.0, 6.0])
    assert samples.above_provider == pytest.approx([8.0, 4.0])  # run 2: (612 - 604) / 2 calls
    assert samples.bare_sdk == pytest.approx([3.0, 3.0])
    assert samples.vs_bare_sdk == pytest.approx([5.0, 1.0])


def test_a_completion_count_that_does_not_add_up_is_an_error() -> None:
    runs = [_Run(pipeline_ms=310.0, llm_stage_ms=305.0, calls=2, bare_ms=305.0)]
    with pytest.raises(RuntimeError, match="served 2 completions, expected 3"):
        _llm_samples(runs, [300.0, 300.0], warmup=0)
