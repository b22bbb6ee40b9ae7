"""Showing the user that pitcrew is working, within 500 ms, without slowing fast answers down.

Most answers are ready in well under the delay below; they are simply posted. A slower one gets a
thread status ("is thinking…", `assistant.threads.setStatus`, cleared by Slack when the reply is
posted) or, where the workspace refuses statuses, a placeholder message that the answer replaces
through `chat.update`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.capabilities import SLACK_CALL_ERRORS, WorkspaceFeatures, slack_error
from bot.slack.delivery import Failure, classify_failure, placeholder_metadata

log = logging.getLogger(__name__)

# Long enough that instant answers skip the extra Slack call, short enough that the status is
# visible well within 500 ms of the message (one Slack round trip is ~100 ms).
PROGRESS_DELAY_S = 0.25
STATUS_TEXT = "is thinking…"
LOADING_MESSAGES = ["Looking that up…", "Checking the knowledge base…", "Putting the answer together…"]
PLACEHOLDER_TEXT = ":hourglass_flowing_sand: _Working on it…_"


def stage_messages(intent: str, frame: dict[str, Any]) -> list[str] | None:
    """What the status says once the intent is known ("Looking up Orbit plans…"); None: the general messages."""
    slots = frame.get("slots") or {}
    product = str((slots.get("product") or {}).get("value") or "").strip()
    if intent == "product_question":
        return [f"Looking up {product.title()} plans…" if product else "Looking up our plans…",
                "Checking prices and features…"]
    if intent == "call_search":
        return ["Searching calls…", "Reading the best matches…"]
    if intent == "meeting_summary":
        return ["Finding the meeting…", "Reading the call notes…"]
    if intent == "draft_email":
        return ["Reading the call notes…", "Drafting…"]
    return None


class Progress:
    """The working indicator for one reply: `start()`, later `settle()`, then deliver via `placeholder_ts`."""

    def __init__(self, client: AsyncWebClient, channel: str, thread_ts: str, features: WorkspaceFeatures,
                 delay_s: float = PROGRESS_DELAY_S) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._features = features
        self._delay_s = delay_s
        self._task: asyncio.Task[None] | None = None
        self._calling = False  # a Slack call is under way: settle() must wait for it, not cancel it
        self.status_shown = False
        self.placeholder_ts: str | None = None
        self.placeholder_key = secrets.token_hex(4)  # in the placeholder's metadata, to find it again
        self.placeholder_unsure = False  # its post failed in a way that may hide that it is there
        self.loading_messages = LOADING_MESSAGES
        self._restatus: asyncio.Task[None] | None = None  # a status update for the stage now known

    def note_intent(self, intent: str, frame: dict[str, Any]) -> None:
        """The control plane has decided: the status names the stage under way (updated if already shown)."""
        messages = stage_messages(intent, frame)
        if messages is None:
            return
        self.loading_messages = messages
        if self.status_shown and self._restatus is None:
            self._restatus = asyncio.create_task(self._set_status(), name=f"progress-stage:{self._channel}")

    def start(self) -> None:
        self._task = asyncio.create_task(self._show_after_delay(), name=f"progress:{self._channel}")

    async def settle(self) -> None:
        """Stop a pending indicator, or wait for one being posted so the answer can replace it."""
        restatus, self._restatus = self._restatus, None
        if restatus is not None:  # a status call under way: let it land before the answer clears the status
            await asyncio.gather(restatus, return_exceptions=True)
        task, self._task = self._task, None
        if task is None:
            return
        if not self._calling:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def clear_status(self) -> None:
        """Remove the thread status when no reply will be posted to clear it."""
        if not self.status_shown:
            return
        try:
            await self._client.assistant_threads_setStatus(channel_id=self._channel, thread_ts=self._thread_ts,
                                                           status="")
        except SLACK_CALL_ERRORS as exc:
            log.info("could not clear the thread status", extra={"slack_error": slack_error(exc)})

    async def _show_after_delay(self) -> None:
        await asyncio.sleep(self._delay_s)
        self._calling = True
        if self._features.thread_status and await self._set_status():
            return
        await self._post_placeholder()

    async def _set_status(self) -> bool:
        try:
            await self._client.assistant_threads_setStatus(channel_id=self._channel, thread_ts=self._thread_ts,
                                                           status=STATUS_TEXT, loading_messages=self.loading_messages)
        except SLACK_CALL_ERRORS as exc:
            self._features.note_refusal("thread_status", exc)
            log.info("thread status refused; posting a placeholder", extra={"slack_error": slack_error(exc)})
            return False
        self.status_shown = True
        return True

    async def _post_placeholder(self) -> None:
        try:
            response = await self._client.chat_postMessage(channel=self._channel, thread_ts=self._thread_ts,
                                                           text=PLACEHOLDER_TEXT,
                                                           metadata=placeholder_metadata(self.placeholder_key))
        except SLACK_CALL_ERRORS as exc:  # the answer will still be posted; only the indicator is lost
            self.placeholder_unsure = classify_failure(exc) is Failure.AMBIGUOUS
            log.warning("could not post the progress placeholder",
                        extra={"slack_error": slack_error(exc), "maybe_posted": self.placeholder_unsure})
            return
        self.placeholder_ts = response.get("ts")
