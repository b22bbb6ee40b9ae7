"""The Slack benchmark's own parts: the lean event sender, the loopback Slack API's reply clock, log parsing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
from aiohttp import web

import pytest

from bot.bench import slack
from bot.bench.slack import (
    EventSender,
    LoopbackSlack,
    ReplyFacts,
    RepliesClient,
    Target,
    _http_request,
    _provider_ms_by_event,
    _reply_facts,
    _singles,
)


async def test_the_sender_reuses_its_connections_and_reads_each_status_and_body() -> None:
    peers: list[int] = []

    async def events(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        body = await request.text()
        if body == "bad":
            return web.json_response({"error": "invalid signature"}, status=401)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    sender = EventSender(port, connections=1)
    await sender.open()
    try:
        results = [await sender.post(_http_request(port, body, {"Content-Type": "text/plain"}))
                   for body in ("good", "bad", "good")]
    finally:
        await sender.close()
        await runner.cleanup()
    assert [status for status, _ in results] == [200, 401, 200]  # the 401's body was read whole
    assert all(ms > 0 for _, ms in results)
    assert len(set(peers)) == 1  # one keep-alive connection served all three


async def test_the_loopback_slack_api_reports_when_each_thread_got_its_reply() -> None:
    async with LoopbackSlack() as slack, aiohttp.ClientSession() as http:
        replies = RepliesClient(slack.api_url, http)
        waiting = asyncio.create_task(replies.wait(["1.000001", "1.000002"]))
        before = time.perf_counter()
        for thread_ts in ("1.000002", "1.000001"):
            async with http.post(slack.api_url + "chat.postMessage",
                                 json={"channel": "C1", "thread_ts": thread_ts, "text": "hi"}) as response:
                assert (await response.json())["ok"]
        arrived = await asyncio.wait_for(waiting, timeout=5)
    assert set(arrived) == {"1.000001", "1.000002"}
    assert before <= arrived["1.000002"] <= arrived["1.000001"] <= time.perf_counter()


def test_reply_facts_pair_each_event_with_its_answer_time_and_llm_calls(tmp_path: Path) -> None:
    records = [
        {"message": "Request completed successfully", "correlation_id": "aaaa0001", "total_time_ms": 5.0,
         "llm_calls": 1},
        {"message": "slack reply", "correlation_id": "aaaa0001", "event_id": "Ev1", "answer_ms": 3.5},
        {"message": "Request completed successfully", "correlation_id": "aaaa0002", "total_time_ms": 1.0,
         "llm_calls": 0},
        {"message": "slack reply", "correlation_id": "aaaa0002", "event_id": "Ev2", "answer_ms": 0.8},
        {"message": "slack reply", "correlation_id": "aaaa0003", "event_id": "Ev3", "answer_ms": 0.9},  # no summary
    ]
    lines = [json.dumps(record) for record in records] + ["not json {"]
    (tmp_path / "slack-2026-11-23.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    facts = _reply_facts(tmp_path)
    assert set(facts) == {"Ev1", "Ev2"}
    assert (facts["Ev1"].answer_ms, facts["Ev1"].llm_calls) == (3.5, 1)
    assert (facts["Ev2"].answer_ms, facts["Ev2"].llm_calls) == (0.8, 0)


def test_each_event_gets_the_provider_time_of_its_own_llm_calls() -> None:
    facts = {"Ev1": ReplyFacts(answer_ms=3.0, llm_calls=1), "Ev2": ReplyFacts(answer_ms=1.0, llm_calls=0),
             "Ev3": ReplyFacts(answer_ms=5.0, llm_calls=2)}
    # The completions in arrival order: Ev1's, then Ev3's two (Ev2 made none).
    provider_ms = _provider_ms_by_event(["Ev1", "Ev2", "Ev3"], [0.5, 0.25, 0.75], facts)
    assert provider_ms == {"Ev1": 0.5, "Ev2": 0.0, "Ev3": 1.0}
    with pytest.raises(RuntimeError, match="3 completions, 1 calls"):
        _provider_ms_by_event(["Ev1", "Ev2"], [0.5, 0.25, 0.75], facts)
    with pytest.raises(RuntimeError, match="summaries of 1 of 2 events"):
        _provider_ms_by_event(["Ev1", "Ev9"], [0.5], facts)


class _FakeTarget(Target):
    """A server whose CPU clock advances by a known amount per event it answers."""

    def __init__(self, name: str, cpu_per_event: float, sent: list[str]) -> None:
        super().__init__(name, [], 0)
        self.cpu = 0.0
        self.cpu_per_event = cpu_per_event
        self.sent = sent

    def cpu_ms(self) -> float:
        return self.cpu


async def test_single_events_alternate_and_each_is_charged_the_cpu_until_its_next(
        monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    echo, pitcrew = _FakeTarget("echo", 1.0, order), _FakeTarget("pitcrew", 3.0, order)

    async def answer(target: _FakeTarget, replies: object, burst_no: int, measure: bool, size: int = 1,
                     first_question: int = 0) -> None:
        order.append(target.name)
        target.cpu += target.cpu_per_event + 0.5 * len(order)  # what it does after replying counts too

    monkeypatch.setattr(slack, "_burst", answer)
    monkeypatch.setattr(slack, "SINGLE_GAP_S", 0.0)
    sent = await _singles(echo, pitcrew, replies=None, singles=4)  # type: ignore[arg-type]
    assert order == ["echo", "pitcrew", "pitcrew", "echo", "echo", "pitcrew", "pitcrew", "echo"]
    assert sent == {"echo": list(echo.cpu_ms_by_event), "pitcrew": list(pitcrew.cpu_ms_by_event)}
    assert len(sent["echo"]) == len(set(sent["echo"])) == 4
    assert list(pitcrew.cpu_ms_by_event.values()) == [3.0 + 1.0, 3.0 + 1.5, 3.0 + 3.0, 3.0 + 3.5]
    assert list(echo.cpu_ms_by_event.values()) == [1.0 + 0.5, 1.0 + 2.0, 1.0 + 2.5, 1.0 + 4.0]


def test_a_servers_cpu_time_counts_every_thread() -> None:
    import os
    import threading
    import time

    target = Target("self", [], 0)
    target.process = type("Process", (), {"pid": os.getpid()})()  # type: ignore[assignment]
    spun, done = threading.Event(), threading.Event()

    def spin() -> None:  # 50 ms of CPU on a thread of its own, which then waits to be read
        started = time.thread_time()
        while time.thread_time() - started < 0.05:
            pass
        spun.set()
        done.wait()

    before = target.cpu_ms()
    worker = threading.Thread(target=spin)
    worker.start()
    try:
        assert spun.wait(10)
        assert target.cpu_ms() - before >= 50.0
    finally:
        done.set()
        worker.join()
