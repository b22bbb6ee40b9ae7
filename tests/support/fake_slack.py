"""A fake Slack Web API (and Socket Mode WebSocket) on 127.0.0.1 for the real slack_sdk client to talk to.

It records every method call with its body, answers the methods pitcrew uses the way Slack does
(HTTP 200 with `ok`, or 429 with `Retry-After` when a rate limit is injected) and serves the
WebSocket that `apps.connections.open` points Socket Mode at, so a test can push envelopes.
It also answers the assistant panel's methods (`assistant.threads.setSuggestedPrompts`, `setTitle`), ephemeral
messages and `views.open`, recording them like any call, and builds the interactivity payloads Slack sends
(`block_actions`, `view_submission`) and the assistant events, for a test to post over HTTP or push over the
socket (`interactive_envelope`). It keeps the messages the bot posted (text, blocks and metadata), per thread, as Slack would show them:
`conversations.replies` lists them, and `thread_messages()` is what a person would see. Failures
can be injected for the next N calls of a method: an HTTP status, an `ok: false` error, or a slow
answer; `processed=True` makes the call take effect before it fails, as Slack sometimes does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
TEAM_ID = "T0TEST"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"


@dataclass
class SlackCall:
    """One Web API call as the fake received it."""

    method: str
    body: dict[str, Any]
    token: str | None
    at: float  # time.perf_counter() on arrival
    answered_status: int = 200


@dataclass
class InjectedFailure:
    method: str
    remaining: int
    status: int = 429
    retry_after: int = 1
    error: str | None = None  # an `ok: false` error answered with HTTP 200 instead of a status
    processed: bool = False  # the call takes effect (the message is posted) before the failure is answered
    delay_s: float = 0.0  # a slow answer: the call takes effect, the answer comes this much later


@dataclass
class FakeSlack:
    """Start with `await fake.start()`; `fake.api_url` is the base URL to give the client."""

    bot_token: str = BOT_TOKEN
    app_token: str = APP_TOKEN
    calls: list[SlackCall] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    method_delay_s: float = 0.0  # simulated Slack latency per call
    extra_app_tokens: set[str] = field(default_factory=set)  # more app-level tokens of the same app

    def __post_init__(self) -> None:
        self._failures: list[InjectedFailure] = []
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_token: dict[web.WebSocketResponse, str] = {}  # which client (app token) opened it
        self._clients: list[str] = []  # app tokens that opened connections; a URL carries the index
        self._connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.messages: list[dict[str, Any]] = []  # what the bot posted and is still visible, in order
        self.answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "assistant.threads.setStatus": lambda body: {"ok": True},
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._stream_step,
            "chat.stopStream": self._stream_step,
            "conversations.replies": self._conversations_replies,
            "assistant.threads.setSuggestedPrompts": lambda body: {"ok": True},
            "assistant.threads.setTitle": lambda body: {"ok": True},
            "chat.postEphemeral": lambda body: {"ok": True, "message_ts": self._next_ts()},
            "views.open": self._views_open,
        }

    # ----- lifecycle
    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle_method)
        app.router.add_get("/api/{method}", self._handle_method)
        app.router.add_get("/socket", self._handle_socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket"

    # ----- test controls
    def fail_next(self, method: str, *, times: int = 1, status: int = 429, retry_after: int = 1,
                  error: str | None = None, processed: bool = False) -> None:
        """Answer the next `times` calls of `method` with `status` (429 carries `Retry-After`) or an `ok: false`
        error; with `processed`, each call takes effect first (the failure hides a success)."""
        self._failures.append(InjectedFailure(method, times, status, retry_after, error, processed))

    def slow_next(self, method: str, delay_s: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` take effect at once but are answered `delay_s` later."""
        self._failures.append(InjectedFailure(method, times, status=200, processed=True, delay_s=delay_s))

    def clear_failures(self) -> None:
        """Slack is well again: forget the failures still to be injected."""
        self._failures.clear()

    def thread_messages(self, thread_ts: str, channel: str | None = None) -> list[dict[str, Any]]:
        """The bot's messages visible in the thread `thread_ts` (posted, streamed or updated, not deleted)."""
        return [m for m in self.messages
                if m.get("thread_ts") == thread_ts and (channel is None or m["channel"] == channel)]

    def calls_of(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def replies(self) -> list[SlackCall]:
        """Messages posted by the bot (not counting placeholders later replaced: those show up as chat.update)."""
        return self.calls_of("chat.postMessage")

    async def wait_for(self, predicate: Callable[[FakeSlack], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate(self)` holds; a timeout fails with the calls seen so far."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)
            except TimeoutError:
                seen = [(call.method, call.body) for call in self.calls]
                raise AssertionError(f"fake Slack: condition not met within {timeout}s; calls: {seen}") from None

    async def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[SlackCall]:
        await self.wait_for(lambda fake: len(fake.calls_of(method)) >= count, timeout)
        return self.calls_of(method)

    async def wait_connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def push_envelope(self, envelope: dict[str, Any]) -> None:
        """Send a Socket Mode envelope to every connected client."""
        for socket in self._sockets:
            await socket.send_str(json.dumps(envelope))

    def connected_apps(self) -> list[str]:
        """The app-level token of each open Socket Mode connection (one per `pitcrew serve` here)."""
        return [self._socket_token[socket] for socket in self._sockets if not socket.closed]

    async def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        await self.wait_for(lambda fake: len(set(fake.connected_apps())) >= count, timeout)

    async def push_to(self, app_token: str, envelope: dict[str, Any]) -> bool:
        """Send an envelope to one connection of the client holding `app_token`, as Slack delivers each event to
        one of an app's connections; False when it has none open (Slack would pick another)."""
        for socket in self._sockets:
            if self._socket_token.get(socket) == app_token and not socket.closed:
                try:
                    await socket.send_str(json.dumps(envelope))
                except (ConnectionError, RuntimeError):
                    continue
                return True
        return False

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        await self.wait_for(lambda fake: any(a.get("envelope_id") == envelope_id for a in fake.socket_acks), timeout)
        return next(a for a in self.socket_acks if a.get("envelope_id") == envelope_id)

    # ----- HTTP
    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await _read_body(request)
        token = _bearer(request) or body.pop("token", None)
        call = SlackCall(method=method, body=body, token=token, at=time.perf_counter())
        if self.method_delay_s:
            await asyncio.sleep(self.method_delay_s)
        failure = self._take_failure(method)
        done = None
        if failure is not None and failure.processed:
            done = self._answer(method, body, token)  # Slack did the work; the client hears something else
        if failure is not None and failure.delay_s:
            await self._record(call)
            await asyncio.sleep(failure.delay_s)
            return web.json_response(done)
        if failure is not None and failure.error is None:
            call.answered_status = failure.status
            await self._record(call)
            headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else {}
            error = "ratelimited" if failure.status == 429 else "internal_error"
            return web.json_response({"ok": False, "error": error}, status=failure.status, headers=headers)
        if failure is None:
            answer = self._answer(method, body, token)
        await self._record(call)
        if failure is not None:
            return web.json_response({"ok": False, "error": failure.error})
        return web.json_response(answer)

    def _answer(self, method: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Slack's answer to a call, once it has taken effect (a posted message is stored)."""
        if method == "apps.connections.open":
            # An app may have several app-level tokens: each instance its own, so a test can tell them apart.
            if token != self.app_token and token not in self.extra_app_tokens:
                return {"ok": False, "error": "invalid_auth"}
            return self._connections_open(token)
        if token != self.bot_token:
            return {"ok": False, "error": "invalid_auth"}
        answer = self.answers.get(method)
        if answer is None:
            return {"ok": False, "error": "unknown_method"}
        return answer(body)

    def _take_failure(self, method: str) -> InjectedFailure | None:
        for failure in self._failures:
            if failure.method == method and failure.remaining > 0:
                failure.remaining -= 1
                return failure
        return None

    async def _record(self, call: SlackCall) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://pitcrew-test.slack.com/", "team": "Pitcrew Test", "user": "pitcrew",
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _store(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "message", "text": text, "user": BOT_USER_ID, "bot_id": BOT_ID,
                                   "ts": self._next_ts(), "channel": body.get("channel")}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        metadata = _metadata(body.get("metadata"))
        if metadata is not None:
            message["metadata"] = metadata
        blocks = _blocks(body.get("blocks"))
        if blocks is not None:
            message["blocks"] = blocks
        self.messages.append(message)
        return message

    def _find(self, body: dict[str, Any]) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["ts"] == body.get("ts") and m["channel"] == body.get("channel")),
                    None)

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self._store(body, body.get("text", ""))
        shown = {key: value for key, value in message.items() if key != "channel"}
        return {"ok": True, "channel": body.get("channel"), "ts": message["ts"], "message": shown}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self._find(body)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message["text"] = body.get("text", "")
        metadata = _metadata(body.get("metadata"))
        if metadata is not None:
            message["metadata"] = metadata
        blocks = _blocks(body.get("blocks"))
        if blocks is not None:
            message["blocks"] = blocks
        return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts"), "text": body.get("text", "")}

    def _delete(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self._find(body)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        self.messages.remove(message)
        return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}

    def _start_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self._store(body, _streamed_text(body))
        return {"ok": True, "channel": body.get("channel"), "ts": message["ts"]}

    def _stream_step(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self._find(body)
        if message is not None:
            message["text"] += _streamed_text(body)
            metadata = _metadata(body.get("metadata"))
            if metadata is not None:
                message["metadata"] = metadata
            blocks = _blocks(body.get("blocks"))
            if blocks is not None:  # chat.stopStream's blocks show under the streamed text
                message["blocks"] = blocks
        return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = body.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        return {"ok": True, "view": {"id": f"V{next(self._ts):06d}", **(view or {})}}

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """The thread's messages, oldest first: the parent (a stand-in for the user's message) and the bot's
        replies newer than `oldest`; metadata only with `include_all_metadata`, `limit` per page with a cursor."""
        thread_ts = str(body.get("ts") or "")
        with_metadata = str(body.get("include_all_metadata", "")).lower() in {"1", "true"}
        oldest = float(body.get("oldest") or 0)
        parent = {"type": "message", "user": "U0ALICE", "text": "(the question)", "ts": thread_ts,
                  "thread_ts": thread_ts}
        found = [parent] + [m for m in self.thread_messages(thread_ts, body.get("channel"))
                            if float(m["ts"]) >= oldest and m["ts"] != thread_ts]
        shown = [{k: v for k, v in m.items() if k != "channel" and (with_metadata or k != "metadata")} for m in found]
        start = int(body.get("cursor") or 0)
        limit = int(body.get("limit") or 1000)
        page = shown[start:start + limit]
        more = start + limit < len(shown)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _connections_open(self, token: str | None) -> dict[str, Any]:
        """A WebSocket URL that tells the socket which client asked for it (its app token), so a test can deliver
        an event to one instance of several."""
        if token not in self._clients:
            self._clients.append(token or "")
        return {"ok": True, "url": f"{self.socket_url}?client={self._clients.index(token or '')}"}

    # ----- Socket Mode
    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        index = int(request.query.get("client", "-1"))
        self._socket_token[socket] = self._clients[index] if 0 <= index < len(self._clients) else ""
        async with self._changed:
            self._changed.notify_all()
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                          "connection_info": {"app_id": "A0TEST"}}))
        self._connected.set()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    async with self._changed:
                        self.socket_acks.append(json.loads(message.data))
                        self._changed.notify_all()
        finally:
            self._sockets.remove(socket)
            async with self._changed:
                self._changed.notify_all()
        return socket


async def _read_body(request: web.Request) -> dict[str, Any]:
    """JSON or form body (slack_sdk sends both), with nested JSON form values left as strings."""
    raw = await request.text()
    if request.content_type == "application/json":
        return json.loads(raw) if raw else {}
    body: dict[str, Any] = dict(parse_qsl(raw, keep_blank_values=True))
    body.update(request.query)
    return body


def _streamed_text(body: dict[str, Any]) -> str:
    """The text a streaming call adds: `markdown_text`, or the text of its `chunks`."""
    chunks = body.get("chunks")
    if isinstance(chunks, str):
        chunks = json.loads(chunks)
    texts = [chunk.get("text") or "" for chunk in chunks or [] if isinstance(chunk, dict)]
    return (body.get("markdown_text") or "") + "".join(texts)


def _metadata(value: Any) -> dict[str, Any] | None:
    """Message metadata as the client sent it: a JSON object, or a JSON string in a form body."""
    if isinstance(value, str) and value:
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    """Blocks as the client sent them: a JSON array, or a JSON string in a form body."""
    if isinstance(value, str) and value:
        value = json.loads(value)
    return value if isinstance(value, list) else None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None


# ----- what Slack sends to the app


def event_callback(event: dict[str, Any], *, event_id: str, team_id: str = TEAM_ID) -> dict[str, Any]:
    """An Events API `event_callback` envelope around `event`."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": "A0TEST",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def mention_event(text: str, *, channel: str = "C0SALES", user: str = "U0ALICE", ts: str = "1712345678.000100",
                  thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel,
             "team": TEAM_ID, "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def dm_event(text: str, *, channel: str = "D0ALICE", user: str = "U0ALICE", ts: str = "1712345679.000200",
             **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel,
            "team": TEAM_ID, "event_ts": ts, **extra}


def signed_headers(body: str, signing_secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """The `X-Slack-Signature` headers Slack sends with `body` (v0 HMAC-SHA256)."""
    from slack_sdk.signature import SignatureVerifier

    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, "Content-Type": "application/json"}


def socket_envelope(body: dict[str, Any], *, envelope_id: str, retry_attempt: int = 0) -> dict[str, Any]:
    """A Socket Mode `events_api` envelope carrying an Events API body."""
    return {"envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": retry_attempt, "retry_reason": "", "payload": body}


def assistant_thread_started_event(*, channel: str = "D0ALICE", user: str = "U0ALICE",
                                   thread_ts: str = "1712346000.000100") -> dict[str, Any]:
    """What Slack sends when a rep opens the assistant panel (a new assistant thread in their DM with the app)."""
    return {"type": "assistant_thread_started", "event_ts": thread_ts,
            "assistant_thread": {"user_id": user, "context": {"channel_id": "C0SALES", "team_id": TEAM_ID},
                                 "channel_id": channel, "thread_ts": thread_ts}}


def feedback_buttons_of(message: dict[str, Any]) -> dict[str, Any] | None:
    """The `feedback_buttons` element under a posted message, if it has one."""
    for block in message.get("blocks") or []:
        if block.get("type") == "context_actions":
            for element in block.get("elements") or []:
                if element.get("type") == "feedback_buttons":
                    return element
    return None


def block_actions_payload(message: dict[str, Any], *, positive: bool, user: str = "U0ALICE",
                          trigger_id: str = "1337.42.trigger") -> dict[str, Any]:
    """A click on the 👍 (or 👎) under `message` (one the fake stored), as Slack sends it."""
    element = feedback_buttons_of(message)
    assert element is not None, "the message has no feedback buttons"
    button = element["positive_button" if positive else "negative_button"]
    container = {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"],
                 "is_ephemeral": False, "thread_ts": message.get("thread_ts")}
    return {
        "type": "block_actions", "user": {"id": user, "username": "alice", "team_id": TEAM_ID},
        "api_app_id": "A0TEST", "token": "legacy-verification-token", "container": container,
        "trigger_id": trigger_id, "team": {"id": TEAM_ID, "domain": "pitcrew-test"},
        "channel": {"id": message["channel"], "name": "directmessage"},
        "message": {k: v for k, v in message.items() if k != "channel"},
        "actions": [{"type": "feedback_buttons", "action_id": element["action_id"], "block_id": "fb",
                     "value": button["value"], "action_ts": f"{time.time():.6f}"}],
    }


def view_submission_payload(view: dict[str, Any], values: dict[str, dict[str, Any]], *,
                            user: str = "U0ALICE") -> dict[str, Any]:
    """The submission of a modal pitcrew opened (`view` as given to views.open), with `values` typed in."""
    return {"type": "view_submission", "user": {"id": user, "team_id": TEAM_ID}, "api_app_id": "A0TEST",
            "team": {"id": TEAM_ID}, "token": "legacy-verification-token",
            "view": {**view, "id": "V000001", "state": {"values": values}}}


def interactive_envelope(payload: dict[str, Any], *, envelope_id: str) -> dict[str, Any]:
    """A Socket Mode `interactive` envelope carrying a block_actions / view_submission payload."""
    return {"envelope_id": envelope_id, "type": "interactive", "accepts_response_payload": True,
            "payload": payload}


def interaction_form(payload: dict[str, Any]) -> str:
    """The form body Slack POSTs to the request URL for an interaction: `payload=<JSON>`."""
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload)})
