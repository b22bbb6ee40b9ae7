"""The assistant panel (Slack's split view for AI apps), through Bolt's `Assistant` middleware.

`assistant_thread_started`: a greeting and suggested prompts drawn from the knowledge base (cached per
knowledge revision, so an import refreshes them); `assistant_thread_context_changed`: nothing to do (pitcrew
does not use the channel the rep is looking at); `user_message` (a DM in a thread, the panel's messages
among them): the same responder as mentions and DMs, then the thread's title from its first question.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.slack.capabilities import SLACK_CALL_ERRORS, slack_error
from bot.slack.responder import Responder, SlackTurn
from knowledge.db import Database
from knowledge.suggestions import Suggestion, suggested_prompts

log = logging.getLogger(__name__)

GREETING = ("Hi! I answer questions about our products and plans, search recorded sales calls, recap meetings "
            "and draft follow-ups. Pick a suggestion or ask me anything.")
PROMPTS_TITLE = "Try asking:"
TITLE_MAX_CHARS = 80
TITLED_THREADS_KEPT = 10_000  # threads known to have their title (oldest forgotten first)


class AssistantPanel:
    """Builds the `AsyncAssistant` middleware answering through `responder`."""

    def __init__(self, responder: Responder, db: Database | None, revision: Callable[[], int]) -> None:
        self._responder = responder
        self._db = db
        self._revision = revision  # the knowledge revision the pipeline's names were loaded at
        self._prompts: tuple[int, list[Suggestion]] | None = None
        self._titled: OrderedDict[str, None] = OrderedDict()

    async def prompts(self) -> list[Suggestion]:
        """The suggested prompts, read again when the knowledge revision has moved (in a worker thread)."""
        revision = self._revision()
        if self._prompts is None or self._prompts[0] != revision:
            if self._db is None:
                return [Suggestion("Calls about pricing", "Find calls about pricing")]
            try:
                self._prompts = (revision, await asyncio.to_thread(suggested_prompts, self._db))
            except SQLAlchemyError as exc:
                log.warning("could not read suggested prompts", extra={"error": type(exc).__name__})
                return []
        return self._prompts[1]

    def build(self) -> AsyncAssistant:
        assistant = AsyncAssistant(logger=log)

        async def on_thread_started(body: dict[str, Any], say: AsyncSay,
                                    set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
            try:
                await say(GREETING)
                prompts = await self.prompts()
                if prompts:
                    await set_suggested_prompts(prompts=[{"title": p.title, "message": p.message} for p in prompts],
                                                title=PROMPTS_TITLE)
            except SLACK_CALL_ERRORS as exc:
                log.warning("could not greet an assistant thread", extra={"slack_error": slack_error(exc)})
            finally:
                await self._responder.skip(body.get("event_id"))  # done: nothing more to answer

        async def on_context_changed(body: dict[str, Any]) -> None:
            await self._responder.skip(body.get("event_id"))

        async def on_user_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                                  client: AsyncWebClient, request: AsyncBoltRequest) -> None:
            if not event.get("user"):
                await self._responder.skip(body.get("event_id"))
                return
            retry = request.headers.get("x-slack-retry-num")
            turn = SlackTurn.from_event(body, event, bot_user_id=context.bot_user_id,
                                        retry_num=retry[0] if retry else None)
            await self._responder.respond(turn, client)
            await self._title(turn, client)

        assistant.thread_started(on_thread_started)
        assistant.thread_context_changed(on_context_changed)
        assistant.user_message(on_user_message)
        return assistant

    async def _title(self, turn: SlackTurn, client: AsyncWebClient) -> None:
        """The thread's title, from its first question (once per thread this process has seen)."""
        if not turn.text or turn.thread_key in self._titled:
            return
        self._titled[turn.thread_key] = None
        while len(self._titled) > TITLED_THREADS_KEPT:
            self._titled.popitem(last=False)
        title = " ".join(turn.text.split())
        if len(title) > TITLE_MAX_CHARS:
            title = title[:TITLE_MAX_CHARS - 1].rstrip() + "…"
        try:
            await client.assistant_threads_setTitle(channel_id=turn.channel, thread_ts=turn.thread_ts, title=title)
        except SLACK_CALL_ERRORS as exc:
            log.info("could not set the thread title", extra={"slack_error": slack_error(exc)})
