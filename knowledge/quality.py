"""Quality signals and kept exchanges: write and read them (the same SQL on SQLite and PostgreSQL).

A signal is one outcome of one answer for one user: an explicit 👍/👎 (`FEEDBACK`) or an implicit one. The
table holds one row per (correlation id, user, kind), so a second click by the same user replaces the first
(`INSERT ... ON CONFLICT DO UPDATE`, which both engines spell alike). Writes are small and run in worker
threads on the write engine; reads are for the `pitcrew quality` and `pitcrew export` commands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, bindparam, text

from knowledge.db import Database

FEEDBACK = "feedback"  # a 👍/👎 click (or /good, /bad in the shell)
REPHRASED = "rephrased"  # the same user asked the same question again, in the same thread, soon after
FALLBACK = "fallback"  # the answer was "I'm not sure" / not understood
FAILED = "failed"  # answering failed (the apology with a correlation id)
UNDELIVERED = "undelivered"  # the answer never reached Slack
IMPLICIT_KINDS = (REPHRASED, FALLBACK, FAILED, UNDELIVERED)
KINDS = (FEEDBACK, *IMPLICIT_KINDS)
REASON_MAX_CHARS = 300  # "what was wrong?" is one line


@dataclass(frozen=True)
class AnswerFacts:
    """What a signal records of the answer it is about (no text, nothing about the user)."""

    correlation_id: str
    intent: str = "unknown"
    handler: str = "none"
    pattern: str = ""
    llm: str = "skipped"  # "skipped" | "validated" | "used"
    snapshot_version: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"correlation_id": self.correlation_id, "intent": self.intent, "handler": self.handler,
                "pattern": self.pattern, "llm": self.llm, "snapshot_version": self.snapshot_version}


@dataclass(frozen=True)
class Signal:
    answer: AnswerFacts
    user_id: str
    kind: str
    positive: bool
    created_at: datetime
    reason: str | None = None
    source: str = "slack"


@dataclass(frozen=True)
class Exchange:
    """One answered exchange's text (stored only when the operator keeps exchanges)."""

    correlation_id: str
    created_at: datetime
    intent: str
    handler: str
    question: str
    answer: str
    frame: dict[str, Any] = field(default_factory=dict)


_UPSERT = text(
    "INSERT INTO qualitysignal (correlation_id, user_id, kind, positive, intent, handler, pattern, llm,"
    " snapshot_version, reason, source, created_at) VALUES (:correlation_id, :user_id, :kind, :positive, :intent,"
    " :handler, :pattern, :llm, :snapshot_version, :reason, :source, :created_at)"
    " ON CONFLICT (correlation_id, user_id, kind) DO UPDATE SET positive = excluded.positive,"
    " reason = excluded.reason, created_at = excluded.created_at, source = excluded.source"
).bindparams(bindparam("created_at", type_=DateTime()))
_REASON = text(
    "UPDATE qualitysignal SET reason = :reason WHERE correlation_id = :correlation_id AND user_id = :user_id"
    " AND kind = :kind AND positive = :positive"
)
_READ = text(
    "SELECT correlation_id, user_id, kind, positive, intent, handler, pattern, llm, snapshot_version, reason,"
    " source, created_at FROM qualitysignal WHERE created_at >= :start AND created_at < :end ORDER BY created_at, id"
).bindparams(bindparam("start", type_=DateTime()), bindparam("end", type_=DateTime())).columns(
    correlation_id=String(), user_id=String(), kind=String(), positive=Boolean(), intent=String(), handler=String(),
    pattern=String(), llm=String(), snapshot_version=Integer(), reason=String(), source=String(),
    created_at=DateTime())
_KEEP = text(
    "INSERT INTO qualityexchange (correlation_id, created_at, intent, handler, question, answer, frame)"
    " VALUES (:correlation_id, :created_at, :intent, :handler, :question, :answer, :frame)"
    " ON CONFLICT (correlation_id) DO NOTHING"
).bindparams(bindparam("created_at", type_=DateTime()))
_EXCHANGES = text(
    "SELECT correlation_id, created_at, intent, handler, question, answer, frame FROM qualityexchange"
    " WHERE created_at >= :since ORDER BY created_at, correlation_id"
).bindparams(bindparam("since", type_=DateTime())).columns(
    correlation_id=String(), created_at=DateTime(), intent=String(), handler=String(), question=String(),
    answer=String(), frame=String())
_PURGE = text("DELETE FROM qualityexchange WHERE created_at < :cutoff").bindparams(
    bindparam("cutoff", type_=DateTime()))


def record_signals(db: Database, signals: list[Signal]) -> None:
    """Store `signals` in one transaction; a signal for an (answer, user, kind) already stored replaces it."""
    if not signals:
        return
    rows = []
    for signal in signals:
        if signal.kind not in KINDS:
            raise ValueError(f"unknown signal kind {signal.kind!r}")
        rows.append({**signal.answer.as_json(), "user_id": signal.user_id, "kind": signal.kind,
                     "positive": signal.positive, "reason": _one_line(signal.reason), "source": signal.source,
                     "created_at": signal.created_at})
    with db.write_engine.begin() as conn:
        conn.execute(_UPSERT, rows)


def record_reason(db: Database, correlation_id: str, user_id: str, reason: str) -> bool:
    """Attach the rep's "what was wrong?" to their 👎 on that answer; False when there is no such 👎."""
    with db.write_engine.begin() as conn:
        result = conn.execute(_REASON, {"reason": _one_line(reason), "correlation_id": correlation_id,
                                        "user_id": user_id, "kind": FEEDBACK, "positive": False})
    return bool(result.rowcount)


def read_signals(db: Database, start: datetime, end: datetime) -> list[Signal]:
    """Every signal stored in [start, end), oldest first."""
    with db.engine.connect() as conn:
        rows = conn.execute(_READ, {"start": start, "end": end}).all()
    return [Signal(AnswerFacts(row.correlation_id, row.intent, row.handler, row.pattern, row.llm,
                               row.snapshot_version),
                   row.user_id, row.kind, bool(row.positive), _naive(row.created_at), row.reason, row.source)
            for row in rows]


def keep_exchanges(db: Database, exchanges: list[Exchange], *, retention_days: int) -> None:
    """Store exchanges' text (at most once per correlation id) and drop those past `retention_days`."""
    if not exchanges:
        return
    with db.write_engine.begin() as conn:
        conn.execute(_KEEP, [{"correlation_id": e.correlation_id, "created_at": e.created_at, "intent": e.intent,
                              "handler": e.handler, "question": e.question, "answer": e.answer,
                              "frame": json.dumps(e.frame, sort_keys=True)} for e in exchanges])
        newest = max(e.created_at for e in exchanges)
        conn.execute(_PURGE, {"cutoff": newest - timedelta(days=retention_days)})


def read_exchanges(db: Database, since: datetime) -> list[Exchange]:
    """Every kept exchange since `since`, oldest first."""
    with db.engine.connect() as conn:
        rows = conn.execute(_EXCHANGES, {"since": since}).all()
    return [Exchange(row.correlation_id, _naive(row.created_at), row.intent, row.handler, row.question, row.answer,
                     json.loads(row.frame) if row.frame else {}) for row in rows]


def _one_line(reason: str | None) -> str | None:
    if reason is None:
        return None
    line = " ".join(reason.split())[:REASON_MAX_CHARS]
    return line or None


def _naive(value: datetime) -> datetime:
    """PostgreSQL returns aware UTC datetimes, SQLite naive ones: naive UTC either way."""
    return value.replace(tzinfo=None) if value.tzinfo is not None else value
