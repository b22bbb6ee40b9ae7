"""Getting one reply into its thread exactly once, through Slack's bad moments.

A post that fails with a 5xx, a retryable `ok: false` error, a timeout or a dropped connection is
tried again with backoff until the delivery deadline. Some of those failures are ambiguous: Slack
may have posted the message and only the answer was lost. Every reply therefore carries message
metadata naming its correlation id, and after an ambiguous failure the thread is read
(`conversations.replies` with `include_all_metadata`) before posting again: a reply already there
is not posted twice. Updates (`chat.update`) are idempotent and simply retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from bot.settings import Settings
from bot.slack.capabilities import SLACK_CALL_ERRORS, slack_error

log = logging.getLogger(__name__)

REPLY_EVENT_TYPE = "pitcrew_reply"
PLACEHOLDER_EVENT_TYPE = "pitcrew_placeholder"
# `ok: false` errors Slack documents as transient; for internal_error and fatal_error it adds that part
# of the operation may have succeeded, so all of them are treated as ambiguous.
RETRYABLE_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# For callers without settings; the values themselves live in `bot.settings` only.
DEFAULT_DEADLINE_S: float = Settings.model_fields["slack_delivery_deadline_s"].default
ATTEMPT_TIMEOUT_S: float = Settings.model_fields["slack_api_timeout_s"].default
BACKOFF_INITIAL_S = 0.25
BACKOFF_MAX_S = 4.0
MIN_ATTEMPT_S = 0.5  # no attempt starts with less of the deadline left
# The thread is searched from a little before the delivery began (Slack's and our clocks differ).
THREAD_LOOKBACK_S = 120.0
THREAD_PAGES = 5  # conversations.replies pages read at most (200 messages each)

R = TypeVar("R")


class Failure(StrEnum):
    """What a failed call says about the next attempt."""

    PERMANENT = "permanent"  # retrying cannot help (channel_not_found, invalid_auth, msg_too_long, ...)
    NOT_APPLIED = "not_applied"  # Slack certainly did nothing (connection refused, 429): just retry
    AMBIGUOUS = "ambiguous"  # Slack may have done it: look before posting again


def classify_failure(exc: BaseException) -> Failure:
    if isinstance(exc, SlackApiError):
        status = _status(exc)
        if status == 429:
            return Failure.NOT_APPLIED
        if (status is not None and status >= 500) or slack_error(exc) in RETRYABLE_ERRORS:
            return Failure.AMBIGUOUS
        return Failure.PERMANENT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.NOT_APPLIED  # no connection: the request never left
    if isinstance(exc, (TimeoutError, aiohttp.ClientError)):
        return Failure.AMBIGUOUS  # timed out or dropped after the request may have been read
    return Failure.PERMANENT


def reply_metadata(correlation_id: str, event_id: str | None = None) -> dict[str, Any]:
    """The message metadata every reply carries, so a later look at the thread can recognise it (by its
    request, or by the Slack event it answers)."""
    payload = {"correlation_id": correlation_id}
    if event_id is not None:
        payload["event_id"] = event_id
    return {"event_type": REPLY_EVENT_TYPE, "event_payload": payload}


def placeholder_metadata(key: str) -> dict[str, Any]:
    """The metadata of a progress placeholder (`key` is the placeholder's own, made before any reply exists)."""
    return {"event_type": PLACEHOLDER_EVENT_TYPE, "event_payload": {"key": key}}


def _status(exc: SlackApiError) -> int | None:
    status = getattr(exc.response, "status_code", None)
    return status if isinstance(status, int) else None


class _UntilDeadline(stop_base):
    """Stop once the next attempt could not start, with `MIN_ATTEMPT_S` to spare, before the deadline."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        remaining = self._deadline - asyncio.get_running_loop().time()
        return retry_state.upcoming_sleep + MIN_ATTEMPT_S > remaining


class ReplyDelivery:
    """Delivers one reply (post or update) to one thread within one deadline, started at construction."""

    def __init__(self, client: AsyncWebClient, *, channel: str, thread_ts: str, correlation_id: str,
                 deadline_s: float = DEFAULT_DEADLINE_S, attempt_timeout_s: float = ATTEMPT_TIMEOUT_S,
                 event_id: str | None = None) -> None:
        self._client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.correlation_id = correlation_id
        self.event_id = event_id
        self._deadline = asyncio.get_running_loop().time() + deadline_s
        self._attempt_timeout_s = attempt_timeout_s
        self._started_wall = time.time()
        self._can_read_thread = True
        self._maybe_applied = False  # a call failed in a way that may hide its success
        self.attempts = 0
        self.last_error: str | None = None
        self.last_failure: Failure | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return reply_metadata(self.correlation_id, self.event_id)

    @property
    def time_left_s(self) -> float:
        return self._deadline - asyncio.get_running_loop().time()

    async def post(self, text: str, blocks: list[dict[str, Any]] | None = None) -> str | None:
        """Post `text` in the thread; its ts once it is there (posted now or found after an ambiguous failure),
        None when it could not be delivered by the deadline or Slack refused it for good. Slack always
        answers a post with its ts; should it not, the reply still counts as delivered ("")."""

        async def attempt() -> str | None:
            if self._maybe_applied:  # an earlier attempt may have posted it
                found = await self.find_posted()
                if found is not None:
                    return found
            response = await self._client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks, metadata=self.metadata,
                unfurl_links=False, unfurl_media=False)
            return str(response.get("ts") or "")

        try:
            return await self._retrying(attempt)
        except SLACK_CALL_ERRORS:
            if self._maybe_applied:  # the last attempt may have landed after all: one last look
                try:
                    async with asyncio.timeout(max(self.time_left_s, MIN_ATTEMPT_S * 4)):
                        return await self.find_posted()
                except SLACK_CALL_ERRORS as exc:
                    log.warning("could not check the thread for the reply",
                                extra={**self._ids(), "slack_error": slack_error(exc)})
            return None

    async def update(self, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        """Replace message `ts` with the reply (idempotent, so simply retried); False if it never took."""

        async def attempt() -> bool:
            await self._client.chat_update(channel=self.channel, ts=ts, text=text, blocks=blocks, metadata=self.metadata)
            return True

        try:
            return await self._retrying(attempt)
        except SLACK_CALL_ERRORS:
            return False

    async def find_posted(self) -> str | None:
        """The ts of this reply if it is already in the thread (recognised by its metadata), else None.

        Where the thread cannot be read (a missing `*:history` scope), None: a rare duplicate beats a lost reply.
        """
        metadata = self.metadata
        return await self._find(lambda found: found == metadata, "reply")

    async def find_reply_to_event(self, since_wall: float) -> str | None:
        """The ts of a reply to this delivery's event already in the thread (posted since `since_wall`, a
        Unix time), else None: an event answered just before a crash is not answered again after it."""
        event_id = self.event_id

        def answers_the_event(found: dict[str, Any]) -> bool:
            payload = found.get("event_payload")
            return (found.get("event_type") == REPLY_EVENT_TYPE and isinstance(payload, dict)
                    and payload.get("event_id") == event_id)

        try:
            return await self._find(answers_the_event, "reply to the event", oldest_wall=since_wall)
        except SLACK_CALL_ERRORS as exc:
            log.info("could not look for an earlier reply to the event", extra={**self._ids(), "slack_error": slack_error(exc)})
            return None

    async def find_placeholder(self, key: str) -> str | None:
        """The ts of the progress placeholder `key` if a post that seemed to fail did put it in the thread."""
        try:
            metadata = placeholder_metadata(key)
            return await self._find(lambda found: found == metadata, "placeholder")
        except SLACK_CALL_ERRORS as exc:
            log.info("could not look for the progress placeholder", extra={**self._ids(), "slack_error": slack_error(exc)})
            return None

    async def _find(self, matches: Callable[[dict[str, Any]], bool], what: str,
                    oldest_wall: float | None = None) -> str | None:
        """The ts of the message in the thread whose metadata `matches`, else None."""
        if not self._can_read_thread:
            return None
        oldest = self._started_wall - THREAD_LOOKBACK_S if oldest_wall is None else oldest_wall
        cursor: str | None = None
        for _ in range(THREAD_PAGES):
            try:
                response = await self._client.conversations_replies(
                    channel=self.channel, ts=self.thread_ts, include_all_metadata=True, limit=200,
                    oldest=f"{oldest:.6f}", inclusive=True, cursor=cursor)
            except SlackApiError as exc:
                if classify_failure(exc) is Failure.PERMANENT:
                    self._can_read_thread = False
                    log.warning("cannot read the thread to check for a reply already posted; posting again",
                                extra={**self._ids(), "slack_error": slack_error(exc)})
                    return None
                raise
            for message in response.get("messages") or []:
                found = message.get("metadata")
                if isinstance(found, dict) and matches(found):
                    log.info("found in the thread a message already posted",
                             extra={**self._ids(), "ts": message.get("ts"), "looked_for": what})
                    return str(message.get("ts"))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return None
        return None

    async def _retrying(self, attempt: Callable[[], Awaitable[R]]) -> R:
        """Run `attempt` until it succeeds, fails for good or the deadline leaves no room; re-raises the last
        error. Each attempt is cut off at the attempt timeout or the deadline, whichever comes first."""
        if self.time_left_s < MIN_ATTEMPT_S:  # an earlier step used the time up
            self.last_error = "delivery_deadline"
            raise TimeoutError("the delivery deadline has passed")
        controller = AsyncRetrying(
            retry=retry_if_exception(lambda exc: classify_failure(exc) is not Failure.PERMANENT),
            wait=wait_random_exponential(multiplier=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S),
            stop=_UntilDeadline(self._deadline),
            before_sleep=self._log_retry,
            sleep=asyncio.sleep,
            reraise=True,
        )
        async for attempt_manager in controller:
            with attempt_manager:
                self.attempts += 1
                timeout = max(min(self._attempt_timeout_s, self.time_left_s), 0.001)
                try:
                    async with asyncio.timeout(timeout):
                        return await attempt()
                except SLACK_CALL_ERRORS as exc:
                    self.last_error = slack_error(exc)
                    self.last_failure = classify_failure(exc)
                    self._maybe_applied = self._maybe_applied or self.last_failure is Failure.AMBIGUOUS
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _log_retry(self, retry_state: RetryCallState) -> None:
        log.warning("Slack call failed; retrying", extra={
            **self._ids(), "slack_error": self.last_error, "failure": self.last_failure,
            "attempt": retry_state.attempt_number, "wait_s": round(retry_state.upcoming_sleep, 3)})

    def _ids(self) -> dict[str, Any]:
        return {"correlation_id": self.correlation_id, "event_id": self.event_id, "channel": self.channel}
