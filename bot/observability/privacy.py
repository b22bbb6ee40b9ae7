"""`MessageTextFilter`: keeps what people wrote to pitcrew, and what it answered, out of the logs.

pitcrew's own records never carry message text or reply bodies. The SDKs it uses do, at DEBUG: the
Slack Web API client logs every call's body and response (so every reply), Socket Mode every
envelope (so every message), the OpenAI SDK every request's prompt. With LOG_MESSAGE_TEXT off (the
default) their DEBUG records are dropped, whatever LOG_LEVEL says; pitcrew's own DEBUG records stay.
"""

from __future__ import annotations

import logging

# Loggers whose DEBUG records may quote request or response bodies: the libraries, and the names
# pitcrew gives the Slack clients' loggers (bot.slack.web, bot.slack.bolt).
BODY_QUOTING_LOGGERS: tuple[str, ...] = (
    "slack_sdk", "slack_bolt", "bot.slack.web", "bot.slack.bolt", "openai", "httpx", "httpx2", "httpcore",
    "aiohttp", "websockets", "urllib3",
)


def quotes_bodies(logger_name: str) -> bool:
    """True for a logger in (or under) `BODY_QUOTING_LOGGERS`."""
    return any(logger_name == name or logger_name.startswith(name + ".") for name in BODY_QUOTING_LOGGERS)


class MessageTextFilter(logging.Filter):
    """Drops DEBUG records from loggers that may quote message text (`BODY_QUOTING_LOGGERS`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG or not quotes_bodies(record.name)
