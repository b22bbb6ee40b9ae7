"""A real `pitcrew serve` process against the fake Slack (and fake LLM), with Slack's side of the Events API:
signed deliveries, redeliveries on a failed ack, and the replies counted per thread."""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.fake_slack import (
    FakeSlack,
    SlackCall,
    event_callback,
    mention_event,
    signed_headers,
)
from tests.slack_stack import SIGNING_SECRET
from tests.test_slack_serve import free_port, start_serve, wait_healthy

QUESTION = "how much is Orbit Pro per seat?"


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
