"""Search recorded sales calls: FTS5 over transcript segments, one hit per meeting.

User text never reaches FTS5's query syntax: `fts_query` turns it into double-quoted strings,
bound as a parameter, so quotes, `*`, `AND`/`OR`/`NOT`, `NEAR(`, parentheses, `-`, `:` and SQL
fragments are searched as plain words and can never cause an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, TextClause, text

from knowledge.db import Database
from knowledge.snapshots import SQLITE_DATETIME, install_alias_function, normalize_alias

MAX_LIMIT = 50
SNIPPET_TOKENS = 16
SUMMARY_SNIPPET_CHARS = 200
MATCH_START, MATCH_END = "\x02", "\x03"

# A user's "quoted phrase" (closed quotes only), or a run of non-space characters.
_TERM = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class CallHit:
    meeting_id: int
    account: str
    title: str
    kind: str
    started_at: datetime  # naive UTC
    speaker: str  # who said the best-matching segment ("" when searching without a topic)
    snippet: str  # matches wrapped in \x02 ... \x03; the meeting summary when there is no topic
    score: float  # relevance, higher is better (negated bm25); 0.0 without a topic


def fts_query(text: str, *, any_term: bool = False) -> str | None:
    """An FTS5 MATCH expression for `text`: every word or "quoted phrase" as one FTS5 string.

    All terms must match (implicit AND) unless `any_term`. None when `text` has nothing to search for.
    """
    terms = []
    for phrase, word in _TERM.findall(text.replace("\x00", " ")):
        term = phrase if phrase else word
        if not any(char.isalnum() for char in term):
            continue  # punctuation alone tokenizes to nothing
        terms.append('"' + " ".join(term.split()).replace('"', '""') + '"')
    if not terms:
        return None
    return (" OR " if any_term else " ").join(terms)


def search_calls(
    db: Database,
    *,
    topic: str | None,
    account: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 5,
) -> list[CallHit]:
    """Calls about `topic` (best first: bm25, then most recent), one per meeting; without a topic, the latest calls.

    `account` is an account name or slug (any case); `start`/`end` bound the meeting's start time
    (start inclusive, end exclusive). An unknown account finds nothing.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    with db.engine.connect() as connection:
        account_ids: list[int] = []
        if account is not None:
            account_ids = _account_ids(connection, account)
            if not account_ids:
                return []
        filters = _Filters(accounts=len(account_ids), start=start is not None, end=end is not None)
        params: dict[str, Any] = {"limit": limit}
        params.update({f"account_{index}": account_id for index, account_id in enumerate(account_ids)})
        if start is not None:
            params["start"] = _stored_time(start)
        if end is not None:
            params["end"] = _stored_time(end)
        query = fts_query(topic) if topic else None
        if query is None:
            return _latest_calls(connection, filters, params)
        hits = _matching_calls(connection, filters, params, query)
        if not hits:
            # Every word at once found nothing: settle for calls with any of them.
            broader = fts_query(topic or "", any_term=True)
            if broader is not None and broader != query:
                hits = _matching_calls(connection, filters, params, broader)
        return hits


@dataclass(frozen=True)
class _Filters:
    accounts: int  # how many account ids are bound (0: no account filter)
    start: bool
    end: bool

    def where(self) -> str:
        clauses = []
        if self.accounts:
            clauses.append("m.account_id IN (" + ", ".join(f":account_{i}" for i in range(self.accounts)) + ")")
        if self.start:
            clauses.append("m.started_at >= :start")
        if self.end:
            clauses.append("m.started_at < :end")
        return "".join(f" AND {clause}" for clause in clauses)


_statements: dict[tuple[str, _Filters], TextClause] = {}


def _statement(kind: str, filters: _Filters) -> TextClause:
    """One text() per query shape, so SQLAlchemy compiles each shape once."""
    key = (kind, filters)
    statement = _statements.get(key)
    if statement is None:
        if kind == "match":
            # bm25() only works in the FTS query itself, so score the segments in a CTE kept apart from
            # the aggregate; min() then makes SQLite take the bare columns from each meeting's best segment.
            sql = (
                "WITH hits AS MATERIALIZED (SELECT rowid AS segment_id, bm25(transcript_fts) AS score"
                " FROM transcript_fts WHERE transcript_fts MATCH :query)"
                " SELECT m.id, a.name, m.title, m.kind, m.started_at, seg.speaker, seg.id, min(hits.score) AS best"
                " FROM hits JOIN transcriptsegment AS seg ON seg.id = hits.segment_id"
                " JOIN meeting AS m ON m.id = seg.meeting_id JOIN account AS a ON a.id = m.account_id"
                " WHERE 1" + filters.where() + " GROUP BY m.id"
                " ORDER BY best, m.started_at DESC, m.id DESC LIMIT :limit"
            )
        else:
            sql = (
                "SELECT m.id, a.name, m.title, m.kind, m.started_at, m.summary FROM meeting AS m"
                " JOIN account AS a ON a.id = m.account_id WHERE 1" + filters.where() + ""
                " ORDER BY m.started_at DESC, m.id DESC LIMIT :limit"
            )
        statement = _statements[key] = text(sql)
    return statement


def _snippet_statement(count: int) -> TextClause:
    key = (f"snippet{count}", _Filters(0, False, False))
    statement = _statements.get(key)
    if statement is None:
        ids = ", ".join(f":id_{index}" for index in range(count))
        statement = _statements[key] = text(
            f"SELECT rowid, snippet(transcript_fts, 0, char(2), char(3), '…', {SNIPPET_TOKENS}) FROM transcript_fts"
            f" WHERE transcript_fts MATCH :query AND rowid IN ({ids})"
        )
    return statement


def _account_ids(connection: Connection, account: str) -> list[int]:
    install_alias_function(connection)
    rows = connection.exec_driver_sql(
        "SELECT id FROM account WHERE pitcrew_alias(name) = ? OR pitcrew_alias(slug) = ?",
        (normalize_alias(account),) * 2,
    )
    return [row[0] for row in rows]


def _matching_calls(connection: Connection, filters: _Filters, params: dict[str, Any], query: str) -> list[CallHit]:
    rows = connection.execute(_statement("match", filters), {**params, "query": query}).all()
    if not rows:
        return []
    segment_ids = {f"id_{index}": row[6] for index, row in enumerate(rows)}
    snippet_rows = connection.execute(_snippet_statement(len(rows)), {"query": query, **segment_ids})
    snippets = {segment_id: snippet for segment_id, snippet in snippet_rows}

    return [
        CallHit(
            meeting_id=meeting_id,
            account=account,
            title=title,
            kind=kind,
            started_at=_datetime(started_at),
            speaker=speaker,
            snippet=snippets.get(segment_id, ""),
            score=-rank,
        )
        for meeting_id, account, title, kind, started_at, speaker, segment_id, rank in rows
    ]


def _latest_calls(connection: Connection, filters: _Filters, params: dict[str, Any]) -> list[CallHit]:
    rows = connection.execute(_statement("latest", filters), params).all()
    return [
        CallHit(
            meeting_id=meeting_id,
            account=account,
            title=title,
            kind=kind,
            started_at=_datetime(started_at),
            speaker="",
            snippet=_shorten(summary),
            score=0.0,
        )
        for meeting_id, account, title, kind, started_at, summary in rows
    ]


def _stored_time(value: datetime) -> str:
    """`value` as the database stores it: naive UTC text (an aware value is converted to UTC first)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(SQLITE_DATETIME)


def _datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _shorten(summary: str) -> str:
    if len(summary) <= SUMMARY_SNIPPET_CHARS:
        return summary
    return summary[: SUMMARY_SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"
