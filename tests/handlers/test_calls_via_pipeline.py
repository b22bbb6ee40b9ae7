"""call_search, meeting_summary and draft_email on the demo calls, with and without the LLM, asked through the
pipeline (each handler on a frame of its own: test_call_search.py, test_meeting_summary.py, test_draft_email.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.pipeline import Pipeline
from knowledge.db import Database
from knowledge.meetings import MeetingRef, find_meetings, get_meeting
from knowledge.search import search_calls
from tests.handlers.conftest import Rows
from tests.support.fake_openai import FakeOpenAI
from tests.support.pipeline import NOW, RecordingSink, answer_requests, ask, message_text

# --- call_search --------------------------------------------------------------------------------


async def test_search_lists_the_best_calls_with_a_highlighted_snippet(offline: Pipeline, demo_db: Database) -> None:
    hits = search_calls(demo_db, topic="pricing", limit=5)
    assert hits
    reply = await ask(offline, "search all recent calls about pricing")
    assert reply.handler == "call_search"
    for hit in hits[:3]:
        assert hit.title in reply.plain and hit.account in reply.plain
    assert "\x02" not in reply.mrkdwn and "\x03" not in reply.mrkdwn
    assert "*pricing*" in reply.mrkdwn.lower() or "*price" in reply.mrkdwn.lower()  # the match is bold


async def test_search_filters_by_account(offline: Pipeline, demo_db: Database) -> None:
    reply = await ask(offline, "look up calls with Initech about onboarding")
    listed = [line for line in reply.plain.splitlines() if line[:2].rstrip(".").isdigit()]
    assert listed and all("Initech" in line for line in listed)


async def test_no_calls_found_says_what_was_searched_and_suggests(offline: Pipeline) -> None:
    reply = await ask(offline, "find calls about zeppelin maintenance with Globex")
    assert "No calls found" in reply.plain
    assert "zeppelin" in reply.plain and "Globex" in reply.plain
    assert "Try" in reply.plain


@pytest.mark.parametrize(
    "text",
    [
        'search calls for "pricing',
        "find calls about pricing*",
        "search calls about AND OR NOT",
        "find calls mentioning NEAR(pricing security, 3)",
        "search calls about ((budget)",
        "find calls about '; DROP TABLE meeting; --",
        "search calls about \" OR 1=1 --",
        'search calls for "" * ^ : -',
        "find calls about transcript_fts MATCH 'x'",
    ],
)
async def test_fts_hostile_input_is_searched_as_words_never_an_error(offline: Pipeline, demo_db: Database, text: str) -> None:
    reply = await ask(offline, text)
    assert not reply.failed, reply.plain
    assert reply.handler == "call_search"
    assert find_meetings(demo_db, limit=1)  # the tables are still there


async def test_a_search_follow_up_keeps_the_account_and_changes_the_topic(offline: Pipeline) -> None:
    await ask(offline, "look up calls with Initech about onboarding", thread="shell:f")
    reply = await ask(offline, "and what about pricing?", thread="shell:f")
    assert reply.handler == "call_search"
    assert "pricing" in reply.plain.splitlines()[0] and "Initech" in reply.plain.splitlines()[0]


# --- meeting_summary ------------------------------------------------------------------------------


async def test_last_call_with_an_account_is_summarized_with_date_and_participants(
    offline: Pipeline, demo_db: Database
) -> None:
    (latest,) = find_meetings(demo_db, account="Acme Corp", end=NOW, limit=1)
    detail = get_meeting(demo_db, latest.id)
    assert detail is not None
    reply = await ask(offline, "summarize my last call with Acme")
    assert reply.handler == "meeting_summary"
    assert latest.title in reply.plain and detail.summary[:50] in reply.plain
    assert all(p in reply.plain for p in latest.participants)
    assert all(item in reply.plain for item in detail.action_items)
    assert "Action items" in reply.plain


async def test_a_meeting_that_cannot_be_told_apart_lists_candidates(offline: Pipeline) -> None:
    reply = await ask(offline, "summarize the meeting")
    assert "Which meeting do you mean" in reply.plain
    assert reply.plain.count("\n1. ") + reply.plain.count("\n2. ") == 2


async def test_a_recap_follow_up_reuses_the_meeting(offline: Pipeline, demo_db: Database) -> None:
    first = await ask(offline, "what were the action items from the Initech demo?", thread="shell:m")
    again = await ask(offline, "and the decisions?", thread="shell:m")
    assert again.handler == "meeting_summary"
    assert first.plain.splitlines()[0] == again.plain.splitlines()[0]


async def test_with_the_llm_the_summary_is_written_from_the_transcript(
    online: Pipeline, llm_server: FakeOpenAI, demo_db: Database
) -> None:
    (latest,) = find_meetings(demo_db, account="Acme Corp", end=NOW, limit=1)
    reply = await ask(online, "summarize my last call with Acme")
    assert "*From the model:*" in reply.mrkdwn
    assert latest.title in reply.plain  # the header with date and participants stays
    (request,) = answer_requests(llm_server)
    assert "Transcript:" in message_text(request, "user")
    again = await ask(online, "summarize my last call with Acme", thread="shell:other")
    assert again.plain == reply.plain and len(answer_requests(llm_server)) == 1  # cached


async def test_a_streamed_summary_starts_with_its_header(online: Pipeline) -> None:
    sink = RecordingSink()
    reply = await ask(online, "summarize my last call with Acme", sink=sink)
    assert reply.streamed
    assert sink.chunks[0].startswith("**Acme Corp**")
    assert sink.text.endswith("[link](https://example.com/x).")


# --- draft_email ----------------------------------------------------------------------------------


async def test_a_draft_to_a_contact_is_grounded_in_their_latest_meeting(offline: Pipeline, demo_db: Database) -> None:
    meetings = find_meetings(demo_db, participant="Tyler", end=NOW, limit=1)
    assert meetings
    reply = await ask(offline, "draft an email to Tyler")
    assert reply.handler == "draft_email"
    assert "Hi Tyler," in reply.plain and "Subject:" in reply.plain
    assert "never sends email" in reply.plain
    assert meetings[0].title in reply.plain
    detail = get_meeting(demo_db, meetings[0].id)
    assert detail is not None and all(item in reply.plain for item in detail.action_items)


async def test_a_draft_to_an_email_address_finds_the_contact(offline: Pipeline) -> None:
    reply = await ask(offline, "compose an email to jane@acme.com recapping our call")
    assert "jane@acme.com" in reply.plain and "Hi Jane," in reply.plain
    assert "Acme" in reply.plain


async def test_a_draft_about_it_after_a_product_question_quotes_the_price(offline: Pipeline) -> None:
    answer = await ask(offline, "What does the Pro plan cost?", thread="shell:d")
    draft = await ask(offline, "draft an email to Tyler about it", thread="shell:d")
    price = next(word for word in answer.plain.split() if word.startswith("$"))
    assert price.rstrip(",.") in draft.plain and "Pro" in draft.plain


async def test_with_the_llm_the_draft_is_written_from_the_facts(online: Pipeline, llm_server: FakeOpenAI) -> None:
    reply = await ask(online, "write a follow-up email to Sarah about the pricing proposal")
    assert "*From the model:*" in reply.mrkdwn
    assert reply.plain.startswith("Draft email to Sarah")
    (request,) = answer_requests(llm_server)
    facts = message_text(request, "user")
    assert "Recipient: Sarah" in facts and "pricing proposal" in facts
    assert "pricing proposal" not in message_text(request, "system")


# Answers from an account's meetings (handlers.meeting_answers) ------------------------------------------


def _ref(meeting_id: int, title: str, kind: str = "negotiation", participants: tuple[str, ...] = ()) -> MeetingRef:
    from datetime import datetime

    return MeetingRef(meeting_id, 1, "Globex", title, kind, datetime(2024, 1, meeting_id), 30, participants)


def test_near_words_forms_and_typos_but_not_other_numbers() -> None:
    from handlers.meeting_answers import _near

    assert _near("agree", "agreed") and _near("price", "pricing")
    assert _near("notificaton", "notification") and _near("contarct", "contract") and _near("effected", "affected")
    assert not _near("12", "18") and not _near("term", "team")


def test_best_passages_quote_the_note_that_answers_and_prefer_the_named_meeting() -> None:
    from handlers.meeting_answers import best_passages, passages_of, read_question
    from knowledge.meetings import MeetingDetail

    planning = _ref(1, "Globex renewal planning", "renewal", ("Elena Petrova", "Daniel Ortiz"))
    terms_call = _ref(2, "Globex renewal terms", "negotiation", ("Elena Petrova", "Daniel Ortiz"))
    meetings = [
        (MeetingDetail(terms_call, "Elena accepted 12% for three years.", ("Net 60 payment terms accepted",), ()),
         [("Elena Petrova", "One condition: payment terms of net 60 rather than net 30."),
          ("Daniel Ortiz", "I can agree to net 60.")]),
        (MeetingDetail(planning, "Planning the renewal shape.", (), ()),
         [("Daniel Ortiz", "Payment is usually by card.")]),
    ]
    question = read_question("what payment terms did we agree to", ["Globex"], [planning, terms_call])
    found = best_passages(question, passages_of(meetings), preferred=frozenset({2}))
    assert found and all(p.meeting.id == 2 for p in found)
    assert any("net 60" in p.text.lower() for p in found)
    # A question about what someone said favours their own words.
    asked = read_question("what did elena say about payment", ["Globex"], [planning, terms_call])
    assert best_passages(asked, passages_of(meetings))[0].speaker == "Elena Petrova"
    # Nothing in the meetings shares a content word: no answer, the recap is given instead.
    assert best_passages(read_question("any word on kubernetes", ["Globex"], [planning]), passages_of(meetings)) == []


async def test_what_no_meeting_mentions_is_said_before_the_latest_recap(offline: Pipeline, demo_db: Database) -> None:
    """"what was hooli's budget": Hooli's meetings never mention a budget; say so, then recap the latest."""
    latest = find_meetings(demo_db, account="Hooli", end=NOW, limit=1)[0]
    reply = await ask(offline, "what was hooli's budget")
    assert "don't find anything on “budget” in the Hooli meetings" in reply.plain
    assert latest.title in reply.plain
    reply = await ask(offline, "what was acme's budget", thread="shell:acme-budget")
    assert "don't find anything" not in reply.plain and "budget" in reply.plain.lower()


async def test_how_many_after_what_an_account_agreed_is_about_the_account(offline: Pipeline) -> None:
    await ask(offline, "what discount did we give globex", thread="shell:globex-seats")
    reply = await ask(offline, "how many seats", thread="shell:globex-seats")
    assert "450 seats" in reply.plain and "Seats by plan" not in reply.plain


async def test_a_follow_up_search_keeps_the_topic_and_narrows_it(offline: Pipeline) -> None:
    await ask(offline, "calls about pricing", thread="shell:narrow")
    reply = await ask(offline, "which ones were with acme", thread="shell:narrow")
    assert reply.plain.startswith("Calls about “pricing” with Acme Corp")
    listed = [line for line in reply.plain.splitlines() if line[:2].rstrip(".").isdigit()]
    assert listed and all("Acme Corp:" in line for line in listed)


async def test_a_question_after_a_search_is_answered_from_the_call_found(offline: Pipeline) -> None:
    await ask(offline, "find the call about the bulk export endpoint", thread="shell:found")
    reply = await ask(offline, "why are they switching to it", thread="shell:found")
    assert reply.handler == "meeting_summary" and "rate limit" in reply.plain


async def test_a_drafts_topic_chooses_the_meeting_it_is_grounded_in(offline: Pipeline, demo_db: Database) -> None:
    review = find_meetings(demo_db, account="Acme Corp", kind="security-review", end=NOW, limit=1)[0]
    latest = find_meetings(demo_db, account="Acme Corp", end=NOW, limit=1)[0]
    assert latest.id != review.id, "the topic's meeting must not be the latest for this test to mean anything"
    reply = await ask(offline, "draft a note to luis about the security questionnaire")
    assert f"Based on: Acme Corp, {review.title}" in reply.plain


async def test_objections_are_found_as_the_meetings_word_them(offline: Pipeline) -> None:
    reply = await ask(offline, "any pushback from acme?")
    assert "pushed back" in reply.plain


async def test_who_is_a_contact_gives_their_title_account_and_meetings(offline: Pipeline, demo_db: Database) -> None:
    meetings = find_meetings(demo_db, participant="Sofia Romano", end=NOW, limit=3)
    reply = await ask(offline, "who is sofia romano")
    assert reply.plain.startswith("Sofia Romano: ") and meetings[0].account in reply.plain.splitlines()[0]
    assert all(meeting.title in reply.plain for meeting in meetings)


async def test_a_possessive_shorthand_day_names_the_day(offline: Pipeline, demo_db: Database) -> None:
    yesterday = find_meetings(demo_db, account="Globex", start=NOW.replace(hour=0, minute=0) - timedelta(days=1),
                              end=NOW.replace(hour=0, minute=0), limit=1)
    assert yesterday, "the demo data has a Globex call yesterday"
    reply = await ask(offline, "recap yday's globex call")
    assert yesterday[0].title in reply.plain.splitlines()[0]


async def test_a_draft_after_a_call_the_contact_missed_uses_their_own_meeting(offline: Pipeline, demo_db: Database) -> None:
    hers = find_meetings(demo_db, account="Globex", participant="Elena Petrova", end=NOW, limit=1)[0]
    latest = find_meetings(demo_db, account="Globex", end=NOW, limit=1)[0]
    assert "Elena Petrova" not in latest.participants, "the test needs a latest call Elena was not on"
    await ask(offline, f"recap the {latest.title}", thread="shell:missed")
    reply = await ask(offline, "draft elena a f/u", thread="shell:missed")
    assert f"Based on: Globex, {hers.title}" in reply.plain


async def test_a_bare_topic_after_a_meeting_answer_is_about_that_account(offline: Pipeline) -> None:
    await ask(offline, "globex renewal - what discount did they land on", thread="shell:terms")
    reply = await ask(offline, "payment terms?", thread="shell:terms")
    assert reply.handler == "meeting_summary" and "net 60" in reply.plain.lower()


async def test_a_catalog_question_after_a_draft_is_answered_from_the_catalog(offline: Pipeline, demo_db: Database) -> None:
    await ask(offline, "write a quick follow-up to Priya Raman w/ the SOC 2 report", thread="shell:draft-then")
    reply = await ask(offline, "also whats the uptime sla on enterprise", thread="shell:draft-then")
    assert reply.handler == "product_question" and "Draft email" not in reply.plain


async def test_short_typos_of_names_are_read(offline: Pipeline, demo_db: Database) -> None:
    latest = find_meetings(demo_db, account="Acme Corp", end=NOW, limit=1)[0]
    reply = await ask(offline, "recap my last call with acmee")
    assert "I read “acmee” as Acme Corp" in reply.plain and latest.title in reply.plain
    reply = await ask(offline, "draft a follow up email to Tylr Nguyen about the bulk export")
    assert "Draft email to Tyler Nguyen" in reply.plain


async def test_a_draft_to_someone_unknown_is_grounded_in_no_meeting(offline: Pipeline) -> None:
    reply = await ask(offline, "draft a follow up email to Zorp Quux about pricing")
    assert "Based on:" not in reply.plain


async def test_calls_with_a_contact_are_the_calls_they_were_on(offline: Pipeline, demo_db: Database) -> None:
    theirs = find_meetings(demo_db, account="Kestrel Financial", participant="Henrik Larsen", end=NOW, limit=20)
    others = [m for m in find_meetings(demo_db, account="Kestrel Financial", end=NOW, limit=20) if m not in theirs]
    assert others, "the test needs a Kestrel call Henrik was not on"
    reply = await ask(offline, "kestrel calls w henrik")
    assert all(m.title in reply.plain for m in theirs[:5]) and not any(m.title in reply.plain for m in others)


async def test_whats_on_someones_plate_is_their_action_items(offline: Pipeline, demo_db: Database) -> None:
    latest = find_meetings(demo_db, account="Hooli", end=NOW, limit=1)[0]
    detail = get_meeting(demo_db, latest.id)
    assert detail is not None
    theirs = [item for item in detail.action_items if item.lower().startswith("tyler ")]
    assert theirs, "the test needs an action item of Tyler's"
    await ask(offline, "recap the last hooli call", thread="shell:plate")
    reply = await ask(offline, "whats on tylers plate", thread="shell:plate")
    assert reply.plain.splitlines()[1].startswith(f"• {theirs[0]} (")
    reply = await ask(offline, "what is tyler on the hook for", thread="shell:plate")
    assert reply.plain.splitlines()[1].startswith(f"• {theirs[0]} (")


async def test_a_meetings_details_are_its_recap(offline: Pipeline, demo_db: Database) -> None:
    """"hooli contract details?": the contract review, recapped, not lines that happen to say "details"."""
    review = find_meetings(demo_db, account="Hooli", kind="negotiation", end=NOW, limit=1)[0]
    reply = await ask(offline, "hooli contract details?")
    assert reply.plain.startswith(f"Hooli: {review.title}")


async def test_a_deal_asked_what_it_is_worth_is_quoted_from_its_meetings(offline: Pipeline, demo_db: Database,
                                                                        demo_rows: Rows) -> None:
    """ "whats the hooli contract worth per year": the deal its meetings state (plan, seats, discount), priced."""
    details = [get_meeting(demo_db, m.id) for m in find_meetings(demo_db, account="Hooli", end=NOW, limit=20)]
    decisions = [line for detail in details if detail is not None for line in detail.decisions]
    stated = next(line for line in decisions if "seats" in line and "%" in line)  # "Orbit Enterprise, 300 seats, ..., 10% discount"
    seats = int(stated.split(" seats")[0].split()[-1])
    off = int(stated.split("%")[0].split()[-1])
    reply = await ask(offline, "whats the hooli contract worth per year")
    assert reply.intent == "meeting_summary" and stated in reply.plain
    enterprise = next(row for row in demo_rows["plans"] if row["product"] == "orbit" and row["slug"] == "enterprise")
    assert "Enterprise" in stated
    list_price = seats * int(enterprise["price_cents"]) // 100 * 12
    assert f"${list_price * (100 - off) // 100:,}" in reply.plain
