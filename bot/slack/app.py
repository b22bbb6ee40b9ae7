"""The Bolt app: web client, request verification and listeners, ready for HTTP or Socket Mode."""

from __future__ import annotations

import logging
import math

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.pipeline import Pipeline
from bot.settings import Settings
from bot.slack.assistant import AssistantPanel
from bot.slack.feedback import register_feedback
from bot.slack.inbox import SWEEP_S, EventInbox
from bot.slack.inflight import InflightTasks
from bot.slack.listeners import register_listeners
from bot.slack.progress import PROGRESS_DELAY_S
from bot.slack.responder import ReplyPipeline, Responder
from knowledge.db import Database

RATE_LIMIT_RETRIES = 3  # each waits Slack's Retry-After
CONNECTION_RETRIES = 2
# Only failures to connect are retried inside the client: the request never left, so a retry cannot
# post twice. A connection dropped after sending may hide a posted reply; `bot.slack.delivery` decides.
UNSENT_CONNECTION_ERRORS: list[type[Exception]] = [aiohttp.ClientConnectorError]


class _DropTokenSkippedWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused whenever that variable is set and a client is given; our
    client carries that very token, so the warning would only alarm whoever reads the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


BOLT_LOGGER = logging.getLogger("bot.slack.bolt")
BOLT_LOGGER.addFilter(_DropTokenSkippedWarning())


def signing_secret(settings: Settings) -> str:
    """SLACK_SIGNING_SECRET ("" in Socket Mode, which needs none)."""
    return settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""


def build_web_client(settings: Settings) -> AsyncWebClient:
    """The bot's Web API client: honours 429 Retry-After and retries connections that could not be made."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=_whole_seconds(settings.slack_api_timeout_s),
        logger=logging.getLogger("bot.slack.web"),
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES, error_types=UNSENT_CONNECTION_ERRORS),
        ],
    )


def _whole_seconds(seconds: float) -> int:
    """slack_sdk types its timeout as int seconds; the delivery layer enforces the exact one per attempt."""
    return max(1, math.ceil(seconds))


def build_inbox(settings: Settings, db: Database) -> EventInbox:
    """The durable event inbox the intake claims events in and the responder records answers in."""
    # The sweep renews leases: a few times per lease, so a live instance's events are never taken over.
    return EventInbox(db, recovery_s=settings.inbox_recovery_s, retention_s=settings.event_dedupe_ttl_s,
                      lease_s=settings.inbox_lease_s, sweep_s=min(SWEEP_S, settings.inbox_lease_s / 3))


def build_app(settings: Settings, pipeline: ReplyPipeline, inbox: EventInbox, *,
              inflight: InflightTasks | None = None, progress_delay_s: float = PROGRESS_DELAY_S) -> AsyncApp:
    """The Bolt app answering through `pipeline`; no network call happens until the first event.

    `inflight` is the tracker a server drains on shutdown (a fresh one if not given); `inbox` must be
    the one the server's intake claims events in. A full `Pipeline` also gives the assistant panel its
    suggested prompts and feedback clicks their storage (`Pipeline.quality`).
    """
    quality = pipeline.quality if isinstance(pipeline, Pipeline) else None
    app = AsyncApp(
        name="pitcrew",
        client=build_web_client(settings),
        # Verifies every HTTP request; Bolt skips it for Socket Mode envelopes (authenticated WebSocket).
        signing_secret=signing_secret(settings),
        # Only the assistant middleware's listeners get say/set_status/...; the others do not need them.
        attaching_conversation_kwargs_enabled=False,
        logger=BOLT_LOGGER,
    )
    responder = Responder(pipeline, inbox,
                          inflight if inflight is not None else InflightTasks(),
                          streaming=settings.streaming, progress_delay_s=progress_delay_s,
                          delivery_deadline_s=settings.slack_delivery_deadline_s,
                          attempt_timeout_s=settings.slack_api_timeout_s,
                          feedback_buttons=settings.slack_feedback_buttons and quality is not None)
    panel = AssistantPanel(responder, pipeline.db if isinstance(pipeline, Pipeline) else None,
                           lambda: pipeline.knowledge_revision if isinstance(pipeline, Pipeline) else 0)
    register_listeners(app, responder, panel)
    if quality is not None:
        register_feedback(app, quality)
    return app


def attach_http_session(app: AsyncApp) -> aiohttp.ClientSession:
    """Give the app's Web API client one pooled HTTP session (the default opens a connection per call).

    Per-request clients Bolt creates inherit it. Call inside the running loop; close it on shutdown.
    """
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=app.client.timeout))  # SLACK_API_TIMEOUT_S
    app.client.session = session
    return session
