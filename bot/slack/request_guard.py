"""The HTTP Events API endpoint's gate: only requests Slack signed get in, and no request makes a 500.

Checked in this order, each before the next costs anything: the declared size (413, the body is not
read), the signature headers' shape and age (401, not read), the body itself, read up to the cap
(413), its HMAC signature (401), then its shape (400): a JSON object, or a form such as Slack's
interactivity `payload=`. Bolt gets only signed, well-formed requests, so nothing a stranger sends
can reach its parsing. A refusal logs one warning line, at most one per client per minute; so does
a request too malformed for aiohttp to parse (`MalformedRequestLog`), which aiohttp itself would
log as an ERROR with a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.observability.throttle import ThrottledWarnings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack's events are a few KB; anything over 1 MiB is refused unread
SIGNATURE_MAX_AGE_S = 5 * 60  # Slack's replay window

# Shapes of Slack's headers: anything else (missing, not a number, non-ASCII...) is unsigned.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SignedBody:
    """A request body Slack signed, as text and as the object Bolt will parse it into."""

    text: str
    payload: dict[str, Any]


SIGNED_BODY = web.RequestKey("pitcrew_signed_body", SignedBody)


class Refused(Exception):
    """The request gets `status`; `reason` is for the log, never for the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_ANSWERS = {400: "malformed request body", 401: "invalid request", 413: "request body too large"}


class SlackRequestGuard:
    def __init__(self, signing_secret: str, *, max_body_bytes: int = MAX_BODY_BYTES,
                 clock: Callable[[], float] = time.time, warnings: ThrottledWarnings | None = None) -> None:
        self._secret = signing_secret.encode()
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._warnings = warnings or ThrottledWarnings(log)
        self.server_log = MalformedRequestLog(self._warnings)  # the web server's logger (AppRunner(logger=...))

    def middleware(self, path: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        """An aiohttp middleware guarding POSTs to `path`; what it lets through carries `request[SIGNED_BODY]`."""

        @web.middleware
        async def guard_slack_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method != "POST" or request.path != path:
                return await handler(request)
            try:
                request[SIGNED_BODY] = await self.check(request)
            except Refused as refusal:
                self._warnings.warning(request.remote or "unknown", "refused a Slack events request",
                                       status=refusal.status, reason=refusal.reason)
                # aiohttp discards an unread body (for a few seconds at most) rather than reset the client.
                return web.json_response({"error": _ANSWERS[refusal.status]}, status=refusal.status)
            return await handler(request)

        return guard_slack_requests

    async def check(self, request: web.Request) -> SignedBody:
        """The signed body of `request`, or Refused."""
        declared = request.content_length
        if declared is not None and declared > self.max_body_bytes:
            raise Refused(413, "body too large")
        timestamp, signature = self._signature_headers(request)
        try:  # the application's client_max_size caps the read too: a chunked body has no declared length
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, "body too large") from None
        if len(body) > self.max_body_bytes:
            raise Refused(413, "body too large")
        expected = "v0=" + hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise Refused(401, "wrong signature")
        return parse_signed_body(body, request.headers.get("Content-Type"))

    def _signature_headers(self, request: web.Request) -> tuple[str, str]:
        """(timestamp, signature), both ASCII and well-formed, the timestamp within Slack's window."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not timestamp or not signature:
            raise Refused(401, "signature headers missing")
        if _TIMESTAMP.fullmatch(timestamp) is None or _SIGNATURE.fullmatch(signature) is None:
            raise Refused(401, "signature headers malformed")
        if abs(self._clock() - int(timestamp)) > SIGNATURE_MAX_AGE_S:
            raise Refused(401, "timestamp too old or in the future")
        return timestamp, signature


def parse_signed_body(body: bytes, content_type: str | None) -> SignedBody:
    """The body as Bolt will read it (JSON when Bolt would take it for JSON, else a form), or Refused(400)
    when Bolt could not: not UTF-8, JSON that is not an object, a form that is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    mime = content_type.split(";")[0] if content_type else None  # exactly as Bolt reads it
    if mime == "application/json" or text.startswith("{"):
        return SignedBody(text, _json_object(text))
    try:
        fields = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        fields = {}
    if not fields:
        raise Refused(400, "body is neither a JSON object nor a form")
    if "payload" in fields:  # interactivity: a form whose one field is JSON
        return SignedBody(text, _json_object(fields["payload"]))
    return SignedBody(text, fields)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise Refused(400, "body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "body is JSON but not an object")
    return value


class MalformedRequestLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, except that a request it cannot parse (bad request line, header or
    chunk: the client's fault, answered 400 by aiohttp) is the throttled warning, not an ERROR with a
    traceback. Anything else (a bug) is still logged as aiohttp logs it."""

    def __init__(self, warnings: ThrottledWarnings) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self._warnings = warnings

    def exception(  # type: ignore[override]
            self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(error, HttpProcessingError) and 400 <= error.code < 500:
            client = str(args[0]) if args else "unknown"  # aiohttp logs "... from %s", request.remote
            self._warnings.warning(client, "refused a malformed HTTP request", status=error.code,
                                   reason=type(error).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)
