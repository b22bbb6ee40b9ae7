"""A fake OpenAI-compatible server on 127.0.0.1 for tests: the real `openai` client talks to it over HTTP.

Use it as `async with FakeOpenAI() as server:` or through the `fake_openai` fixture (tests/conftest.py).
Point the client at `server.base_url`
(`server.settings_overrides()` gives the `OPENAI_*` settings, `fast_llm_settings(server)` whole settings
with small timeouts). Each request takes the next scripted
behaviour (`server.script(Fail(500), Reply("ok"))`); `server.hang()` makes it accept requests and never
answer them; with the script empty, `server.responder` answers
(by default `sensible_reply`: a schema-filling intent validation for structured-output requests, a fixed
text otherwise). `server.requests` keeps every request body, `server.max_in_flight` the peak concurrency,
`server.disconnects` the requests the client closed before their response was complete (a cancelled call).
Run two for two providers.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

FAKE_API_KEY = "sk-fake-test-key-7c1d9e"
DEFAULT_REPLY = "This is a reply from the fake model."


@dataclass(frozen=True)
class Reply:
    """A normal completion with `content` (streamed word by word when the request asks for a stream)."""

    content: str
    delay_s: float = 0.0  # before the response starts
    chunk_delay_s: float = 0.0  # between streamed chunks
    stall_after_chunks: int | None = None  # streaming: send this many chunks, then stall
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Fail:
    """An HTTP error with an OpenAI-style error body, e.g. `Fail(429, retry_after="1")`."""

    status: int
    retry_after: str | None = None
    message: str = "fake failure"


@dataclass(frozen=True)
class Stall:
    """Accept the request, then send nothing for `seconds` (the server's shutdown ends it sooner)."""

    seconds: float = 3600.0


@dataclass(frozen=True)
class MalformedBody:
    """HTTP 200 whose body is not the JSON the client expects."""

    body: str = '{"id": "chatcmpl-broken", "choices": [ {"message": '


@dataclass(frozen=True)
class LeakSystemPrompt:
    """A model that obeys a prompt injection: it answers with its system prompt verbatim."""

    preamble: str = "Sure! Here are my instructions: "


Behaviour = Reply | Fail | Stall | MalformedBody | LeakSystemPrompt
Responder = Callable[[dict[str, Any]], Behaviour]


class FakeOpenAI:
    """An aiohttp server speaking enough of `/v1/chat/completions` for the gateway and its callers."""

    def __init__(self, responder: Responder | None = None, latency_s: float = 0.0) -> None:
        self.responder: Responder = responder or sensible_reply
        self.latency_s = latency_s  # added before every response
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.disconnects = 0
        self.completed = 0  # responses sent whole
        self._script: deque[Behaviour] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # Lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def settings_overrides(self) -> dict[str, Any]:
        """Settings keyword arguments that point the gateway at this server."""
        return {"openai_api_key": FAKE_API_KEY, "openai_base_url": self.base_url}

    # Scripting ------------------------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, in order; afterwards the responder answers again."""
        self._script.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        """Answer every request (after the script) with `behaviour`."""
        self.responder = lambda _body: behaviour

    def hang(self) -> None:
        """Go silent: accept every request (after the script) and never send a byte back until the server
        stops, like a provider whose front end takes connections while the model behind it is stuck."""
        self.always(Stall())

    @property
    def request_count(self) -> int:
        return len(self.requests)

    # Serving --------------------------------------------------------------------------------------------

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.json()
            self.requests.append(body)
            self.authorizations.append(request.headers.get("Authorization", ""))
            behaviour = self._script.popleft() if self._script else self.responder(body)
            if self.latency_s:
                await self._sleep(self.latency_s)
            response = await self._respond(request, body, behaviour)
            self.completed += 1
            return response
        except (asyncio.CancelledError, ConnectionResetError):
            if not self._closing.is_set():  # the client went away mid-response (not our own shutdown)
                self.disconnects += 1
            raise
        finally:
            self.in_flight -= 1

    async def _respond(self, request: web.Request, body: dict[str, Any], behaviour: Behaviour) -> web.StreamResponse:
        if isinstance(behaviour, Stall):
            await self._sleep(behaviour.seconds)
            return _error_response(Fail(503, message="stalled"))
        if isinstance(behaviour, Fail):
            return _error_response(behaviour)
        if isinstance(behaviour, MalformedBody):
            return web.Response(status=200, text=behaviour.body, content_type="application/json")
        if isinstance(behaviour, LeakSystemPrompt):
            behaviour = Reply(behaviour.preamble + _message_text(body, "system"))
        if behaviour.delay_s:
            await self._sleep(behaviour.delay_s)
        if body.get("stream"):
            return await self._stream(request, body, behaviour)
        return web.json_response(_completion(body, behaviour))

    async def _stream(self, request: web.Request, body: dict[str, Any], reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        pieces = re.findall(r"\S+\s*|\s+", reply.content) or [""]
        for index, piece in enumerate(pieces):
            if reply.stall_after_chunks is not None and index >= reply.stall_after_chunks:
                await self._sleep(3600)
                return response
            if index and reply.chunk_delay_s:
                await self._sleep(reply.chunk_delay_s)
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            await _send_event(response, _chunk(body, delta, None))
        await _send_event(response, _chunk(body, {}, reply.finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = _chunk(body, None, None) | {"choices": [], "usage": _usage(body, reply.content)}
            await _send_event(response, usage_chunk)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the server shuts down so a stalled handler never delays a test."""
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except TimeoutError:
            pass


async def _send_event(response: web.StreamResponse, data: dict[str, Any]) -> None:
    await response.write(b"data: " + json.dumps(data).encode() + b"\n\n")


def _error_response(fail: Fail) -> web.Response:
    headers = {"Retry-After": fail.retry_after} if fail.retry_after is not None else {}
    error_type = "rate_limit_error" if fail.status == 429 else ("server_error" if fail.status >= 500 else "invalid_request_error")
    body = {"error": {"message": fail.message, "type": error_type, "param": None, "code": None}}
    return web.json_response(body, status=fail.status, headers=headers)


def _message_text(body: dict[str, Any], role: str) -> str:
    return "\n".join(str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == role)


def _usage(body: dict[str, Any], content: str) -> dict[str, int]:
    prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))
    completion_tokens = len(content.split())
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.content, "refusal": None},
            "finish_reason": reply.finish_reason,
            "logprobs": None,
        }],
        "usage": _usage(body, reply.content),
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any] | None, finish_reason: str | None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", "fake"), "choices": choices}


# A sensible default model -----------------------------------------------------------------------------

# Checked in this order; the first intent with a matching keyword wins.
_INTENT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("draft_email", ("draft", "email", "follow-up", "follow up", "write")),
    ("meeting_summary", ("recap", "summar", "meeting", "notes")),
    ("call_search", ("call", "said", "mention", "discuss", "search", "talk")),
    ("product_question", ("price", "pric", "plan", "cost", "feature", "integrat", "sso", "tier", "compare",
                          "support", "include", "limit", "seat")),
    ("help", ("help", "what can you")),
    ("smalltalk", ("hello", "hi ", "hey", "thank", "good morning")),
)


def sensible_reply(body: dict[str, Any]) -> Behaviour:
    """The default responder: structured-output requests get `intent_validation_reply`, others a fixed text."""
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return intent_validation_reply(body)
    return Reply(DEFAULT_REPLY)


def intent_validation_reply(body: dict[str, Any]) -> Reply:
    """Answer a structured-output request with an object that fits its JSON schema.

    A property named like `intent` gets the intent a keyword reading of the user message suggests (the
    schema's own enum names are removed from the text first, so a listed candidate such as
    "call_search" does not vote); a property named like `confidence` gets 0.85; everything else gets an
    empty value of its type (None where the schema allows null).
    """
    schema = body["response_format"]["json_schema"]["schema"]
    definitions = schema.get("$defs", {})
    text = _message_text(body, "user").lower()
    for name in _enum_values(schema, definitions):
        text = text.replace(name.lower(), " ")
    guess = next((intent for intent, words in _INTENT_KEYWORDS if any(w in f" {text} " for w in words)), "unknown")
    value = _fill(schema, definitions, guess, name="")
    return Reply(json.dumps(value))


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(definitions[ref.removeprefix("#/$defs/")], definitions)
    return schema


def _enum_values(schema: dict[str, Any], definitions: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(str(v) for v in node.get("enum", []) if isinstance(v, str))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    walk(definitions)
    return sorted(set(found), key=len, reverse=True)


def _fill(schema: dict[str, Any], definitions: dict[str, Any], guess: str, name: str) -> Any:
    schema = _resolve(schema, definitions)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        resolved = [_resolve(option, definitions) for option in options]
        if "intent" not in name and any(option.get("type") == "null" for option in resolved):
            return None
        non_null = [option for option in resolved if option.get("type") != "null"]
        return _fill(non_null[0], definitions, guess, name) if non_null else None
    if "enum" in schema:
        values = schema["enum"]
        if "intent" in name and guess in values:
            return guess
        return "unknown" if "intent" in name and "unknown" in values else values[0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        if "null" in kind and "intent" not in name:
            return None
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: _fill(sub, definitions, guess, key.lower()) for key, sub in properties.items()}
    if kind == "array":
        return []
    if kind == "number":
        return 0.85 if "confidence" in name else 0.0
    if kind == "integer":
        return 0
    if kind == "boolean":
        return False
    if kind == "string":
        return guess if "intent" in name else ""
    return None


# Small limits so a test of timeouts, retries and the breaker runs in a fraction of a second.
FAST_LLM_SETTINGS: dict[str, Any] = {
    "llm_validate_timeout_s": 0.5,
    "llm_validate_deadline_s": 1.0,
    "llm_answer_timeout_s": 0.5,
    "llm_deadline_s": 1.5,
    "llm_backoff_initial_s": 0.01,
    "llm_backoff_max_s": 0.05,
    "llm_breaker_recovery_s": 0.3,
}


def fast_llm_settings(server: FakeOpenAI, **overrides: Any) -> Any:
    """`bot.settings.Settings` pointing at `server`, with `FAST_LLM_SETTINGS` and `overrides` applied."""
    from bot.settings import load_settings

    return load_settings(**(server.settings_overrides() | FAST_LLM_SETTINGS | overrides))


def intent_reply(intent: str) -> Responder:
    """A responder that validates every message as `intent` (confidence 0.85) and answers others with text."""

    def respond(body: dict[str, Any]) -> Behaviour:
        if (body.get("response_format") or {}).get("type") != "json_schema":
            return Reply(DEFAULT_REPLY)
        schema = body["response_format"]["json_schema"]["schema"]
        return Reply(json.dumps(_fill(schema, schema.get("$defs", {}), intent, name="")))

    return respond
