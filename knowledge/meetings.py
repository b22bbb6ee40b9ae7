"""Meeting lookups for resolving "my last call with Acme" and for recaps and drafts: a few indexed queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, bindparam, text

from knowledge.db import Database
from knowledge.dialects import json_lists
from knowledge.models import Meeting
from knowledge.vocabulary import KnownContact

_MEETING_COLUMNS = (
    "m.id, m.account_id, a.name AS account, m.title, m.kind, m.started_at, m.duration_minutes, m.participants"
)


@dataclass(frozen=True)
class MeetingRef:
    """A meeting as listed among candidates: enough to name it, no transcript."""

    id: int
    account_id: int
    account: str
    title: str
    kind: str
    started_at: datetime  # naive UTC
    duration_minutes: int
    participants: tuple[str, ...]


@dataclass(frozen=True)
class MeetingDetail:
    meeting: MeetingRef
    summary: str
    decisions: tuple[str, ...]
    action_items: tuple[str, ...]


# Times are bound as the column's type, aware UTC: SQLite gets SQLAlchemy's naive UTC text, PostgreSQL a
# timestamptz (a naive timestamp would be read in the session's time zone).
_STARTED_AT = Meeting.__table__.c.started_at.type  # type: ignore[attr-defined]


def _as_datetime(value: Any) -> datetime:
    """A stored time as naive UTC: SQLite gives text, PostgreSQL an aware datetime."""
    if not isinstance(value, datetime):
        return datetime.fromisoformat(str(value))
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _bound(value: datetime) -> datetime:
    """A time bound (naive means UTC) as the column takes it."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _as_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = json.loads(value or "[]")
    return tuple(str(item) for item in value or ())


def _meeting(row: Any) -> MeetingRef:
    return MeetingRef(
        id=row.id,
        account_id=row.account_id,
        account=row.account,
        title=row.title,
        kind=row.kind,
        started_at=_as_datetime(row.started_at),
        duration_minutes=row.duration_minutes,
        participants=_as_list(row.participants),
    )


def find_meetings(
    db: Database,
    *,
    account: str | None = None,
    kind: str | None = None,
    participant: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 5,
    earliest: bool = False,
) -> list[MeetingRef]:
    """Meetings matching every given filter, most recent first (`earliest`: the first ones first; `end` exclusive, naive
    UTC).

    `account` is the account's name (any case).
    `participant` matches any participant name containing it, case-insensitively.
    """
    params: dict[str, Any] = {"limit": max(1, limit)}
    if account is not None:
        params["account"] = account.lower()
    if kind:
        params["kind"] = kind
    if start is not None:
        params["start"] = _bound(start)
    if end is not None:
        params["end"] = _bound(end)
    if participant:
        params["participant"] = participant.lower()
    with db.engine.connect() as conn:
        statement = _find_statement(frozenset(params) | ({_EARLIEST} if earliest else set()), json_lists.for_engine(conn))
        return [_meeting(row) for row in conn.execute(statement, params)]


_FILTERS = {
    "account": "m.account_id IN (SELECT id FROM account WHERE lower(name) = :account)",
    "kind": "m.kind = :kind",
    "start": "m.started_at >= :start",
    "end": "m.started_at < :end",
}


@lru_cache(maxsize=64)
def _find_statement(filters: frozenset[str], json: json_lists.JsonListSQL) -> TextClause:
    """One statement per combination of filters (and engine), so SQLAlchemy compiles each once."""
    where = [clause for name, clause in _FILTERS.items() if name in filters]
    if "participant" in filters:
        where.append(json.any_element("m.participants", json.holds("lower(p.value)", ":participant")))
    sql = (
        f"SELECT {_MEETING_COLUMNS} FROM meeting m JOIN account a ON a.id = m.account_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + (" ORDER BY m.started_at, m.id LIMIT :limit" if _EARLIEST in filters else " ORDER BY m.started_at DESC, m.id DESC LIMIT :limit")
    )
    return text(sql).bindparams(*(bindparam(name, type_=_STARTED_AT) for name in ("start", "end") if name in filters))


_EARLIEST = "~earliest"  # (a key of `_find_statement`'s cache, never a filter's name)


_GET_MEETING = text(
    f"SELECT {_MEETING_COLUMNS}, m.summary, m.decisions, m.action_items "
    "FROM meeting m JOIN account a ON a.id = m.account_id WHERE m.id = :id"
)
_TRANSCRIPT = text("SELECT speaker, text FROM transcriptsegment WHERE meeting_id = :id ORDER BY seq")
_ACCOUNT_CONTACTS = text(
    "SELECT c.name, c.email, a.name AS account FROM contact c JOIN account a ON a.id = c.account_id "
    "WHERE lower(a.name) = :account ORDER BY c.name LIMIT :limit"
)


_ACCOUNT_ROSTER = text(
    "SELECT c.name, c.email, c.title, a.name AS account FROM contact c JOIN account a ON a.id = c.account_id "
    "WHERE lower(a.name) = :account ORDER BY c.name LIMIT :limit"
)


_CONTACT_TITLE = text(
    "SELECT c.title FROM contact c JOIN account a ON a.id = c.account_id "
    "WHERE lower(a.name) = :account AND lower(c.name) = :name LIMIT 1"
)


def contact_title(db: Database, contact: KnownContact) -> str:
    """The contact's job title ("" when none is recorded)."""
    with db.engine.connect() as conn:
        title = conn.execute(_CONTACT_TITLE, {"account": contact.account.lower(), "name": contact.name.lower()}).scalar()
    return title or ""


def get_meeting(db: Database, meeting_id: int) -> MeetingDetail | None:
    """One meeting with its stored summary, decisions and action items."""
    with db.engine.connect() as conn:
        row = conn.execute(_GET_MEETING, {"id": meeting_id}).first()
    if row is None:
        return None
    return _detail(row)


def _detail(row: Any) -> MeetingDetail:
    """A meeting row with its notes (summary, decisions, action items) as a `MeetingDetail`."""
    return MeetingDetail(meeting=_meeting(row), summary=row.summary or "", decisions=_as_list(row.decisions),
                         action_items=_as_list(row.action_items))


def meeting_transcript(db: Database, meeting_id: int, max_chars: int = 24_000) -> list[tuple[str, str]]:
    """The meeting's speaker turns in order, (speaker, text), cut at about `max_chars` characters."""
    turns: list[tuple[str, str]] = []
    used = 0
    with db.engine.connect() as conn:
        rows = conn.execute(_TRANSCRIPT, {"id": meeting_id})
        for row in rows:
            used += len(row.speaker) + len(row.text) + 3
            if used > max_chars:
                break
            turns.append((row.speaker, row.text))
    return turns


@dataclass(frozen=True)
class MeetingResolution:
    """Which account, person and meeting a message refers to; `meeting` is None when unclear or missing."""

    account: str | None = None  # the account's name
    contact: KnownContact | None = None
    kind: str | None = None
    meeting: MeetingRef | None = None
    # When `meeting` is None: the meetings that could be meant (most recent first); otherwise other
    # meetings that also matched.
    candidates: tuple[MeetingRef, ...] = ()
    searched: str = ""  # what was looked for, in words ("Globex demo meetings yesterday")
    # Other contacts who answer to the same name (the draft goes to `contact`, these are named).
    namesakes: tuple[KnownContact, ...] = ()
    by_title: bool = False  # `meeting` is the one whose title (or kind's words) the message named


# Words reps use for what a kind of meeting was about: "the fix we did for tidewater" is its support call.
KIND_WORDS = {
    "support": "fix fixed issue issues problem problems bug bugs troubleshooting ticket outage broken error errors",
    "renewal": "renew renewing renewed",
    "negotiation": "terms contract redlines",
}


def account_contacts(db: Database, account: str, limit: int = 5) -> list[KnownContact]:
    """An account's contacts (account named by its name, any case), by name."""
    with db.engine.connect() as conn:
        rows = conn.execute(_ACCOUNT_CONTACTS, {"account": account.lower(), "limit": limit})
        return [KnownContact(name=row.name, email=row.email or "", account=row.account) for row in rows]


_DETAILS = text(
    f"SELECT {_MEETING_COLUMNS}, m.summary, m.decisions, m.action_items "
    "FROM meeting m JOIN account a ON a.id = m.account_id WHERE lower(a.name) = :account AND m.started_at < :end "
    "ORDER BY m.started_at DESC, m.id DESC LIMIT :limit"
).bindparams(bindparam("end", type_=_STARTED_AT))
_SEGMENTS = text(
    "SELECT meeting_id, speaker, text FROM transcriptsegment WHERE meeting_id IN :ids ORDER BY meeting_id, seq LIMIT :limit"
).bindparams(bindparam("ids", expanding=True))


_ACCOUNT_OWNER = text("SELECT owner FROM account WHERE lower(name) = :account LIMIT 1")
_ACCOUNT_PROFILE = text("SELECT name, industry, segment, owner FROM account WHERE lower(name) = :account LIMIT 1")
_ACCOUNTS_IN = text(
    "SELECT name, industry, segment, owner FROM account WHERE lower(industry) LIKE :pattern ESCAPE '\\' "
    "OR lower(segment) = :word "
    "ORDER BY name LIMIT :limit"
)
_INDUSTRIES = text("SELECT DISTINCT industry FROM account WHERE industry != '' ORDER BY industry LIMIT :limit")
@dataclass(frozen=True)
class AccountProfile:
    name: str
    industry: str
    segment: str
    owner: str


def account_profile(db: Database, account: str) -> AccountProfile | None:
    """The account's industry, segment and owner, as recorded."""
    with db.engine.connect() as conn:
        row = conn.execute(_ACCOUNT_PROFILE, {"account": account.lower()}).first()
    return _profile(row) if row else None


def accounts_in(db: Database, word: str, limit: int = 20) -> list[AccountProfile]:
    """Accounts whose industry mentions `word` or whose segment is `word` (any case), by name."""
    word = word.lower().strip()
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with db.engine.connect() as conn:
        rows = conn.execute(_ACCOUNTS_IN, {"pattern": f"%{escaped}%", "word": word, "limit": limit})
        return [_profile(row) for row in rows]


def _profile(row: Any) -> AccountProfile:
    return AccountProfile(row.name, row.industry or "", row.segment or "", row.owner or "")


def industries(db: Database, limit: int = 30) -> list[str]:
    """The industries the accounts are in."""
    with db.engine.connect() as conn:
        return [row.industry for row in conn.execute(_INDUSTRIES, {"limit": limit})]


_OWNED_ACCOUNTS = text("SELECT name FROM account WHERE lower(owner) = :owner ORDER BY name LIMIT :limit")


def accounts_owned(db: Database, owner: str, limit: int = 50) -> list[str]:
    """The accounts `owner` (one of our account executives, any case) owns, by name."""
    with db.engine.connect() as conn:
        return [row.name for row in conn.execute(_OWNED_ACCOUNTS, {"owner": owner.lower(), "limit": limit})]


@lru_cache(maxsize=4)
def _participant_details(json: json_lists.JsonListSQL) -> TextClause:
    return text(
        f"SELECT {_MEETING_COLUMNS}, m.summary, m.decisions, m.action_items FROM meeting m JOIN account a ON a.id = m.account_id"
        " WHERE m.started_at < :end AND " + json.any_element("m.participants", "lower(p.value) = :participant")
        + " ORDER BY m.started_at DESC, m.id DESC LIMIT :limit"
    ).bindparams(bindparam("end", type_=_STARTED_AT))


def meetings_with(db: Database, participant: str, end: datetime, limit: int = 40) -> list[MeetingDetail]:
    """The latest `limit` meetings before `end` that `participant` (a full name, any case) was on, with their notes."""
    with db.engine.connect() as conn:
        statement = _participant_details(json_lists.for_engine(conn))
        rows = conn.execute(statement, {"participant": participant.lower(), "end": _bound(end), "limit": max(1, limit)})
        return [_detail(row) for row in rows]


def account_owner(db: Database, account: str) -> str:
    """The account executive who owns the account ("" when none is recorded)."""
    with db.engine.connect() as conn:
        return conn.execute(_ACCOUNT_OWNER, {"account": account.lower()}).scalar() or ""


def account_roster(db: Database, account: str, limit: int = 12) -> list[tuple[KnownContact, str]]:
    """An account's contacts with their job titles ("" when none is recorded), by name."""
    with db.engine.connect() as conn:
        rows = conn.execute(_ACCOUNT_ROSTER, {"account": account.lower(), "limit": limit})
        return [(KnownContact(name=row.name, email=row.email or "", account=row.account), row.title or "") for row in rows]


def account_meetings(db: Database, account: str, end: datetime, *, limit: int = 12,
                     max_segments: int = 2_000) -> list[tuple[MeetingDetail, list[tuple[str, str]]]]:
    """The account's latest `limit` meetings before `end`, each with its transcript turns (at most
    `max_segments` turns in all): what a question about the account's meetings is answered from."""
    with db.engine.connect() as conn:
        rows = conn.execute(_DETAILS, {"account": account.lower(), "end": _bound(end), "limit": max(1, limit)}).all()
        details = [_detail(row) for row in rows]
        turns: dict[int, list[tuple[str, str]]] = {detail.meeting.id: [] for detail in details}
        if details and max_segments > 0:  # (0: the notes alone, no transcript read)
            for row in conn.execute(_SEGMENTS, {"ids": list(turns), "limit": max_segments}):
                turns[row.meeting_id].append((row.speaker, row.text))
    return [(detail, turns[detail.meeting.id]) for detail in details]
