"""Entities: people, accounts, catalog names, topics, time ranges and meeting kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from control_plane import Intent, TimeRange
from control_plane.entities import EntityExtractor
from control_plane.normalize import normalize
from control_plane.time_ranges import parse_time_range
from knowledge.vocabulary import KnownContact, KnownProduct, Vocabulary
from tests.support.control_plane import NOW

D = datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("calls from today", TimeRange(D(2025, 3, 5), D(2025, 3, 6), "today")),
        ("this morning's discovery call", TimeRange(D(2025, 3, 5), D(2025, 3, 6), "today")),
        ("yesterday's meeting", TimeRange(D(2025, 3, 4), D(2025, 3, 5), "yesterday")),
        ("calls this week", TimeRange(D(2025, 3, 3), D(2025, 3, 10), "this week")),
        ("calls last week", TimeRange(D(2025, 2, 24), D(2025, 3, 3), "last week")),
        ("this month", TimeRange(D(2025, 3, 1), D(2025, 4, 1), "this month")),
        ("last month", TimeRange(D(2025, 2, 1), D(2025, 3, 1), "last month")),
        ("recent calls", TimeRange(D(2025, 2, 4), D(2025, 3, 6), "recent")),
        ("the last 14 days", TimeRange(D(2025, 2, 20), D(2025, 3, 6), "last 14 days")),
        ("the call on tuesday", TimeRange(D(2025, 3, 4), D(2025, 3, 5), "Tuesday")),
        ("wednesday's call", TimeRange(D(2025, 3, 5), D(2025, 3, 6), "Wednesday")),  # today counts
        ("thursday", TimeRange(D(2025, 2, 27), D(2025, 2, 28), "Thursday")),
        ("calls in q1", TimeRange(D(2025, 1, 1), D(2025, 4, 1), "Q1")),
        ("calls in q3", TimeRange(D(2024, 7, 1), D(2024, 10, 1), "Q3")),  # not started this year: last year's
        ("q4 2023 renewals", TimeRange(D(2023, 10, 1), D(2024, 1, 1), "Q4 2023")),
        ("this quarter", TimeRange(D(2025, 1, 1), D(2025, 4, 1), "this quarter")),
        ("last quarter", TimeRange(D(2024, 10, 1), D(2025, 1, 1), "last quarter")),
        ("last year", TimeRange(D(2024, 1, 1), D(2025, 1, 1), "last year")),
        ("pricing for the pro plan", None),
    ],
)
def test_time_expressions_become_naive_utc_ranges_relative_to_now(text: str, expected: TimeRange | None) -> None:
    assert parse_time_range(text, NOW) == expected


def test_an_aware_now_is_converted_to_utc() -> None:
    # 01:00 on the 6th in UTC+2 is still the 5th in UTC.
    aware = datetime(2025, 3, 6, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_time_range("today", aware) == TimeRange(D(2025, 3, 5), D(2025, 3, 6), "today")
    assert parse_time_range("today", NOW.replace(tzinfo=UTC)) == parse_time_range("today", NOW)


def extract(extractor: EntityExtractor, text: str, intent: Intent) -> dict[str, object]:
    return extractor.extract(normalize(text), intent, NOW).as_json()


@pytest.fixture(scope="module")
def extractor(demo_vocabulary: Vocabulary) -> EntityExtractor:
    return EntityExtractor(demo_vocabulary)


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("summarize my last call with acme", Intent.MEETING_SUMMARY, {"account": "Acme Corp"}),
        ("what did we agree on in the last Umbrella meeting", Intent.MEETING_SUMMARY, {"account": "Umbrella Health"}),
        ("find calls with MERIDIAN about returns", Intent.CALL_SEARCH, {"account": "Meridian Retail Group", "topic": "returns"}),
        ("any calls last week about the renewal with Globex?", Intent.CALL_SEARCH,
         {"account": "Globex", "topic": "renewal", "time_range": {"start": "2025-02-24T00:00:00",
                                                                   "end": "2025-03-03T00:00:00", "label": "last week"}}),
        ("search calls for \"data residency\"", Intent.CALL_SEARCH, {"topic": "data residency"}),
        ("search transcripts for 'multi-year discount' from Hooli", Intent.CALL_SEARCH,
         {"topic": "multi-year discount", "account": "Hooli"}),
        ("find calls where customers mentioned SOC 2", Intent.CALL_SEARCH, {"topic": "SOC 2"}),
        ("find recent meetings where budget came up", Intent.CALL_SEARCH, {"topic": "budget", "time_range": {
            "start": "2025-02-04T00:00:00", "end": "2025-03-06T00:00:00", "label": "recent"}}),
        ("which calls mentioned the Salesforce integration this month", Intent.CALL_SEARCH,
         {"topic": "Salesforce integration"}),
        ("did anyone mention a competitor on calls this week?", Intent.CALL_SEARCH, {"topic": "competitor"}),
        ("search calls: onboarding delays", Intent.CALL_SEARCH, {"topic": "onboarding delays"}),
        ("find every discovery call where budget was discussed", Intent.CALL_SEARCH,
         {"topic": "budget", "meeting_kind": "discovery"}),
        ("recap the Hooli kick-off", Intent.MEETING_SUMMARY, {"account": "Hooli", "meeting_kind": "kickoff"}),
        ("summary of the quarterly business review with Initech", Intent.MEETING_SUMMARY,
         {"account": "Initech", "meeting_kind": "qbr"}),
        ("notes from the security review call with Kestrel", Intent.MEETING_SUMMARY,
         {"account": "Kestrel Financial", "meeting_kind": "security-review"}),
        ("draft an email to Tyler", Intent.DRAFT_EMAIL, {"person": "Tyler"}),
        ("write an email to tyler about pricing", Intent.DRAFT_EMAIL, {"person": "Tyler", "topic": "pricing"}),
        ("write a polite nudge to Marcus about the signed order form", Intent.DRAFT_EMAIL,
         {"person": "Marcus", "topic": "signed order form"}),
        ("compose a short email to Rosa Diaz about the pilot", Intent.DRAFT_EMAIL, {"person": "Rosa Diaz"}),
        ("compose an email to <mailto:Jane@Acme.com|Jane@Acme.com> recapping our call", Intent.DRAFT_EMAIL,
         {"person": "jane@acme.com"}),
        ("email Priya a summary of the security questions", Intent.DRAFT_EMAIL, {"person": "Priya"}),
        ("draft a reply to Elena's question about SSO", Intent.DRAFT_EMAIL, {"person": "Elena", "topic": "SSO"}),
        ("draft a thank-you note to the Globex team", Intent.DRAFT_EMAIL, {"person": None, "account": "Globex"}),
        ("draft a breakup email to Vandelay Industries", Intent.DRAFT_EMAIL,
         {"person": None, "account": "Vandelay Industries"}),
        ("give me the key points from the call with Tyler on Tuesday", Intent.MEETING_SUMMARY, {"person": "Tyler"}),
        ("recap my call with Rosa", Intent.MEETING_SUMMARY, {"person": "Rosa"}),
        ("what does the Pro plan cost?", Intent.PRODUCT_QUESTION, {"plans": ["Pro"], "product": None}),
        ("compare the team and enterprise plans", Intent.PRODUCT_QUESTION, {"plans": ["Team", "Enterprise"]}),
        ("does Beacon integrate with HubSpot", Intent.PRODUCT_QUESTION, {"product": "Beacon"}),
        ("how much is ledger per month", Intent.PRODUCT_QUESTION, {"product": "Ledger"}),
        # Plan names are common words: outside product questions they need capitals or a plan word.
        ("draft a note to the team about the offsite", Intent.DRAFT_EMAIL, {"plans": []}),
        ("find calls about the Enterprise plan", Intent.CALL_SEARCH, {"plans": ["Enterprise"]}),
        ("pricing for starter vs pro", Intent.PRODUCT_QUESTION, {"plans": ["Starter", "Pro"]}),
        # A price per seat is no seat count, nor is "2k viewers" two of them
        ("is 149 a seat right for enterprise", Intent.PRODUCT_QUESTION, {"plans": ["Enterprise"], "quantity": None}),
        ("atlas startup for about 2k viewers", Intent.PRODUCT_QUESTION, {"quantity": None}),
        ("before the invoice: growth 35 seats annual", Intent.PRODUCT_QUESTION, {"plans": ["Growth"], "quantity": 35}),
    ],
)
def test_entities_from_demo_vocabulary(extractor: EntityExtractor, text: str, intent: Intent,
                                       expected: dict[str, object]) -> None:
    got = extract(extractor, text, intent)
    assert {key: got[key] for key in expected} == expected


def test_a_first_name_alone_counts_only_when_capitalized() -> None:
    vocabulary = Vocabulary(accounts=("Acme Corp",), contacts=(KnownContact("Mark Stone", "mark@acme.com", "Acme Corp"),))
    extractor = EntityExtractor(vocabulary)
    assert extract(extractor, "what did Mark say in the last call", Intent.MEETING_SUMMARY)["person"] == "Mark"
    assert extract(extractor, "mark the acme call as done", Intent.MEETING_SUMMARY)["person"] is None
    assert extract(extractor, "recap the call with mark stone", Intent.MEETING_SUMMARY)["person"] == "Mark Stone"


def test_an_empty_vocabulary_still_finds_people_topics_and_times() -> None:
    extractor = EntityExtractor(Vocabulary())
    got = extract(extractor, "write a follow-up email to Sarah about the pricing proposal", Intent.DRAFT_EMAIL)
    assert (got["person"], got["topic"], got["account"], got["plans"]) == ("Sarah", "pricing proposal", None, [])
    got = extract(extractor, "search recent calls about pricing", Intent.CALL_SEARCH)
    assert got["topic"] == "pricing" and got["time_range"]["label"] == "recent"


def test_canonical_names_accept_any_alias(extractor: EntityExtractor) -> None:
    assert extractor.canonical_account("acme") == "Acme Corp"
    assert extractor.canonical_account("UMBRELLA") == "Umbrella Health"
    assert extractor.canonical_account("Wonka") is None
    assert extractor.canonical_product("orbit") == "Orbit"
    assert extractor.canonical_plan("enterprise") == "Enterprise"
    assert extractor.canonical_meeting_kind("Kick-off") == "kickoff"


def test_topics_are_only_for_searches_and_emails(extractor: EntityExtractor) -> None:
    assert extract(extractor, "what did Acme say about pricing in the last call", Intent.MEETING_SUMMARY)["topic"] is None
    assert extract(extractor, "what did customers say about pricing in calls", Intent.CALL_SEARCH)["topic"] == "pricing"


def test_an_account_is_found_among_thousands() -> None:
    accounts = tuple(f"Company {n:05d}" for n in range(5000)) + ("Wonka Industries",)
    extractor = EntityExtractor(Vocabulary(accounts=accounts, products=(KnownProduct("Orbit", "orbit"),)))
    got = extract(extractor, "recap the call with Wonka", Intent.MEETING_SUMMARY)
    assert got["account"] == "Wonka Industries"
    assert extract(extractor, "recap the call with company 04242", Intent.MEETING_SUMMARY)["account"] == "Company 04242"


def test_an_accounts_possessive_without_apostrophe_names_it_even_when_it_is_a_word() -> None:
    """"umbrellas budget": Umbrella Health's, though "umbrellas" is an English word; "teams" stays a word."""
    from control_plane.spelling import Speller

    speller = Speller()
    speller.add(["umbrella"], "account")
    speller.add(["team"], "plan")
    corrected = speller.correct("umbrellas")
    assert corrected is not None and corrected.spelling == "umbrella" and not corrected.typo
    assert speller.correct("teams") is None
