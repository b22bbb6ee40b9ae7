"""Streaming an LLM answer into the thread as it is written (`chat.startStream` / `appendStream` / `stopStream`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.capabilities import SLACK_CALL_ERRORS, WorkspaceFeatures, slack_error
from bot.slack.delivery import ReplyDelivery
from bot.slack.progress import Progress

log = logging.getLogger(__name__)

# Characters gathered before each Slack call: fewer calls (appendStream is rate limited) at the
# cost of text arriving in ~256-character steps.
STREAM_BUFFER_CHARS = 256


def can_stream(features: WorkspaceFeatures, *, enabled: bool, channel_type: str | None,
               user: str | None, team: str | None) -> bool:
    """Streaming outside a DM needs the recipient user and team (Slack requires them there)."""
    if not (enabled and features.streaming):
        return False
    return channel_type == "im" or bool(user and team)


class SlackStreamSink:
    """The pipeline's `StreamSink` for one reply; `finish()` closes the stream once the answer is complete."""

    def __init__(self, client: AsyncWebClient, *, channel: str, thread_ts: str, progress: Progress,
                 features: WorkspaceFeatures, user: str | None = None, team: str | None = None,
                 channel_type: str | None = None) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._progress = progress
        self._features = features
        in_dm = channel_type == "im"
        self._recipient_user = None if in_dm else user
        self._recipient_team = None if in_dm else team
        self._stream: AsyncChatStream | None = None
        self._broken = False
        self._placeholder_removed = False

    @property
    def started(self) -> bool:
        """Text was handed to the stream (it may still sit in the buffer)."""
        return self._stream is not None

    @property
    def stream_ts(self) -> str | None:
        return self._stream.ts if self._stream is not None else None

    async def append(self, text: str) -> None:
        if self._broken or not text:
            return
        if self._stream is None:
            await self._progress.settle()
            self._stream = await self._client.chat_stream(
                channel=self._channel, thread_ts=self._thread_ts, buffer_size=STREAM_BUFFER_CHARS,
                recipient_user_id=self._recipient_user, recipient_team_id=self._recipient_team)
        try:
            await self._stream.append(markdown_text=text)
        except SLACK_CALL_ERRORS as exc:
            self._give_up(exc)
            return
        await self._remove_placeholder_once_visible()

    async def finish(self, final_mrkdwn: str, *, failure_note: str | None = None,
                     delivery: ReplyDelivery | None = None, feedback: list[dict[str, Any]] | None = None,
                     repair_blocks: list[dict[str, Any]] | None = None) -> bool:
        """Stop the stream; True if the answer reached the thread through it, False if the caller must post it.

        `final_mrkdwn` replaces the streamed message if the stream broke after it became visible;
        `failure_note` is appended when the answer failed part way. With `delivery`, the finished message
        carries the reply's metadata and the repair is retried within the delivery's deadline. `feedback`: blocks
        shown under the finished message (the 👍/👎); `repair_blocks`: the whole answer's blocks for a repair.
        """
        if self._stream is None:
            return False
        if not self._broken:
            try:
                await self._stream.stop(markdown_text=failure_note, blocks=feedback,
                                        metadata=delivery.metadata if delivery is not None else None)
                await self._remove_placeholder_once_visible()
                return True
            except SLACK_CALL_ERRORS as exc:
                self._give_up(exc)
        if self.stream_ts is None:
            return False  # nothing reached the thread; post the answer normally
        # A partial streamed message is visible: make it the whole answer.
        if delivery is not None:
            repaired = await delivery.update(self.stream_ts, final_mrkdwn, repair_blocks)
        else:
            try:
                await self._client.chat_update(channel=self._channel, ts=self.stream_ts, text=final_mrkdwn)
                repaired = True
            except SLACK_CALL_ERRORS as exc:
                log.warning("could not repair a broken stream", extra={"slack_error": slack_error(exc)})
                repaired = False
        if repaired:
            await self._remove_placeholder_once_visible()
        return repaired

    def _give_up(self, exc: BaseException) -> None:
        self._broken = True
        if self.stream_ts is None:
            self._features.note_refusal("streaming", exc)
        log.warning("streaming to Slack failed; the answer will be posted whole",
                    extra={"slack_error": slack_error(exc), "stream_started": self.stream_ts is not None})

    async def _remove_placeholder_once_visible(self) -> None:
        """A placeholder posted before streaming began is deleted once the streamed message exists."""
        placeholder = self._progress.placeholder_ts
        if placeholder is None or self._placeholder_removed or self.stream_ts is None:
            return
        self._placeholder_removed = True
        try:
            await self._client.chat_delete(channel=self._channel, ts=placeholder)
        except SLACK_CALL_ERRORS as exc:
            log.info("could not delete the progress placeholder", extra={"slack_error": slack_error(exc)})
