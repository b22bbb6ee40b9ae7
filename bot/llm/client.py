"""The process's one `AsyncOpenAI` client (one connection pool), with the SDK's own retries off."""

from __future__ import annotations

import logging

import httpx2
from openai import AsyncOpenAI, DefaultAioHttpClient

from bot.settings import Settings

# The SDK's HTTP layer logs every request at INFO ("HTTP Request: POST ... 200 OK"). The gateway's own
# `llm call` record already says so with more (latency, attempts, outcome), so that line only doubled the
# log records (and their redaction scans and writes) of every call.
HTTP_LOGGER = "httpx2"


def build_client(settings: Settings) -> AsyncOpenAI:
    """A client for `OPENAI_BASE_URL` (any OpenAI-compatible server) with `OPENAI_API_KEY`.

    Retries are the gateway's job (budgeted, deadline-aware), so the SDK's are off. The timeout here is
    the longest any attempt may take; each request passes its own, shorter one. The aiohttp transport
    (the SDK's own, vendored) costs ~0.9 ms less per call than the default httpx2 one on loopback
    (2.3 vs 3.1 ms p50, measured on 2 cores), and aiohttp is already in the process for Slack.
    """
    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        raise ValueError("OPENAI_API_KEY is not set")
    return build_client_for(settings, settings.openai_base_url, settings.openai_api_key.get_secret_value())


def build_client_for(settings: Settings, base_url: str | None, api_key: str) -> AsyncOpenAI:
    """A client for one provider of `LLM_PROVIDERS` (or the `OPENAI_*` one), with the settings' timeouts."""
    quiet_http_log()
    longest = max(settings.llm_answer_timeout_s, settings.llm_validate_timeout_s)
    timeout = httpx2.Timeout(longest, connect=min(settings.llm_connect_timeout_s, longest))
    return AsyncOpenAI(
        api_key=api_key,
        base_url=base_url or None,
        max_retries=0,
        timeout=timeout,
        http_client=DefaultAioHttpClient(timeout=timeout),
    )


def quiet_http_log() -> None:
    """Keep the SDK's HTTP layer to warnings, unless its level was set on purpose (e.g. for debugging)."""
    http_logger = logging.getLogger(HTTP_LOGGER)
    if http_logger.level == logging.NOTSET:
        http_logger.setLevel(logging.WARNING)
