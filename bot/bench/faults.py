"""Fault benchmarks: `pitcrew serve` killed with events in flight, and taking events during a large import.

Real processes, as in production: `pitcrew serve` over HTTP, `pitcrew knowledge import`, and the
providers in a process of their own (a loopback Slack Web API that counts the replies each thread got,
a 3-second LLM and an instant one). Reported: replies lost and duplicated after a `kill -9` with 20
acknowledged events in flight and a restart (each event then redelivered 5 times, as Slack does when
it misses an ack), the same with the kill 20 ms after the acks (no LLM: answers are being posted), and
the ack latency of events arriving every 40 ms while a generated catalog is imported.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.bench.core import BenchResult, percentiles
from bot.bench.llm import BENCH_KEY, LoopbackLLM
from bot.bench.providers import LoopbackServer, provider_process
from bot.bench.slack import (
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    Target,
    _free_port,
    _http_request,
    _mention,
    _signed,
)

COUNTS_PATH = "/bench/counts"
EVENTS = 20
REDELIVERIES = 5
SLOW_LLM_S = 3.0
ACK_TARGET_MS = 100.0
IMPORT_EVENT_INTERVAL_S = 0.04
IMPORT_FIRST_EVENT = 1_000
QUESTION = "how much is Orbit Pro per seat?"


class CountingSlack(LoopbackServer):
    """The Web API methods `serve` calls, answered at once; counts the `chat.postMessage` calls per thread
    and, like Slack, shows a thread's messages with their metadata (`conversations.replies`)."""

    def __init__(self) -> None:
        self.replies: dict[str, int] = {}
        self._threads: dict[str, list[dict[str, object]]] = {}
        self._ts = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._method)
        app.router.add_get("/api/{method}", self._method)
        app.router.add_get(COUNTS_PATH, self._counts)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def _counts(self, request: web.Request) -> web.Response:
        return web.json_response(self.replies)

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response({"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "BBENCH",
                                      "team": "bench", "user": "pitcrew", "url": "https://bench.slack.com/"})
        if request.method == "GET":
            body: dict[str, Any] = dict(request.query)
        else:
            body = await request.json() if request.content_type == "application/json" else dict(await request.post())
        if method == "conversations.replies":
            messages = self._threads.get(str(body.get("ts")), [])
            return web.json_response({"ok": True, "messages": messages, "has_more": False})
        self._ts += 1
        ts = f"{int(time.time())}.{self._ts:06d}"
        if method == "chat.postMessage" and body.get("thread_ts"):
            thread = str(body["thread_ts"])
            self.replies[thread] = self.replies.get(thread, 0) + 1
            metadata = body.get("metadata")
            if isinstance(metadata, str):  # a form post carries it as JSON text
                metadata = json.loads(metadata)
            self._threads.setdefault(thread, []).append({"ts": ts, "thread_ts": thread, "metadata": metadata})
        return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts})


class FaultProviders:
    def __init__(self) -> None:
        self._slack = CountingSlack()
        self._slow = LoopbackLLM(latency_s=SLOW_LLM_S)
        self._fast = LoopbackLLM()
        self.urls: dict[str, str] = {}

    async def __aenter__(self) -> FaultProviders:
        for provider in (self._slack, self._slow, self._fast):
            await provider.__aenter__()
        self.urls = {"slack": self._slack.api_url, "slow_llm": self._slow.base_url, "fast_llm": self._fast.base_url}
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for provider in (self._fast, self._slow, self._slack):
            await provider.__aexit__(*exc_info)


class Run:
    """One scenario's servers, events and reply counts."""

    def __init__(self, workdir: Path, urls: dict[str, str], http: aiohttp.ClientSession, name: str) -> None:
        self.workdir = workdir
        self.urls = urls
        self.http = http
        self.name = name
        self.db_path = workdir / f"{name}.db"
        self.acks_ms: list[float] = []
        self.refused = 0  # deliveries not acknowledged with 200 (Slack would send them again)

    def env(self, llm: str | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("SLACK_", "OPENAI_", "DATABASE_", "LOG_", "INBOX_"))}
        env.update({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": self.urls["slack"], "DATABASE_URL": f"sqlite:///{self.db_path}",
                    "LOG_DIR": str(self.workdir / "logs"), "STREAMING": "off"})
        if llm is not None:
            env.update({"OPENAI_API_KEY": BENCH_KEY, "OPENAI_BASE_URL": self.urls[llm]})
        return env

    async def serve(self, label: str, llm: str | None) -> Target:
        port = _free_port()
        target = Target(f"{self.name}-{label}", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                                                 "--port", str(port)], port)
        await target.start(self.env(llm), self.http, self.workdir / f"{self.name}-{label}.stderr")
        return target

    def events(self, count: int, first: int) -> list[tuple[str, str, dict[str, str]]]:
        """(thread ts, raw body, headers) of `count` mentions, each its own thread and its own question."""
        prepared = []
        for n in range(first, first + count):
            ts = f"1900000000.{n:06d}"
            raw, headers = _signed(_mention(f"{QUESTION} (#{n})", ts, f"Ev{self.name}{n}"))
            prepared.append((ts, raw, headers))
        return prepared

    async def deliver(self, target: Target, raw: str, headers: dict[str, str], retry: int | None = None) -> None:
        """Until acknowledged with 200, as Slack redelivers (at once here, not after a minute)."""
        assert target.sender is not None
        for attempt in range(20):
            sent = dict(headers)
            if retry or attempt:
                sent["X-Slack-Retry-Num"] = str(retry or attempt)
            status, ack_ms = await target.sender.post(_http_request(target.port, raw, sent))
            self.acks_ms.append(ack_ms)
            if status == 200:
                return
            self.refused += 1
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name}: an event was never acknowledged")

    async def counts(self) -> dict[str, int]:
        async with self.http.get(self.urls["slack"].removesuffix("/api/") + COUNTS_PATH) as response:
            counts: dict[str, int] = await response.json()
            return counts

    async def wait_answered(self, threads: list[str], timeout: float = 60.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            counts = await self.counts()
            if all(counts.get(thread) for thread in threads) or time.monotonic() > deadline:
                return counts
            await asyncio.sleep(0.1)


def _demo_database(path: Path) -> None:
    from knowledge.db import Database
    from knowledge.demo.loader import ensure_demo_data

    path.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    ensure_demo_data(db)
    db.close()


async def _kill_scenario(run: Run, *, llm: bool, kill_after_s: float, first: int) -> tuple[int, int, str]:
    """(lost, duplicated, detail) after a kill -9 `kill_after_s` after acknowledging EVENTS events."""
    _demo_database(run.db_path)
    events = run.events(EVENTS, first)
    first_server = await run.serve("first", "slow_llm" if llm else None)
    try:
        await asyncio.gather(*(run.deliver(first_server, raw, headers) for _, raw, headers in events))
        await asyncio.sleep(kill_after_s)
    finally:
        assert first_server.process is not None
        first_server.process.kill()
        await first_server.process.wait()
        await first_server.stop()
    before = await run.counts()
    answered_before = sum(1 for ts, *_ in events if before.get(ts))
    second = await run.serve("second", "fast_llm" if llm else None)
    try:
        await run.wait_answered([ts for ts, *_ in events])
        for retry in range(1, REDELIVERIES + 1):
            await asyncio.gather(*(run.deliver(second, raw, headers, retry=retry) for _, raw, headers in events))
        await asyncio.sleep(1.0)
        counts = await run.counts()
    finally:
        await second.stop()
    lost = sum(1 for ts, *_ in events if not counts.get(ts))
    duplicated = sum(max(0, counts.get(ts, 0) - 1) for ts, *_ in events)
    detail = (f"{EVENTS} events acked, kill -9 after {kill_after_s * 1000:.0f} ms "
              f"({'3 s LLM' if llm else 'no LLM'}; {answered_before} answered before the kill), restart, "
              f"{REDELIVERIES} redeliveries of each")
    return lost, duplicated, detail


async def _import_scenario(run: Run, products: int) -> tuple[list[float], str]:
    from knowledge.db import Database
    from knowledge.export_folder import export_catalog
    from knowledge.generate import generate

    generated = Database(f"sqlite:///{run.workdir / 'faults-generated.db'}")
    try:
        generate(generated, products=products)
        export_catalog(generated, run.workdir / "faults-catalog")
    finally:
        generated.close()
    _demo_database(run.db_path)
    target = await run.serve("import", None)
    events: list[tuple[str, str, dict[str, str]]] = []
    try:
        with (run.workdir / "faults-import.out").open("wb") as out:
            importer = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "knowledge", "import", str(run.workdir / "faults-catalog"),
                env=run.env(None), stdout=out, stderr=out)
        started = time.monotonic()
        sends = []
        while importer.returncode is None or len(events) < 50:
            [event] = run.events(1, IMPORT_FIRST_EVENT + len(events))  # threads of their own (replies are counted per thread)
            events.append(event)
            sends.append(asyncio.create_task(run.deliver(target, event[1], event[2])))
            await asyncio.sleep(IMPORT_EVENT_INTERVAL_S)
        await asyncio.gather(*sends)
        import_s = time.monotonic() - started
        code = await importer.wait()
        counts = await run.wait_answered([ts for ts, *_ in events])
    finally:
        await target.stop()
    lost = sum(1 for ts, *_ in events if not counts.get(ts))
    duplicated = sum(max(0, counts.get(ts, 0) - 1) for ts, *_ in events)
    detail = (f"{len(events)} events, one every {IMPORT_EVENT_INTERVAL_S * 1000:.0f} ms, during `knowledge import` "
              f"of a generated {products:,}-product catalog ({import_s:.1f} s, exit {code}); "
              f"{run.refused} deliveries refused, {lost} lost, {duplicated} duplicated")
    return list(run.acks_ms), detail


async def _run(quick: bool, workdir: Path, urls: dict[str, str]) -> list[BenchResult]:
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    async with aiohttp.ClientSession() as http:
        for name, llm, kill_after_s, first in (("kill9_in_flight", True, 1.0, 0), ("kill9_after_acks", False, 0.02, 100)):
            lost, duplicated, detail = await _kill_scenario(Run(workdir, urls, http, name), llm=llm,
                                                            kill_after_s=kill_after_s, first=first)
            for what, value in (("lost", lost), ("duplicated", duplicated)):
                results.append(BenchResult(name=f"faults.{name}.{what}", unit="replies", p50=value, p95=value,
                                           p99=value, target="0", passed=value == 0, detail=detail))
        acks, detail = await _import_scenario(Run(workdir, urls, http, "import"), 1_000 if quick else 3_000)
    p50, p95, p99 = percentiles(acks)
    results.append(BenchResult(name="faults.ack_during_import", unit="ms", p50=round(p50, 3), p95=round(p95, 3),
                               p99=round(p99, 3), target=f"p99 < {ACK_TARGET_MS:g} ms", passed=p99 < ACK_TARGET_MS,
                               detail=detail))
    return results


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    with provider_process(FaultProviders) as urls:
        return asyncio.run(_run(quick, workdir, urls))
