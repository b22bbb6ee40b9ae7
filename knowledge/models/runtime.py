"""State the running bot keeps in the database: response cache, event inbox, thread memory, scheduler lease,
knowledge revision, the rollout of the LLM-skip optimisation."""

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


class InboxEvent(SQLModel, table=True):
    """A Slack event taken in: written when it is claimed, before it is acknowledged, so it is answered once.

    state: received -> answering -> answered | failed. The owner (one `pitcrew serve` instance) renews
    `lease_until` while it lives; an event whose owner died is taken over and answered by another.
    """

    event_id: str = Field(primary_key=True)
    envelope: str  # the Events API body as received (JSON), to answer it again after a crash
    state: str = Field(index=True)
    attempts: int = 0  # answers started (a crash loop on one event ends in `failed`)
    owner: str  # "host:pid:instance"
    lease_until: datetime
    received_at: datetime = Field(index=True)
    updated_at: datetime


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


class RolloutSetting(SQLModel, table=True):
    """The LLM-skip optimisation's rollout, which every instance follows (one row; none: LATENCY_OPTIMIZATION_MODE)."""

    id: int = Field(default=1, primary_key=True)  # one row
    mode: str  # disabled | shadow | canary | enabled
    canary_percent: float
    changed_at: datetime
    changed_by: str  # operator | automatic
    reason: str | None = None  # why it changed (an automatic rollback always says)
