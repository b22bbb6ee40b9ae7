"""What reps think of pitcrew's answers: feedback clicks and implicit signals, and (opt-in) the exchanges' text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class QualitySignal(SQLModel, table=True):
    """One signal about one answer: a 👍/👎 click (`kind` "feedback") or an implicit one ("rephrased",
    "fallback", "failed", "undelivered"). One row per (correlation id, user, kind): a second click replaces the
    first. The answer's facts are copied in, so scores group without reading the logs."""

    __table_args__ = (UniqueConstraint("correlation_id", "user_id", "kind", name="uq_qualitysignal_answer_user_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    correlation_id: str = Field(index=True)
    user_id: str  # the Slack user id ("shell:<session>" from the terminal; "" when unknown)
    kind: str
    positive: bool
    intent: str
    handler: str
    pattern: str  # the id of the pattern that decided the intent ("" when none did)
    llm: str  # "skipped" | "validated" | "used"
    snapshot_version: int | None = None
    reason: str | None = None  # the rep's one line after a 👎
    source: str = "slack"
    created_at: datetime = Field(index=True)


class QualityExchange(SQLModel, table=True):
    """The text of one answered exchange, kept only when QUALITY_KEEP_EXCHANGES is on, for `pitcrew export
    exchanges`; purged after QUALITY_EXCHANGE_RETENTION_DAYS."""

    correlation_id: str = Field(primary_key=True)
    created_at: datetime = Field(index=True)
    intent: str
    handler: str
    question: str
    answer: str
    frame: str  # JSON: the message's frame (intent, slots and where each came from)
