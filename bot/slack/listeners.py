"""Every Bolt listener pitcrew registers, in one place.

Events pitcrew does not answer still get a listener that does nothing: Bolt answers an event
without a listener with 404, which makes Slack retry it and can get the subscription disabled.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from slack_bolt.request.payload_utils import is_other_message_sub_event_in_assistant_thread

from bot.slack.assistant import AssistantPanel
from bot.slack.responder import Responder, SlackTurn

log = logging.getLogger(__name__)

# Message subtypes that carry a person's words; everything else (message_changed, message_deleted,
# channel_join, bot_message, ...) is ignored.
ANSWERED_MESSAGE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})

# Events a workspace may send that need no answer (the manifest subscribes to few of them).
QUIET_EVENTS = (
    "app_home_opened",
    "app_uninstalled",
    "tokens_revoked",
    "member_joined_channel",
    "member_left_channel",
)


def register_listeners(app: AsyncApp, responder: Responder, assistant: AssistantPanel | None = None) -> None:
    @app.middleware
    async def note_routed(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:  # noqa: A002 (Bolt's name)
        """Past Bolt's own filters: a listener below finishes the event in the inbox (answer or skip)."""
        event_id = body.get("event_id")
        if isinstance(event_id, str):
            responder.inbox.routed.add(event_id)
            if assistant is not None and is_other_message_sub_event_in_assistant_thread(body):
                await _skip(responder, body, "edit or deletion in an assistant thread")  # the middleware only acks
        await next()

    if assistant is not None:  # after note_routed: its listeners finish their events like the ones below
        app.use(assistant.build())

    async def on_app_mention(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                             client: AsyncWebClient, request: AsyncBoltRequest) -> None:
        # Direct messages are answered through message.im; a bot's mention is never answered (loops).
        if event.get("bot_id") or event.get("channel_type") == "im" or not event.get("user"):
            await _skip(responder, body, "mention by a bot or in a DM")
            return
        await responder.respond(_turn(body, event, context, request), client)

    async def on_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                         client: AsyncWebClient, request: AsyncBoltRequest) -> None:
        if event.get("channel_type") != "im":
            await _skip(responder, body, "channel message (mentions arrive as app_mention)")
        elif event.get("subtype") not in ANSWERED_MESSAGE_SUBTYPES or event.get("bot_id") or not event.get("user"):
            await _skip(responder, body, f"message subtype {event.get('subtype') or 'bot'}")
        else:
            await responder.respond(_turn(body, event, context, request), client)

    async def ignore(body: dict[str, Any]) -> None:
        await _skip(responder, body, "event not answered")

    app.event("app_mention")(on_app_mention)
    app.event("message")(on_message)
    for name in QUIET_EVENTS:
        app.event(name)(ignore)
    # Last: anything else the app gets subscribed to later is acknowledged, not answered with 404.
    app.event(re.compile(r".*"))(ignore)


def _turn(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
          request: AsyncBoltRequest) -> SlackTurn:
    retry = request.headers.get("x-slack-retry-num")
    return SlackTurn.from_event(body, event, bot_user_id=context.bot_user_id, retry_num=retry[0] if retry else None)


async def _skip(responder: Responder, body: dict[str, Any], reason: str) -> None:
    event = body.get("event") or {}
    await responder.skip(body.get("event_id"))
    log.debug("slack event ignored", extra={"event_id": body.get("event_id"), "event_type": event.get("type"),
                                            "subtype": event.get("subtype"), "reason": reason})
