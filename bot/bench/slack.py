"""Slack benchmarks: `pitcrew serve` over HTTP against a loopback Slack API, next to a bare Bolt echo app.

Both servers run as their own processes (as in production); this process is the load generator, the
fake Slack Web API (records when each reply arrives) and an instant fake LLM. Bursts of 50 signed
events go to each server in turn: ack latency is the HTTP round trip of the event POST, event-to-reply
the time from sending the event to its `chat.postMessage` reaching the fake Slack API. The echo app
(one Bolt listener posting the text back, same pooled Web API client) is the floor pitcrew is
compared against in the same run. Peak RSS of the `pitcrew serve` process is read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.bench.core import BenchResult, main_for, percentiles

BOT_TOKEN = "xoxb-bench-0000-not-a-real-token"
SIGNING_SECRET = "bench-signing-secret-not-real"
BOT_USER_ID = "UBENCHBOT"
TEAM_ID = "T0BENCH"
BURST = 50
RSS_TARGET_MB = 200
RSS_CATALOG_PRODUCTS = 10_000
QUESTIONS = (
    "how much is Orbit Pro per seat?",
    "what integrations does Orbit have?",
    "does Orbit Business include SSO?",
    "help",
    "what are the limits on the Orbit Starter plan?",
)


class LoopbackSlack:
    """The Web API methods the servers call, answered at once; records when each thread's reply arrived."""

    def __init__(self) -> None:
        self.replied_at: dict[str, float] = {}  # thread_ts -> perf_counter at arrival
        self.calls = 0
        self._ts = 0
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.api_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._method)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.api_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_replies(self, thread_ts: list[str], timeout: float = 60.0) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: all(ts in self.replied_at for ts in thread_ts)),
                                   timeout)

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls += 1
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
        self.errors = 0

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
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    async def stop(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return self.process.returncode

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


async def _burst(target: Target, slack: LoopbackSlack, http: aiohttp.ClientSession, burst_no: int,
                 measure: bool, size: int = BURST) -> None:
    prepared = []
    for i in range(size):
        ts = f"{1_800_000_000 + burst_no}.{i:06d}"
        event_id = f"Ev{target.name}{burst_no}x{i}"
        prepared.append((ts, event_id, *_signed(_mention(QUESTIONS[i % len(QUESTIONS)], ts, event_id))))
    sent: dict[str, float] = {}

    async def send(ts: str, _event_id: str, raw: str, headers: dict[str, str]) -> None:
        started = time.perf_counter()
        sent[ts] = started
        try:
            async with http.post(target.url, data=raw, headers=headers) as response:
                await response.read()
                ok = response.status == 200
        except aiohttp.ClientError:
            ok = False
        if not ok:
            target.errors += 1
        elif measure:
            target.acks_ms.append((time.perf_counter() - started) * 1000.0)

    await asyncio.gather(*(send(*item) for item in prepared))
    await slack.wait_replies([ts for ts, *_ in prepared])
    if measure:
        for ts, event_id, *_ in prepared:
            target.reply_ms_by_event[event_id] = (slack.replied_at[ts] - sent[ts]) * 1000.0
            target.replies_ms.append(target.reply_ms_by_event[event_id])


async def _peak_rss_with_catalog(env: dict[str, str], http: aiohttp.ClientSession, slack: LoopbackSlack,
                                 workdir: Path, bursts: int) -> float | None:
    """Peak RSS of a `pitcrew serve` whose database holds a generated 10k-product catalog, after bursts of events."""
    from knowledge.db import Database
    from knowledge.generate import generate
    from knowledge.snapshots import rebuild_snapshots

    path = workdir / "slack-bench-catalog.db"
    db = Database(f"sqlite:///{path}")
    try:
        generate(db, products=RSS_CATALOG_PRODUCTS, calls=1_000)
        rebuild_snapshots(db)
    finally:
        db.close()
    target = Target("pitcrew-catalog", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                        str(port := _free_port())], port)
    await target.start({**env, "DATABASE_URL": f"sqlite:///{path}"}, http, workdir / "pitcrew-catalog.stderr")
    try:
        for burst_no in range(bursts):
            await _burst(target, slack, http, burst_no=5_000 + burst_no, measure=False)
        return target.peak_rss_mb()
    finally:
        await target.stop()


def _result(name: str, samples: list[float], target: str, passed: bool, detail: str, unit: str = "ms") -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name=name, unit=unit, p50=round(p50, 3), p95=round(p95, 3), p99=round(p99, 3),
                       target=target, passed=passed, detail=detail)


async def _run(quick: bool, workdir: Path) -> list[BenchResult]:
    from bot.bench.llm import LoopbackLLM
    from knowledge.db import Database
    from knowledge.demo.loader import ensure_demo_data

    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "slack-bench.db"
    db_path.unlink(missing_ok=True)
    db = Database(f"sqlite:///{db_path}")
    ensure_demo_data(db)  # ready before the server starts, as after a first run
    db.close()
    bursts = 3 if quick else 10
    singles = 40 if quick else 200
    slack = LoopbackSlack()
    await slack.start()
    async with LoopbackLLM() as llm, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=2 * BURST)) as http:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("SLACK_", "OPENAI_", "DATABASE_", "LOG_", "RESPONSE_CACHE_"))}
        env.update({
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url,
            "OPENAI_API_KEY": "sk-bench-not-a-real-key-000000", "OPENAI_BASE_URL": llm.base_url,
            "DATABASE_URL": f"sqlite:///{db_path}", "LOG_DIR": str(workdir / "logs"), "LOG_LEVEL": "INFO",  # the default: each request's summary is written
            "STREAMING": "off",  # the loopback LLM does not stream; answers are posted whole, like the echo
            "RESPONSE_CACHE_TTL_S": "0",  # every LLM-written answer asks the (instant) LLM
        })
        pitcrew = Target("pitcrew", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                     str(port := _free_port())], port)
        echo = Target("echo", [sys.executable, "-m", "bot.bench.slack", "--echo-server", str(port := _free_port())],
                      port)
        samples: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        try:
            await pitcrew.start(env, http, workdir / "pitcrew-serve.stderr")
            await echo.start(env, http, workdir / "echo.stderr")
            for target in (echo, pitcrew):  # warm-up: connections, auth.test, first-use caches
                await _burst(target, slack, http, burst_no=0 if target is echo else 1, measure=False)
            # One event at a time: the latency of an event with the server otherwise idle.
            for target in (echo, pitcrew):
                for i in range(singles):
                    await _burst(target, slack, http, burst_no=100_000 + 2 * i + (target is pitcrew), measure=True,
                                 size=1)
                samples[(target.name, "single")] = target.measured()
            # Bursts of 50 at once, alternating which server goes first.
            for burst_no in range(bursts):
                order = (echo, pitcrew) if burst_no % 2 == 0 else (pitcrew, echo)
                for target in order:
                    await _burst(target, slack, http, burst_no=10 + 2 * burst_no + (target is pitcrew), measure=True)
            for target in (echo, pitcrew):
                samples[(target.name, "burst")] = target.measured()
        finally:
            exit_codes = {target.name: await target.stop() for target in (pitcrew, echo)}
        try:
            rss_mb = await _peak_rss_with_catalog(env, http, slack, workdir, bursts)
        finally:
            await slack.stop()

    results = []
    scenarios = {"single": f"{singles} events one at a time", "burst": f"{bursts} bursts of {BURST} concurrent events"}
    for scenario, described in scenarios.items():
        acks, replies = samples[("pitcrew", scenario)]
        echo_acks, echo_replies = samples[("echo", scenario)]
        detail = f"signed app_mention events, {described}; instant fake LLM; loopback"
        ack_p95 = percentiles(acks)[1]
        reply_p50, reply_p95, _ = percentiles(replies)
        echo_p50, echo_p95, _ = percentiles(echo_replies)
        results += [
            _result(f"slack.{scenario}.ack", acks, "p95 < 20 ms", ack_p95 < 20.0,
                    f"pitcrew serve, HTTP Events API; {detail}; errors {pitcrew.errors}"),
            _result(f"slack.{scenario}.echo_ack", echo_acks, "reference", True, f"bare Bolt echo app; {detail}"),
            _result(f"slack.{scenario}.event_to_reply", replies, "p95 < 25 ms", reply_p95 < 25.0,
                    f"event POST sent -> chat.postMessage at the fake Slack API; {detail}"),
            _result(f"slack.{scenario}.echo_event_to_reply", echo_replies, "reference", True,
                    f"bare Bolt echo app, same run; errors {echo.errors}"),
            BenchResult(name=f"slack.{scenario}.reply_vs_echo", unit="ratio", p50=round(reply_p50 / echo_p50, 3),
                        p95=round(reply_p95 / echo_p95, 3), p99=round(reply_p95 / echo_p95, 3),
                        target="p95 <= 1.5x echo", passed=reply_p95 <= 1.5 * echo_p95,
                        detail="pitcrew event-to-reply percentile / the echo app's, same run"),
        ]
    # The Slack layer's own share: event-to-reply minus the pipeline's time for that event (its log record).
    overhead = _slack_overhead_ms(workdir / "logs", pitcrew.reply_ms_by_event, samples[("pitcrew", "single")][1])
    if overhead:
        echo_p95 = percentiles(samples[("echo", "single")][1])[1]
        results.append(_result("slack.single.slack_overhead", overhead, "p95 <= 1.5x echo event-to-reply",
                               percentiles(overhead)[1] <= 1.5 * echo_p95,
                               f"pitcrew event-to-reply minus the pipeline's total_ms, events one at a time; "
                               f"echo event-to-reply p95 {echo_p95:.2f} ms"))
    if rss_mb is not None:
        results.append(BenchResult(name="slack.serve_peak_rss", unit="MB", p50=round(rss_mb, 1), p95=round(rss_mb, 1),
                                   p99=round(rss_mb, 1), target=f"< {RSS_TARGET_MB} MB", passed=rss_mb < RSS_TARGET_MB,
                                   detail=f"VmHWM of pitcrew serve on a generated {RSS_CATALOG_PRODUCTS:,}-product catalog "
                                          f"after {bursts} bursts of {BURST}; exit codes {exit_codes}"))
    return results


def _slack_overhead_ms(log_dir: Path, reply_ms_by_event: dict[str, float], single_replies: list[float]) -> list[float]:
    """Per single-scenario event: event-to-reply minus the pipeline's own total_ms, from the serve log."""
    correlation_by_event: dict[str, str] = {}
    pipeline_ms: dict[str, float] = {}
    for path in log_dir.glob("*.log"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("message") == "slack reply" and record.get("event_id"):
                correlation_by_event[record["event_id"]] = record.get("correlation_id", "")
            elif "total_time_ms" in record and record.get("correlation_id"):
                pipeline_ms[record["correlation_id"]] = float(record["total_time_ms"])
    single = set(single_replies)
    return [reply_ms - pipeline_ms[correlation_by_event[event_id]]
            for event_id, reply_ms in reply_ms_by_event.items()
            if reply_ms in single and correlation_by_event.get(event_id) in pipeline_ms]


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    return asyncio.run(_run(quick, workdir))


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
    if len(sys.argv) == 3 and sys.argv[1] == "--echo-server":
        asyncio.run(_serve_echo(int(sys.argv[2])))
        return
    main_for("slack")


if __name__ == "__main__":
    main()
