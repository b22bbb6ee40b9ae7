"""A real `pitcrew serve` process against the fake Slack (and fake LLM): its environment, start and health check,
and Slack's side of the Events API: signed deliveries, redeliveries on a failed ack, and the replies counted per
thread."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.fake_slack import BOT_TOKEN, FakeSlack, SlackCall, event_callback, mention_event, signed_headers
from tests.support.slack_stack import SIGNING_SECRET, demo_database

PITCREW = [sys.executable, "-m", "bot.cli"]
QUESTION = "how much is Orbit Pro per seat?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_env(tmp: Path, fake: FakeSlack, **extra: str) -> dict[str, str]:
    demo_database(tmp / "serve.db")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "OPENAI_"))}
    env.update({
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": f"sqlite:///{tmp / 'serve.db'}", "LOG_DIR": str(tmp / "logs"), "LOG_LEVEL": "INFO",
        "SHUTDOWN_GRACE_S": "10", **extra,
    })
    return env


async def start_serve(env: dict[str, str], port: int, stderr_path: Path) -> asyncio.subprocess.Process:
    # Output to a file, not a pipe: an unread pipe fills up and freezes the server.
    with stderr_path.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(*PITCREW, "serve", "--host", "127.0.0.1", "--port", str(port),
                                                    env=env, stdout=stderr, stderr=stderr)


async def wait_healthy(http: aiohttp.ClientSession, process: asyncio.subprocess.Process, port: int,
                       stderr_path: Path) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise AssertionError(f"pitcrew serve exited {process.returncode}: {stderr_path.read_text()[-3000:]}")
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return await response.json()
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    process.kill()
    await process.wait()
    raise AssertionError(f"pitcrew serve did not become healthy: {stderr_path.read_text()[-3000:]}")


@dataclass
class ServeProcess:
    """One `pitcrew serve`; `start()` waits until /healthz answers."""

    env: dict[str, str]
    workdir: Path
    name: str
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.name}.stderr"

    async def start(self, http: aiohttp.ClientSession) -> ServeProcess:
        self.process = await start_serve(self.env, self.port, self.stderr_path)
        await wait_healthy(http, self.process, self.port, self.stderr_path)
        return self

    async def kill_9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int | None:
        """SIGTERM and wait; a process that does not stop is killed."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return self.process.returncode


@dataclass
class Delivery:
    event_id: str
    thread_ts: str
    body: str


def mention(n: int, prefix: str, question: str = QUESTION) -> Delivery:
    """The `n`th distinct mention (its own thread, its own question so no answer comes from the cache)."""
    ts = f"1712400000.{n:06d}"
    text = f"{question} (#{n})"
    body = json.dumps(event_callback(mention_event(text, ts=ts), event_id=f"{prefix}{n:04d}"))
    return Delivery(f"{prefix}{n:04d}", ts, body)


@dataclass
class SlackSide:
    """What Slack does: delivers events, redelivers those not acknowledged with 200, records ack latencies."""

    http: aiohttp.ClientSession
    ack_ms: list[float] = field(default_factory=list)
    not_acked: int = 0  # deliveries answered with something other than 200 (redelivered)

    async def deliver(self, serve: ServeProcess, delivery: Delivery, retry_num: int | None = None,
                      max_attempts: int = 20) -> None:
        """POST until acknowledged with 200 (Slack retries a failed ack; here at once, not after a minute)."""
        for attempt in range(max_attempts):
            headers = signed_headers(delivery.body, SIGNING_SECRET)
            retry = retry_num if retry_num is not None else (attempt or None)
            if retry:
                headers["X-Slack-Retry-Num"] = str(retry)
                headers["X-Slack-Retry-Reason"] = "http_error"
            started = time.perf_counter()
            async with self.http.post(f"http://127.0.0.1:{serve.port}/slack/events", data=delivery.body,
                                      headers=headers) as response:
                await response.read()
                status = response.status
            self.ack_ms.append((time.perf_counter() - started) * 1000.0)
            if status == 200:
                return
            self.not_acked += 1
            await asyncio.sleep(0.2)
        raise AssertionError(f"{delivery.event_id} was never acknowledged")

    def p99_ms(self) -> float:
        return statistics.quantiles(self.ack_ms, n=100)[98] if len(self.ack_ms) >= 2 else max(self.ack_ms)


def replies_per_thread(fake: FakeSlack, deliveries: list[Delivery]) -> dict[str, int]:
    """How many answers each delivery's thread got (placeholders are replaced via chat.update, not counted)."""
    counts = {delivery.thread_ts: 0 for delivery in deliveries}
    for call in fake.replies():
        if call.body.get("thread_ts") in counts:
            counts[call.body["thread_ts"]] += 1
    return counts


async def wait_all_answered(fake: FakeSlack, deliveries: list[Delivery], timeout: float) -> None:
    threads = {delivery.thread_ts for delivery in deliveries}

    def answered(fake: FakeSlack) -> bool:
        return threads <= {call.body.get("thread_ts") for call in fake.replies()}

    await fake.wait_for(answered, timeout=timeout)


def replies_of(fake: FakeSlack, thread_ts: str) -> list[SlackCall]:
    return [call for call in fake.replies() if call.body.get("thread_ts") == thread_ts]
