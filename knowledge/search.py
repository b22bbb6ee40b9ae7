"""Search recorded sales calls: FTS5 over transcript segments, one hit per meeting.

User text never reaches FTS5's query syntax: `fts_query` turns it into double-quoted strings,
bound as a parameter, so quotes, `*`, `AND`/`OR`/`NOT`, `NEAR(`, parentheses, `-`, `:` and SQL
fragments are searched as plain words and can never cause an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, TextClause, bindparam, text

from knowledge.db import Database
from knowledge.snapshots import SQLITE_DATETIME, install_alias_function, normalize_alias

MAX_LIMIT = 50
SNIPPET_TOKENS = 16
SUMMARY_SNIPPET_CHARS = 200
MATCH_START, MATCH_END = "\x02", "\x03"
# Relevance is computed over the matches among about this many transcript segments of the most
# recent calls (bm25 costs ~2-3 µs per matching segment; a common word can match 10% of them).
SCORED_SEGMENT_BUDGET = 3_000
MIN_POOL_MEETINGS = 20
# Two ways to keep the scoring to the pool. Naming its meetings in the FTS5 query (`meeting_id : ("12" OR ...)`)
# makes FTS5 walk only their segments, but bm25 then looks up each meeting's statistics (~30 µs each);
# testing each match's rowid against the pool's segments walks every match of the words instead (~10 ns a
# segment in the index). Measured (2 cores, common words): naming 250 meetings wins from ~500k segments on,
# 30 meetings from ~100k; so a pool is named when it has at most one meeting per this many segments.
SEGMENTS_PER_NAMED_MEETING = 3_000
# bm25 weights of the index's columns (knowledge.db.FTS_COLUMNS): the meeting id only filters.
_BM25 = "bm25(transcript_fts, 1.0, 0.0)"

# Words that match almost every segment: they make a search slow and its ranking no better.
STOPWORDS = frozenset(
    "a about after all also an and any are as at be been before but by can could did do does for from had has"
    " have how i if in into is it its me my no not of on or our so some than that the their them then there"
    " these they this to us was we were what when where which who why will with would you your".split()
)

_TITLE_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_MAX_TITLE_WORDS = 6

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

    Common words ("the", "about", ...) outside quotes are left out unless nothing else is left, and a
    repeated term is kept once (it changes nothing but the query's cost).
    All terms must match (implicit AND) unless `any_term`. None when `text` has nothing to search for.
    """
    terms: list[tuple[str, bool]] = []  # (term, is a common word)
    for phrase, word in _TERM.findall(text.replace("\x00", " ")):
        term = " ".join((phrase or word).split())
        if not any(char.isalnum() for char in term):
            continue  # punctuation alone tokenizes to nothing
        terms.append((term, not phrase and term.lower() in STOPWORDS))
    kept = list(dict.fromkeys([term for term, common in terms if not common] or [term for term, _ in terms]))
    if not kept:
        return None
    return (" OR " if any_term else " AND ").join(_with_synonyms(term) for term in kept)


# Shorthand reps type for what calls say in full: "pen testing" finds "penetration test" too.
CALL_SYNONYMS = {
    "pen": "penetration", "2fa": "two-factor", "mfa": "multi-factor", "dpa": "data processing agreement",
    "msa": "master services agreement", "poc": "proof of concept", "sow": "statement of work",
    "sfdc": "salesforce", "infosec": "security",
}


def _with_synonyms(term: str) -> str:
    quoted = '"' + term.replace('"', '""') + '"'
    synonym = CALL_SYNONYMS.get(term.lower())
    return f'({quoted} OR "{synonym}")' if synonym else quoted


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
    """Calls about `topic` (best first: bm25, then most recent), one per meeting; without a topic, the latest calls.

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
        filters = _Filters(accounts=len(account_ids), start=start is not None, end=end is not None, kind=kind is not None,
                           participant=bool(participant))
        params: dict[str, Any] = {f"account_{index}": account_id for index, account_id in enumerate(account_ids)}
        if participant:
            params["participant"] = participant.strip().lower()
        if kind is not None:
            params["kind"] = kind
        if start is not None:
            params["start"] = _stored_time(start)
        if end is not None:
            params["end"] = _stored_time(end)
        query = fts_query(topic) if topic else None
        if query is None:
            return _latest_calls(connection, filters, params, limit)
        segments, pool_size = _corpus(connection)
        recent = connection.execute(_statement("latest", filters), {**params, "limit": pool_size + 1}).all()
        saturated = len(recent) > pool_size  # more calls pass the filters than the pool holds
        pool = recent[:pool_size]
        named = len(pool) * SEGMENTS_PER_NAMED_MEETING <= segments
        titled, summarized = _titled_calls(pool, topic or "", limit)
        broader = fts_query(topic or "", any_term=True)
        for terms in (query, broader if broader != query else None):
            if terms is None:
                continue
            hits = _pooled_calls(connection, [row[0] for row in pool], terms, limit, named=named)
            if len(hits) < limit and saturated:  # older calls may hold better matches than the few recent ones
                hits = _matching_calls(connection, _statement("match", filters), params, _in_text(terms), terms, limit)
            if hits or titled or summarized:
                return _merged(titled, hits, summarized, limit)
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
        filters = _Filters(accounts=len(account_ids), start=start is not None, end=end is not None, kind=kind is not None,
                           participant=bool(participant))
        params: dict[str, Any] = {f"account_{index}": account_id for index, account_id in enumerate(account_ids)}
        if participant:
            params["participant"] = participant.strip().lower()
        if start is not None:
            params["start"] = _stored_time(start)
        if end is not None:
            params["end"] = _stored_time(end)
        if kind is not None:
            params["kind"] = kind
        return int(connection.execute(_statement("count", filters), params).scalar_one())


# Participants are looked for among this many recent meetings: the lookup stays bounded on any knowledge base.
PARTICIPANT_LOOKUP_MEETINGS = 500
_PARTICIPANT = text(
    "SELECT p.value FROM (SELECT participants FROM meeting ORDER BY started_at DESC, id DESC LIMIT :recent) AS m,"
    " json_each(m.participants) AS p WHERE lower(p.value) LIKE :first LIMIT 1"
)


def participant_named(db: Database, word: str) -> str | None:
    """The participant of a recent call whose first name is `word` ("daniel" -> "Daniel Ortiz"), if any."""
    word = word.strip().lower()
    if not re.fullmatch(r"[a-z][a-z'-]{1,30}", word):
        return None
    with db.engine.connect() as connection:
        row = connection.execute(_PARTICIPANT, {"recent": PARTICIPANT_LOOKUP_MEETINGS, "first": word + " %"}).first()
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
    accounts: int  # how many account ids are bound (0: no account filter)
    start: bool
    end: bool
    kind: bool = False
    participant: bool = False

    def where(self) -> str:
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
            clauses.append("EXISTS (SELECT 1 FROM json_each(m.participants) AS p"
                           " WHERE instr(' ' || lower(p.value) || ' ', ' ' || :participant || ' ') > 0)")
        return "".join(f" AND {clause}" for clause in clauses)


# What every match query returns: one row per meeting, from its best-scoring segment. bm25() only
# works in the FTS query itself, so the segments are scored in a CTE kept apart from the aggregate;
# min() then makes SQLite take the bare columns (speaker, segment id) from the best segment.
_HITS = (f"hits AS MATERIALIZED (SELECT rowid AS segment_id, {_BM25} AS score"
         " FROM transcript_fts WHERE transcript_fts MATCH :query")
_MATCH_SELECT = (
    " SELECT m.id, a.name, m.title, m.kind, m.started_at, seg.speaker, seg.id, min(hits.score) AS best"
    " FROM hits JOIN transcriptsegment AS seg ON seg.id = hits.segment_id"
    " JOIN meeting AS m ON m.id = seg.meeting_id JOIN account AS a ON a.id = m.account_id"
)
_MATCH_ORDER = " GROUP BY m.id ORDER BY best, m.started_at DESC, m.id DESC LIMIT :limit"

# The matches among a pool named in the query itself (`meeting_id : (...)`): FTS5 walks only the pool's segments.
_NAMED_POOL = text("WITH " + _HITS + ")" + _MATCH_SELECT + _MATCH_ORDER)
# The matches among a pool too big to name: `+rowid` keeps FTS5 scanning the doclist and testing each match
# against the pool's segments, instead of re-running the query (and bm25's statistics) once per segment.
_LISTED_POOL = text(
    "WITH " + _HITS + " AND +rowid IN (SELECT id FROM transcriptsegment WHERE meeting_id IN :pool))"
    + _MATCH_SELECT + _MATCH_ORDER
).bindparams(bindparam("pool", expanding=True))

_statements: dict[tuple[str, _Filters], TextClause] = {}


def _statement(kind: str, filters: _Filters) -> TextClause:
    """One text() per query shape, so SQLAlchemy compiles each shape once."""
    key = (kind, filters)
    statement = _statements.get(key)
    if statement is not None:
        return statement
    if kind == "match":
        statement = text("WITH " + _HITS + ")" + _MATCH_SELECT + " WHERE 1" + filters.where() + _MATCH_ORDER)
    elif kind == "count":
        statement = text("SELECT count(*) FROM meeting AS m WHERE 1" + filters.where())
    else:
        statement = text(
            "SELECT m.id, a.name, m.title, m.kind, m.started_at, m.summary FROM meeting AS m"
            " JOIN account AS a ON a.id = m.account_id WHERE 1" + filters.where() + ""
            " ORDER BY m.started_at DESC, m.id DESC LIMIT :limit"
        )
    _statements[key] = statement
    return statement


# Snippets for the few winning segments. A bare `rowid IN` lets FTS5 seek each id in the doclists
# (~0.1 ms for five); `+rowid` would walk every match of a common word (5-30 ms at 1M segments).
_SNIPPETS = text(
    f"SELECT rowid, snippet(transcript_fts, 0, char(2), char(3), '…', {SNIPPET_TOKENS}) FROM transcript_fts"
    " WHERE transcript_fts MATCH :query AND rowid IN :ids"
).bindparams(bindparam("ids", expanding=True))


def _in_text(terms: str) -> str:
    """`terms` searched in the transcript text only (the index's other column holds meeting ids)."""
    return f"text : ({terms})"


def _pooled_calls(connection: Connection, pool: list[int], terms: str, limit: int, *, named: bool) -> list[CallHit]:
    """The best matches of `terms` among the segments of the `pool` meetings, named in the FTS5 query or not."""
    if not pool:
        return []
    if named:
        query = _in_text(terms) + " AND meeting_id : (" + " OR ".join(f'"{meeting_id}"' for meeting_id in pool) + ")"
        return _matching_calls(connection, _NAMED_POOL, {}, query, terms, limit)
    return _matching_calls(connection, _LISTED_POOL, {"pool": pool}, _in_text(terms), terms, limit)


def _account_ids(connection: Connection, account: str) -> list[int]:
    """Accounts whose name or slug is `account`, compared as aliases are (case, spacing)."""
    wanted = normalize_alias(account)
    # SQLite's lower() settles the usual (ASCII) case in C; the Python comparison catches the rest.
    rows = connection.exec_driver_sql("SELECT id FROM account WHERE lower(name) = ? OR lower(slug) = ?", (wanted,) * 2)
    ids = [row[0] for row in rows]
    if ids:
        return ids
    install_alias_function(connection)
    rows = connection.exec_driver_sql(
        "SELECT id FROM account WHERE pitcrew_alias(name) = ? OR pitcrew_alias(slug) = ?", (wanted,) * 2
    )
    return [row[0] for row in rows]


def _corpus(connection: Connection) -> tuple[int, int]:
    """About how many transcript segments there are, and how many recent meetings make about
    SCORED_SEGMENT_BUDGET segments (the pool). Ids estimate the counts cheaply."""
    segments, meetings = connection.exec_driver_sql(
        "SELECT (SELECT max(id) FROM transcriptsegment), (SELECT max(id) FROM meeting)"
    ).one()
    per_meeting = (segments or 0) / meetings if meetings else 1
    return segments or 0, max(MIN_POOL_MEETINGS, int(SCORED_SEGMENT_BUDGET / max(per_meeting, 1)))


def _matching_calls(connection: Connection, statement: TextClause, params: dict[str, Any], match: str, terms: str,
                    limit: int) -> list[CallHit]:
    """Calls found by `statement` with `match` as its FTS5 query, each with a snippet of its best segment."""
    rows = connection.execute(statement, {**params, "query": match, "limit": limit}).all()
    if not rows:
        return []
    snippet_rows = connection.execute(_SNIPPETS, {"query": _in_text(terms), "ids": [row[6] for row in rows]})
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
