"""`request_scope`: one correlation id per request and exactly one summary record when it ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.observability.context import RequestContext, bind_request, new_correlation_id
from bot.observability.json_format import STANDARD_RECORD_ATTRS
from bot.observability.observers import REQUEST_SUMMARIES
from bot.observability.text_format import SUMMARY_MARKER

SUMMARY_OK = "Request completed successfully"
SUMMARY_FAILED = "Request failed"

# Facts every summary carries, null until the pipeline records them.
SUMMARY_FACTS: tuple[str, ...] = ("intent", "confidence", "llm_validation", "handler", "snapshot_path", "cache")

logger = logging.getLogger("bot.request")


@contextmanager
def request_scope(
    *,
    source: str = "slack",
    channel: str | None = None,
    user: str | None = None,
    event_id: str | None = None,
) -> Iterator[RequestContext]:
    """Serve one request: a fresh correlation id is current inside the block (per asyncio task), and on
    exit one summary is logged: `Request completed successfully`, or `Request failed` (ERROR, with the
    exception) if the request was marked with `RequestContext.fail(exc)` or an exception escapes the
    block, which is then re-raised. A plain `with` block; it may wrap `await`s inside a coroutine."""
    request = RequestContext(
        correlation_id=new_correlation_id(), source=source, channel=channel, user=user, event_id=event_id
    )
    with bind_request(request):
        try:
            yield request
        except BaseException as exc:
            request.fail(exc)
            log_summary(request)
            raise
        log_summary(request)


def summary_fields(request: RequestContext) -> dict[str, Any]:
    """The summary record's fields: the request's facts so far, its timings and where it came from."""
    request.timer.close_open_stages()
    fields: dict[str, Any] = dict.fromkeys(SUMMARY_FACTS)
    for key, value in request.facts.items():
        # A fact named like a LogRecord attribute ("name", "args", ...) would be refused by logging.
        fields[f"fact_{key}" if key in STANDARD_RECORD_ATTRS else key] = value
    fields.update(
        correlation_id=request.correlation_id,
        total_time_ms=round(request.elapsed_ms(), 3),
        stages=request.timer.ordered_stages(),
        llm_calls=request.llm_calls,
        channel=request.channel,
        user=request.user,
        event_id=request.event_id,
        source=request.source,
    )
    return fields


def log_summary(request: RequestContext) -> None:
    """Log the request's one summary record (called by `request_scope`; public for other entry points)."""
    fields = summary_fields(request)
    failure = request.failure
    if REQUEST_SUMMARIES:  # metrics, alerts and the rollout watch every request
        REQUEST_SUMMARIES.emit(fields | {"failed": failure is not None})
    fields[SUMMARY_MARKER] = True
    if failure is None:
        logger.info(SUMMARY_OK, extra=fields)
        return
    fields["error"] = _describe(failure)
    # Cancellation and interpreter exits are not bugs: name them without a traceback.
    exc_info = (type(failure), failure, failure.__traceback__) if isinstance(failure, Exception) else None
    logger.error(SUMMARY_FAILED, exc_info=exc_info, extra=fields)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__
