"""Concurrency benchmark: 50, 100 and 200 conversations at once through `pitcrew serve`, with a 1 s LLM.

As in production: `pitcrew serve` over the HTTP Events API, the providers in a process of their own (the
loopback Slack API of the Slack benchmark, which records when each thread's reply arrives, and the loopback
LLM answering every completion after 1 s), and this process writing prepared signed events. Each size is one
burst of that many `app_mention` events, each its own thread, sent at once: 2 questions asked 12 times each
(the patterns are sure of them: one written answer each), and the rest 3 to 1 messages the patterns are
unsure of (validated by the fast model, then answered) and sure product questions (answered).

Reported per size: the time from the first event sent to the last reply's arrival at the fake Slack API
(`all_answered`), the acks' HTTP round trips (`ack`), the validations that gave no verdict although the LLM
was up (`validations_dropped`, from the request summaries `pitcrew logs stats` reads, with their reasons),
and the LLM calls each of the two repeated questions made (`identical_calls`, counted by the fake LLM).
The response cache is off, so only single flight can spare a call; answers are posted whole (`STREAMING=off`).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.bench.core import BenchResult, percentiles
from bot.bench.llm import PROMPTS_PATH, VALIDATION_REPLY
from bot.bench.providers import provider_process
from bot.bench.slack import (
    BenchProviders,
    EventSender,
    RepliesClient,
    Target,
    _free_port,
    _http_request,
    _mention,
    _signed,
    demo_database,
    serve_env,
)
from bot.observability.stats import LogStats, compute_stats, list_day_files

LLM_LATENCY_S = 1.0
SIZES = (50, 100, 200)
QUICK_SIZES = (50,)
ALL_ANSWERED_TARGET_S = 6.0
ACK_TARGET_MS = 20.0
COPIES = 12
IDENTICAL = ("how much is Orbit Pro per seat?", "what integrations does Orbit have?")
VALIDATED_SHARE = 0.75  # of the messages that are not copies
SUMMARY_WAIT_S = 30.0

# Messages the patterns are unsure of (validated) and sure of (answered at once), filled with the demo
# catalog's plans and what it offers; which are which is checked with the real control plane.
UNSURE_TEMPLATES = ("can {plan} do {item}", "what do we charge for {item} on the {plan} tier",
                    "is {plan} good for {item}")
SURE_TEMPLATES = ("does the {product} {plan} plan include {item}?", "how much is {product} {plan} for {seats} seats?")


@dataclass(frozen=True)
class Mix:
    """One burst's messages, in sending order."""

    texts: list[str]
    validated: int  # messages the patterns are unsure of
    answered: int  # messages they are sure of (copies excluded)


def message_pools(db_url: str) -> tuple[Iterator[str], Iterator[str]]:
    """Endless distinct (unsure, sure) product questions about the demo catalog, as the control plane reads them."""
    from bot.settings import load_settings
    from control_plane import ControlPlane, ControlPlaneConfig
    from handlers.registry import default_registry
    from knowledge.db import Database
    from knowledge.vocabulary import load_vocabulary

    db = Database(db_url)
    try:
        vocabulary = load_vocabulary(db)
    finally:
        db.close()
    plane = ControlPlane(ControlPlaneConfig.from_settings(load_settings(openai_api_key=None)), vocabulary, None,
                         intent_slots=default_registry().slots())
    plans = [(plan, min(products)) for plan, products in vocabulary.plans.items()]
    items = sorted({name for name, _ in vocabulary.offered if len(name) < 30 and not name.endswith("?")})

    def pool(templates: tuple[str, ...], sure: bool) -> Iterator[str]:
        seats = itertools.count(3)
        for (plan, product), item, template in itertools.product(plans, items, templates):
            text = template.format(plan=plan, product=product.title(), item=item.lower(), seats=next(seats))
            decision = plane.classify(text)
            if decision.intent.value == "product_question" and (decision.llm_validation == "skipped") == sure:
                yield text

    return pool(UNSURE_TEMPLATES, sure=False), pool(SURE_TEMPLATES, sure=True)


def build_mix(size: int, unsure: Iterator[str], sure: Iterator[str]) -> Mix:
    """`size` messages: the copies of the repeated questions, then unsure and sure ones 3 to 1, interleaved."""
    rest = size - COPIES * len(IDENTICAL)
    validated = round(rest * VALIDATED_SHARE)
    fresh = [next(unsure) for _ in range(validated)] + [next(sure) for _ in range(rest - validated)]
    copies = [question for _ in range(COPIES) for question in IDENTICAL]
    texts: list[str] = []
    while fresh or copies:  # spread the copies through the burst
        if copies:
            texts.append(copies.pop())
        texts.extend(fresh[:7])
        del fresh[:7]
    return Mix(texts, validated, rest - validated)


@dataclass(frozen=True)
class Burst:
    size: int
    mix: Mix
    all_answered_s: float
    acks_ms: list[float]
    replies_ms: list[float]
    errors: int
    identical_calls: list[int]  # LLM calls per repeated question
    validation_calls: int
    answer_calls: int
    validations_dropped: int
    dropped_by_reason: dict[str, int]


async def _prompt_counts(llm_url: str, http: aiohttp.ClientSession) -> dict[str, int]:
    async with http.get(llm_url.removesuffix("/v1") + PROMPTS_PATH) as response:
        response.raise_for_status()
        counts: dict[str, int] = await response.json()
        return counts


async def _summaries(log_dir: Path, expected: int) -> LogStats:
    """The request summaries so far, once `expected` of them are written (they follow the replies)."""
    deadline = time.monotonic() + SUMMARY_WAIT_S
    while True:
        stats = compute_stats([path for _, path in list_day_files(log_dir)], sla_ms=5000.0)
        if stats.requests >= expected or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.2)


async def _burst(target: Target, replies: RepliesClient, texts: list[str], burst_no: int) -> tuple[
        float, list[float], list[float], int]:
    """Send every event at once on connections opened beforehand; (all answered s, acks ms, replies ms, errors)."""
    sender = EventSender(target.port, connections=len(texts))
    await sender.open()
    prepared = []
    for index, text in enumerate(texts):
        ts = f"{1_900_000_000 + burst_no}.{index:06d}"
        raw, headers = _signed(_mention(text, ts, f"Evconc{burst_no}x{index}"))
        prepared.append((ts, _http_request(target.port, raw, headers)))
    sent: dict[str, float] = {}
    acks: list[float] = []
    errors = 0

    async def send(ts: str, request: bytes) -> None:
        nonlocal errors
        sent[ts] = time.perf_counter()
        try:
            status, ack_ms = await sender.post(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status, ack_ms = 0, 0.0
        if status == 200:
            acks.append(ack_ms)
        else:
            errors += 1

    try:
        await asyncio.gather(*(send(ts, request) for ts, request in prepared))
        replied_at = await replies.wait([ts for ts, _ in prepared])
    finally:
        await sender.close()
    first_sent = min(sent.values())
    all_answered_s = max(replied_at.values()) - first_sent
    replies_ms = [(replied_at[ts] - sent[ts]) * 1000.0 for ts, _ in prepared]
    return all_answered_s, acks, replies_ms, errors


def _calls_about(counts: dict[str, int], before: dict[str, int], question: str) -> int:
    """Completions since `before` whose user message carries `question`."""
    lowered = question.lower()
    return sum(count - before.get(prompt, 0) for prompt, count in counts.items() if lowered in prompt.lower())


async def _run(quick: bool, workdir: Path, urls: dict[str, str]) -> list[Burst]:
    db_path = demo_database(workdir, "concurrency-bench.db")
    unsure, sure = message_pools(f"sqlite:///{db_path}")
    log_dir = workdir / "logs"
    env = serve_env(urls, db_path, log_dir)
    bursts: list[Burst] = []
    async with aiohttp.ClientSession() as http:
        replies = RepliesClient(urls["slack"], http)
        target = Target("pitcrew", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                    str(port := _free_port())], port)
        try:
            await target.start(env, http, workdir / "pitcrew-serve.stderr")
            warmup = [next(sure), next(unsure)]  # connections to both providers, first-use caches
            await _burst(target, replies, warmup, burst_no=0)
            summaries = len(warmup)
            previous = await _summaries(log_dir, summaries)
            for burst_no, size in enumerate(QUICK_SIZES if quick else SIZES, start=1):
                mix = build_mix(size, unsure, sure)
                before = await _prompt_counts(urls["llm"], http)
                all_answered_s, acks, replies_ms, errors = await _burst(target, replies, mix.texts, burst_no)
                counts = await _prompt_counts(urls["llm"], http)
                summaries += size
                stats = await _summaries(log_dir, summaries)
                validation_calls = sum(count - before.get(prompt, 0) for prompt, count in counts.items()
                                       if prompt.startswith("{"))  # a validation's user turn is JSON
                all_calls = sum(counts.values()) - sum(before.values())
                dropped = {reason: count - previous.llm_validation_unavailable.get(reason, 0)
                           for reason, count in stats.llm_validation_unavailable.items()}
                dropped = {reason: count for reason, count in dropped.items() if count}
                bursts.append(Burst(
                    size=size, mix=mix, all_answered_s=all_answered_s, acks_ms=acks, replies_ms=replies_ms,
                    errors=errors, identical_calls=[_calls_about(counts, before, q) for q in IDENTICAL],
                    validation_calls=validation_calls, answer_calls=all_calls - validation_calls,
                    validations_dropped=sum(dropped.values()), dropped_by_reason=dropped,
                ))
                previous = stats
        finally:
            await target.stop()
    return bursts


def _results(burst: Burst) -> list[BenchResult]:
    name = f"concurrency.{burst.size}"
    mix = burst.mix
    what = (f"{burst.size} conversations at once through pitcrew serve (HTTP Events API), 1 s loopback LLM: "
            f"{COPIES} copies of each of {len(IDENTICAL)} questions, {mix.validated} validated then answered, "
            f"{mix.answered} answered")
    reply_p50, reply_p95, _ = percentiles(burst.replies_ms)
    seconds = round(burst.all_answered_s, 3)
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(burst.dropped_by_reason.items())) or "none"
    worst_identical = max(burst.identical_calls)
    ack_p50, ack_p95, ack_p99 = percentiles(burst.acks_ms) if burst.acks_ms else (0.0, 0.0, 0.0)
    return [
        BenchResult(name=f"{name}.all_answered", unit="s", p50=seconds, p95=seconds, p99=seconds,
                    target=f"< {ALL_ANSWERED_TARGET_S:g} s", passed=burst.all_answered_s < ALL_ANSWERED_TARGET_S
                    and burst.errors == 0,
                    detail=f"{what}; first event sent -> last reply at the fake Slack API; event to reply p50 "
                           f"{reply_p50 / 1000:.2f} s, p95 {reply_p95 / 1000:.2f} s; {burst.validation_calls} "
                           f"validation and {burst.answer_calls} answer calls; events refused {burst.errors}"),
        BenchResult(name=f"{name}.ack", unit="ms", p50=round(ack_p50, 3), p95=round(ack_p95, 3),
                    p99=round(ack_p99, 3), target=f"p95 < {ACK_TARGET_MS:g} ms", passed=ack_p95 < ACK_TARGET_MS,
                    detail=f"HTTP round trip of each event POST in the burst of {burst.size}"),
        BenchResult(name=f"{name}.validations_dropped", unit="count", p50=burst.validations_dropped,
                    p95=burst.validations_dropped, p99=burst.validations_dropped, target="0",
                    passed=burst.validations_dropped == 0,
                    detail=f"of {mix.validated} validations, requests whose validation gave no verdict with the LLM "
                           f"up (llm_validation unavailable in the request summaries), by reason: {reasons}"),
        BenchResult(name=f"{name}.identical_calls", unit="calls", p50=worst_identical, p95=worst_identical,
                    p99=worst_identical, target="1 per question", passed=worst_identical == 1,
                    detail=f"LLM calls made for the {COPIES} copies of each repeated question, counted by the fake "
                           f"LLM: {burst.identical_calls}"),
    ]


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    with provider_process(BenchProviders, LLM_LATENCY_S, VALIDATION_REPLY) as urls:
        bursts = asyncio.run(_run(quick, workdir, urls))
    return [result for burst in bursts for result in _results(burst)]


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pitcrew-bench-concurrency-") as directory:
        for result in run(quick="--quick" in sys.argv, workdir=Path(directory)):
            print(json.dumps(result.as_json()))
