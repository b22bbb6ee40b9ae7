"""Observability: correlation ids, stage timings, JSON day files and the per-request summary."""

from bot.observability.context import (
    RequestContext,
    bind_request,
    count_llm_call,
    current_correlation_id,
    current_request,
    new_correlation_id,
    record,
    stage,
)
from bot.observability.request_log import SUMMARY_FAILED, SUMMARY_OK, request_scope
from bot.observability.setup import configure_logging, reset_logging
from bot.observability.timing import StageTimer

__all__ = [
    "SUMMARY_FAILED",
    "SUMMARY_OK",
    "RequestContext",
    "StageTimer",
    "bind_request",
    "configure_logging",
    "count_llm_call",
    "current_correlation_id",
    "current_request",
    "new_correlation_id",
    "record",
    "request_scope",
    "reset_logging",
    "stage",
]
