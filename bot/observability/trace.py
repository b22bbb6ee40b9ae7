"""Find every record of one correlation id across the day files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.observability.stats import list_day_files, raw_lines

CORRELATION_ID = re.compile(r"^[0-9a-f]{8}$")

# Shown first, in this order; every other field follows as key=value.
_HEAD_FIELDS = ("ts", "level", "logger", "message", "correlation_id")


@dataclass(frozen=True)
class TracedRecord:
    path: Path
    line: str  # the line as written, for --json
    record: dict[str, Any]


def trace(directory: Path, correlation_id: str) -> Iterator[TracedRecord]:
    """Records carrying `correlation_id`, oldest day file first and in file order within a day."""
    needle = correlation_id.encode()
    for path, raw in raw_lines(path for _, path in list_day_files(directory)):
        if needle not in raw:  # cheap test before parsing: most lines are other requests'
            continue
        try:
            line = raw.decode("utf-8").rstrip("\n")
            record = json.loads(line)
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(record, dict) and record.get("correlation_id") == correlation_id:
            yield TracedRecord(path=path, line=line, record=record)


def describe_record(record: dict[str, Any]) -> str:
    """`ts LEVEL logger: message  key=value ...` (null fields left out), one line; a traceback follows
    on its own lines."""
    head = f"{record.get('ts', '?')} {record.get('level', '?'):<7} {record.get('logger', '?')}: {record.get('message', '')}"
    fields = []
    traceback_text = None
    for key, value in record.items():
        if key in _HEAD_FIELDS or value is None:
            continue
        if key == "exc_info" and isinstance(value, str):
            traceback_text = value
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        fields.append(f"{key}={shown}")
    line = f"{head}  {' '.join(fields)}" if fields else head
    return f"{line}\n{traceback_text}" if traceback_text else line
