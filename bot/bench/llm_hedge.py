"""Benchmark: hedged LLM calls against a provider with a slow tail, and routing around a provider that is down.

    pitcrew bench --only llm_hedge [--quick]

A fake OpenAI-compatible provider on 127.0.0.1 answers in 200 ms, except 5 % of its calls (spread at
random, a fixed count) that take 3 s (50 ms and 1 s in the quick mode). The same calls go through the
gateway with hedging (after the recent p95, at most `LLM_HEDGE_MAX_RATIO` = 5 % of calls) and without;
the figures are the callers' latencies and the share of extra provider calls. Then two providers, the first
down (nothing listening on its port): once the first's breaker is open, the calls' latency against a
gateway with the second provider alone.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.bench.core import BenchResult, percentiles
from bot.bench.llm import LoopbackLLM
from bot.bench.providers import provider_process
from bot.llm import LLMGateway
from bot.settings import load_settings

SLOW_SHARE = 0.05
P99_OVER_P50_TARGET = 1.5
EXTRA_CALLS_TARGET = 0.06
WARM_UP_CALLS = 25  # fast ones, so the p95 is known before the measured calls


ARRIVED_PATH = "/bench/arrived"
MEASURED = "measured question"


class TailLLM(LoopbackLLM):
    """A loopback LLM whose calls take `fast_s`, except "measured question N" for N in `slow`, which take
    `slow_s` (a hedge of it, too, is fast: the slowness is the replica's, not the question's);
    `ARRIVED_PATH` says how many calls arrived. Served from a process of its own (`provider_process`)."""

    def __init__(self, fast_s: float, slow_s: float, slow: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.fast_s, self.slow_s = fast_s, slow_s
        self.slow = frozenset(slow)
        self.seen: set[str] = set()
        self.arrived = 0

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get(ARRIVED_PATH, self._arrived)

    async def _arrived(self, request: web.Request) -> web.Response:
        return web.json_response(self.arrived)

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        self.arrived += 1
        body = await request.json()  # aiohttp keeps the body: the parent class reads it again
        question = str(body["messages"][-1]["content"])
        number = question.removeprefix(f"{MEASURED} ")
        asked = json.dumps(body["messages"])  # a hedge asks the same again
        slow = asked not in self.seen and number.isdigit() and int(number) in self.slow
        self.seen.add(asked)
        try:
            await asyncio.sleep(self.slow_s if slow else self.fast_s)
            return await super()._complete(request)
        except ConnectionResetError:  # a hedge won and the client closed this request
            return web.Response(status=499)


def _settings(*urls: str, **overrides: Any) -> Any:
    providers = [{"name": f"p{index}", "base_url": url, "api_key": "bench-key"} for index, url in enumerate(urls, 1)]
    return load_settings(llm_providers=providers, llm_answer_timeout_s=10.0, llm_deadline_s=12.0,
                         llm_first_byte_timeout_s=10.0, llm_backoff_initial_s=0.01, llm_backoff_max_s=0.05, **overrides)


async def _calls(gateway: LLMGateway, count: int, concurrency: int, tag: str, run: str = "") -> list[float]:
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(index: int) -> None:
        async with slots:
            started = time.perf_counter()
            answer = await gateway.complete(system=f"You are a bench{run}.", user=f"{tag} {index}")
            if answer is None:
                raise RuntimeError("an LLM call failed in the hedging benchmark")
            latencies.append((time.perf_counter() - started) * 1000.0)

    await asyncio.gather(*(one(index) for index in range(count)))
    return latencies


async def _arrivals(base_url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(base_url.removesuffix("/v1") + ARRIVED_PATH) as response:
        return int(await response.json())


async def _tail(base_url: str, calls: int, concurrency: int, hedge: bool) -> tuple[list[float], float]:
    """(latencies of the measured calls, extra provider calls per measured call)."""
    gateway = LLMGateway.from_settings(_settings(base_url, llm_hedge_max_ratio=0.05 if hedge else 0.0), None)
    try:
        await _calls(gateway, WARM_UP_CALLS, concurrency, "warm" if hedge else "warm again")
        before = await _arrivals(base_url)
        latencies = await _calls(gateway, calls, concurrency, MEASURED, run="" if hedge else "unhedged ")
        extra = (await _arrivals(base_url) - before - calls) / calls
    finally:
        await gateway.aclose()
    return latencies, extra


async def _measure(url: str, calls: int, concurrency: int, failover_calls: int) -> dict[str, Any]:
    hedged, extra = await _tail(url, calls, concurrency, hedge=True)
    plain, plain_extra = await _tail(url, calls, concurrency, hedge=False)
    both, alone, opened = await _failover(url, failover_calls)
    return {"hedged": hedged, "extra": extra, "plain": plain, "plain_extra": plain_extra, "both": both,
            "alone": alone, "opened": opened}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _failover(up: str, calls: int) -> tuple[list[float], list[float], bool]:
    """(latencies through [down, up] once the first's breaker opened, latencies through [up] alone, opened)."""
    down = f"http://127.0.0.1:{_closed_port()}/v1"
    both = LLMGateway.from_settings(_settings(down, up, llm_hedge_max_ratio=0.0), None)
    alone = LLMGateway.from_settings(_settings(up, llm_hedge_max_ratio=0.0), None)
    try:
        await _calls(both, 4, 1, "open the breaker")  # connection refused, fail-over, until it opens
        opened = both.providers.all[0].breaker.state.value == "open"
        await _calls(alone, 3, 1, "warm")
        through_both, through_one = [], []
        for round_ in range(calls // 5):  # alternated in small batches, so drift hits both alike
            through_both += await _calls(both, 5, 5, f"both {round_}")
            through_one += await _calls(alone, 5, 5, f"alone {round_}")
    finally:
        await both.aclose()
        await alone.aclose()
    return through_both, through_one, opened


def _ms(name: str, samples: list[float], target: str, passed: bool, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name=name, unit="ms", p50=round(p50, 1), p95=round(p95, 1), p99=round(p99, 1), target=target,
                       passed=passed, detail=detail)


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    calls, concurrency, fast_s, slow_s = (80, 10, 0.05, 1.0) if quick else (1000, 10, 0.2, 3.0)
    slow = tuple(random.Random(5).sample(range(calls), round(calls * SLOW_SHARE)))
    with provider_process(TailLLM, fast_s, slow_s, slow) as urls:
        measured = asyncio.run(_measure(urls["llm"], calls, concurrency, 20 if quick else 200))
    hedged, extra, plain, plain_extra = measured["hedged"], measured["extra"], measured["plain"], measured["plain_extra"]
    both, alone, opened = measured["both"], measured["alone"], measured["opened"]
    p50, _, p99 = percentiles(hedged)
    ratio = p99 / p50
    plain_p50, _, plain_p99 = percentiles(plain)
    setup = (f"{calls} calls, {concurrency} at a time, {fast_s * 1000:.0f} ms each but {SLOW_SHARE:.0%} at "
             f"{slow_s * 1000:.0f} ms")
    return [
        _ms("llm_hedge.hedged", hedged, f"p99 <= {P99_OVER_P50_TARGET}x p50", ratio <= P99_OVER_P50_TARGET,
            f"{setup}; p99/p50 {ratio:.2f}; extra provider calls {extra:.1%}"),
        BenchResult(name="llm_hedge.extra_calls", unit="ratio", p50=round(extra, 4), p95=round(extra, 4),
                    p99=round(extra, 4), target=f"<= {EXTRA_CALLS_TARGET:.0%}", passed=extra <= EXTRA_CALLS_TARGET,
                    detail=f"hedges sent per measured call (LLM_HEDGE_MAX_RATIO 0.05); without hedging {plain_extra:.1%}"),
        _ms("llm_hedge.unhedged", plain, "reference (hedging off)", True,
            f"same calls, LLM_HEDGE_MAX_RATIO=0: p99/p50 {plain_p99 / plain_p50:.2f}"),
        _ms("llm_hedge.failover", both, "p50 within 5 ms of the second provider alone",
            opened and percentiles(both)[0] - percentiles(alone)[0] < 5.0,
            f"first provider down (breaker {'open' if opened else 'NOT open'}); second alone: p50 "
            f"{percentiles(alone)[0]:.1f} ms, p99 {percentiles(alone)[2]:.1f} ms"),
    ]
