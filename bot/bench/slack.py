"""Slack benchmarks: `pitcrew serve` over HTTP against a loopback Slack API, next to a bare Bolt echo app.

Three kinds of process, as in production: the two servers under test, the providers (a fake Slack Web
API that records when each reply arrives, and an instant fake LLM that records how long it spent on each
completion) and this one, the load generator, which writes prepared signed events over keep-alive
connections and does little else. Single events alternate between the echo app and pitcrew, event by
event, each finding its server idle; then bursts of 50 go to each in turn. Ack latency is the HTTP round
trip of the event POST; event-to-reply the time from sending the event to its `chat.postMessage` reaching
the fake Slack API. The echo app (one Bolt listener posting the text back, same pooled Web API client) is
the floor pitcrew is compared against in the same run, as issue 15 decided: pitcrew's own work per event
(event to reply minus the LLM provider's own time) against the echo app's event to reply, and each
server's CPU time per event (its threads' run time from /proc, read before each of its events). pitcrew
runs with its request logging on, as in production (LOG_LEVEL=INFO, a day file in the scratch directory).
Peak RSS of `pitcrew serve` on a 10k-product catalog is read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.bench.core import BenchResult, percentiles
from bot.bench.llm import BENCH_KEY, LoopbackLLM, bare_answer
from bot.bench.providers import LoopbackServer, provider_process

BOT_TOKEN = "xoxb-bench-0000-not-a-real-token"
SIGNING_SECRET = "bench-signing-secret-not-real"
BOT_USER_ID = "UBENCHBOT"
TEAM_ID = "T0BENCH"
BURST = 50
OWN_WORK_TARGET = 1.5  # pitcrew's own work per event, at most this many times the echo app's event to reply
CPU_TARGET = 2.0  # pitcrew's CPU time per event, at most this many times the echo app's
REPLY_TIMEOUT_S = 60.0
SINGLE_GAP_S = 0.01  # between events sent one at a time, so each finds the server idle
RSS_TARGET_MB = 200
RSS_CATALOG_PRODUCTS = 10_000
QUESTIONS = (
    "how much is Orbit Pro per seat?",
    "what integrations does Orbit have?",
    "does Orbit Business include SSO?",
    "help",
    "what are the limits on the Orbit Starter plan?",
)


WAIT_PATH = "/bench/wait"


class LoopbackSlack(LoopbackServer):
    """The Web API methods the servers call, answered at once; records when each thread's reply arrived.

    `POST /bench/wait` with a JSON list of thread timestamps answers, once every one of them has a reply,
    with the `perf_counter` time each reply arrived at.
    """

    def __init__(self) -> None:
        self.replied_at: dict[str, float] = {}  # thread_ts -> perf_counter at arrival
        self._ts = 0
        self._arrived = asyncio.Condition()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._method)
        app.router.add_post(WAIT_PATH, self._wait)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def _wait(self, request: web.Request) -> web.Response:
        thread_ts: list[str] = await request.json()
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: all(ts in self.replied_at for ts in thread_ts)),
                                   REPLY_TIMEOUT_S)
        return web.json_response({ts: self.replied_at[ts] for ts in thread_ts})

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response({"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "BBENCH",
                                      "team": "bench", "user": "pitcrew", "url": "https://bench.slack.com/"})
        body = await request.json() if request.content_type == "application/json" else dict(await request.post())
        self._ts += 1
        ts = f"{int(time.time())}.{self._ts:06d}"
        if method == "chat.postMessage" and body.get("thread_ts"):
            async with self._arrived:
                self.replied_at.setdefault(str(body["thread_ts"]), time.perf_counter())
                self._arrived.notify_all()
        return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts})


class BenchProviders:
    """The loopback Slack API and a fake LLM (instant unless `llm_latency_s`), served together from their own
    process."""

    def __init__(self, llm_latency_s: float = 0.0, validation_reply: str | None = None) -> None:
        self._slack = LoopbackSlack()
        self._llm = LoopbackLLM(latency_s=llm_latency_s, validation_reply=validation_reply)
        self.urls: dict[str, str] = {}

    async def __aenter__(self) -> BenchProviders:
        await self._slack.__aenter__()
        await self._llm.__aenter__()
        self.urls = {"slack": self._slack.api_url, "llm": self._llm.base_url}
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._llm.__aexit__(*exc_info)
        await self._slack.__aexit__(*exc_info)


class RepliesClient:
    """Asks the providers' process when replies arrived."""

    def __init__(self, slack_api_url: str, http: aiohttp.ClientSession) -> None:
        self._url = slack_api_url.removesuffix("/api/") + WAIT_PATH
        self._http = http

    async def wait(self, thread_ts: list[str]) -> dict[str, float]:
        async with self._http.post(self._url, json=thread_ts,
                                   timeout=aiohttp.ClientTimeout(total=REPLY_TIMEOUT_S + 5)) as response:
            response.raise_for_status()
            arrived: dict[str, float] = await response.json()
            return arrived


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _signed(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    from slack_sdk.signature import SignatureVerifier

    raw = json.dumps(body)
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=raw)
    return raw, {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
                 "Content-Type": "application/json"}


def _feedback_click(number: int, positive: bool) -> tuple[str, dict[str, str]]:
    """A signed `block_actions` form: a rep's 👍/👎 under an answer (its value as pitcrew writes it)."""
    from urllib.parse import urlencode

    from slack_sdk.signature import SignatureVerifier

    from bot.slack.feedback import FEEDBACK_ACTION_ID, button_value
    from knowledge.quality import AnswerFacts

    value = button_value("good" if positive else "bad",
                         AnswerFacts(f"bench-{number}", "product_question", "product_question", "bench", "skipped", 1))
    payload = {"type": "block_actions", "user": {"id": "U0BENCH", "team_id": TEAM_ID}, "api_app_id": "A0BENCH",
               "team": {"id": TEAM_ID}, "channel": {"id": "C0BENCH"}, "token": "bench",
               "container": {"type": "message", "channel_id": "C0BENCH", "message_ts": f"{number}.000100"},
               "message": {"ts": f"{number}.000100", "thread_ts": f"{number}.000001", "text": "an answer"},
               "actions": [{"type": "feedback_buttons", "action_id": FEEDBACK_ACTION_ID, "value": value}]}
    raw = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=raw)
    return raw, {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
                 "Content-Type": "application/x-www-form-urlencoded"}


async def _feedback_clicks(pitcrew: Target, count: int) -> list[float]:
    """Milliseconds from sending each feedback click to its HTTP 200 (one at a time; a 👎 every third)."""
    assert pitcrew.sender is not None
    acks = []
    for number in range(count):
        raw, headers = _feedback_click(number, positive=number % 3 != 2)
        status, elapsed_ms = await pitcrew.sender.post(_http_request(pitcrew.port, raw, headers))
        if status != 200:
            raise RuntimeError(f"a feedback click got HTTP {status}")
        acks.append(elapsed_ms)
        await asyncio.sleep(SINGLE_GAP_S)
    return acks


def _mention(question: str, ts: str, event_id: str) -> dict[str, Any]:
    event = {"type": "app_mention", "user": "U0BENCH", "text": f"<@{BOT_USER_ID}> {question}", "ts": ts,
             "channel": "C0BENCH", "team": TEAM_ID, "event_ts": ts}
    return {"type": "event_callback", "team_id": TEAM_ID, "api_app_id": "A0BENCH", "event": event,
            "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}]}


class Target:
    """One server under test."""

    def __init__(self, name: str, command: list[str], port: int) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.process: asyncio.subprocess.Process | None = None
        self.acks_ms: list[float] = []
        self.replies_ms: list[float] = []
        self.reply_ms_by_event: dict[str, float] = {}
        self.cpu_ms_by_event: dict[str, float] = {}  # single events: CPU from the event to the server's next one
        self.errors = 0
        self.sender: EventSender | None = None

    def measured(self) -> tuple[list[float], list[float]]:
        """Take the samples gathered so far (acks, replies) and start afresh."""
        taken = (self.acks_ms, self.replies_ms)
        self.acks_ms, self.replies_ms = [], []
        return taken

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self, env: dict[str, str], http: aiohttp.ClientSession, stderr_path: Path) -> None:
        # Its terminal output goes to a file: an unread pipe fills up and freezes the server mid-run.
        self.stderr_path = stderr_path
        with stderr_path.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(*self.command, env=env,
                                                                stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                err = stderr_path.read_text(errors="replace")[-500:]
                raise RuntimeError(f"{self.name} exited {self.process.returncode}: {err}")
            try:
                async with http.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                    if response.status == 200:
                        self.sender = EventSender(self.port)
                        await self.sender.open()
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    async def stop(self) -> int | None:
        if self.sender is not None:
            await self.sender.close()
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return self.process.returncode

    def cpu_ms(self) -> float:
        """CPU time the server's threads have run so far, in ms (schedstat counts ns; /proc/PID/stat, 10 ms ticks)."""
        assert self.process is not None
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):  # a thread that ended meanwhile
                continue
        return total / 1e6

    def peak_rss_mb(self) -> float | None:
        """VmHWM: the process's peak resident set so far."""
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            return None
        return None


class EventSender:
    """Posts prepared events over keep-alive connections opened beforehand, with as little client work as
    possible: an aiohttp client spends ~0.3 ms of CPU per request, so in a burst of 50 the load
    generator's own queue (this process shares 2 cores with the server) would be measured as ack latency."""

    def __init__(self, port: int, connections: int = BURST) -> None:
        self._port = port
        self._size = connections
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self) -> None:
        for _ in range(self._size):
            self._idle.append(await asyncio.open_connection("127.0.0.1", self._port))

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def post(self, raw_request: bytes) -> tuple[int, float]:
        """Send one request; its status and the milliseconds from writing it to reading the whole response."""
        reader, writer = self._idle.pop() if self._idle else await asyncio.open_connection("127.0.0.1", self._port)
        started = time.perf_counter()
        writer.write(raw_request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self._idle.append((reader, writer))
        return status, elapsed_ms


def _http_request(port: int, raw_body: str, headers: dict[str, str]) -> bytes:
    body = raw_body.encode()
    lines = ["POST /slack/events HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _event_id(target: Target, burst_no: int, index: int) -> str:
    return f"Ev{target.name}{burst_no}x{index}"


async def _burst(target: Target, replies: RepliesClient, burst_no: int, measure: bool, size: int = BURST,
                 first_question: int = 0, questions: Sequence[str] = QUESTIONS, gap_s: float = 0.0) -> None:
    """Send `size` events at once (or one every `gap_s`) and wait for every reply."""
    assert target.sender is not None
    sender = target.sender
    prepared = []
    for i in range(size):
        ts = f"{1_800_000_000 + burst_no}.{i:06d}"
        event_id = _event_id(target, burst_no, i)
        raw, headers = _signed(_mention(questions[(first_question + i) % len(questions)], ts, event_id))
        prepared.append((ts, event_id, _http_request(target.port, raw, headers)))
    sent: dict[str, float] = {}

    async def send(ts: str, request: bytes, delay_s: float) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        sent[ts] = time.perf_counter()
        try:
            status, ack_ms = await sender.post(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status, ack_ms = 0, 0.0
        if status != 200:
            target.errors += 1
        elif measure:
            target.acks_ms.append(ack_ms)

    await asyncio.gather(*(send(ts, request, i * gap_s) for i, (ts, _, request) in enumerate(prepared)))
    replied_at = await replies.wait([ts for ts, *_ in prepared])
    if measure:
        for ts, event_id, _ in prepared:
            target.reply_ms_by_event[event_id] = (replied_at[ts] - sent[ts]) * 1000.0
            target.replies_ms.append(target.reply_ms_by_event[event_id])


async def _peak_rss_with_catalog(env: dict[str, str], http: aiohttp.ClientSession, replies: RepliesClient,
                                 workdir: Path, bursts: int) -> float | None:
    """Peak RSS of a `pitcrew serve` whose database holds a generated 10k-product catalog, after bursts of events."""
    path = generated_catalog(workdir / "slack-bench-catalog.db", products=RSS_CATALOG_PRODUCTS, calls=1_000)
    target = Target("pitcrew-catalog", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                        str(port := _free_port())], port)
    await target.start({**env, "DATABASE_URL": f"sqlite:///{path}"}, http, workdir / "pitcrew-catalog.stderr")
    try:
        for burst_no in range(bursts):
            await _burst(target, replies, burst_no=5_000 + burst_no, measure=False)
        return target.peak_rss_mb()
    finally:
        await target.stop()


def demo_database(workdir: Path, name: str) -> Path:
    """A fresh demo database in `workdir`, ready before a server starts (as after a first run)."""
    from knowledge.db import Database
    from knowledge.demo.loader import ensure_demo_data

    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / name
    db_path.unlink(missing_ok=True)
    db = Database(f"sqlite:///{db_path}")
    ensure_demo_data(db)
    db.close()
    return db_path


def generated_catalog(path: Path, *, products: int, calls: int) -> Path:
    """A generated catalog of `products` with `calls` recorded calls at `path`, its snapshots built."""
    from knowledge.db import Database
    from knowledge.generate import generate
    from knowledge.snapshots import rebuild_snapshots

    db = Database(f"sqlite:///{path}")
    try:
        generate(db, products=products, calls=calls)
        rebuild_snapshots(db)
    finally:
        db.close()
    return path


def serve_env(urls: dict[str, str], db_path: Path, log_dir: Path, *, llm: bool = True) -> dict[str, str]:
    """The environment `pitcrew serve` runs under in a benchmark: this process's, with Slack (and, with `llm`,
    the LLM) pointed at the loopback providers and the database and logs at the benchmark's own."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "OPENAI_", "DATABASE_", "LOG_", "RESPONSE_CACHE_", "LLM_", "CONTROL_PLANE_"))}
    env.update({
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": urls["slack"],
        "DATABASE_URL": f"sqlite:///{db_path}", "LOG_DIR": str(log_dir), "LOG_LEVEL": "INFO",  # the default: each request's summary is written
        "STREAMING": "off",  # answers are posted whole, like the echo's (not streamed into the thread)
        "RESPONSE_CACHE_TTL_S": "0",  # every LLM-written answer asks the (instant) LLM
        # One provider call per counted call, in order: the speculative answer beside a validation (whose
        # discarded calls never complete) has its own benchmark, `llm_parallel`.
        "LLM_SPECULATE": "off",
    })
    if llm:
        env.update({"OPENAI_API_KEY": BENCH_KEY, "OPENAI_BASE_URL": urls["llm"]})
    return env


def _result(name: str, samples: list[float], target: str, passed: bool, detail: str, unit: str = "ms") -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name=name, unit=unit, p50=round(p50, 3), p95=round(p95, 3), p99=round(p99, 3),
                       target=target, passed=passed, detail=detail)


def _ratio(name: str, samples: list[float], baseline: list[float], target: float, on: str, detail: str) -> BenchResult:
    """p50 over p50 and p95 over p95 of two sets of samples; the target is met when the `on` ratio is."""
    p50, p95, _ = percentiles(samples)
    base_p50, base_p95, _ = percentiles(baseline)
    ratios = {"p50": p50 / base_p50, "p95": p95 / base_p95}
    return BenchResult(name=name, unit="ratio", p50=round(ratios["p50"], 3), p95=round(ratios["p95"], 3),
                       p99=round(ratios["p95"], 3), target=f"{on} <= {target:g}x echo",
                       passed=ratios[on] <= target, detail=detail)


async def _run(quick: bool, workdir: Path, urls: dict[str, str]) -> list[BenchResult]:
    from bot.bench.pipeline import log_records, provider_handling_ms  # here: the echo app, run from here, stays bare

    db_path = demo_database(workdir, "slack-bench.db")
    bursts = 3 if quick else 10
    singles = 40 if quick else 200
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * BURST)) as http:
        replies = RepliesClient(urls["slack"], http)
        env = serve_env(urls, db_path, workdir / "logs")
        pitcrew = Target("pitcrew", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                     str(port := _free_port())], port)
        echo = Target("echo", [sys.executable, "-m", "bot.bench.slack", "--echo-server", str(port := _free_port())],
                      port)
        samples: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        try:
            await pitcrew.start(env, http, workdir / "pitcrew-serve.stderr")
            await echo.start(env, http, workdir / "echo.stderr")
            for target in (echo, pitcrew):  # warm-up: connections, auth.test, first-use caches
                await _burst(target, replies, burst_no=0 if target is echo else 1, measure=False)
            served_before = len(await provider_handling_ms(urls["llm"]))
            sent = await _singles(echo, pitcrew, replies, singles)
            handling = (await provider_handling_ms(urls["llm"]))[served_before:]  # the singles' completions
            provider_ms = _provider_ms_by_event(sent[pitcrew.name], handling, _reply_facts(workdir / "logs"))
            for target in (echo, pitcrew):
                samples[(target.name, "single")] = target.measured()
            # Bursts of 50 at once, alternating which server goes first.
            for burst_no in range(bursts):
                order = (echo, pitcrew) if burst_no % 2 == 0 else (pitcrew, echo)
                for target in order:
                    await _burst(target, replies, burst_no=10 + 2 * burst_no + (target is pitcrew), measure=True)
            for target in (echo, pitcrew):
                samples[(target.name, "burst")] = target.measured()
            click_acks = await _feedback_clicks(pitcrew, 20 if quick else 100)
            sdk_call_ms, sdk_cpu_ms = await _bare_llm_calls(urls["llm"], singles)
        finally:
            exit_codes = {target.name: await target.stop() for target in (pitcrew, echo)}
        rss_mb = await _peak_rss_with_catalog(env, http, replies, workdir, bursts)

    facts = _reply_facts(workdir / "logs")
    return [
        *_single_results(samples, pitcrew, echo, facts, provider_ms, (sdk_call_ms, sdk_cpu_ms), singles,
                         log_records(workdir / "logs")),
        *_burst_results(samples, pitcrew, echo, bursts),
        _result("slack.feedback_click.ack", click_acks, "p95 < 100 ms", percentiles(click_acks)[1] < 100.0,
                f"{len(click_acks)} signed block_actions feedback clicks one at a time (a 👎 every third): sent to "
                "HTTP 200; each is then stored and thanked for (chat.postEphemeral)"),
        BenchResult(name="slack.serve_peak_rss", unit="MB", p50=round(rss_mb or 0.0, 1), p95=round(rss_mb or 0.0, 1),
                    p99=round(rss_mb or 0.0, 1), target=f"< {RSS_TARGET_MB} MB",
                    passed=rss_mb is not None and rss_mb < RSS_TARGET_MB,
                    detail=f"VmHWM of pitcrew serve on a generated {RSS_CATALOG_PRODUCTS:,}-product catalog "
                           f"after {bursts} bursts of {BURST}; exit codes {exit_codes}"),
    ]


async def _singles(echo: Target, pitcrew: Target, replies: RepliesClient, singles: int) -> dict[str, list[str]]:
    """One event at a time, alternating between the two servers event by event (who goes first alternates
    too), each finding its server idle. A server's CPU per event is read from just before its event to just
    before its next one, so what it does after replying (bookkeeping, the request's log records) counts.
    Returns each server's event ids in the order they were sent."""
    sent: dict[str, list[str]] = {echo.name: [], pitcrew.name: []}
    marks: dict[str, tuple[str, float]] = {}  # server -> (its last event, its CPU when that was sent)
    for i in range(singles):
        for target in (echo, pitcrew) if i % 2 == 0 else (pitcrew, echo):
            burst_no = 100_000 + 2 * i + (target is pitcrew)
            cpu = target.cpu_ms()
            if target.name in marks:
                event_id, before = marks[target.name]
                target.cpu_ms_by_event[event_id] = cpu - before
            marks[target.name] = (_event_id(target, burst_no, 0), cpu)
            sent[target.name].append(_event_id(target, burst_no, 0))
            await _burst(target, replies, burst_no=burst_no, measure=True, size=1, first_question=i)
            await asyncio.sleep(SINGLE_GAP_S)
    await asyncio.sleep(0.1)  # the last replies' bookkeeping
    for target in (echo, pitcrew):
        event_id, before = marks[target.name]
        target.cpu_ms_by_event[event_id] = target.cpu_ms() - before
    return sent


def _provider_ms_by_event(events: list[str], handling: list[float], facts: dict[str, ReplyFacts]) -> dict[str, float]:
    """The LLM provider's own time for each of pitcrew's single `events` (in the order sent): their completions
    arrived in that order, one event at a time, as many per event as the event's request summary counts."""
    expected = sum(facts[event_id].llm_calls for event_id in events if event_id in facts)
    if any(event_id not in facts for event_id in events) or len(handling) != expected:
        answered = sum(event_id in facts for event_id in events)
        raise RuntimeError(f"cannot pair LLM completions with events: {len(handling)} completions, {expected} "
                           f"calls in the summaries of {answered} of {len(events)} events")
    provider_ms, position = {}, 0
    for event_id in events:
        calls = facts[event_id].llm_calls
        provider_ms[event_id] = sum(handling[position : position + calls])
        position += calls
    return provider_ms


def _single_results(samples: dict[tuple[str, str], tuple[list[float], list[float]]], pitcrew: Target, echo: Target,
                    facts: dict[str, ReplyFacts], provider_ms: dict[str, float],
                    bare_calls: tuple[list[float], list[float]], singles: int, log_records: int) -> list[BenchResult]:
    acks, replies = samples[("pitcrew", "single")]
    echo_acks, echo_replies = samples[("echo", "single")]
    detail = (f"{singles} signed app_mention events one at a time, alternating with the echo app event by event, "
              f"the {len(QUESTIONS)} questions in turn; instant fake LLM in its own process; loopback; pitcrew's "
              f"request logging on as in production ({log_records:,} records in its day file)")
    by_event = {event_id: pitcrew.reply_ms_by_event[event_id] for event_id in provider_ms}  # the single events
    own_work = {event_id: ms - provider_ms[event_id] for event_id, ms in by_event.items()}
    by_calls = {calls: [own_work[event_id] for event_id in own_work if facts[event_id].llm_calls == calls]
                for calls in sorted({facts[event_id].llm_calls for event_id in own_work})}
    own_split = "; ".join(f"{calls} LLM call{'s' if calls != 1 else ''}: p50 {percentiles(ms)[0]:.2f} ms "
                          f"({len(ms)} events)" for calls, ms in by_calls.items())
    cpu, echo_cpu = list(pitcrew.cpu_ms_by_event.values()), list(echo.cpu_ms_by_event.values())
    cpu_mean, echo_cpu_mean = sum(cpu) / len(cpu), sum(echo_cpu) / len(echo_cpu)
    cpu_by_calls = {calls: [pitcrew.cpu_ms_by_event[event_id] for event_id in own_work
                            if facts[event_id].llm_calls == calls and event_id in pitcrew.cpu_ms_by_event]
                    for calls in by_calls}
    cpu_split = "; ".join(f"{calls} LLM call{'s' if calls != 1 else ''}: p50 {percentiles(ms)[0]:.2f} ms"
                          for calls, ms in cpu_by_calls.items() if ms)
    sdk_call_ms, sdk_cpu_ms = bare_calls
    echo_p50 = percentiles(echo_replies)[0]
    results = [
        _result("slack.single.ack", acks, "p95 < 20 ms", percentiles(acks)[1] < 20.0,
                f"pitcrew serve, HTTP Events API; {detail}; errors {pitcrew.errors}"),
        _result("slack.single.echo_ack", echo_acks, "reference", True, f"bare Bolt echo app; {detail}"),
        _result("slack.single.event_to_reply", replies, "p95 < 25 ms", percentiles(replies)[1] < 25.0,
                f"event POST sent -> chat.postMessage at the fake Slack API; {detail}"),
        _result("slack.single.echo_event_to_reply", echo_replies, "reference", True,
                f"bare Bolt echo app, same run, alternated; errors {echo.errors}"),
        _result("slack.single.own_work", list(own_work.values()), "reference", True,
                f"pitcrew's event to reply minus the fake LLM's own time for the event's calls; {own_split}"),
        _ratio("slack.single.own_work_vs_echo", list(own_work.values()), echo_replies, OWN_WORK_TARGET, "p95",
               "pitcrew's own work per event (event to reply minus the LLM provider's time) / the echo app's "
               "event to reply, measured alternated in one run"),
        _result("slack.single.cpu_per_event", cpu, "reference", True,
                f"pitcrew serve's CPU time per event (all threads, /proc schedstat), from just before the event to "
                f"just before its next one: mean {cpu_mean:.2f} ms; {cpu_split}; the echo app: p50 "
                f"{percentiles(echo_cpu)[0]:.2f} ms, mean {echo_cpu_mean:.2f} ms"),
        _ratio("slack.single.cpu_vs_echo", cpu, echo_cpu, CPU_TARGET, "p50",
               f"CPU time per event, pitcrew / the echo app (means: {cpu_mean / echo_cpu_mean:.2f}x)"),
    ]
    if sdk_call_ms:
        sdk_p50 = percentiles(sdk_call_ms)[0]
        results.append(_result("slack.single.bare_llm_call", sdk_call_ms, "reference", True,
                               f"one bare openai SDK call to the instant fake LLM (pitcrew's transport): p50 "
                               f"{sdk_p50 / echo_p50:.2f}x the echo app's whole event-to-reply; its CPU time p50 "
                               f"{percentiles(sdk_cpu_ms)[0]:.2f} ms"))
    overhead = [ms - facts[event_id].answer_ms for event_id, ms in by_event.items()]
    if overhead:
        results.append(_result("slack.single.slack_overhead", overhead, "reference", True,
                               "event-to-reply minus the pipeline's answer time (from the `slack reply` record): "
                               "Bolt, inbox, progress, delivery"))
    return results


def _burst_results(samples: dict[tuple[str, str], tuple[list[float], list[float]]], pitcrew: Target, echo: Target,
                   bursts: int) -> list[BenchResult]:
    acks, replies = samples[("pitcrew", "burst")]
    echo_acks, echo_replies = samples[("echo", "burst")]
    detail = f"{bursts} bursts of {BURST} concurrent signed app_mention events; loopback"
    return [
        _result("slack.burst.ack", acks, "p95 < 20 ms", percentiles(acks)[1] < 20.0,
                f"pitcrew serve, HTTP Events API; {detail}; errors {pitcrew.errors}"),
        _result("slack.burst.echo_ack", echo_acks, "reference", True, f"bare Bolt echo app; {detail}"),
        _result("slack.burst.event_to_reply", replies, "reference", True,
                f"event POST sent -> chat.postMessage; the answers of a burst are computed one after another "
                f"on one core; {detail}"),
        _result("slack.burst.echo_event_to_reply", echo_replies, "reference", True,
                f"bare Bolt echo app, same run; errors {echo.errors}"),
    ]


@dataclass(frozen=True)
class ReplyFacts:
    answer_ms: float  # event taken -> reply ready, as the `slack reply` record says
    llm_calls: int  # from the request summary


def _reply_facts(log_dir: Path) -> dict[str, ReplyFacts]:
    """Per answered event id: how long the answer took and how many LLM calls it made, from the serve log."""
    answered: dict[str, tuple[str, float]] = {}  # event id -> (correlation id, answer_ms)
    llm_calls: dict[str, int] = {}  # correlation id -> calls
    for path in log_dir.glob("*.log"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("message") == "slack reply" and record.get("event_id") and record.get("answer_ms"):
                answered[record["event_id"]] = (record.get("correlation_id", ""), float(record["answer_ms"]))
            elif "total_time_ms" in record and record.get("correlation_id"):
                llm_calls[record["correlation_id"]] = int(record.get("llm_calls") or 0)
    return {event_id: ReplyFacts(answer_ms, llm_calls[correlation_id])
            for event_id, (correlation_id, answer_ms) in answered.items() if correlation_id in llm_calls}


async def _bare_llm_calls(llm_url: str, count: int) -> tuple[list[float], list[float]]:
    """One openai SDK call to the instant fake LLM, the way pitcrew's client makes it, `count` times: each call's
    wall time and this process's CPU time for it (ms)."""
    from bot.llm.client import build_client
    from bot.settings import load_settings

    client = build_client(load_settings(openai_api_key=BENCH_KEY, openai_base_url=llm_url))
    question = [{"role": "system", "content": "You are pitcrew."},
                {"role": "user", "content": f"Question: {QUESTIONS[0]}"}]
    wall, cpu = [], []
    try:
        for index in range(count + 5):
            started, cpu_started = time.perf_counter(), time.process_time()
            await bare_answer(client, model="bench", messages=question)
            if index >= 5:  # the first calls connect
                wall.append((time.perf_counter() - started) * 1000.0)
                cpu.append((time.process_time() - cpu_started) * 1000.0)
            await asyncio.sleep(SINGLE_GAP_S)  # as idle between calls as the servers are between events
    finally:
        await client.close()
    return wall, cpu


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    with provider_process(BenchProviders) as urls:
        return asyncio.run(_run(quick, workdir, urls))


# ----- the bare Bolt echo app (run as `python -m bot.bench.slack --echo-server PORT`)


async def _serve_echo(port: int) -> None:
    from slack_bolt.async_app import AsyncApp

    from bot.settings import load_settings
    from bot.slack.app import attach_http_session, build_web_client

    settings = load_settings()
    app = AsyncApp(client=build_web_client(settings),
                   signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret
                   else "")

    @app.event("app_mention")
    async def echo(event: dict[str, Any], client: Any) -> None:
        await client.chat_postMessage(channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"],
                                      text=event.get("text", ""))

    session = attach_http_session(app)
    web_app = app.web_app(path="/slack/events", port=port)
    web_app.router.add_get("/healthz", lambda _request: _ok())
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await session.close()


async def _ok() -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    """`python -m bot.bench.slack --echo-server PORT`: the echo app the Slack benchmark compares against."""
    if len(sys.argv) == 3 and sys.argv[1] == "--echo-server":
        asyncio.run(_serve_echo(int(sys.argv[2])))


if __name__ == "__main__":
    main()
