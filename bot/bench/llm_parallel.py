"""Benchmark: a validated message's answer written beside its validation (speculation) against after it.

    pitcrew bench --only llm_parallel [--quick]

Messages the patterns are unsure of (so the LLM validates them) and whose handler asks the LLM for its
answer go through the real pipeline (`Application.running`), against a fake OpenAI-compatible server on
127.0.0.1 (a process of its own) that takes a planned 300–800 ms for each call (60–160 ms in the quick mode). Each message is
asked twice in a row, once speculating and once sequentially, with the same planned delays: the pairs
alternate, so drift hits both modes alike. Confirmed, a message should take max(validation, answer) and
a few ms; reconciled (the validation names another intent), sequential time and nothing lost.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app.application import Application
from bot.bench.core import BenchResult, percentiles
from bot.bench.llm import VALIDATION_REPLY, LoopbackLLM
from bot.bench.providers import provider_process
from bot.pipeline import IncomingMessage, Pipeline
from bot.settings import load_settings

OVERHEAD_TARGET_MS = 10.0
# Unsure product questions: validated, and answered by the LLM.
MESSAGES = ("what if they cancel", "hooli pricing", "acme sso", "tell me about orbit", "what about the api")
DISAGREEING = json.dumps(json.loads(VALIDATION_REPLY) | {"intent": "call_search"})


PLAN_PATH = "/bench/plan"


class PlannedLLM(LoopbackLLM):
    """A loopback LLM whose validations and written answers take planned delays, and whose validations agree
    or not, as last posted to `PLAN_PATH` (which answers with the kinds of calls since the previous plan).
    Served from a process of its own (`provider_process`), so its work never delays the pipeline's."""

    def __init__(self) -> None:
        super().__init__(validation_reply=VALIDATION_REPLY, reply="Orbit Pro is $49 per seat per month.")
        self.plan = {"validate": 0.0, "answer": 0.0}
        self.kinds: list[str] = []

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_post(PLAN_PATH, self._set_plan)

    async def _set_plan(self, request: web.Request) -> web.Response:
        plan = await request.json()
        kinds, self.kinds = self.kinds, []
        self.plan = {"validate": float(plan["validate"]), "answer": float(plan["answer"])}
        self.validation_reply = DISAGREEING if plan["disagree"] else VALIDATION_REPLY
        return web.json_response(kinds)

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()  # aiohttp keeps the body: the parent class reads it again
        kind = "validate" if (body.get("response_format") or {}).get("type") == "json_schema" else "answer"
        self.kinds.append(kind)
        await asyncio.sleep(self.plan[kind])
        return await super()._complete(request)


async def _ask(pipeline: Pipeline, text: str, thread: str) -> float:
    started = time.perf_counter()
    await pipeline.handle(IncomingMessage(text=text, thread_key=thread, source="shell", new_thread=True))
    return (time.perf_counter() - started) * 1000.0


class Plans:
    """The fake LLM's plan, set over HTTP; each change returns the kinds of calls made since the last."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self._http, self._url = http, base_url.removesuffix("/v1") + PLAN_PATH

    async def set(self, validate_s: float, answer_s: float, *, disagree: bool = False) -> list[str]:
        body = {"validate": validate_s, "answer": answer_s, "disagree": disagree}
        async with self._http.post(self._url, json=body) as response:
            return list(await response.json())


async def _measure(workdir: Path, base_url: str, pairs: int, scale: float) -> dict[str, Any]:
    rng = random.Random(20)
    async with aiohttp.ClientSession() as http:
        plans = Plans(http, base_url)
        settings = load_settings(openai_api_key="bench-key", openai_base_url=base_url,
                                 database_url=f"sqlite:///{workdir / 'llm-parallel.db'}", log_dir=workdir / "logs",
                                 response_cache_ttl_s=0, llm_hedge_max_ratio=0.0)
        async with Application.running(settings) as app:
            speculating = app.pipeline
            sequential = Pipeline(db=speculating.db, llm=speculating.llm, control_plane=speculating.control_plane,
                                  resolver=speculating.resolver, registry=speculating.registry, speculate=False)
            await _ask(speculating, MESSAGES[0], "bench:warm")  # connections, first-use costs
            await _ask(sequential, MESSAGES[0], "bench:warm2")
            rows: dict[str, Any] = {"confirm": [], "reconcile": []}
            # The floor: the same messages with an instant LLM (the pipeline's own time, two LLM calls' client CPU)
            await plans.set(0.0, 0.0)
            rows["floor"] = [await _ask(speculating, MESSAGES[n % 3], f"bench:floor:{n}") for n in range(9)]
            for index in range(pairs):
                case = "reconcile" if index % 5 == 4 else "confirm"
                text = MESSAGES[index % len(MESSAGES)]
                validate_s, answer_s = rng.uniform(0.3, 0.8) * scale, rng.uniform(0.3, 0.8) * scale
                first, second = (speculating, sequential) if index % 2 == 0 else (sequential, speculating)
                await plans.set(validate_s, answer_s, disagree=case == "reconcile")
                timed = {first: await _ask(first, text, f"bench:{index}:a")}
                kinds = {first: await plans.set(validate_s, answer_s, disagree=case == "reconcile")}
                timed[second] = await _ask(second, text, f"bench:{index}:b")
                kinds[second] = await plans.set(0.0, 0.0)
                if "answer" not in kinds[sequential] and case == "confirm":
                    continue  # the handler did not ask the LLM: not a message this benchmark is about
                rows[case].append((timed[speculating], timed[sequential], validate_s * 1000, answer_s * 1000))
    return rows


def _result(name: str, samples: list[float], unit: str, target: str, passed: bool, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name=name, unit=unit, p50=round(p50, 2), p95=round(p95, 2), p99=round(p99, 2), target=target,
                       passed=passed, detail=detail)


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    pairs, scale = (10, 0.2) if quick else (40, 1.0)
    with provider_process(PlannedLLM) as urls:
        rows = asyncio.run(_measure(workdir, urls["llm"], pairs, scale))
    confirm, reconcile = rows["confirm"], rows["reconcile"]
    if not confirm:
        raise RuntimeError("no confirmed message asked the LLM for its answer")
    band = f"{300 * scale:.0f}-{800 * scale:.0f} ms calls"
    overhead = [spec - max(v, a) for spec, _, v, a in confirm]
    saving = [seq - spec for spec, seq, _, _ in confirm]
    results = [
        _result("llm_parallel.confirmed.over_max_ms", overhead, "ms", f"p95 < {OVERHEAD_TARGET_MS:g} ms over "
                "max(validation, answer)", percentiles(overhead)[1] < OVERHEAD_TARGET_MS,
                f"{len(confirm)} confirmed messages, {band}; speculative mean {statistics.fmean(s for s, *_ in confirm):.0f} ms"
                f" vs sequential {statistics.fmean(q for _, q, *_ in confirm):.0f} ms, alternated; sequential over "
                f"validation + answer: p50 {statistics.median(q - v - a for _, q, v, a in confirm):.1f} ms"),
        _result("llm_parallel.instant_llm_ms", rows["floor"], "ms", "reference (LLM answering at once)", True,
                "the same messages, speculating, with a fake LLM that answers at once: the pipeline's own time "
                "and the client side of its two LLM calls, which any figure over max(validation, answer) includes"),
        _result("llm_parallel.confirmed.saving_ms", saving, "ms", "mean > 0 (sequential - speculative)",
                statistics.fmean(saving) > 0,
                f"mean saving {statistics.fmean(saving):.0f} ms; mean min(validation, answer) "
                f"{statistics.fmean(min(v, a) for *_, v, a in confirm):.0f} ms"),
    ]
    if reconcile:
        lost = [spec - seq for spec, seq, _, _ in reconcile]
        results.append(_result("llm_parallel.reconciled.extra_ms", lost, "ms", "mean < 10 ms over sequential",
                               statistics.fmean(lost) < OVERHEAD_TARGET_MS,
                               f"{len(reconcile)} messages whose validation named another intent (speculation "
                               "cancelled, validated intent answered)"))
    return results
