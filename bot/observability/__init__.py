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
from bot.observability.timing import StageTimer

__all__ = [
    "RequestContext",
    "StageTimer",
    "bind_request",
    "count_llm_call",
    "current_correlation_id",
    "current_request",
    "new_correlation_id",
    "record",
    "stage",
]
