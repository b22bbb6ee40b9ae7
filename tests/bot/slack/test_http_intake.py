"""What a stranger can do to the HTTP Events API endpoint: nothing but get a 4xx, with one log line a minute.

Every request here goes over TCP to the real server `pitcrew serve` runs (guard, intake, Bolt, pipeline)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.observability.throttle import ThrottledWarnings
from bot.settings import load_settings
from bot.slack.request_guard import MAX_BODY_BYTES
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, event_callback, mention_event
from tests.support.http_stack import RunningServer, running_server, sign, signature
from tests.support.slack_stack import SIGNING_SECRET

REFUSAL = "refused a Slack events request"

STRANGER_EVENT = json.dumps(event_callback(mention_event("what plans does Orbit have?", ts="1712349000.000100"),
                                           event_id="EvStranger")).encode()

BODIES: dict[str, bytes] = {
    "list": b"[]",
    "string": b'"x"',
    "null": b"null",
    "number": b"1",
    "true": b"true",
    "nested": b"[" * 10_000,
    "event": STRANGER_EVENT,
    "empty": b"",
    "binary": bytes(range(256)) * 8,
    "oversized": b"{" + b" " * MAX_BODY_BYTES + b"}",
}


def header_faults(body: bytes) -> dict[str, dict[str, bytes | str]]:
    now = str(int(time.time()))
    stale = str(int(time.time()) - 10 * 60)
    json_type = {"Content-Type": "application/json"}
    return {
        "no headers": {},
        "missing signature": {**json_type, "X-Slack-Request-Timestamp": now},
        "missing timestamp": {**json_type, "X-Slack-Signature": signature(body, now)},
        "non-numeric timestamp": {**json_type, "X-Slack-Request-Timestamp": "12ab",
                                  "X-Slack-Signature": signature(body, "12ab")},
        "stale timestamp": {**json_type, "X-Slack-Request-Timestamp": stale,
                            "X-Slack-Signature": signature(body, stale)},
        "wrong signature": {**json_type, "X-Slack-Request-Timestamp": now,
                            "X-Slack-Signature": signature(body, now, secret="not-the-signing-secret")},
        "non-ASCII signature": {**json_type, "X-Slack-Request-Timestamp": now,
                                "X-Slack-Signature": ("v0=" + "é" * 64).encode()},
    }


@pytest.fixture
async def server(fake_slack: FakeSlack) -> AsyncIterator[RunningServer]:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake_slack.api_url)
    async with running_server(fake_slack, settings) as running:
        yield running


async def answered(server: RunningServer, text: str, ts: str) -> str:
    """Send a genuine signed mention and return pitcrew's reply in its thread."""
    body = json.dumps(event_callback(mention_event(text, ts=ts), event_id=f"Ev{ts}")).encode()
    assert await server.post_signed(body) == 200
    await server.fake.wait_for(lambda fake: any(c.body.get("thread_ts") == ts for c in fake.replies()), timeout=10)
    [reply] = [c for c in server.fake.replies() if c.body.get("thread_ts") == ts]
    return reply.body["text"]


async def test_no_unauthenticated_request_gets_past_401_or_413(server: RunningServer) -> None:
    wrong = []
    for body_name, body in BODIES.items():
        expected = 413 if len(body) > MAX_BODY_BYTES else 401
        for fault, headers in header_faults(body).items():
            status = await server.post(body, headers)
            if status != expected:
                wrong.append((body_name, fault, status))
    assert wrong == []
    # Still serving, and the stranger's event was never answered.
    assert "Orbit" in await answered(server, "what plans does Orbit have?", "1712349001.000100")
    assert [c for c in server.fake.replies() if c.body.get("thread_ts") == "1712349000.000100"] == []

    records = server.log_records()
    assert "Traceback" not in server.log_text()
    assert [r for r in records if r["level"] in ("ERROR", "CRITICAL")] == []
    # 70 refusals from one client within a minute: one line.
    warnings = [r for r in records if r["level"] == "WARNING"]
    assert [r["message"] for r in warnings] == [REFUSAL]
    assert warnings[0]["client"] == "127.0.0.1" and warnings[0]["suppressed"] == 0


async def test_an_oversized_body_without_a_declared_length_is_cut_off_at_the_cap(server: RunningServer) -> None:
    body = b"{" + b" " * (2 * MAX_BODY_BYTES) + b"}"
    assert await server.post(body, {**sign(body), "Content-Type": "application/json"}, chunked=True) == 413
    # A signed body of exactly the cap is read (and refused only for what it is: not an object).
    at_cap = b"[" + b" " * (MAX_BODY_BYTES - 2) + b"]"
    assert await server.post_signed(at_cap) == 400


MALFORMED_HTTP = [
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 20_000 + b"\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /slack/events?\xff=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
]


async def test_requests_too_malformed_to_parse_get_400_and_share_the_throttled_warning(server: RunningServer) -> None:
    for request in MALFORMED_HTTP * 3:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        writer.close()
        assert status_line.split()[1] == b"400", (request[:60], status_line)
    assert await server.post(b"{}", {}) == 401  # a refusal of the guard's own, in the same client's minute
    assert "Traceback" not in server.log_text()
    noted = [r for r in server.log_records() if r["level"] != "INFO"]
    assert [(r["level"], r["message"], r["client"]) for r in noted] == [
        ("WARNING", "refused a malformed HTTP request", "127.0.0.1")]


@pytest.mark.parametrize(("body", "content_type"), [
    (b"[]", "application/json"),
    (b'"x"', "application/json"),
    (b"null", "application/json"),
    (b"1", "application/json"),
    (b"true", "application/json"),
    (b"[" * 10_000, "application/json"),
    (b'{"a": ' + b"[" * 10_000, "application/json"),
    (b'{"type": "event_callback", "event": {', "application/json"),
    (b"", "application/json"),
    (bytes(range(256)), "application/json"),
    (b"[]", "text/plain"),
    (b"null", "application/x-www-form-urlencoded"),
    (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
    (b"payload=not+json", "application/x-www-form-urlencoded"),
], ids=["list", "string", "null", "number", "true", "nested", "nested-inside", "truncated", "empty", "binary",
        "list-as-text", "null-as-form", "form-payload-list", "form-payload-not-json"])
async def test_a_signed_body_that_is_not_an_object_gets_400(server: RunningServer, body: bytes,
                                                             content_type: str) -> None:
    assert await server.post_signed(body, content_type=content_type) == 400
    assert "Traceback" not in server.log_text()
    refusals = [r for r in server.log_records() if r["message"] == REFUSAL]
    assert [(r["status"], r["level"]) for r in refusals] == [(400, "WARNING")]


async def test_signed_interactivity_and_url_checks_still_reach_bolt(server: RunningServer) -> None:
    payload = json.dumps({"type": "block_actions", "team": {"id": "T0TEAM"}, "user": {"id": "U0ALICE"},
                          "actions": [{"action_id": "noop", "block_id": "b"}], "token": "x"})
    form = aiohttp.FormData({"payload": payload})()._value  # the urlencoded bytes Slack sends
    status = await server.post_signed(form, content_type="application/x-www-form-urlencoded")
    assert status in (200, 404)  # Bolt's answer (no listener for it), not the guard's 400
    check = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"}).encode()
    async with aiohttp.ClientSession() as http, http.post(
            f"http://127.0.0.1:{server.port}/slack/events", data=check,
            headers={**{k: str(v) for k, v in sign(check).items()}, "Content-Type": "application/json"}) as response:
        assert response.status == 200 and "c-123" in await response.text()


async def test_a_lone_surrogate_in_a_message_gets_a_normal_answer(server: RunningServer) -> None:
    raw = json.dumps(event_callback(mention_event("find calls about pri\ud800cing", ts="1712349100.000100"),
                                    event_id="EvSurrogate"))
    assert "\\ud800" in raw  # the JSON escape Slack would send
    assert await server.post_signed(raw.encode()) == 200
    await server.fake.wait_for(lambda fake: any(c.body.get("thread_ts") == "1712349100.000100"
                                                for c in fake.replies()), timeout=10)
    [reply] = [c for c in server.fake.replies() if c.body.get("thread_ts") == "1712349100.000100"]
    assert "something went wrong" not in reply.body["text"]
    assert "pri\ufffdcing" in reply.body["text"]  # the search quotes the word it looked for, cleaned
    summaries: list[dict[str, object]] = []
    for _ in range(100):  # the summary is written after the reply is out
        summaries = [r for r in server.log_records() if r.get("event_id") == "EvSurrogate" and "stages" in r]
        if summaries:
            break
        await asyncio.sleep(0.05)
    assert [r["message"] for r in summaries] == ["Request completed successfully"]


def test_refusal_warnings_are_one_per_client_per_minute_counting_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    logger = logging.getLogger("tests.throttle")
    warnings = ThrottledWarnings(logger, interval_s=60, max_keys=2, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="tests.throttle"):
        assert warnings.warning("10.0.0.1", "refused", status=401)
        assert not warnings.warning("10.0.0.1", "refused", status=401)
        assert not warnings.warning("10.0.0.1", "refused", status=400)
        assert warnings.warning("10.0.0.2", "refused", status=401)  # another client has its own minute
        now[0] += 61
        assert warnings.warning("10.0.0.1", "refused", status=413)
    lines = [(r.client, r.status, r.suppressed) for r in caplog.records]  # type: ignore[attr-defined]
    assert lines == [("10.0.0.1", 401, 0), ("10.0.0.2", 401, 0), ("10.0.0.1", 413, 2)]
    # Memory is bounded: a third client evicts the one logged longest ago.
    assert warnings.warning("10.0.0.3", "refused", status=401)
    assert warnings.warning("10.0.0.2", "refused", status=401)  # forgotten, so logged again at once
