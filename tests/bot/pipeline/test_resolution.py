"""Meeting resolution: the frame's account, person, kind and time, then the meeting meant, with indexed queries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.pipeline.resolution import MeetingResolver
from control_plane import ControlPlane, ControlPlaneConfig
from control_plane.intents import Intent
from control_plane.thread import ThreadContext
from knowledge.db import Database
from knowledge.meetings import (
    MeetingResolution,
    find_meetings,
    get_meeting,
    meeting_transcript,
)
from knowledge.models import Account, Contact, Meeting, TranscriptSegment
from knowledge.vocabulary import load_vocabulary

NOW = datetime(2026, 3, 12, 15, 0)  # a Thursday


@pytest.fixture
def calls(database: Database) -> Database:
    """Two accounts with contacts and a handful of meetings around NOW."""
    with database.session() as session:
        acme = Account(slug="acme", name="Acme Corp")
        globex = Account(slug="globex", name="Globex")
        session.add_all([acme, globex])
        session.flush()
        session.add_all(
            [
                Contact(account_id=acme.id, name="Tyler Brooks", email="tyler@acme.example"),
                Contact(account_id=acme.id, name="Sarah Lopez", email="sarah@acme.example"),
                Contact(account_id=globex.id, name="Sarah Kim", email="sarah.kim@globex.example"),
                Contact(account_id=globex.id, name="Will Park", email="will@globex.example"),
            ]
        )

        def meeting(account: Account, title: str, kind: str, when: datetime, people: list[str]) -> Meeting:
            return Meeting(
                external_id=f"{account.slug}-{title}", account_id=account.id, title=title, kind=kind,
                started_at=when.replace(tzinfo=UTC), participants=people,  # the ORM column wants aware UTC summary=f"Summary of {title}.",
                decisions=[f"Decided on {title}"], action_items=[f"Follow up on {title}"],
            )

        session.add_all(
            [
                meeting(acme, "Acme discovery", "discovery", NOW - timedelta(days=20), ["Tyler Brooks", "Dana (us)"]),
                meeting(acme, "Acme demo", "demo", NOW - timedelta(days=2), ["Tyler Brooks", "Dana (us)"]),
                meeting(acme, "Acme pricing", "negotiation", NOW - timedelta(hours=5), ["Sarah Lopez", "Dana (us)"]),
                meeting(globex, "Globex demo one", "demo", NOW - timedelta(days=1, hours=3), ["Sarah Kim"]),
                meeting(globex, "Globex demo two", "demo", NOW - timedelta(days=1, hours=1), ["Will Park"]),
                meeting(globex, "Globex QBR", "qbr", NOW + timedelta(days=3), ["Sarah Kim"]),  # not held yet
            ]
        )
        session.flush()
        first = session.exec(select(Meeting).where(Meeting.title == "Acme demo")).one()
        session.add_all(
            [
                TranscriptSegment(meeting_id=first.id, seq=2, speaker="Tyler Brooks", text="What about SSO?"),
                TranscriptSegment(meeting_id=first.id, seq=1, speaker="Dana", text="Welcome to the demo."),
            ]
        )
        session.commit()
    return database


@pytest.fixture
def resolver(calls: Database) -> MeetingResolver:
    plane = ControlPlane(ControlPlaneConfig(), load_vocabulary(calls), None)
    return MeetingResolver(calls, plane.names)


@pytest.fixture
def plane(resolver: MeetingResolver) -> ControlPlane:
    return ControlPlane(ControlPlaneConfig(), resolver.names.vocabulary, None)


def resolve(resolver: MeetingResolver, text: str, intent: Intent = Intent.MEETING_SUMMARY,
            thread: ThreadContext | None = None) -> MeetingResolution:
    """The text read as `intent` in `thread`, then resolved: what the pipeline does."""
    plane = ControlPlane(ControlPlaneConfig(), resolver.names.vocabulary, None)
    decision = plane.classify(text, NOW)
    if decision.intent is not intent:
        assert decision.text is not None
        decision = replace(decision, intent=intent, entities=plane.entities.extract(decision.text, intent, NOW))
    frame = plane.frame(decision, thread or ThreadContext(), NOW)
    return resolver.resolve(frame, decision.normalized_text, NOW)


def test_the_frame_finds_accounts_by_short_name_contacts_and_kinds(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "recap the ACME demo with Tyler")
    assert resolution.account == "Acme Corp"
    assert resolution.contact is not None and resolution.contact.name == "Tyler Brooks"
    assert resolution.kind == "demo"


def test_a_first_name_that_is_also_a_word_needs_a_capital_or_a_cue(resolver: MeetingResolver) -> None:
    assert resolve(resolver, "what will the price be", Intent.DRAFT_EMAIL).contact is None
    emailed = resolve(resolver, "email Will about it", Intent.DRAFT_EMAIL).contact
    assert emailed is not None and emailed.name == "Will Park"
    lower = resolve(resolver, "draft a note to will", Intent.DRAFT_EMAIL).contact
    assert lower is not None and lower.name == "Will Park"


def test_last_call_with_an_account_is_its_most_recent_past_meeting(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "summarize my last call with Acme")
    assert resolution.meeting is not None and resolution.meeting.title == "Acme pricing"
    assert resolution.candidates == ()


def test_kind_narrows_the_meeting(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "what were the action items from the Acme demo?")
    assert resolution.meeting is not None and resolution.meeting.title == "Acme demo"


def test_a_contact_finds_their_account_and_meetings(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "key points from the call with Tyler")
    assert resolution.account == "Acme Corp"
    assert resolution.meeting is not None and resolution.meeting.title == "Acme demo"


def test_two_meetings_in_the_time_range_are_offered_as_candidates(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "recap yesterday's meeting with Globex")
    assert resolution.meeting is None
    assert [m.title for m in resolution.candidates] == ["Globex demo two", "Globex demo one"]
    assert "Globex" in resolution.searched and "yesterday" in resolution.searched


def test_nothing_in_the_time_range_offers_the_closest_meetings(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "recap yesterday's call with Acme")
    assert resolution.meeting is None
    assert [m.title for m in resolution.candidates][:1] == ["Acme pricing"]


def test_future_meetings_are_never_resolved(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "summary of the Globex QBR")
    assert resolution.meeting is None
    assert all(m.started_at <= NOW for m in resolution.candidates)


def test_no_reference_and_no_memory_lists_recent_meetings(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "summarize the meeting")
    assert resolution.meeting is None and len(resolution.candidates) >= 3


def test_a_follow_up_reuses_the_meeting_in_memory(resolver: MeetingResolver, calls: Database) -> None:
    demo = find_meetings(calls, kind="demo", participant="tyler")[0]
    thread = ThreadContext(last_intent="meeting_summary", account="Acme Corp", meeting_id=demo.id)
    resolution = resolve(resolver, "what were the action items?", thread=thread)
    assert resolution.meeting is not None and resolution.meeting.id == demo.id
    drafted = resolve(resolver, "draft an email to Tyler about it", Intent.DRAFT_EMAIL, thread=thread)
    assert drafted.meeting is not None and drafted.meeting.id == demo.id
    assert drafted.contact is not None and drafted.contact.email == "tyler@acme.example"


def test_draft_to_a_shared_first_name_prefers_the_account_named(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "draft an email to Sarah at Globex", Intent.DRAFT_EMAIL)
    assert resolution.contact is not None and resolution.contact.name == "Sarah Kim"
    assert [c.name for c in resolution.namesakes] == ["Sarah Lopez"]


def test_an_email_address_resolves_its_account_by_domain(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "compose an email to jane@acme.example", Intent.DRAFT_EMAIL)
    assert resolution.account == "Acme Corp"
    assert resolution.meeting is not None and resolution.meeting.title == "Acme pricing"


def test_a_draft_to_another_account_does_not_reuse_the_thread_meeting(resolver: MeetingResolver, calls: Database) -> None:
    demo = find_meetings(calls, kind="demo", participant="tyler")[0]
    thread = ThreadContext(last_intent="meeting_summary", account="Acme Corp", meeting_id=demo.id)
    drafted = resolve(resolver, "draft a follow-up to Will Park", Intent.DRAFT_EMAIL, thread=thread)
    assert drafted.account == "Globex"
    assert drafted.meeting is not None and drafted.meeting.account == "Globex"


def test_other_intents_run_no_meeting_query(resolver: MeetingResolver) -> None:
    resolution = resolve(resolver, "calls with Acme about pricing", Intent.CALL_SEARCH)
    assert resolution.account is not None and resolution.meeting is None and resolution.candidates == ()


def test_meeting_details_and_transcript_in_order(calls: Database) -> None:
    demo = find_meetings(calls, kind="demo", participant="TYLER")[0]
    detail = get_meeting(calls, demo.id)
    assert detail is not None and detail.action_items == ("Follow up on Acme demo",)
    assert meeting_transcript(calls, demo.id) == [("Dana", "Welcome to the demo."), ("Tyler Brooks", "What about SSO?")]
    assert get_meeting(calls, 10_000) is None
