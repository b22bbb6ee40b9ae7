"""Accounts, contacts and recorded sales calls with their transcripts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel, UniqueConstraint


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True)
    name: str
    industry: str = ""
    segment: str = ""  # SMB | Mid-market | Enterprise
    owner: str = ""  # the account executive


class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    name: str = Field(index=True)
    email: str = Field(default="", index=True)
    title: str = ""


class Meeting(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str  # the id in the source system (recorder/CRM); imports upsert on it
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    title: str
    kind: str = Field(default="call", index=True)  # discovery | demo | qbr | kickoff | negotiation | check-in ...
    # Datetime columns are UTC: sqlmodel refuses naive values on write and returns aware ones; the
    # text SQLite stores is naive UTC, which is what the Core queries on hot paths compare against.
    started_at: datetime = Field(index=True)
    duration_minutes: int = 30
    participants: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    summary: str = ""
    decisions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    action_items: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class TranscriptSegment(SQLModel, table=True):
    """One speaker turn; its text is indexed for call search (SQLite: the `transcript_fts` FTS5 table; PostgreSQL: a
    generated `search` tsvector column, knowledge.dialects.search)."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True, ondelete="CASCADE")
    seq: int
    speaker: str
    text: str
    offset_s: float = 0.0
