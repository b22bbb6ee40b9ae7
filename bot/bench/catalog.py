"""Catalog at scale (`catalog_100k`): product questions on 100,000 generated products (5,000 with --quick).

The demo knowledge base is imported on top of the generated catalog, so its products (Orbit, the
primary one, Beacon...) sit among 100,000 others that share their plan names ("Pro": about half of
them) and words. Each kind of question is timed through the pipeline in this process, as a request
runs (thread memory, control plane, handler; no LLM): one that names a product, ones that name none
(the primary product answers), misspelt names and names nothing answers to (the "did you mean" path).
Then `pitcrew serve` answers bursts of 20 such questions over the Slack HTTP path (fake Slack API on
loopback, as in the `slack` benchmark): the acks must stay fast while the answers are worked out.
The catalog is generated once per run and shared by both parts.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

from bot.app.application import Application
from bot.bench.core import BenchResult, percentiles
from bot.bench.providers import provider_process
from bot.bench.slack import BenchProviders, RepliesClient, Target, _burst, _free_port, serve_env
from bot.pipeline import IncomingMessage
from bot.settings import load_settings
from knowledge.catalog_names import refresh_catalog_names
from knowledge.db import Database
from knowledge.demo.loader import demo_files
from knowledge.generate import generate
from knowledge.importer import import_files
from knowledge.snapshots import rebuild_snapshots

FULL_PRODUCTS = 100_000
QUICK_PRODUCTS = 5_000
QUESTION_TARGET_MS = 10.0
ACK_TARGET_MS = 20.0
BURST_SIZE = 20
# Events of a burst arrive this far apart (20 in 0.1 s): each lands while the answers to the previous ones are
# being worked out, as in a busy channel, so an answer that holds the event loop shows in the acks.
BURST_GAP_S = 0.005

# Two questions per kind, asked in turn.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "names_product": ("how much is Orbit Pro per seat?", "does Beacon integrate with Slack?"),
    "no_product": ("how much is the Pro plan?", "what integrations do we have?"),
    "misspelt": ("does Orbitx support SSO?", "how much does Orbitxx cost?"),
    "unknown_name": ("how much is the Zorblax plan?", "how much does Zorblax cost?"),
}
BURST_QUESTIONS = tuple(question for pair in zip(*QUESTIONS.values(), strict=True) for question in pair)


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    products = QUICK_PRODUCTS if quick else FULL_PRODUCTS
    label = f"catalog_{products // 1000}k"
    path = workdir / "catalog.db"
    build_s = build_catalog(path, products)
    about = f"{products:,} generated products + the demo catalog (built in {build_s:.0f} s)"
    results = asyncio.run(_questions(path, workdir, label, about, repeats=40 if quick else 200))
    with provider_process(BenchProviders) as urls:
        results += asyncio.run(_bursts(path, workdir, label, about, urls, bursts=3 if quick else 10))
    return results


def build_catalog(path: Path, products: int) -> float:
    """Generate `products` products into a new database at `path`, import the demo on top, build every
    snapshot; returns the seconds it took."""
    started = time.perf_counter()
    db = Database(f"sqlite:///{path}")
    try:
        generate(db, products=products, seed=1)
        import_files(db, demo_files(), source="demo knowledge base", rebuild=False)
        report = rebuild_snapshots(db)
        if report.failed:
            raise RuntimeError(f"the generated catalog did not build: {report.errors[:1]}")
    finally:
        db.close()
    return time.perf_counter() - started


async def _questions(path: Path, workdir: Path, label: str, about: str, repeats: int) -> list[BenchResult]:
    """Every kind of question through the pipeline, the kinds in turn so drifts of the machine hit them alike."""
    settings = load_settings(database_url=f"sqlite:///{path}", log_dir=workdir / "logs", openai_api_key=None)
    warmup = 4
    samples: dict[str, list[float]] = {kind: [] for kind in QUESTIONS}
    async with Application.running(settings, load_demo=False) as app:
        started = time.perf_counter()
        await asyncio.to_thread(refresh_catalog_names, app.db)  # as `serve` does at start, in the background
        names_s = time.perf_counter() - started
        for round_no in range(warmup + repeats):
            for kind, questions in QUESTIONS.items():
                text = questions[round_no % len(questions)]
                message = IncomingMessage(text=text, thread_key=f"bench:{kind}:{round_no}", source="shell",
                                          user="bench", new_thread=True)
                started = time.perf_counter()
                reply = await app.pipeline.handle(message)
                elapsed = (time.perf_counter() - started) * 1000.0
                if reply.failed:
                    raise RuntimeError(f"the pipeline failed on {text!r} (correlation id {reply.correlation_id})")
                if round_no >= warmup:
                    samples[kind].append(elapsed)
    results = []
    for kind, timings in samples.items():
        p50, p95, p99 = percentiles(timings)
        asked = " / ".join(f"“{question}”" for question in QUESTIONS[kind])
        results.append(BenchResult(
            name=f"{label}.{kind}", unit="ms", p50=round(p50, 3), p95=round(p95, 3), p99=round(p99, 3),
            target=f"p95 < {QUESTION_TARGET_MS:g} ms", passed=p95 < QUESTION_TARGET_MS,
            detail=f"{asked}; {len(timings)} through the pipeline in-process, no LLM; {about}"))
    results.append(BenchResult(
        name=f"{label}.names_load", unit="s", p50=round(names_s, 3), p95=round(names_s, 3), p99=round(names_s, 3),
        target="reference", passed=True,
        detail="loading the product and plan names into memory (in a worker thread, at start and after an import)"))
    return results


async def _bursts(path: Path, workdir: Path, label: str, about: str, urls: dict[str, str],
                  bursts: int) -> list[BenchResult]:
    """`pitcrew serve` on the catalog, no LLM: bursts of BURST_SIZE questions of every kind at once."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * BURST_SIZE)) as http:
        replies = RepliesClient(urls["slack"], http)
        port = _free_port()
        target = Target("catalog", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                    str(port)], port)
        started = time.perf_counter()
        await target.start(serve_env(urls, path, workdir / "serve-logs", llm=False), http, workdir / "serve.stderr")
        healthz_s = time.perf_counter() - started
        last_reply_ms: list[float] = []
        try:
            await _burst(target, replies, burst_no=0, measure=False, size=BURST_SIZE, questions=BURST_QUESTIONS,
                         gap_s=BURST_GAP_S)
            for burst_no in range(1, bursts + 1):
                before = len(target.replies_ms)
                await _burst(target, replies, burst_no=burst_no, measure=True, size=BURST_SIZE,
                             first_question=burst_no, questions=BURST_QUESTIONS, gap_s=BURST_GAP_S)
                last_reply_ms.append(max(target.replies_ms[before:]))
        finally:
            exit_code = await target.stop()
    acks, replies_ms = target.measured()
    detail = (f"{bursts} bursts of {BURST_SIZE} signed app_mention events, one every {BURST_GAP_S * 1000:g} ms, "
              f"the questions of every kind "
              f"in turn; pitcrew serve over HTTP, fake Slack API on loopback, no LLM; {about}; /healthz after "
              f"{healthz_s:.1f} s; errors {target.errors}, exit code {exit_code}")
    return [
        _row(f"{label}.burst_ack", acks, f"p95 < {ACK_TARGET_MS:g} ms", percentiles(acks)[1] < ACK_TARGET_MS, detail),
        _row(f"{label}.burst_event_to_reply", replies_ms, "reference", True,
             f"event POST sent -> reply at the fake Slack API; the last reply of a burst came after "
             f"{max(last_reply_ms):.0f} ms at worst; {detail}"),
    ]


def _row(name: str, samples: list[float], target: str, passed: bool, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name=name, unit="ms", p50=round(p50, 3), p95=round(p95, 3), p99=round(p99, 3), target=target,
                       passed=passed, detail=detail)
