"""One JSON object per log line: ts, level, logger, message, correlation_id, then the record's extras."""

from __future__ import annotations

import logging
import time
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonEncoder, JsonFormatter

# Attributes every LogRecord has; anything else on a record came from `extra=` (or a filter).
STANDARD_RECORD_ATTRS: frozenset[str] = frozenset(
    set(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__)
    | set(RESERVED_ATTRS)
    | {"message", "asctime", "taskName"}
)


class SecondFormatter:
    """`time.strftime(fmt)` of a UTC second, formatted once per second: records come in bursts."""

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._cached: tuple[int, str] = (-1, "")  # one tuple, swapped whole, so threads never see half an update

    def __call__(self, seconds: int) -> str:
        cached = self._cached
        if cached[0] != seconds:
            cached = self._cached = (seconds, time.strftime(self._fmt, time.gmtime(seconds)))
        return cached[1]


_date_and_second = SecondFormatter("%Y-%m-%dT%H:%M:%S.")


def utc_timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds and `Z`, e.g. `2025-03-04T12:03:04.123Z`."""
    seconds = int(created)
    return f"{_date_and_second(seconds)}{min(int((created - seconds) * 1000), 999):03d}Z"


_CORE_KEYS = frozenset({"ts", "level", "logger"})


class JsonLineFormatter(JsonFormatter):
    """python-json-logger formatter with pitcrew's field names; non-ASCII text stays readable."""

    def __init__(self) -> None:
        super().__init__(json_ensure_ascii=False, reserved_attrs=sorted(STANDARD_RECORD_ATTRS))
        self._encoder = JsonEncoder(ensure_ascii=False)
        # The C encoder made once, not once per record as JSONEncoder.encode does: half the encoding
        # cost. Without markers it skips cycle checks; a cyclic extra fails over to the full encoder,
        # which reports it.
        self._fast_encode = None
        if c_make_encoder is not None:
            try:
                self._fast_encode = c_make_encoder(
                    None, self._encoder.default, encode_basestring, None, ": ", ", ", False, False, True
                )
            except TypeError:  # another interpreter's signature: the full encoder is fine
                pass

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        if self._fast_encode is not None:
            try:
                return "".join(self._fast_encode(log_data, 0))
            except (RecursionError, ValueError, TypeError):
                pass
        return self._encoder.encode(log_data)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["ts"] = utc_timestamp(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        attributes = record.__dict__
        correlation_id = attributes.get("correlation_id")
        if correlation_id is not None:
            log_data["correlation_id"] = correlation_id
        for key, value in attributes.items():
            if key not in STANDARD_RECORD_ATTRS and key[:1] != "_":
                if key in _CORE_KEYS:  # an extra named `level` must not overwrite the record's level
                    key = f"extra_{key}"
                log_data[key] = value  # correlation_id again: same value, keeps its place after message
        # exc_info / stack_info text, last so a traceback never hides the fields above.
        log_data.update(message_dict)
