"""Call search's SQL on each engine: SQLite's FTS5 index, PostgreSQL's tsvector column and GIN index.

knowledge.search holds what both share (the pool of recent calls, title and summary matches, the merge);
this module turns the terms (knowledge.search_terms) into the engine's query and runs the match and snippet
queries. Both return the same rows: one per meeting, from its best-matching segment, best first (score,
then the most recent call, then the newest meeting id), with a score where higher is better.

User text never reaches either query syntax: FTS5 gets every term as a double-quoted string, PostgreSQL
gets each term, double-quoted, through `websearch_to_tsquery` (a quoted text is a phrase of plain words:
`or`, `-`, quotes and backslashes inside it are no operators), and the terms are joined by this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, TextClause, bindparam, text

from knowledge.dialects import version_for
from knowledge.search_terms import Term, search_terms

MATCH_START, MATCH_END = "\x02", "\x03"  # around each match in a snippet
SNIPPET_TOKENS = 16

# meeting id, account name, title, kind, started_at, speaker, segment id, score (higher is better)
MatchRow = tuple[int, str, str, str, Any, str, int, float]


class CallSearchSQL(Protocol):
    """One engine's version of call search's queries."""

    def queries(self, connection: Connection, terms: Sequence[Term]) -> tuple[Any, Any]:
        """The engine's query for every term, and for any term (None when that is the same query)."""

    def pooled(self, connection: Connection, pool: list[int], query: Any, limit: int, *, named: bool) -> list[MatchRow]:
        """The best `limit` matches of `query` among the segments of the `pool` meetings. `named`: the pool is
        small for the corpus (the engine may name it inside its index query)."""

    def filtered(self, connection: Connection, where: str, params: dict[str, Any], query: Any,
                 limit: int) -> list[MatchRow]:
        """The best `limit` matches of `query` among the meetings (`m`) passing `where` (" AND ..." clauses)."""

    def snippets(self, connection: Connection, query: Any, segment_ids: list[int]) -> dict[int, str]:
        """Each segment's text around the matches of `query`, matches wrapped in MATCH_START ... MATCH_END."""


# --- SQLite: FTS5 ------------------------------------------------------------------------------------------------

def fts_query(text: str, *, any_term: bool = False) -> str | None:
    """An FTS5 MATCH expression for `text`: every word or "quoted phrase" as one FTS5 string, a shorthand OR'ed
    with its spelling in full. All terms must match (implicit AND) unless `any_term`. None when `text` has
    nothing to search for."""
    terms = search_terms(text)
    return _fts_expression(terms, any_term=any_term) if terms else None


def _fts_expression(terms: Sequence[Term], *, any_term: bool) -> str:
    return (" OR " if any_term else " AND ").join(_fts_alternatives(term) for term in terms)


def _fts_alternatives(term: Term) -> str:
    quoted = ['"' + alternative.replace('"', '""') + '"' for alternative in term]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


# bm25 weights of the index's columns (knowledge.db.FTS_COLUMNS): the meeting id only filters.
_BM25 = "bm25(transcript_fts, 1.0, 0.0)"
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
# Snippets for the few winning segments. A bare `rowid IN` lets FTS5 seek each id in the doclists
# (~0.1 ms for five); `+rowid` would walk every match of a common word (5-30 ms at 1M segments).
_SNIPPETS = text(
    f"SELECT rowid, snippet(transcript_fts, 0, char(2), char(3), '…', {SNIPPET_TOKENS}) FROM transcript_fts"
    " WHERE transcript_fts MATCH :query AND rowid IN :ids"
).bindparams(bindparam("ids", expanding=True))


def _scored(result: Any) -> list[MatchRow]:
    """The rows with bm25 negated: higher is better."""
    return [(*row[:7], -row[7]) for row in result]


def _in_text(terms: str) -> str:
    """`terms` searched in the transcript text only (the index's other column holds meeting ids)."""
    return f"text : ({terms})"


class SqliteCallSearch:
    """FTS5 over `transcript_fts` (knowledge.db.FTS_DDL), ranked by bm25."""

    def __init__(self) -> None:
        self._filtered: dict[str, TextClause] = {}

    def queries(self, connection: Connection, terms: Sequence[Term]) -> tuple[str, str | None]:
        every, any_term = _fts_expression(terms, any_term=False), _fts_expression(terms, any_term=True)
        return every, (any_term if any_term != every else None)

    def pooled(self, connection: Connection, pool: list[int], query: str, limit: int, *, named: bool) -> list[MatchRow]:
        if not pool:
            return []
        if named:
            match = _in_text(query) + " AND meeting_id : (" + " OR ".join(f'"{meeting_id}"' for meeting_id in pool) + ")"
            return _scored(connection.execute(_NAMED_POOL, {"query": match, "limit": limit}))
        return _scored(connection.execute(_LISTED_POOL, {"pool": pool, "query": _in_text(query), "limit": limit}))

    def filtered(self, connection: Connection, where: str, params: dict[str, Any], query: str,
                 limit: int) -> list[MatchRow]:
        statement = self._filtered.get(where)
        if statement is None:
            statement = self._filtered[where] = text(
                "WITH " + _HITS + ")" + _MATCH_SELECT + " WHERE TRUE" + where + _MATCH_ORDER)
        return _scored(connection.execute(statement, {**params, "query": _in_text(query), "limit": limit}))

    def snippets(self, connection: Connection, query: str, segment_ids: list[int]) -> dict[int, str]:
        rows = connection.execute(_SNIPPETS, {"query": _in_text(query), "ids": segment_ids})
        return {segment_id: snippet for segment_id, snippet in rows}


# --- PostgreSQL: a tsvector column with a GIN index --------------------------------------------------------------

# The text search configuration of the column and of every query: English stemming and stop words.
TEXT_SEARCH_CONFIG = "english"
# The transcript index is the stored generated column `transcriptsegment.search` with a GIN index, made by
# migration 0002 (knowledge/migrations/versions).
# Rank by cover density, divided by 1 + log(segment length): like bm25, a short segment saying the words beats
# a long one that says them once among much else.
_RANK = "ts_rank_cd(seg.search, CAST(:query AS tsquery), 1)"
# Each term's own query. A double-quoted text is a phrase to websearch_to_tsquery: words only, no operators.
# Stop words ("the", "about") give an empty query: they are left out, as the index leaves them out.
_TERM_QUERIES = text(
    f"SELECT CAST(websearch_to_tsquery('{TEXT_SEARCH_CONFIG}', t.words) AS text)"
    " FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS t(words, n) ORDER BY t.n"
)
# One row per meeting from its best segment (DISTINCT ON), then the best meetings.
_BEST_FIRST = " ORDER BY best.score DESC, m.started_at DESC, m.id DESC LIMIT :limit"
_PG_MATCH_SELECT = (
    "SELECT m.id, a.name, m.title, m.kind, m.started_at, best.speaker, best.segment_id, best.score FROM ({best})"
    " AS best JOIN meeting AS m ON m.id = best.meeting_id JOIN account AS a ON a.id = m.account_id" + _BEST_FIRST
)
_PG_POOL = text(_PG_MATCH_SELECT.format(best=(
    f"SELECT DISTINCT ON (seg.meeting_id) seg.meeting_id, seg.id AS segment_id, seg.speaker, {_RANK} AS score"
    " FROM transcriptsegment AS seg WHERE seg.meeting_id = ANY(CAST(:pool AS integer[]))"
    " AND seg.search @@ CAST(:query AS tsquery) ORDER BY seg.meeting_id, score DESC, seg.id"
)))
_PG_FILTERED = _PG_MATCH_SELECT.format(best=(
    f"SELECT DISTINCT ON (m.id) m.id AS meeting_id, seg.id AS segment_id, seg.speaker, {_RANK} AS score"
    " FROM transcriptsegment AS seg JOIN meeting AS m ON m.id = seg.meeting_id"
    " WHERE seg.search @@ CAST(:query AS tsquery){where} ORDER BY m.id, score DESC, seg.id"
))
# ts_headline: a segment as short as a snippet is shown whole (every match marked), a longer one as the
# SNIPPET_TOKENS words around its first match (a fragment, centred on it, like an FTS5 snippet).
_MARKS = f'StartSel="{MATCH_START}", StopSel="{MATCH_END}"'
_WHOLE = f"{_MARKS}, HighlightAll=true"
_FRAGMENT = f"{_MARKS}, MaxFragments=1, MaxWords={SNIPPET_TOKENS}, MinWords={SNIPPET_TOKENS - 1}, ShortWord=0"
_PG_SNIPPETS = text(
    f"SELECT id, text, ts_headline('{TEXT_SEARCH_CONFIG}', text, CAST(:query AS tsquery),"
    " CASE WHEN cardinality(regexp_split_to_array(btrim(text), '\\s+')) <= :tokens THEN :whole ELSE :fragment END)"
    " FROM transcriptsegment WHERE id = ANY(CAST(:ids AS integer[]))"
)


class PostgresCallSearch:
    """`transcriptsegment.search` (migration 0002) matched with `@@`, ranked by ts_rank_cd."""

    def __init__(self) -> None:
        self._filtered: dict[str, TextClause] = {}

    def queries(self, connection: Connection, terms: Sequence[Term]) -> tuple[str, str | None]:
        """tsquery texts: each term's alternatives OR'ed, the terms AND'ed (and OR'ed for any term); a term that
        is all stop words is left out. "" when every term is."""
        words = ['"' + alternative.replace('"', " ") + '"' for term in terms for alternative in term]
        queries = iter(connection.execute(_TERM_QUERIES, {"words": words}).scalars().all())
        groups = []
        for term in terms:
            alternatives = [f"({query})" for query in (next(queries) for _ in term) if query]
            if alternatives:
                groups.append(alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")")
        every, any_term = " & ".join(groups), " | ".join(groups)
        return every, (any_term if any_term != every else None)

    def pooled(self, connection: Connection, pool: list[int], query: str, limit: int, *, named: bool) -> list[MatchRow]:
        if not pool or not query:
            return []
        return _rows(connection.execute(_PG_POOL, {"pool": pool, "query": query, "limit": limit}))

    def filtered(self, connection: Connection, where: str, params: dict[str, Any], query: str,
                 limit: int) -> list[MatchRow]:
        if not query:
            return []
        statement = self._filtered.get(where)
        if statement is None:
            statement = self._filtered[where] = text(_PG_FILTERED.format(where=where))
        return _rows(connection.execute(statement, {**params, "query": query, "limit": limit}))

    def snippets(self, connection: Connection, query: str, segment_ids: list[int]) -> dict[int, str]:
        rows = connection.execute(_PG_SNIPPETS, {"query": query, "ids": segment_ids, "tokens": SNIPPET_TOKENS,
                                                 "whole": _WHOLE, "fragment": _FRAGMENT})
        return {segment_id: _with_ellipses(whole, headline) for segment_id, whole, headline in rows}


def _with_ellipses(whole: str, headline: str) -> str:
    """`headline` with '…' where it cuts `whole` short, as an FTS5 snippet has."""
    shown = headline.replace(MATCH_START, "").replace(MATCH_END, "").strip()
    start = whole.find(shown)
    if not shown or start < 0:
        return headline
    before = "…" if whole[:start].strip() else ""
    after = "…" if whole[start + len(shown):].strip() else ""
    return before + headline.strip() + after


def _rows(result: Any) -> list[MatchRow]:
    return [tuple(row) for row in result]  # type: ignore[misc]


_BY_ENGINE: dict[str, CallSearchSQL] = {"sqlite": SqliteCallSearch(), "postgresql": PostgresCallSearch()}
# Schema the search needs beyond the tables, per engine (SQLite's FTS5 index is knowledge.db.FTS_DDL).


def for_engine(engine: Engine | Connection) -> CallSearchSQL:
    """The call search queries of `engine`'s database."""
    return version_for(_BY_ENGINE, engine, "call search")
