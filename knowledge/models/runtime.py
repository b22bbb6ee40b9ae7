"""State the running bot keeps in the database: response cache, event dedupe, thread memory, scheduler lease,
knowledge revision."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ResponseCacheEntry(SQLModel, table=True):
    key: str = Field(primary_key=True)  # sha256 of the normalized request
    value: str
    model: str = ""
    created_at: datetime
    expires_at: datetime = Field(index=True)
    last_access_at: datetime = Field(index=True)
    hits: int = 0


class ProcessedEvent(SQLModel, table=True):
    """Slack event ids already taken, so a redelivery never produces a second reply."""

    event_id: str = Field(primary_key=True)
    received_at: datetime = Field(index=True)


class ThreadTurn(SQLModel, table=True):
    """One turn of a Slack thread or shell session, carrying the context follow-ups inherit."""

    id: int | None = Field(default=None, primary_key=True)
    thread_key: str = Field(index=True)  # "slack:C123:1712345678.000100" or "shell:<session>"
    created_at: datetime = Field(index=True)
    intent: str
    context: str  # JSON: product, plan, account, meeting_id, person


class SchedulerLease(SQLModel, table=True):
    """Which process runs the snapshot schedule (a database lease for hosts that share one database)."""

    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime


class KnowledgeRevision(SQLModel, table=True):
    """A counter each import that changes the knowledge base bumps, so running servers reload its names."""

    id: int = Field(default=1, primary_key=True)  # one row
    revision: int = 0
    changed_at: datetime
