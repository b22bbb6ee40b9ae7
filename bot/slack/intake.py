"""Taking Slack events in: record each event durably, acknowledge it at once, hand it to Bolt afterwards.

Bolt acknowledges an event only when its dispatch returns (request parsing, context, middleware,
listener matching: ~0.1 ms of CPU per event, measured), so in a burst every later ack waited for
all of that. The intake acknowledges an event as soon as it is known to be a genuine event (HTTP:
`SlackRequestGuard` found it signed and well formed; Socket Mode: the envelope came over the
authenticated socket) and dispatches it to Bolt once the burst's acknowledgements are done
(`AckPriority`). Bolt still verifies and routes it as usual; only its HTTP answer, always an empty
200 for an event, is not waited for. Every other signed request (URL verification, interactivity)
goes through Bolt as it comes, so Bolt gives those their answers.

Before an event is acknowledged it is claimed in the inbox (`bot.slack.inbox`): a redelivery of an
event already taken is acknowledged and dropped; an event whose claim cannot be written is not
acknowledged (HTTP 503; Socket Mode: no ack), so Slack delivers it again later.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.ack_priority import AckPriority
from bot.slack.inbox import EventInbox, InboxUnavailable
from bot.slack.inbox_store import ANSWERED, FAILED
from bot.slack.inflight import InflightTasks
from bot.slack.request_guard import SIGNED_BODY

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EventIntake:
    """Acknowledges events first (`http_middleware`, `SocketModeIntake`), dispatches them to Bolt after."""

    def __init__(self, app: AsyncApp, inflight: InflightTasks, inbox: EventInbox,
                 priority: AckPriority | None = None) -> None:
        self.app = app
        self.inbox = inbox
        self.priority = priority or AckPriority()
        self._inflight = inflight

    def http_middleware(self, events_path: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        """An aiohttp middleware for the app's web server, inside `SlackRequestGuard`'s: the event
        callbacks it let through to `events_path` are acked here."""

        @web.middleware
        async def acknowledge_events(request: web.Request, handler: Handler) -> web.StreamResponse:
            signed = request.get(SIGNED_BODY)
            if signed is None or request.path != events_path or signed.payload.get("type") != "event_callback":
                return await handler(request)  # Bolt answers it (a URL check's challenge, interactivity...)
            with self.priority.acknowledging():
                event_id = _event_id(signed.payload)
                try:
                    if not await self.take(event_id, signed.text, request.headers.get("X-Slack-Retry-Num")):
                        return web.Response(status=200)
                except InboxUnavailable:
                    return web.json_response({"error": "event not recorded; retry later"}, status=503)
                query, headers = request.query_string, request.headers.copy()
                self.dispatch_later(  # Bolt's request is built after the ack too: it parses the body again
                    lambda: self.app.async_dispatch(AsyncBoltRequest(body=signed.text, query=query, headers=headers)),
                    "http event", event_id)
                return web.Response(status=200)

        return acknowledge_events

    async def take(self, event_id: str | None, envelope: str, retry_num: str | None = None) -> bool:
        """Claim the event before it is acknowledged: True to answer it, False for a redelivery to drop.

        Raises InboxUnavailable when the claim cannot be recorded (the event must not be acknowledged)."""
        if event_id is None:  # not an Events API event as Slack sends them: nothing to dedupe on
            return True
        if await self.inbox.claim(event_id, envelope):
            return True
        log.info("dropped a redelivered Slack event", extra={"event_id": event_id, "retry_num": retry_num})
        return False

    def redispatch(self, event_id: str, envelope: str) -> None:
        """Hand an event recorded earlier (its owner died before answering it) to Bolt again."""
        # Verified when it was first taken in; its signature's timestamp has expired since, so it goes
        # through Bolt the way Socket Mode events do (no HTTP signature to check).
        self.dispatch_later(lambda: self.app.async_dispatch(AsyncBoltRequest(body=envelope, mode="socket_mode")),
                            "recovered event", event_id)

    def dispatch_later(self, dispatch: Callable[[], Awaitable[BoltResponse]], what: str,
                       event_id: str | None = None) -> None:
        """Run `dispatch` once the acknowledgements under way are done; a shutdown waits for it."""
        self._inflight.start(self._dispatch_when_acked(dispatch, what, event_id), name=f"dispatch {what}")

    async def _dispatch_when_acked(self, dispatch: Callable[[], Awaitable[BoltResponse]], what: str,
                                   event_id: str | None) -> None:
        await self.priority.turn()
        try:
            response = await dispatch()
        except Exception:  # Bolt reports listener errors itself; this is Bolt failing around them
            log.exception("an acknowledged Slack event could not be dispatched",
                          extra={"source": what, "event_id": event_id})
            await self._settle(event_id, FAILED)
            return
        if response.status != 200:
            log.warning("Bolt refused an event that was already acknowledged",
                        extra={"source": what, "status": response.status, "event_id": event_id})
            await self._settle(event_id, FAILED)
        elif event_id is not None and event_id not in self.inbox.routed:
            await self._settle(event_id, ANSWERED)  # Bolt's own middleware dropped it (the bot's own message...)

    async def _settle(self, event_id: str | None, state: str) -> None:
        """Finish an event no listener will finish."""
        if event_id is not None:
            await self.inbox.finish(event_id, state)


class SocketModeIntake(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, acknowledging Events API envelopes before Bolt dispatches them."""

    def __init__(self, intake: EventIntake, app_token: str) -> None:
        super().__init__(intake.app, app_token=app_token)
        self._intake = intake

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if req.type != "events_api":  # interactivity and commands may answer through the ack: Bolt's way
            await super().handle(client, req)
            return
        with self._intake.priority.acknowledging():
            event_id = _event_id(req.payload)
            try:
                take = await self._intake.take(event_id, json.dumps(req.payload), str(req.retry_attempt or "") or None)
            except InboxUnavailable:
                return  # not acknowledged: Slack sends the envelope again
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            if take:
                self._intake.dispatch_later(lambda: run_async_bolt_app(self.app, req), "socket mode envelope",
                                            event_id)


def _event_id(payload: Any) -> str | None:
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    return event_id if isinstance(event_id, str) and event_id else None
