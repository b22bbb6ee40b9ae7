"""The response cache: LLM answers stored in the database, keyed by what the answer depends on.

Key: sha256 of the canonical JSON of the caller's key fields (normalized question, intent, entities,
snapshot version, prompt version) plus the model. A snapshot rebuild bumps the version, so it can never
serve a stale answer. Entries live `ttl_s` seconds; past `max_entries` the least recently used go.
Every operation is one or two indexed statements (well under a millisecond); the gateway runs them in a worker
thread, on the database's write connections, so a wait on SQLite's lock never stalls the event loop.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import DateTime, TextClause, bindparam, text

from knowledge.db import Database

TABLE = "responsecacheentry"
# Evicting needs a count; doing it on every put would cost more than the put itself, so the table may
# briefly hold up to this many entries more than its limit.
EVICT_CHECK_EVERY = 50


def _statement(sql: str, *datetime_params: str) -> TextClause:
    """A statement whose datetime parameters are stored exactly as the ORM stores them."""
    return text(sql).bindparams(*(bindparam(name, type_=DateTime()) for name in datetime_params))


_GET = _statement(
    f"UPDATE {TABLE} SET hits = hits + 1, last_access_at = :now WHERE key = :key AND expires_at > :now RETURNING value",
    "now",
)
_PUT = _statement(
    f"INSERT INTO {TABLE} (key, value, model, created_at, expires_at, last_access_at, hits) "
    "VALUES (:key, :value, :model, :now, :expires, :now, 0) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, model = excluded.model, created_at = excluded.created_at, "
    "expires_at = excluded.expires_at, last_access_at = excluded.last_access_at, hits = 0",
    "now",
    "expires",
)
_DELETE_EXPIRED = _statement(f"DELETE FROM {TABLE} WHERE expires_at <= :now", "now")
_DELETE_ALL = text(f"DELETE FROM {TABLE}")
_COUNT = text(f"SELECT count(*) FROM {TABLE}")
_DELETE_LEAST_RECENT = text(
    f"DELETE FROM {TABLE} WHERE key IN (SELECT key FROM {TABLE} ORDER BY last_access_at ASC LIMIT :excess)"
)
_STATS = _statement(
    f"SELECT count(*), count(CASE WHEN expires_at <= :now THEN 1 END), coalesce(sum(hits), 0), "
    f"count(CASE WHEN hits > 0 THEN 1 END), min(created_at), max(created_at), max(last_access_at) FROM {TABLE}",
    "now",
)


def utc_now() -> datetime:
    """Naive UTC, as every datetime in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def normalize_question(question: str) -> str:
    """Case, width, spacing and trailing punctuation do not change the answer."""
    folded = unicodedata.normalize("NFKC", question).casefold()
    return re.sub(r"\s+", " ", folded).strip().rstrip("?!.… ").strip()


def _plain(value: Any) -> Any:
    """JSON-able form of the values callers put in a key (dataclasses, enums, datetimes, sets)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True, default=str))
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "model_dump"):  # pydantic
        return _plain(value.model_dump())
    return value


def cache_key(fields: Mapping[str, Any], model: str) -> str:
    """The entry key for a caller's key fields and the model that answers."""
    plain = _plain(fields)
    if isinstance(plain.get("question"), str):
        plain["question"] = normalize_question(plain["question"])
    plain["model"] = model
    canonical = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    entries: int
    live: int
    expired: int
    total_hits: int
    entries_hit: int  # entries served at least once
    oldest: datetime | None
    newest: datetime | None
    last_access: datetime | None
    max_entries: int
    ttl_s: int

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("oldest", "newest", "last_access"):
            data[name] = data[name].isoformat() if data[name] else None
        return data


class ResponseCache:
    def __init__(self, db: Database, *, ttl_s: int, max_entries: int, clock: Callable[[], datetime] = utc_now,
                 evict_every: int = EVICT_CHECK_EVERY) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._evict_every = evict_every
        self._puts_since_check = evict_every  # check on the first put

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, key: str) -> str | None:
        """The live value for `key`, counting the hit; None when missing or expired."""
        if not self.enabled:
            return None
        now = self._clock()
        with self.db.write_engine.begin() as connection:  # run from worker threads: see Database.write_engine
            row = connection.execute(_GET, {"key": key, "now": now}).first()
        return row[0] if row is not None else None

    def put(self, key: str, value: str, model: str = "") -> None:
        """Store `value` for `key` (replacing any entry), then keep the table within `max_entries`."""
        if not self.enabled:
            return
        now = self._clock()
        with self.db.write_engine.begin() as connection:
            connection.execute(
                _PUT,
                {"key": key, "value": value, "model": model, "now": now, "expires": now + timedelta(seconds=self.ttl_s)},
            )
            self._puts_since_check += 1
            if self._puts_since_check >= self._evict_every:
                self._puts_since_check = 0
                self._evict(connection, now)

    def evict(self) -> int:
        """Drop expired entries, then the least recently used past `max_entries`; returns how many went."""
        with self.db.engine.begin() as connection:
            return self._evict(connection, self._clock())

    def _evict(self, connection: Any, now: datetime) -> int:
        removed = connection.execute(_DELETE_EXPIRED, {"now": now}).rowcount
        count = connection.execute(_COUNT).scalar_one()
        if count > self.max_entries:
            removed += connection.execute(_DELETE_LEAST_RECENT, {"excess": count - self.max_entries}).rowcount
        return removed

    def clear(self, *, expired_only: bool = False) -> int:
        """Remove every entry (or only expired ones); returns how many."""
        with self.db.engine.begin() as connection:
            if expired_only:
                return connection.execute(_DELETE_EXPIRED, {"now": self._clock()}).rowcount
            return connection.execute(_DELETE_ALL).rowcount

    def stats(self) -> CacheStats:
        with self.db.engine.connect() as connection:
            row = connection.execute(_STATS, {"now": self._clock()}).one()
        entries, expired, total_hits, entries_hit, oldest, newest, last_access = row
        return CacheStats(
            entries=entries, live=entries - expired, expired=expired, total_hits=total_hits, entries_hit=entries_hit,
            oldest=_as_datetime(oldest), newest=_as_datetime(newest), last_access=_as_datetime(last_access),
            max_entries=self.max_entries, ttl_s=self.ttl_s,
        )


def _as_datetime(value: Any) -> datetime | None:
    """Naive UTC: aggregates over DATETIME columns come back from SQLite as strings, from PostgreSQL's timestamptz
    aware."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
