"""Raw column values as either backend returns them from a text query: SQLite gives datetimes and JSON as the text
it stores (naive UTC), PostgreSQL (psycopg) gives them parsed (a timestamptz as an aware datetime). Tests compare
the parsed values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def stored_datetime(value: Any) -> datetime:
    """A stored datetime column's value as a naive UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def stored_json(value: Any) -> Any:
    """A stored JSON column's value, parsed."""
    return json.loads(value) if isinstance(value, str) else value
