"""Alerts posted with the bot's own Web API client (chat.postMessage, then chat.update of the same message)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.capabilities import SLACK_CALL_ERRORS, slack_error

log = logging.getLogger(__name__)


class SlackAlertPoster:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def post(self, channel: str, text: str) -> str | None:
        try:
            response = await self._client.chat_postMessage(channel=channel, text=text, unfurl_links=False)
        except (SlackApiError, *SLACK_CALL_ERRORS) as exc:
            log.warning("could not post an alert", extra={"channel": channel, "error": slack_error(exc)})
            return None
        ts = response.get("ts")
        return str(ts) if ts else None

    async def update(self, channel: str, ts: str, text: str) -> bool:
        try:
            await self._client.chat_update(channel=channel, ts=ts, text=text)
        except (SlackApiError, *SLACK_CALL_ERRORS) as exc:
            log.warning("could not update an alert", extra={"channel": channel, "error": slack_error(exc)})
            return False
        return True
