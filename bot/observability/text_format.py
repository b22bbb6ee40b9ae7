"""Short human-readable lines for the terminal: one per request summary, one per other record."""

from __future__ import annotations

import logging

from bot.observability.json_format import SecondFormatter

# Stage names shortened on the terminal; others are shown whole.
STAGE_ABBREVIATIONS = {"meeting_resolution": "mr", "control_plane": "cp", "handler": "h"}

SUMMARY_MARKER = "_pitcrew_summary"


_clock_second = SecondFormatter("%H:%M:%S")


def _clock_time(created: float) -> str:
    return _clock_second(int(created))


def _ms(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else "?"


class TextLineFormatter(logging.Formatter):
    """`12:03:04 a1b2c3d4 product_question 2.4ms (mr 0.3 cp 0.1 h 2.0) skipped` for a request summary,
    `12:03:04 WARNING a1b2c3d4 bot.llm.gateway: message` for anything else (times are UTC)."""

    def format(self, record: logging.LogRecord) -> str:
        attributes = record.__dict__
        if attributes.get(SUMMARY_MARKER):
            return self._summary_line(record)
        parts = [_clock_time(record.created), record.levelname]
        correlation_id = attributes.get("correlation_id")
        if correlation_id:
            parts.append(str(correlation_id))
        line = f"{' '.join(parts)} {record.name}: {record.getMessage()}"
        error = self._error(record)
        return f"{line} | {error}" if error else line

    def _summary_line(self, record: logging.LogRecord) -> str:
        a = record.__dict__
        stages = a.get("stages") or {}
        stage_text = " ".join(f"{STAGE_ABBREVIATIONS.get(name, name)} {_ms(ms)}" for name, ms in stages.items())
        parts = [_clock_time(record.created), str(a.get("correlation_id", "-"))]
        if record.levelno >= logging.ERROR:
            parts.append("FAILED")
        parts.append(str(a.get("intent") or "-"))
        parts.append(f"{_ms(a.get('total_time_ms'))}ms")
        if stage_text:
            parts.append(f"({stage_text})")
        if record.levelno >= logging.ERROR:
            parts.append(self._error(record) or str(a.get("error") or ""))
        else:
            if a.get("llm_validation"):
                parts.append(str(a["llm_validation"]))
            if a.get("llm_calls"):
                parts.append(f"llm×{a['llm_calls']}")
            if a.get("cache"):
                parts.append(f"cache {a['cache']}")
        return " ".join(part for part in parts if part)

    @staticmethod
    def _error(record: logging.LogRecord) -> str:
        summary = record.__dict__.get("_exc_summary")
        if summary:
            return str(summary)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first = str(exc).strip().splitlines()
            return f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__
        return ""
