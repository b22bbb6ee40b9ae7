"""Call search on either engine: safe queries, relevance-then-recency ranking, one hit per meeting, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from knowledge.db import Database
from knowledge.dialects import search as dialects
from knowledge.dialects.search import fts_query
from knowledge.search import count_calls, participant_named, search_calls
from knowledge.search_terms import search_terms
from tests.support.catalog_factory import add_meeting

NOW = datetime(2025, 5, 1, 12, 0)
ACME = ("acme", "Acme Corp")
GLOBEX = ("globex", "Globex")


@pytest.fixture
def calls(database: Database) -> Database:
    add_meeting(
        database,
        ACME,
        "Acme discovery",
        NOW - timedelta(days=30),
        [
            ("Tyler", "We need single sign-on before security signs off, and pricing for 50 seats."),
            ("Sarah", "Pricing is per seat; SSO comes with the Pro plan."),
            ("Tyler", "Our security team also asks about SSO audit logs and how long recordings are kept."),
        ],
        summary="Acme wants SSO and a price for 50 seats.",
    )
    add_meeting(
        database,
        ACME,
        "Acme negotiation",
        NOW - timedelta(days=3),
        [("Tyler", "Can you discount the price if we sign for two years?"), ("Sarah", "We can do ten percent.")],
        kind="negotiation",
        summary="Discount for a two-year term.",
    )
    add_meeting(
        database,
        GLOBEX,
        "Globex demo",
        NOW - timedelta(days=10),
        [("Priya", "Show me the Salesforce integration."), ("Sarah", "Sure, and SSO too.")],
        kind="demo",
        summary="Demo of the Salesforce sync.",
    )
    return database


def titles(hits: list) -> list[str]:
    return [hit.title for hit in hits]


# --- fts_query -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_text", "expected"),
    [
        ("pricing", '"pricing"'),
        ("SSO pricing", '"SSO" AND "pricing"'),
        ("DPA terms", '("DPA" OR "data processing agreement") AND "terms"'),  # shorthand finds the words in full too
        ('the "per seat" price', '"per seat" AND "price"'),
        ("what about the", '"what" AND "about" AND "the"'),
        ('"the" deal', '"the" AND "deal"'),
        ('say "hello   world', '"say" AND """hello" AND "world"'),
        ('a"b', '"a""b"'),
        ("NEAR(pricing, sso) OR x AND -y NOT z*", '"NEAR(pricing," AND "sso)" AND "x" AND "-y" AND "z*"'),
        ("AND OR NOT", '"AND" AND "OR" AND "NOT"'),
        ("text: 1; DROP TABLE meeting; --", '"text:" AND "1;" AND "DROP" AND "TABLE" AND "meeting;"'),
        ("", None),
        ("   ", None),
        ('- * : ( ) "" ^', None),
    ],
)
def test_fts_query_quotes_every_term(user_text: str, expected: str | None) -> None:
    assert fts_query(user_text) == expected


def test_fts_query_any_term() -> None:
    assert fts_query("rollout pricing", any_term=True) == '"rollout" OR "pricing"'
    assert fts_query("pen test", any_term=True) == '("pen" OR "penetration") OR "test"'


# Text made of query syntax: FTS5's (operators, quotes, prefixes, columns), websearch_to_tsquery's and tsquery's
# (or, -, !, &, |, <->, :*), backslashes and NUL.
QUERY_SYNTAX = st.lists(
    st.sampled_from(['"', "*", "(", ")", ":", "-", "^", "+", ",", " ", "'", "\x00", "AND", "OR", "NOT", "NEAR", "sso",
                     "or", "!", "&", "|", "<->", "<2>", ":*", "\\", "pricing"]),
    max_size=25,
).map("".join)


@given(st.one_of(st.text(max_size=60), QUERY_SYNTAX))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_is_searched_without_error(calls: Database, user_text: str) -> None:
    hits = search_calls(calls, topic=user_text, account=user_text or None)
    assert isinstance(hits, list)
    terms = search_terms(user_text)
    if terms:  # the engine's own queries (every term, any term) run over every call
        engine = dialects.for_engine(calls.engine)
        with calls.engine.connect() as connection:
            for query in engine.queries(connection, terms):
                if query is not None:
                    engine.filtered(connection, "", {}, query, 5)


@pytest.mark.parametrize(
    "user_text",
    ['"', '""', "AND", "OR OR", "NEAR(", "(", ")", "-sso", "sso*", "text:sso", "'; DROP TABLE meeting; --", "\x00sso"],
)
def test_fts_syntax_is_searched_as_words(calls: Database, user_text: str) -> None:
    search_calls(calls, topic=user_text)
    with calls.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM meeting")).scalar() == 3


# (Not `<sso>`: PostgreSQL's parser reads it as an XML tag and leaves it out, of calls and queries alike.)
@pytest.mark.parametrize(
    "user_text",
    ["-sso", "!sso", "sso*", "sso:*", "(sso)", "'sso'", '"sso', 'sso"', "sso\\", "\\sso", "sso\x00", "sso!", "sso&",
     "|sso", "<sso", "sso>", "<->sso", "sso OR", "or sso", "NOT sso", "sso -"],
)
def test_operators_around_a_word_search_the_word(calls: Database, user_text: str) -> None:
    """Neither engine reads an operator in the user's text: `-sso` is no negation, `sso*` no prefix search."""
    assert search_calls(calls, topic=user_text) == search_calls(calls, topic="sso")


def test_a_minus_sign_excludes_nothing(calls: Database) -> None:
    # With `-pricing` as a negation, the one segment saying both SSO and pricing would be left out.
    assert titles(search_calls(calls, topic="sso -pricing")) == ["Acme discovery"]


def test_a_very_long_text_is_searched_without_error(calls: Database) -> None:
    words = ["sso", "pricing", '"', "-", "or", "\\", "\x00", "x" * 3000, "(", "NEAR", "<->"]
    hostile = " ".join(words[index % len(words)] + str(index % 7) for index in range(6000))[:40_000]
    assert isinstance(search_calls(calls, topic=hostile), list)
    assert search_calls(calls, topic="sso " * 10_000) == search_calls(calls, topic="sso")


# --- ranking -------------------------------------------------------------------------------------


def test_one_hit_per_meeting_with_its_best_segment(calls: Database) -> None:
    hits = search_calls(calls, topic="sso")
    assert sorted(titles(hits)) == ["Acme discovery", "Globex demo"]
    acme = next(hit for hit in hits if hit.title == "Acme discovery")
    assert acme.account == "Acme Corp" and acme.kind == "discovery"
    assert acme.started_at == NOW - timedelta(days=30) and acme.started_at.tzinfo is None
    # Of Acme's three SSO segments, the shortest one mentioning it is the best match.
    assert acme.speaker == "Sarah"
    assert "\x02SSO\x03" in acme.snippet
    assert all(hit.score > 0 for hit in hits)


def test_more_relevant_meeting_ranks_first(database: Database) -> None:
    add_meeting(database, ACME, "Once", NOW - timedelta(days=1), [("A", "We talked about many things, once SSO.")])
    add_meeting(database, ACME, "Focused", NOW - timedelta(days=20), [("A", "SSO SSO SSO")])
    add_meeting(database, ACME, "Unrelated", NOW, [("A", "Nothing to see here.")])
    hits = search_calls(database, topic="SSO")
    assert titles(hits) == ["Focused", "Once"]
    assert hits[0].score > hits[1].score


def test_equal_relevance_ranks_the_most_recent_first(database: Database) -> None:
    for days in (5, 1, 9):
        add_meeting(database, GLOBEX, f"{days} days ago", NOW - timedelta(days=days), [("A", "renewal terms")])
    assert titles(search_calls(database, topic="renewal")) == ["1 days ago", "5 days ago", "9 days ago"]


def test_stemming_finds_other_forms(calls: Database) -> None:
    assert "Acme negotiation" in titles(search_calls(calls, topic="prices"))


def test_all_words_first_then_any_word(calls: Database) -> None:
    assert titles(search_calls(calls, topic="sso audit")) == ["Acme discovery"]
    assert set(titles(search_calls(calls, topic="salesforce discount"))) == {"Globex demo", "Acme negotiation"}
    assert titles(search_calls(calls, topic='"audit sso"')) == []  # a quoted phrase stays a phrase


def test_a_shorter_segment_saying_the_word_ranks_first(database: Database) -> None:
    add_meeting(database, ACME, "Long", NOW - timedelta(days=1), [
        ("A", "We went through the roadmap, the renewal dates, the support tiers and, near the end, SSO.")])
    add_meeting(database, ACME, "Short", NOW - timedelta(days=2), [("A", "And SSO?")])
    assert titles(search_calls(database, topic="sso")) == ["Short", "Long"]


def test_snippets_mark_the_matches_and_cut_long_segments_with_ellipses(database: Database) -> None:
    long_turn = ("Before we start I want to recap the agenda for today, which covers the rollout plan and then"
                 " the SSO configuration with Okta, followed by the data export questions your team sent over on"
                 " Friday afternoon and the open items.")
    add_meeting(database, ACME, "Long", NOW - timedelta(days=1), [("A", long_turn)])
    add_meeting(database, GLOBEX, "Short", NOW - timedelta(days=2), [("B", "SSO first, then SSO audit logs.")])
    hits = {hit.title: hit for hit in search_calls(database, topic="sso")}
    # A short segment whole, every match marked.
    assert hits["Short"].snippet == "\x02SSO\x03 first, then \x02SSO\x03 audit logs."
    # A long one cut around its match, with ellipses where it was cut.
    snippet = hits["Long"].snippet
    assert snippet.startswith("…") and snippet.endswith("…") and "\x02SSO\x03" in snippet
    shown = snippet.strip("…").replace("\x02", "").replace("\x03", "")
    assert shown in long_turn and len(shown.split()) <= 20


def test_the_index_follows_changed_and_deleted_segments(calls: Database) -> None:
    with calls.engine.begin() as connection:
        connection.execute(text("UPDATE transcriptsegment SET text = 'Our procurement portal needs a vendor form.'"
                                " WHERE text LIKE 'Show me the Salesforce%'"))
        connection.execute(text("DELETE FROM transcriptsegment WHERE text LIKE 'We can do ten percent%'"))
    assert titles(search_calls(calls, topic="procurement")) == ["Globex demo"]
    assert titles(search_calls(calls, topic="salesforce")) == ["Globex demo"]  # its summary still says it
    assert search_calls(calls, topic="salesforce")[0].score == 0.0
    assert search_calls(calls, topic="percent") == []


def test_limit(calls: Database) -> None:
    assert len(search_calls(calls, topic="sso", limit=1)) == 1
    assert len(search_calls(calls, topic=None, limit=0)) == 1


# --- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["Acme Corp", "ACME CORP", "acme", " Acme  corp "])
def test_account_filter_by_name_or_slug(calls: Database, account: str) -> None:
    assert titles(search_calls(calls, topic="sso", account=account)) == ["Acme discovery"]


def test_unknown_account_finds_nothing(calls: Database) -> None:
    assert search_calls(calls, topic="sso", account="Initech") == []
    assert search_calls(calls, topic=None, account="Initech") == []


def test_time_window_is_start_inclusive_end_exclusive(calls: Database) -> None:
    discovery = NOW - timedelta(days=30)
    assert set(titles(search_calls(calls, topic="sso", start=discovery))) == {"Globex demo", "Acme discovery"}
    assert titles(search_calls(calls, topic="sso", start=discovery + timedelta(microseconds=1))) == ["Globex demo"]
    assert titles(search_calls(calls, topic="sso", end=discovery)) == []
    assert titles(search_calls(calls, topic="sso", end=discovery + timedelta(seconds=1))) == ["Acme discovery"]
    window = search_calls(calls, topic=None, start=NOW - timedelta(days=15), end=NOW)
    assert titles(window) == ["Acme negotiation", "Globex demo"]


def test_aware_bounds_are_compared_in_utc(calls: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    # 12:00 UTC shown as 14:00+02:00: the Globex demo started exactly then, so it is inside [start, ...).
    start = (NOW - timedelta(days=10)).replace(tzinfo=UTC).astimezone(plus_two)
    assert titles(search_calls(calls, topic=None, start=start)) == ["Acme negotiation", "Globex demo"]


def test_without_topic_the_latest_calls_with_their_summaries(calls: Database) -> None:
    hits = search_calls(calls, topic=None, account="acme")
    assert titles(hits) == ["Acme negotiation", "Acme discovery"]
    assert hits[0].snippet == "Discount for a two-year term." and hits[0].speaker == "" and hits[0].score == 0.0
    assert titles(search_calls(calls, topic="  ", limit=2)) == ["Acme negotiation", "Globex demo"]


# --- the recent-calls pool -----------------------------------------------------------------------


def test_relevance_is_scored_over_recent_calls_first_then_all(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("knowledge.search.SCORED_SEGMENT_BUDGET", 1)
    monkeypatch.setattr("knowledge.search.MIN_POOL_MEETINGS", 2)  # the pool: the two most recent calls
    add_meeting(database, ACME, "Old", NOW - timedelta(days=30), [("A", "SSO SSO SSO"), ("B", "Renewal terms.")])
    add_meeting(database, GLOBEX, "Recent", NOW - timedelta(days=1), [("A", "We covered a lot today, SSO once.")])
    add_meeting(database, GLOBEX, "Latest", NOW, [("A", "Nothing relevant.")])

    # The recent calls hold enough matches for one hit...
    assert titles(search_calls(database, topic="SSO", limit=1)) == ["Recent"]
    # ...but not for two: then every call is searched and ranked.
    assert titles(search_calls(database, topic="SSO", limit=2)) == ["Old", "Recent"]
    # A topic only older calls mention is still found.
    assert titles(search_calls(database, topic="renewal")) == ["Old"]
    # Filters choose the pool: Acme's only call is in it.
    assert titles(search_calls(database, topic="SSO", account="acme", limit=1)) == ["Old"]


def test_participant_filter_takes_a_word_of_a_name(calls: Database) -> None:
    assert titles(search_calls(calls, topic=None, participant="tyler")) == ["Acme negotiation", "Acme discovery"]
    assert titles(search_calls(calls, topic="sso", participant=" PRIYA ")) == ["Globex demo"]
    assert search_calls(calls, topic="sso", participant="tyl") == []  # a whole word of the name
    assert count_calls(calls, participant="sarah") == 3
    assert count_calls(calls, participant="sarah", account="globex") == 1


def test_participant_named_finds_a_recent_participant_by_first_name(database: Database) -> None:
    add_meeting(database, ACME, "Older", NOW - timedelta(days=9), [("Daniel Brooks", "Hello.")])
    add_meeting(database, ACME, "Newer", NOW - timedelta(days=1), [("Daniel Ortiz", "Hi."), ("Sam Lee", "Hey.")])
    assert participant_named(database, "Daniel") == "Daniel Ortiz"  # the most recent call's
    assert participant_named(database, "sam") == "Sam Lee"
    assert participant_named(database, "ortiz") is None  # a first name
    assert participant_named(database, "d%") is None and participant_named(database, "x") is None


def test_account_names_outside_ascii_match_in_any_case(database: Database) -> None:
    add_meeting(database, ("societe", "Société Générale"), "Kickoff", NOW, [("A", "Kickoff agenda.")])
    assert titles(search_calls(database, topic="kickoff", account="SOCIÉTÉ  générale")) == ["Kickoff"]


# --- how the pool is applied ---------------------------------------------------------------------


POOL_QUERIES = ["sso", "pricing", "salesforce discount", '"audit logs"', "price seats", "nothing like it"]


@pytest.mark.parametrize("named", [True, False])
def test_naming_the_pool_in_the_query_or_not_finds_the_same(calls: Database, monkeypatch: pytest.MonkeyPatch,
                                                             named: bool) -> None:
    expected = {topic: search_calls(calls, topic=topic) for topic in POOL_QUERIES}
    monkeypatch.setattr("knowledge.search.SEGMENTS_PER_NAMED_MEETING", 0 if named else 10**9)
    for topic, hits in expected.items():
        assert search_calls(calls, topic=topic) == hits
        assert search_calls(calls, topic=topic, account="acme") == [hit for hit in hits if hit.account == "Acme Corp"]


@pytest.mark.parametrize("named", [True, False])
def test_numbers_are_searched_in_what_was_said_not_in_meeting_ids(database: Database, monkeypatch: pytest.MonkeyPatch,
                                                                   named: bool) -> None:
    monkeypatch.setattr("knowledge.search.SEGMENTS_PER_NAMED_MEETING", 0 if named else 10**9)
    first = add_meeting(database, ACME, "Kickoff", NOW - timedelta(days=2), [("A", "No figures were given.")])
    second = add_meeting(database, ACME, "Pricing", NOW - timedelta(days=1), [("A", f"We need {first + 40} seats.")])
    assert search_calls(database, topic=str(first)) == []
    assert search_calls(database, topic=str(second)) == []
    assert titles(search_calls(database, topic=str(first + 40))) == ["Pricing"]


def test_shorthand_finds_calls_that_say_it_in_full(database: Database) -> None:
    add_meeting(database, ACME, "Security", NOW - timedelta(days=2), [("Luis", "And the penetration test report?")])
    add_meeting(database, ACME, "Pricing", NOW - timedelta(days=1), [("Tom", "What about the price per seat?")])
    assert titles(search_calls(database, topic="pen test")) == ["Security"]
