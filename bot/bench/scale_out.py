"""Scale-out benchmark: 1, 2 and 3 `pitcrew serve` instances on one PostgreSQL database, with a 1 s LLM.

Each size gets a fresh PostgreSQL database with the demo knowledge base and that many `pitcrew serve`
processes (HTTP Events API, as behind a load balancer), every one warmed up first. Then one burst of
distinct product questions (each its own thread, so neither the response cache nor single flight spares
a call) is sent at once, spread round robin over the instances; the providers (loopback Slack API and a
loopback LLM answering every completion after 1 s) run in a process of their own. Reported per size:
events answered per second (burst size / first event sent -> last reply at the fake Slack API) and the
event-to-reply p95.

Besides, the single-instance pipeline (no LLM, the `pipeline` benchmark's message mix, request logging on)
on SQLite and on PostgreSQL side by side: what moving the database to a server costs per request.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.bench.core import BenchResult, percentiles
from bot.bench.llm import VALIDATION_REPLY
from bot.bench.postgres import PostgresUnavailable, scratch_postgres
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
    serve_env,
)

LLM_LATENCY_S = 1.0
INSTANCES = (1, 2, 3)
QUICK_INSTANCES = (1, 2)  # the smoke test: the same code paths as three
BURST = 150
QUICK_BURST = 20
REPLY_TARGET_S = 3.0
SCALING_FLOOR = 0.9  # n instances answer at least this share of one instance's events/s
PIPELINE_REPEATS = 300
QUICK_PIPELINE_REPEATS = 40


@dataclass(frozen=True)
class ScaleRun:
    instances: int
    events: int
    all_answered_s: float
    replies_ms: list[float]
    refused: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.all_answered_s


def _questions(count: int, offset: int) -> list[str]:
    """Distinct product questions the patterns are sure of (answered by the LLM, no validation)."""
    plans = ("Starter", "Team", "Growth", "Pro", "Enterprise")
    return [f"how much is Orbit {plans[n % len(plans)]} for {offset + n + 3} seats?" for n in range(count)]


def _load_demo(database_url: str) -> None:
    from knowledge.db import Database
    from knowledge.demo.loader import ensure_demo_data

    db = Database(database_url)
    try:
        ensure_demo_data(db)
    finally:
        db.close()


async def _burst(targets: list[Target], replies: RepliesClient, texts: list[str], burst_no: int
                 ) -> tuple[float, list[float], int]:
    """Send every event at once, round robin over `targets`; (all answered s, event-to-reply ms, refused)."""
    senders = [EventSender(target.port, connections=max(1, len(texts) // len(targets) + 1)) for target in targets]
    for sender in senders:
        await sender.open()
    prepared = []
    for index, text in enumerate(texts):
        ts = f"{1_950_000_000 + burst_no}.{index:06d}"
        target = targets[index % len(targets)]
        raw, headers = _signed(_mention(text, ts, f"Evscale{burst_no}x{index}"))
        prepared.append((ts, senders[index % len(targets)], _http_request(target.port, raw, headers)))
    sent: dict[str, float] = {}
    refused = 0

    async def send(ts: str, sender: EventSender, request: bytes) -> None:
        nonlocal refused
        sent[ts] = time.perf_counter()
        try:
            status, _ = await sender.post(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        refused += status != 200

    try:
        await asyncio.gather(*(send(ts, sender, request) for ts, sender, request in prepared))
        replied_at = await replies.wait([ts for ts, _, _ in prepared])
    finally:
        for sender in senders:
            await sender.close()
    all_answered_s = max(replied_at.values()) - min(sent.values())
    return all_answered_s, [(replied_at[ts] - sent[ts]) * 1000.0 for ts, _, _ in prepared], refused


async def _scale(instances: int, burst: int, workdir: Path, urls: dict[str, str]) -> ScaleRun:
    with scratch_postgres(f"scale{instances}") as database_url:
        await asyncio.to_thread(_load_demo, database_url)
        async with aiohttp.ClientSession() as http:
            replies = RepliesClient(urls["slack"], http)
            targets = []
            try:
                for n in range(instances):
                    port = _free_port()
                    target = Target(f"pitcrew{n}", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                                                    "--port", str(port)], port)
                    targets.append(target)
                    env = serve_env(urls, workdir / "unused.db", workdir / f"logs-{instances}-{n}")
                    env["DATABASE_URL"] = database_url
                    await target.start(env, http, workdir / f"scale-{instances}-{n}.stderr")
                for n, target in enumerate(targets):  # connections to both providers, first-use caches
                    await _burst([target], replies, _questions(2, 10_000 * (n + 1)), burst_no=100 * instances + n)
                seconds, replies_ms, refused = await _burst(targets, replies, _questions(burst, 0), burst_no=instances)
            finally:
                for target in targets:
                    await target.stop()
    return ScaleRun(instances, burst, seconds, replies_ms, refused)


def _pipeline_p95(database_url: str, workdir: Path, repeats: int) -> list[float]:
    from bot.app.application import Application
    from bot.bench.pipeline import MESSAGES, _measure, _settings

    settings = _settings(workdir, database_url=database_url, log_dir=workdir / f"pipeline-logs-{time.monotonic_ns()}")
    messages = [MESSAGES[i % len(MESSAGES)] for i in range(repeats + len(MESSAGES))]

    async def measure() -> list[float]:
        async with Application.running(settings) as app:
            return await _measure(app.pipeline, messages, warmup=len(MESSAGES))

    return asyncio.run(measure())


def _pipeline_results(workdir: Path, repeats: int) -> list[BenchResult]:
    from bot.bench.pipeline import PIPELINE_TARGET_MS

    sqlite_url = f"sqlite:///{workdir / 'scale-pipeline.db'}"
    _load_demo(sqlite_url)
    sqlite_ms = _pipeline_p95(sqlite_url, workdir, repeats)
    with scratch_postgres("pipeline") as postgres_url:
        _load_demo(postgres_url)
        postgres_ms = _pipeline_p95(postgres_url, workdir, repeats)
    rows = []
    # SQLite keeps the pipeline's own target; PostgreSQL is reported beside it (each statement is a round trip to
    # the server, ~0.3 ms here, where SQLite reads in-process), for choosing a backend, not as a pass mark.
    for name, samples, target_ms in (("sqlite", sqlite_ms, PIPELINE_TARGET_MS), ("postgres", postgres_ms, None)):
        p50, p95, p99 = percentiles(samples)
        other = postgres_ms if name == "sqlite" else sqlite_ms
        rows.append(BenchResult(
            name=f"scale_out.pipeline.{name}", unit="ms", p50=round(p50, 3), p95=round(p95, 3), p99=round(p99, 3),
            target="reported beside SQLite" if target_ms is None else f"p95 < {target_ms:g} ms",
            passed=target_ms is None or p95 < target_ms,
            detail=f"one instance, no LLM, the pipeline benchmark's {len(samples)} messages on the demo data in "
                   f"{'SQLite (file, WAL)' if name == 'sqlite' else 'PostgreSQL on 127.0.0.1'}; the other backend's "
                   f"p95 {percentiles(other)[1]:.3f} ms"))
    return rows


def _scale_results(runs: list[ScaleRun]) -> list[BenchResult]:
    single = runs[0].events_per_s
    rows = []
    for run in runs:
        rate = round(run.events_per_s, 1)
        reply_p50, reply_p95, reply_p99 = percentiles(run.replies_ms)
        floor = single * SCALING_FLOOR if run.instances > 1 else 0.0
        what = (f"{run.events} distinct product questions at once, round robin over {run.instances} pitcrew serve "
                f"on one PostgreSQL database, 1 s loopback LLM")
        rows.append(BenchResult(
            name=f"scale_out.{run.instances}_instances.events_per_s", unit="events/s", p50=rate, p95=rate, p99=rate,
            target="reported" if run.instances == 1 else f">= {SCALING_FLOOR:g} x 1 instance's",
            passed=run.refused == 0 and run.events_per_s >= floor,
            detail=f"{what}: {run.all_answered_s:.2f} s from the first event sent to the last reply; "
                   f"events refused {run.refused}"))
        rows.append(BenchResult(
            name=f"scale_out.{run.instances}_instances.reply", unit="ms", p50=round(reply_p50, 1),
            p95=round(reply_p95, 1), p99=round(reply_p99, 1), target=f"p95 < {REPLY_TARGET_S:g} s",
            passed=reply_p95 < REPLY_TARGET_S * 1000.0, detail=f"{what}: each event sent -> its reply"))
    return rows


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    try:
        pipeline_rows = _pipeline_results(workdir, QUICK_PIPELINE_REPEATS if quick else PIPELINE_REPEATS)
    except PostgresUnavailable as exc:
        return [BenchResult(name="scale_out.postgres", unit="-", p50=0, p95=0, p99=0, target="a PostgreSQL server",
                            passed=False, detail=str(exc))]
    with provider_process(BenchProviders, LLM_LATENCY_S, VALIDATION_REPLY) as urls:
        runs = [asyncio.run(_scale(n, QUICK_BURST if quick else BURST, workdir, urls))
                for n in (QUICK_INSTANCES if quick else INSTANCES)]
    return [*_scale_results(runs), *pipeline_rows]


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pitcrew-bench-scale-out-") as directory:
        for result in run(quick="--quick" in sys.argv, workdir=Path(directory)):
            print(json.dumps(result.as_json()))
