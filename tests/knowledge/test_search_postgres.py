"""Call search on PostgreSQL: the tsvector column and its queries, and the same calls found as on SQLite."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import make_url

from knowledge.db import Database
from knowledge.dialects.search import PostgresCallSearch
from knowledge.meetings import find_meetings
from knowledge.search import count_calls, search_calls
from knowledge.search_terms import search_terms
from tests.support.catalog_factory import add_meeting
from tests.support.pipeline import NOW as DEMO_NOW

pytestmark = pytest.mark.postgres_only

NOW = datetime(2025, 5, 1, 12, 0)
ACME = ("acme", "Acme Corp")
POSTGRES = PostgresCallSearch()


def tsqueries(db: Database, user_text: str) -> tuple[str, str | None]:
    with db.engine.connect() as connection:
        return POSTGRES.queries(connection, search_terms(user_text))


def test_each_term_is_a_phrase_of_plain_words(database: Database) -> None:
    every, any_term = tsqueries(database, 'SSO -pricing "audit logs" OR pen')
    # `-pricing` is the word pricing (stemmed), `OR` a common word left out, the shorthand OR'ed with its long form.
    assert every == "('sso') & ('price') & ('audit' <-> 'log') & (('pen') | ('penetr'))"
    assert any_term == "('sso') | ('price') | ('audit' <-> 'log') | (('pen') | ('penetr'))"
    assert tsqueries(database, "pricing") == ("('price')", None)
    # Stop words are not in the index, so a term of stop words alone is left out; all of them, nothing to find.
    assert tsqueries(database, '"the" pricing')[0] == "('price')"
    assert tsqueries(database, "what about the") == ("", None)


WEBSEARCH_SYNTAX = st.lists(
    st.sampled_from(['"', "'", "-", "or", "OR", "and", "!", "&", "|", "<->", "<2>", ":*", "*", "(", ")", "\\", "\\\\",
                     "\x00", " ", "sso", "pricing", "x" * 2100, "é", "<b>", "://", "@"]),
    max_size=30,
).map("".join)


@given(st.one_of(st.text(max_size=80), WEBSEARCH_SYNTAX))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_makes_a_tsquery_postgresql_reads_back(database: Database, user_text: str) -> None:
    """The terms' queries, joined by the search, parse as tsquery, and never negate: `-` and `!` are no operators."""
    with database.engine.connect() as connection:
        for query in POSTGRES.queries(connection, search_terms(user_text)):
            if query:
                parsed, nodes = connection.execute(
                    text("SELECT CAST(CAST(:q AS tsquery) AS text), numnode(CAST(:q AS tsquery))"), {"q": query}).one()
                assert nodes > 0
                outside_lexemes = "".join(parsed.split("'")[0::2])  # a lexeme is quoted; the rest is operators
                assert "!" not in outside_lexemes


def test_words_said_together_rank_above_the_same_words_said_apart(database: Database) -> None:
    # Same length, same words; bm25 would rank these alike (so SQLite puts the more recent first), PostgreSQL's cover
    # density ranks the call that says "audit logs" together first.
    add_meeting(database, ACME, "Apart", NOW - timedelta(days=1),
                [("A", "The audit covered access reviews, firewall rules, backups, and then the logs.")])
    add_meeting(database, ACME, "Together", NOW - timedelta(days=2),
                [("A", "The audit logs covered access reviews, firewall rules, backups, and the rest.")])
    hits = search_calls(database, topic="audit logs")
    assert [hit.title for hit in hits] == ["Together", "Apart"] and hits[0].score > hits[1].score


def test_time_bounds_and_times_are_utc_whatever_the_session_time_zone(database: Database) -> None:
    add_meeting(database, ACME, "Late", datetime(2025, 4, 30, 23, 30), [("Tyler", "SSO question.")])
    add_meeting(database, ACME, "Early", datetime(2025, 5, 1, 0, 30), [("Tyler", "SSO answer.")])
    url = make_url(database.url)
    with database.engine.connect() as connection:  # new connections of this database start in New York time
        connection.execute(text(f'ALTER DATABASE "{url.database}" SET timezone TO \'America/New_York\''))
        connection.commit()
    shifted = Database(database.url)
    try:
        with shifted.engine.connect() as connection:
            assert connection.execute(text("SHOW timezone")).scalar_one() == "America/New_York"
        may = {"start": datetime(2025, 5, 1), "end": datetime(2025, 5, 2)}
        assert [hit.title for hit in search_calls(shifted, topic="sso", **may)] == ["Early"]
        assert [hit.title for hit in search_calls(shifted, topic=None, **may)] == ["Early"]
        assert count_calls(shifted, **may) == 1
        hit = search_calls(shifted, topic="question")[0]
        assert hit.started_at == datetime(2025, 4, 30, 23, 30)  # naive UTC, as on SQLite
        meetings = find_meetings(shifted, participant="tyler", **may)
        assert [(meeting.title, meeting.started_at) for meeting in meetings] == [("Early", datetime(2025, 5, 1, 0, 30))]
    finally:
        shifted.close()


def test_the_search_column_and_its_gin_index_exist_once_however_often_the_database_is_opened(database: Database) -> None:
    Database(database.url).close()  # the schema check again
    with database.engine.connect() as connection:
        column = connection.execute(text(
            "SELECT data_type, is_generated, generation_expression FROM information_schema.columns"
            " WHERE table_name = 'transcriptsegment' AND column_name = 'search'")).all()
        index = connection.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_transcriptsegment_search'")).scalar_one()
    assert len(column) == 1 and column[0][:2] == ("tsvector", "ALWAYS")
    assert "to_tsvector('english'" in column[0][2]
    assert "USING gin (search)" in index


# The demo knowledge base searched on both engines: the same calls match (stemming and phrases agree) ...
DEMO_TOPICS = ["sso", "pricing", "security", "discount", "salesforce", "renewal", "onboarding", "api", "seats",
               "migration", "pen test", "sso pricing", "data residency", "contract", "budget", "integration", "dpa",
               "soc 2", "audit logs", "legal review", "competitor", "scim", "recording", "encryption", "churn"]
# ... and where one call clearly says it best, in the same order (bm25 and ts_rank_cd differ on near ties).
SAME_ORDER_TOPICS = ["pricing", "security", "salesforce", "renewal", "onboarding", "pen test", "sso pricing",
                     "legal review", "competitor", "forecast", "encryption", "trial"]


@pytest.fixture
def sqlite_demo(demo_template: Path, tmp_path: Path) -> Database:
    copy = tmp_path / "demo-sqlite.db"
    shutil.copyfile(demo_template, copy)
    db = Database(f"sqlite:///{copy}")
    yield db
    db.close()


def test_the_demo_calls_are_found_as_on_sqlite(demo_db: Database, sqlite_demo: Database) -> None:
    for topic in DEMO_TOPICS:
        on_postgres = search_calls(demo_db, topic=topic, limit=50)
        on_sqlite = search_calls(sqlite_demo, topic=topic, limit=50)
        assert {hit.meeting_id for hit in on_postgres} == {hit.meeting_id for hit in on_sqlite}, topic
        found = {hit.meeting_id: hit for hit in on_sqlite}
        for hit in on_postgres:  # the same call, described the same way
            same = found[hit.meeting_id]
            assert (hit.account, hit.title, hit.kind, hit.started_at) == (same.account, same.title, same.kind,
                                                                          same.started_at), topic
            assert (hit.score > 0) == (same.score > 0) and ("\x02" in hit.snippet) == ("\x02" in same.snippet), topic
    for topic in SAME_ORDER_TOPICS:
        on_postgres = [hit.meeting_id for hit in search_calls(demo_db, topic=topic)]
        assert on_postgres == [hit.meeting_id for hit in search_calls(sqlite_demo, topic=topic)], topic


def test_the_demo_window_and_participant_filters_agree_with_sqlite(demo_db: Database, sqlite_demo: Database) -> None:
    window = {"start": DEMO_NOW - timedelta(days=60), "end": DEMO_NOW}
    for filters in ({}, window, {"participant": "tyler"}, {"account": "globex", **window}, {"kind": "demo"}):
        assert search_calls(demo_db, topic=None, limit=50, **filters) == search_calls(
            sqlite_demo, topic=None, limit=50, **filters), filters
        assert count_calls(demo_db, **filters) == count_calls(sqlite_demo, **filters), filters
        pg_ids = [hit.meeting_id for hit in search_calls(demo_db, topic="pricing", limit=50, **filters)]
        assert sorted(pg_ids) == sorted(hit.meeting_id for hit in search_calls(sqlite_demo, topic="pricing", limit=50,
                                                                               **filters)), filters
