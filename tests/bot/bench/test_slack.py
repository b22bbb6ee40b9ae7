"""The Slack benchmark's own parts: the lean event sender, the loopback Slack API's reply clock, log parsing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.bench.slack import (
    EventSender,
    LoopbackSlack,
    RepliesClient,
    _http_request,
    _reply_facts,
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
