"""How an LLM call ended, and which provider errors are worth retrying."""

from __future__ import annotations

import email.utils
import json
import math
import time
from enum import StrEnum

import pydantic


class Outcome(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"  # an attempt outlived its per-kind timeout
    CONNECTION_ERROR = "connection_error"
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx
    CLIENT_ERROR = "client_error"  # any other 4xx: our request is wrong, retrying cannot help
    MALFORMED = "malformed"  # a reply that does not parse or validate
    LEAK = "leak"  # a reply that would reveal the system prompt
    BREAKER_OPEN = "breaker_open"
    SILENT = "silent"  # an earlier call of this request timed out and the provider has answered nothing since
    UNCONFIGURED = "unconfigured"  # no OPENAI_API_KEY
    DEADLINE = "deadline"  # the call's overall deadline passed (waiting for a slot, or mid-attempt)
    ERROR = "error"  # anything else (a bug, logged with its type)


class MalformedReply(Exception):
    """The provider answered, but not with something usable (no choices, empty or refused content)."""


class BreakerOpen(Exception):
    """The circuit breaker refused the attempt."""


# Provider failures that say nothing about our request: worth another attempt.
RETRYABLE = frozenset({Outcome.TIMEOUT, Outcome.CONNECTION_ERROR, Outcome.RATE_LIMITED, Outcome.SERVER_ERROR})
# Failures that count against the provider's health in the circuit breaker.
PROVIDER_FAILURES = RETRYABLE


def classify(exc: BaseException) -> Outcome:
    """The outcome an exception from one attempt stands for (timeouts checked before connection errors)."""
    import openai  # here, not at the top: a process without an LLM never loads the SDK (~0.7 s)

    if isinstance(exc, BreakerOpen):
        return Outcome.BREAKER_OPEN
    if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
        return Outcome.TIMEOUT
    if isinstance(exc, openai.APIConnectionError):
        return Outcome.CONNECTION_ERROR
    if isinstance(exc, openai.RateLimitError):
        return Outcome.RATE_LIMITED
    if isinstance(exc, openai.APIStatusError):
        return Outcome.SERVER_ERROR if exc.status_code >= 500 else Outcome.CLIENT_ERROR
    if isinstance(exc, (MalformedReply, json.JSONDecodeError, pydantic.ValidationError,
                        openai.APIResponseValidationError, openai.LengthFinishReasonError,
                        openai.ContentFilterFinishReasonError)):
        return Outcome.MALFORMED
    return Outcome.ERROR


def is_retryable(exc: BaseException) -> bool:
    return classify(exc) in RETRYABLE


def retry_after_seconds(exc: BaseException, now: float | None = None) -> float | None:
    """The delay a 429/503 asks for (`retry-after-ms`, `retry-after` seconds or HTTP date), if any."""
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    value = headers.get("retry-after")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            return max(0.0, email.utils.mktime_tz(parsed) - (time.time() if now is None else now))
    return None


def status_code(exc: BaseException) -> int | None:
    import openai

    return exc.status_code if isinstance(exc, openai.APIStatusError) else None
