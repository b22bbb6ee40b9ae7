"""Search recorded sales calls: the transcript index, one hit per meeting.

What every engine shares lives here: the user's words as terms (knowledge.search_terms), the pool of
recent calls relevance is scored over, calls named by their title or summary, and the merge. The index
queries themselves are the engine's (knowledge.dialects.search: FTS5 on SQLite, a tsvector column on
PostgreSQL); user text reaches neither query syntax, so quotes, `*`, `AND`/`OR`/`NOT`, `NEAR(`,
parentheses, `-`, `:` and SQL fragments are searched as plain words and can never cause an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, TextClause, bindparam, text

from knowledge.db import Database
from knowledge.dialects import json_lists
from knowledge.dialects import search as dialects
from knowledge.dialects.search import MATCH_END, MATCH_START, MatchRow
from knowledge.models import Meeting
from knowledge.search_terms import STOPWORDS, search_terms
from knowledge.snapshots import normalize_alias

MAX_LIMIT = 50
SUMMARY_SNIPPET_CHARS = 200
# Relevance is computed over the matches among about this many transcript segments of the most
# recent calls (bm25 costs ~2-3 µs per matching segment; a common word can match 10% of them).
SCORED_SEGMENT_BUDGET = 3_000
MIN_POOL_MEETINGS = 20
# Two ways to keep the scoring to the pool on SQLite. Naming its meetings in the FTS5 query (`meeting_id : ("12"
# OR ...)`) makes FTS5 walk only their segments, but bm25 then looks up each meeting's statistics (~30 µs each);
# testing each match's rowid against the pool's segments walks every match of the words instead (~10 ns a
# segment in the index). Measured (2 cores, common words): naming 250 meetings wins from ~500k segments on,
# 30 meetings from ~100k; so a pool is named when it has at most one meeting per this many segments.
SEGMENTS_PER_NAMED_MEETING = 3_000

_TITLE_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_MAX_TITLE_WORDS = 6


@dataclass(frozen=True)
class CallHit:
    meeting_id: int
    account: str
    title: str
    kind: str
    started_at: datetime  # naive UTC
    speaker: str  # who said the best-matching segment ("" when searching without a topic)
    snippet: str  # matches wrapped in \x02 ... \x03; the meeting summary when there is no topic
    score: float  # relevance, higher is better (negated bm25 on SQLite, ts_rank_cd on PostgreSQL); 0.0 without a topic


def search_calls(
    db: Database,
    *,
    topic: str | None,
    account: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 5,
    kind: str | None = None,
    participant: str | None = None,
) -> list[CallHit]:
    """Calls about `topic` (best first: relevance, then most recent), one per meeting; without a topic, the latest
    calls.

    `account` is an account name or slug (any case); `start`/`end` bound the meeting's start time
    (start inclusive, end exclusive); `kind` is a meeting kind. An unknown account finds nothing. Calls
    whose title or summary has every word come first, then transcript matches. Every word must match; when
    that finds nothing, any word may. Relevance is scored over the most recent calls that pass the
    filters (about SCORED_SEGMENT_BUDGET transcript segments' worth); only when they hold fewer than
    `limit` matching calls is every call searched. `participant`: a word of a participant's name ("leo").
    """
    limit = max(1, min(limit, MAX_LIMIT))
    with db.engine.connect() as connection:
        account_ids: list[int] = []
        if account is not None:
            account_ids = _account_ids(connection, account)
            if not account_ids:
                return []
        filters, params = _filtered(connection, account_ids, start=start, end=end, kind=kind, participant=participant)
        terms = search_terms(topic) if topic else ()
        if not terms:
            return _latest_calls(connection, filters, params, limit)
        engine = dialects.for_engine(connection)
        segments, pool_size = _corpus(connection)
        recent = connection.execute(_statement("latest", filters), {**params, "limit": pool_size + 1}).all()
        saturated = len(recent) > pool_size  # more calls pass the filters than the pool holds
        pool = recent[:pool_size]
        named = len(pool) * SEGMENTS_PER_NAMED_MEETING <= segments
        titled, summarized = _titled_calls(pool, topic or "", limit)
        for query in engine.queries(connection, terms):  # every term, then (if that differs) any term
            if query is None:
                continue
            rows = engine.pooled(connection, [row[0] for row in pool], query, limit, named=named)
            if len(rows) < limit and saturated:  # older calls may hold better matches than the few recent ones
                rows = engine.filtered(connection, filters.where(), params, query, limit)
            if rows or titled or summarized:
                return _merged(titled, _hits(connection, engine, query, rows), summarized, limit)
        return _merged(titled, [], summarized, limit)


def count_calls(db: Database, *, account: str | None = None, start: datetime | None = None,
                end: datetime | None = None, kind: str | None = None, participant: str | None = None) -> int:
    """How many recorded calls pass the filters (an unknown account has none)."""
    with db.engine.connect() as connection:
        account_ids: list[int] = []
        if account is not None:
            account_ids = _account_ids(connection, account)
            if not account_ids:
                return 0
        filters, params = _filtered(connection, account_ids, start=start, end=end, kind=kind, participant=participant)
        return int(connection.execute(_statement("count", filters), params).scalar_one())


def _filtered(connection: Connection, account_ids: list[int], *, start: datetime | None, end: datetime | None,
              kind: str | None, participant: str | None) -> tuple[_Filters, dict[str, Any]]:
    """The filters a search or count applies, and their parameters."""
    filters = _Filters(json=json_lists.for_engine(connection), accounts=len(account_ids), start=start is not None,
                       end=end is not None, kind=kind is not None, participant=bool(participant))
    params: dict[str, Any] = {f"account_{index}": account_id for index, account_id in enumerate(account_ids)}
    if participant:
        params["participant"] = participant.strip().lower()
    if kind is not None:
        params["kind"] = kind
    if start is not None:
        params["start"] = _utc(start)
    if end is not None:
        params["end"] = _utc(end)
    return filters, params


# Participants are looked for among this many recent meetings: the lookup stays bounded on any knowledge base.
PARTICIPANT_LOOKUP_MEETINGS = 500
_participant_statements: dict[str, TextClause] = {}


def _participant_statement(connection: Connection) -> TextClause:
    engine = connection.dialect.name
    statement = _participant_statements.get(engine)
    if statement is None:
        elements = json_lists.for_engine(connection).elements.format(column="m.participants")
        statement = _participant_statements[engine] = text(
            "SELECT p.value FROM (SELECT id, started_at, participants FROM meeting"
            f" ORDER BY started_at DESC, id DESC LIMIT :recent) AS m, {elements} AS p"
            " WHERE lower(p.value) LIKE :first ORDER BY m.started_at DESC, m.id DESC LIMIT 1"
        )
    return statement


def participant_named(db: Database, word: str) -> str | None:
    """The participant of a recent call whose first name is `word` ("daniel" -> "Daniel Ortiz"), if any."""
    word = word.strip().lower()
    if not re.fullmatch(r"[a-z][a-z'-]{1,30}", word):
        return None
    with db.engine.connect() as connection:
        statement = _participant_statement(connection)
        row = connection.execute(statement, {"recent": PARTICIPANT_LOOKUP_MEETINGS, "first": word + " %"}).first()
    return str(row[0]) if row else None


def _titled_calls(recent: Sequence[Row[Any]], topic: str, limit: int) -> tuple[list[CallHit], list[CallHit]]:
    """Of the `recent` calls, those whose title holds every word of `topic`, and those whose title and summary
    together do: the rep's words for a call ("the Salesforce sync call") are often its title, not what was said."""
    words = [word for word in _TITLE_WORD.findall(topic.lower()) if word not in STOPWORDS][:_MAX_TITLE_WORDS]
    if not words:
        return [], []
    stems = [_stem(word) for word in words]
    titled: list[CallHit] = []
    summarized: list[CallHit] = []
    for meeting_id, account, title, kind, started_at, summary in recent:
        lowered_title, lowered_summary = title.lower(), (summary or "").lower()
        if not all(stem in lowered_title or stem in lowered_summary for stem in stems):
            continue  # a word is nowhere, not even inside another word: the common case, settled in C
        in_title = [_has_word(lowered_title, word) for word in words]
        if not all(found or _has_word(lowered_summary, word) for found, word in zip(in_title, words)):
            continue
        hit = CallHit(meeting_id=meeting_id, account=account, title=title, kind=kind, started_at=_datetime(started_at),
                      speaker="", snippet=_marked(_shorten(summary or ""), words), score=0.0)
        (titled if all(in_title) else summarized).append(hit)
    return titled[:limit], summarized[:limit]


def _merged(titled: list[CallHit], matched: list[CallHit], summarized: list[CallHit], limit: int) -> list[CallHit]:
    """Calls named by their title first (with their transcript match, if any), then transcript matches,
    then calls whose summary alone holds the words."""
    by_id = {hit.meeting_id: hit for hit in matched}
    merged = [by_id.get(hit.meeting_id, hit) for hit in titled]
    seen = {hit.meeting_id for hit in merged}
    merged += [hit for hit in matched if hit.meeting_id not in seen]
    seen |= {hit.meeting_id for hit in matched}
    merged += [hit for hit in summarized if hit.meeting_id not in seen]
    return merged[:limit]


def _marked(text: str, words: list[str]) -> str:
    """`text` with the words found (at word starts) wrapped in match marks, like an FTS5 snippet."""
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    for word in words:
        for position in _word_starts(lowered, word):
            end = position + 1
            while end < len(lowered) and lowered[end].isalnum():  # the whole word it starts
                end += 1
            spans.append((position, end))
    pieces, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        pieces += (text[last:start], MATCH_START, text[start:end], MATCH_END)
        last = end
    return "".join(pieces) + text[last:]


def _stem(word: str) -> str:
    """What `_word_starts` looks for: the word, or its singular for a plural."""
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _word_starts(text: str, word: str) -> Iterator[int]:
    """Where `word` (or its singular, for a plural) starts a word of `text` (lower case)."""
    stem = _stem(word)
    position = text.find(stem)
    while position >= 0:
        if position == 0 or not text[position - 1].isalnum():
            yield position
        position = text.find(stem, position + 1)


def _has_word(text: str, word: str) -> bool:
    return next(_word_starts(text, word), None) is not None


@dataclass(frozen=True)
class _Filters:
    json: json_lists.JsonListSQL  # the engine's SQL for the participants list
    accounts: int  # how many account ids are bound (0: no account filter)
    start: bool
    end: bool
    kind: bool = False
    participant: bool = False

    def where(self) -> str:
        """The filters as " AND ..." clauses on the meeting `m`."""
        clauses = []
        if self.accounts:
            clauses.append("m.account_id IN (" + ", ".join(f":account_{i}" for i in range(self.accounts)) + ")")
        if self.start:
            clauses.append("m.started_at >= :start")
        if self.end:
            clauses.append("m.started_at < :end")
        if self.kind:
            clauses.append("m.kind = :kind")
        if self.participant:  # a word of a participant's name: "leo" is Leo Park
            clauses.append(self.json.any_element("m.participants", self.json.holds("' ' || lower(p.value) || ' '",
                                                                                   "' ' || :participant || ' '")))
        return "".join(f" AND {clause}" for clause in clauses)


_statements: dict[tuple[str, _Filters], TextClause] = {}
_STARTED_AT = Meeting.__table__.c.started_at.type  # type: ignore[attr-defined]


def _statement(kind: str, filters: _Filters) -> TextClause:
    """One text() per query shape, so SQLAlchemy compiles each shape once."""
    key = (kind, filters)
    statement = _statements.get(key)
    if statement is not None:
        return statement
    if kind == "count":
        statement = text("SELECT count(*) FROM meeting AS m WHERE TRUE" + filters.where())
    else:
        statement = text(
            "SELECT m.id, a.name, m.title, m.kind, m.started_at, m.summary FROM meeting AS m"
            " JOIN account AS a ON a.id = m.account_id WHERE TRUE" + filters.where() + ""
            " ORDER BY m.started_at DESC, m.id DESC LIMIT :limit"
        )
    # Typed as the column: the bounds are then written as it stores times (SQLite: naive UTC text of SQLAlchemy's
    # format; PostgreSQL: timestamptz, whatever the session's time zone).
    statement = statement.bindparams(*(bindparam(name, type_=_STARTED_AT) for name, used in
                                       (("start", filters.start), ("end", filters.end)) if used))
    _statements[key] = statement
    return statement


_ACCOUNT_BY_NAME = text("SELECT id FROM account WHERE lower(name) = :wanted OR lower(slug) = :wanted")
_ACCOUNT_NAMES = "SELECT id, name, slug FROM account"


def _account_ids(connection: Connection, account: str) -> list[int]:
    """Accounts whose name or slug is `account`, compared as aliases are (case, spacing)."""
    wanted = normalize_alias(account)
    if not wanted or "\x00" in wanted:  # no name holds a NUL (and PostgreSQL refuses one in text)
        return []
    # The database's lower() settles the usual case (ASCII; a UTF-8 PostgreSQL folds more); comparing every
    # account's name as an alias in Python catches the rest (spacing, the case of other letters on SQLite).
    ids = list(connection.execute(_ACCOUNT_BY_NAME, {"wanted": wanted}).scalars())
    if ids:
        return ids
    # The driver's own rows (no parameters: the drivers' placeholders differ): at 2,000 accounts as fast as
    # SQLite calling a Python alias function per row, and ~1 ms faster than SQLAlchemy's rows.
    rows = connection.connection.driver_connection.execute(_ACCOUNT_NAMES).fetchall()  # type: ignore[union-attr]
    return [account_id for account_id, name, slug in rows
            if normalize_alias(name) == wanted or normalize_alias(slug) == wanted]


_CORPUS = text("SELECT (SELECT max(id) FROM transcriptsegment), (SELECT max(id) FROM meeting)")


def _corpus(connection: Connection) -> tuple[int, int]:
    """About how many transcript segments there are, and how many recent meetings make about
    SCORED_SEGMENT_BUDGET segments (the pool). Ids estimate the counts cheaply."""
    segments, meetings = connection.execute(_CORPUS).one()
    per_meeting = (segments or 0) / meetings if meetings else 1
    return segments or 0, max(MIN_POOL_MEETINGS, int(SCORED_SEGMENT_BUDGET / max(per_meeting, 1)))


def _hits(connection: Connection, engine: dialects.CallSearchSQL, query: Any, rows: list[MatchRow]) -> list[CallHit]:
    """The matched calls, each with a snippet of its best segment."""
    if not rows:
        return []
    snippets = engine.snippets(connection, query, [row[6] for row in rows])
    return [
        CallHit(
            meeting_id=meeting_id,
            account=account,
            title=title,
            kind=kind,
            started_at=_datetime(started_at),
            speaker=speaker,
            snippet=snippets.get(segment_id, ""),
            score=score,
        )
        for meeting_id, account, title, kind, started_at, speaker, segment_id, score in rows
    ]


def _latest_calls(connection: Connection, filters: _Filters, params: dict[str, Any], limit: int) -> list[CallHit]:
    rows = connection.execute(_statement("latest", filters), {**params, "limit": limit}).all()
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


def _utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value is UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _datetime(value: Any) -> datetime:
    """A stored time as naive UTC: SQLite gives text, PostgreSQL an aware datetime."""
    if not isinstance(value, datetime):
        return datetime.fromisoformat(value)
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _shorten(summary: str) -> str:
    if len(summary) <= SUMMARY_SNIPPET_CHARS:
        return summary
    return summary[: SUMMARY_SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"
