"""Pipeline benchmarks: a message mix through all three stages on the demo data.

`pipeline`: no LLM configured (deterministic answers); every sample is one `Pipeline.handle` with
request logging on, thread memory written, snapshot read, calls searched. Target p95 < 3 ms.
`pipeline_llm`: product questions answered by a fake OpenAI-compatible server on 127.0.0.1 (in its
own process, like a real provider) that takes a fixed 300 ms (response cache off, so every answer
reaches it); the figure is the time above the LLM's, per LLM call. Target p95 < 5 ms.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.bench.core import BenchResult, percentiles
from bot.bench.llm import BENCH_KEY, LoopbackLLM
from bot.llm import LLMGateway
from bot.observability import configure_logging, reset_logging
from bot.pipeline import IncomingMessage, Pipeline
from bot.settings import Settings, load_settings
from knowledge.db import Database
from knowledge.demo import ensure_demo_data

PIPELINE_TARGET_MS = 3.0
LLM_OVERHEAD_TARGET_MS = 5.0
LLM_LATENCY_S = 0.3
PIPELINE_STAGES = ("meeting_resolution", "control_plane", "handler")

# A realistic mix: mostly product questions, then call searches, recaps, drafts and chat.
MESSAGES = (
    "What does the Pro plan cost?",
    "how much is the Enterprise plan per seat",
    "does the Growth plan include CSV export?",
    "compare the Team and Enterprise plans",
    "is there a Salesforce integration?",
    "what are the API rate limits on Starter",
    "is customer data encrypted at rest?",
    "do we offer a free trial",
    "find calls about pricing",
    "search calls with Globex about security last month",
    "any calls mentioning \"data residency\"?",
    "summarize my last call with Acme",
    "what were the action items from the Initech demo?",
    "draft a follow-up email to Priya about the security review",
    "help",
    "thanks!",
    "what's the weather in Paris",
)
LLM_MESSAGES = (
    "What does the {plan} plan cost?",
    "Does the {plan} plan include single sign-on?",
    "What are the limits on the {plan} plan?",
    "Is there a Salesforce integration on {plan}?",
)
LLM_PLANS = ("Starter", "Team", "Growth", "Pro", "Enterprise")


def _settings(workdir: Path, **overrides: object) -> Settings:
    defaults: dict[str, object] = {
        "database_url": f"sqlite:///{workdir / 'pipeline-bench.db'}",
        "log_dir": workdir / "pipeline-bench-logs",
        "openai_api_key": None,
    }
    return load_settings(**{**defaults, **overrides})


async def _measure(
    pipeline: Pipeline, messages: list[str], warmup: int, stages: dict[str, list[float]] | None = None
) -> list[float]:
    """Time each message end to end; with `stages`, also collect each request's own stage timings."""
    samples: list[float] = []
    for index, text in enumerate(messages):
        message = IncomingMessage(text=text, thread_key=f"bench:{index % 50}", source="shell", user="bench")
        started = time.perf_counter()
        reply = await pipeline.handle(message)
        elapsed = (time.perf_counter() - started) * 1000.0
        if reply.failed:
            raise RuntimeError(f"pipeline failed on {text!r} (correlation id {reply.correlation_id})")
        if index >= warmup:
            samples.append(elapsed)
            if stages is not None:
                for name in PIPELINE_STAGES:
                    stages[name].append(reply.stages.get(name, 0.0))
    return samples


def bench_without_llm(workdir: Path, repeats: int) -> list[BenchResult]:
    """End to end, plus each of the three stages (`pipeline.stage.*`, which `pitcrew bench --out` plots)."""
    settings = _settings(workdir)
    stages: dict[str, list[float]] = {name: [] for name in PIPELINE_STAGES}
    db = Database(settings.database_url)
    try:
        ensure_demo_data(db)
        llm = LLMGateway.from_settings(settings, db)
        pipeline = Pipeline.from_settings(settings, db, llm)
        messages = [MESSAGES[i % len(MESSAGES)] for i in range(repeats + len(MESSAGES))]
        samples = asyncio.run(_measure(pipeline, messages, warmup=len(MESSAGES), stages=stages))
    finally:
        db.close()
    end_to_end = _result(
        "pipeline.no_llm.demo",
        samples,
        PIPELINE_TARGET_MS,
        f"p95 < {PIPELINE_TARGET_MS:g} ms",
        f"{len(samples)} messages, {len(MESSAGES)} kinds, logging on",
    )
    per_stage = [
        _result(f"pipeline.stage.{name}", timings, PIPELINE_TARGET_MS, f"part of p95 < {PIPELINE_TARGET_MS:g} ms",
                "as logged in the request summary")
        for name, timings in stages.items()
    ]
    return [end_to_end, *per_stage]


def _serve_llm(urls: multiprocessing.Queue, stop: Any) -> None:
    """The fake LLM in its own process, like a real provider: its work is not counted as pitcrew's."""

    async def serve() -> None:
        async with LoopbackLLM(latency_s=LLM_LATENCY_S, reply="**Pro** is $99 per seat per month.") as server:
            urls.put(server.base_url)
            while not stop.is_set():
                await asyncio.sleep(0.05)

    asyncio.run(serve())


@contextmanager
def _llm_process() -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    process = context.Process(target=_serve_llm, args=(urls, stop), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for its address, or for it to die trying
            try:
                url = urls.get(timeout=0.2)
                break
            except queue.Empty:
                if not process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the fake LLM server process did not start") from None
        yield url
    finally:
        stop.set()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


async def _measure_llm(workdir: Path, repeats: int, base_url: str) -> tuple[list[float], list[float]]:
    """Per LLM call: (time above the LLM's latency, the part of it spent outside the gateway's `llm` stage)."""
    settings = _settings(workdir, openai_api_key=BENCH_KEY, openai_base_url=base_url, response_cache_ttl_s=0)
    db = Database(settings.database_url)
    llm = LLMGateway.from_settings(settings, db)
    try:
        pipeline = Pipeline.from_settings(settings, db, llm)
        overheads: list[float] = []
        outside_llm: list[float] = []
        for index in range(repeats + 2):
            text = LLM_MESSAGES[index % len(LLM_MESSAGES)].format(plan=LLM_PLANS[index % len(LLM_PLANS)])
            message = IncomingMessage(text=text, thread_key=f"bench-llm:{index}", source="shell", user="bench")
            started = time.perf_counter()
            reply = await pipeline.handle(message)
            elapsed = (time.perf_counter() - started) * 1000.0
            if reply.failed or "llm" not in reply.stages:
                raise RuntimeError(f"the LLM did not answer {text!r} (correlation id {reply.correlation_id})")
            calls = 2 if reply.llm_validation == "used" else 1  # the answer, and the intent validation if any
            if index >= 2:  # the first calls open connections
                overheads.append((elapsed - calls * LLM_LATENCY_S * 1000.0) / calls)
                outside_llm.append(elapsed - reply.stages["llm"])
        return overheads, outside_llm
    finally:
        await llm.aclose()
        db.close()


def bench_with_llm(workdir: Path, repeats: int) -> BenchResult:
    with _llm_process() as base_url:
        samples, outside_llm = asyncio.run(_measure_llm(workdir, repeats, base_url))
    pipeline_p50, pipeline_p95, _ = percentiles(outside_llm)
    return _result(
        "pipeline_llm.overhead",
        samples,
        LLM_OVERHEAD_TARGET_MS,
        f"p95 < {LLM_OVERHEAD_TARGET_MS:g} ms above a {LLM_LATENCY_S * 1000:g} ms LLM",
        f"{len(samples)} product questions answered by the LLM, cache off; outside the gateway's llm stage "
        f"p50 {pipeline_p50:.2f} ms, p95 {pipeline_p95:.2f} ms (the rest is the OpenAI client and HTTP)",
    )


def _result(name: str, samples: list[float], target_ms: float, target: str, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(
        name=name, unit="ms", p50=round(p50, 3), p95=round(p95, 3), p99=round(p99, 3), target=target,
        passed=p95 < target_ms, detail=detail,
    )


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    workdir.mkdir(parents=True, exist_ok=True)
    configure_logging(_settings(workdir), stderr=False)  # requests log their summary, as in production
    try:
        return [
            *bench_without_llm(workdir, repeats=300 if quick else 2000),
            bench_with_llm(workdir, repeats=12 if quick else 60),
        ]
    finally:
        reset_logging()


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        for result in run(quick=False, workdir=Path(directory)):
            print(result.as_json())
