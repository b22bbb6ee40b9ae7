"""LLM gateway benchmarks: response-cache hits, a repeated-question replay, breaker fail-fast, loopback calls.

The provider is `LoopbackLLM`, a minimal OpenAI-compatible server on 127.0.0.1 with a fixed latency (also
usable by other benchmarks that need a fake LLM); the real `openai` client talks to it over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app.application import Application
from bot.bench.core import BenchResult, percentiles
from bot.bench.providers import LoopbackServer
from bot.settings import load_settings

SYSTEM = "You are pitcrew, the sales assistant of the Orbit team. Answer from these facts: Pro is $49 per seat."
BENCH_KEY = "sk-bench-not-a-real-key-000000"

# A repeated-question mix: each question in the surface forms people type it in.
QUESTIONS = [
    "How much is the {plan} plan?",
    "Does {plan} include SSO?",
    "What is the API limit on {plan}?",
    "Is there an annual discount for {plan}?",
    "Compare {plan} and Enterprise",
]
PLANS = ["Starter", "Team", "Pro", "Business", "Scale", "Growth"]


HANDLING_PATH = "/bench/handling"
PROMPTS_PATH = "/bench/prompts"

# A well-formed IntentValidation (`control_plane.validation`): what a fake provider answers a validation with.
VALIDATION_REPLY = json.dumps({
    "intent": "product_question", "confidence": 0.8,
    "entities": {"person": None, "account": None, "product": None, "plans": [], "topic": None,
                 "time_range": None, "meeting_kind": None},
})


class LoopbackLLM(LoopbackServer):
    """A fixed-latency OpenAI-compatible `/v1/chat/completions` on 127.0.0.1 (the reply in one piece, or as
    one streamed chunk when asked for a stream, as the gateway always does for written answers).

    It keeps how long it really spent on each completion, its late timer wake-ups included, and serves
    the list as JSON at `HANDLING_PATH` (beside `/v1`): what a provider's own processing time is to a client.
    With `validation_reply`, a structured-output request (a `json_schema` response format) gets that instead
    of `reply`. `PROMPTS_PATH` serves how many completions each user message asked for.
    """

    def __init__(self, latency_s: float = 0.0, reply: str = "Pro is $49 per seat per month.",
                 validation_reply: str | None = None) -> None:
        self.latency_s = latency_s
        self.reply = reply
        self.validation_reply = validation_reply
        self.requests = 0
        self.handling_ms: list[float] = []  # per completion, in the order they arrived
        self.prompts: Counter[str] = Counter()  # completions per user message

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_get(HANDLING_PATH, self._handling)
        app.router.add_get(PROMPTS_PATH, self._prompts)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def urls(self) -> dict[str, str]:
        """For `providers.provider_process`."""
        return {"llm": self.base_url}

    async def _handling(self, request: web.Request) -> web.Response:
        return web.json_response(self.handling_ms)

    async def _prompts(self, request: web.Request) -> web.Response:
        return web.json_response(self.prompts)

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        body = await request.json()
        self.requests += 1
        users = [str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "user"]
        self.prompts[users[-1] if users else ""] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if body.get("stream"):
            try:
                streamed = await self._stream(request, body)
            except ConnectionResetError:  # the client gave up waiting (its deadline): nobody to answer
                return web.Response(status=499)
            self.handling_ms.append((time.perf_counter() - started) * 1000.0)
            return streamed
        structured = (body.get("response_format") or {}).get("type") == "json_schema"
        content = self.validation_reply if structured and self.validation_reply is not None else self.reply
        completion = {
            "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "bench"),
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48},
        }
        response = web.Response(text=json.dumps(completion), content_type="application/json")
        self.handling_ms.append((time.perf_counter() - started) * 1000.0)
        return response


    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        """The reply as server-sent events: one text chunk, the finish, the usage if asked for, `[DONE]`."""
        head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "bench")}
        events = [
            head | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": self.reply},
                                 "finish_reason": None, "logprobs": None}]},
            head | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}]},
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(head | {"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 8,
                                                            "total_tokens": 48}})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        payload = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        await response.write(payload.encode())
        await response.write_eof()
        return response


async def bare_answer(client: Any, **request: Any) -> str:
    """A written answer asked of the provider with the bare `openai` client the way the gateway asks for
    one (streamed and gathered): the reference pitcrew's own overhead is measured against."""
    chunks = await client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **request)
    parts = [chunk.choices[0].delta.content or "" async for chunk in chunks if chunk.choices]
    return "".join(parts)


def _cache_fields(question: str) -> dict[str, Any]:
    return {"question": question, "intent": "product_question", "entities": {"product": "orbit"},
            "snapshot_version": 1, "prompt_version": "bench-v1"}


def _surface_variants(question: str) -> list[str]:
    return [question, question.lower(), question.upper(), f"  {question.rstrip('?')} ?? "]


async def _time_async(call: Callable[[], Awaitable[object]], repeats: int, warmup: int, scale: float) -> list[float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * scale)
    return samples


def _result(name: str, unit: str, samples: list[float], target: str, passed: Callable[[float], bool],
            detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name=name, unit=unit, p50=round(p50, 4), p95=round(p95, 4), p99=round(p99, 4),
                       target=target, passed=passed(p95), detail=detail)


async def _run(quick: bool, workdir: Path) -> list[BenchResult]:
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "llm-bench.db"
    db_path.unlink(missing_ok=True)
    results: list[BenchResult] = []
    async with LoopbackLLM() as server:
        settings = load_settings(openai_api_key=BENCH_KEY, openai_base_url=server.base_url,
                                 database_url=f"sqlite:///{db_path}", llm_breaker_recovery_s=3600.0)
        services = AsyncExitStack()  # the gateway as the process builds it (the pipeline unused)
        gateway = (await services.enter_async_context(Application.running(settings, load_demo=False))).llm
        try:
            # Cache hits: the same question again.
            hit_fields = _cache_fields("How much is the Pro plan?")
            assert await gateway.complete(system=SYSTEM, user="How much is the Pro plan?", cache_key=hit_fields)
            hits = await _time_async(
                lambda: gateway.complete(system=SYSTEM, user="How much is the Pro plan?", cache_key=hit_fields),
                repeats=300 if quick else 3000, warmup=30, scale=1000.0)
            results.append(_result("llm.cache.hit", "ms", hits, "p95 < 2 ms", lambda p95: p95 < 2.0,
                                   "complete() answered from the database cache"))

            # A replay of repeated questions in varied surface forms: how often the cache answers.
            rng = random.Random(7)
            distinct = [template.format(plan=plan) for template in QUESTIONS for plan in PLANS]
            weights = [1.0 / (rank + 1) for rank in range(len(distinct))]  # a few questions are asked most
            asks = rng.choices(distinct, weights=weights, k=200 if quick else 1000)
            before = server.requests
            for question in asks:
                typed = rng.choice(_surface_variants(question))
                await gateway.complete(system=SYSTEM, user=typed, cache_key=_cache_fields(typed))
            misses = server.requests - before
            hit_rate = 1.0 - misses / len(asks)
            results.append(BenchResult(
                name="llm.cache.replay_hit_rate", unit="ratio", p50=round(hit_rate, 4), p95=round(hit_rate, 4),
                p99=round(hit_rate, 4), target=">= 0.8", passed=hit_rate >= 0.8,
                detail=f"{len(asks)} asks of {len(distinct)} questions in 4 surface forms; {misses} reached the LLM"))

            # A round trip to a loopback provider with no latency: the gateway's and the SDK's own cost.
            counter = iter(range(10**9))
            calls = await _time_async(
                lambda: gateway.complete(system=SYSTEM, user=f"uncached question {next(counter)}"),
                repeats=100 if quick else 500, warmup=10, scale=1000.0)
            results.append(_result("llm.call.loopback", "ms", calls, "p95 < 10 ms", lambda p95: p95 < 10.0,
                                   "complete() without cache against a zero-latency loopback server"))

            # An open breaker: calls must be refused at once, without touching the network.
            for _ in range(settings.llm_breaker_failure_threshold):
                gateway.breaker.record_failure()
            before = server.requests
            refused = await _time_async(lambda: gateway.complete(system=SYSTEM, user="hi"),
                                        repeats=1000 if quick else 10000, warmup=100, scale=1_000_000.0)
            if server.requests != before:
                raise RuntimeError("a call reached the server while the breaker was open")
            results.append(_result("llm.breaker.open_fail_fast", "us", refused, "p95 < 1000 us",
                                   lambda p95: p95 < 1000.0, "complete() refused by the open circuit breaker"))
        finally:
            await services.aclose()
    return results


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    return asyncio.run(_run(quick, workdir))


def main() -> None:
    import sys
    import tempfile

    logging.disable(logging.CRITICAL)  # run alone, without the runner's scratch day file: keep the terminal quiet
    with tempfile.TemporaryDirectory(prefix="pitcrew-bench-llm-") as directory:
        for result in run(quick="--quick" in sys.argv, workdir=Path(directory)):
            print(json.dumps(result.as_json()))


if __name__ == "__main__":
    main()
