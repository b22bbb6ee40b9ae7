"""Handler filters: stamp the current request's correlation id on records, and scrub secrets from them."""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any

from bot.observability.context import current_correlation_id
from bot.observability.json_format import STANDARD_RECORD_ATTRS

REDACTED = "[REDACTED]"

# Configured secrets shorter than this are not real credentials; scrubbing them would shred every line.
MIN_SECRET_LENGTH = 4

# Credential shapes redacted even when not configured (a token pasted into a message, a key in an
# error), each with the plain substrings every match contains: checking those with `in` is ~20x cheaper
# than running the regex over every string, and most log text contains none of them.
TOKEN_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"xox(?:[a-z]|e\.xox[a-z])-[A-Za-z0-9-]{6,}", ("xox",)),  # Slack bot/user/refresh tokens
    (r"xapp-[A-Za-z0-9-]{6,}", ("xapp-",)),  # Slack app-level tokens
    (r"sk-[A-Za-z0-9_-]{16,}", ("sk-",)),  # OpenAI-style API keys (sk-..., sk-proj-...)
    (r"(?:[Bb]earer|BEARER)\s+[A-Za-z0-9._~+/-]{16,}=*", ("earer", "EARER")),  # Authorization headers
)


class CorrelationIdFilter(logging.Filter):
    """Adds `correlation_id` to every record logged while a request is current, from any logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "correlation_id" not in record.__dict__:
            correlation_id = current_correlation_id()
            if correlation_id is not None:
                record.correlation_id = correlation_id
        return True


def _configured_secrets(secrets: Iterable[str]) -> list[str]:
    return sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any configured secret or token-shaped string."""
    alternatives = [re.escape(s) for s in _configured_secrets(secrets)]
    # A token shape must not start inside a longer word ("task-..." is not "sk-...").
    alternatives += [rf"(?<![A-Za-z0-9_-]){shape}" for shape, _ in TOKEN_SHAPES]
    return re.compile("|".join(alternatives))


class RedactionFilter(logging.Filter):
    """Replaces secrets in the message, its args, the extras and any traceback with `[REDACTED]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        secrets = list(secrets)
        self._pattern = secret_pattern(secrets)
        self._markers = tuple(_configured_secrets(secrets)) + tuple(m for _, ms in TOKEN_SHAPES for m in ms)

    def might_contain_secret(self, text: str) -> bool:
        """False when `text` surely holds no secret (no configured secret, no token marker in it)."""
        for marker in self._markers:
            if marker in text:
                return True
        return False

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self.might_contain_secret(text) else text

    def filter(self, record: logging.LogRecord) -> bool:
        attributes = record.__dict__
        if attributes.get("_pitcrew_redacted"):  # another handler's filter already scrubbed this record
            return True
        record._pitcrew_redacted = True
        # Render the message now: a secret may sit in the args, and a record whose args don't fit its
        # format string must still be logged rather than raise at the caller.
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info:
            exc = record.exc_info[1]
            if record.exc_text is None:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if exc is not None:
                record._exc_summary = self.redact(_one_line(exc))
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        text_keys = []
        for key in attributes.keys() - STANDARD_RECORD_ATTRS:
            value = attributes[key]
            kind = type(value)
            if kind in _PLAIN_TYPES or key[:1] == "_":
                continue
            if kind is str:
                text_keys.append(key)
            else:
                attributes[key] = self._scrub(value)
        # One search over all text extras (a match anywhere in them is a match in the joined text);
        # most records have nothing to scrub.
        if text_keys and self.might_contain_secret("\n".join([attributes[key] for key in text_keys])):
            for key in text_keys:
                attributes[key] = self.redact(attributes[key])
        return True

    def _scrub(self, value: Any) -> Any:
        kind = type(value)
        if kind in _PLAIN_TYPES:
            return value
        if kind is str:
            return self.redact(value)
        if isinstance(value, str):  # str subclasses (StrEnum members) are written as their text
            return self._scrub(str.__str__(value))
        if isinstance(value, dict):
            return {k if type(k) is not str else self._scrub(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._scrub(v) for v in value]
        if isinstance(value, enum.Enum):
            return self._scrub(value.value)
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            return value.isoformat()
        # Anything else would be written with str(); scrub that text.
        return self.redact(str(value))


_PLAIN_TYPES = frozenset({type(None), bool, int, float})


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
