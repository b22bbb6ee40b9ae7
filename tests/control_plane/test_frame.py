"""The frame of a message in its thread: typed slots win, the thread fills only what the intent uses."""

from __future__ import annotations

import json

import pytest

from control_plane import ControlPlane, Intent
from control_plane.frame import Frame
from control_plane.thread import ThreadContext
from knowledge.vocabulary import Vocabulary
from tests.support.control_plane import NOW, offline_plane

PRO_PRICE = ThreadContext(last_intent="product_question", product="orbit", plan="Pro", aspect="price")
GROWTH_LIMITS = ThreadContext(last_intent="product_question", product="orbit", plan="Growth", aspect="limits")
TEAM_PRICE = ThreadContext(last_intent="product_question", product="orbit", plan="Team", aspect="price")
COMPARED = ThreadContext(last_intent="product_question", product="orbit", plan="Growth", aspect="compare")
GLOBEX_RECAP = ThreadContext(last_intent="meeting_summary", account="Globex", person="Marcus Hale", meeting_id=7)


@pytest.fixture(scope="module")
def plane(demo_vocabulary: Vocabulary) -> ControlPlane:
    return offline_plane(demo_vocabulary)


def frame_of(plane: ControlPlane, text: str, thread: ThreadContext = ThreadContext()) -> Frame:
    return plane.frame(plane.classify(text, NOW), thread, NOW)


def test_a_plan_named_in_a_follow_up_wins_over_the_threads(plane: ControlPlane) -> None:
    frame = frame_of(plane, "whats the price for enterprise then", PRO_PRICE)
    assert frame.intent is Intent.PRODUCT_QUESTION
    assert frame.plans == ("Enterprise",) and frame.source("plans") == "typed"
    assert frame.product == "orbit" and frame.source("product") == "thread"
    assert frame.follow_up and frame.aspect == "price"


def test_a_misspelt_plan_is_read_as_typed_and_said_so(plane: ControlPlane) -> None:
    frame = frame_of(plane, "how much storage do we get on startr", GROWTH_LIMITS)
    assert frame.plans == ("Starter",) and frame.source("plans") == "typed"
    assert [(r.typed, r.read_as, r.kind) for r in frame.readings] == [("startr", "Starter", "plan")]


def test_a_bare_plan_after_a_product_question_continues_it(plane: ControlPlane) -> None:
    frame = frame_of(plane, "and enterprise?", PRO_PRICE)
    assert (frame.intent, frame.plans, frame.follow_up, frame.aspect) == (
        Intent.PRODUCT_QUESTION, ("Enterprise",), True, "price")
    assert frame_of(plane, "growth?", GROWTH_LIMITS).plans == ("Growth",)


def test_without_a_plan_the_threads_plan_is_the_subject(plane: ControlPlane) -> None:
    frame = frame_of(plane, "does it include audit logs?", PRO_PRICE)
    assert frame.plans == ("Pro",) and frame.source("plans") == "thread"
    # ...unless the question is about plans in general
    assert frame_of(plane, "which plans include audit logs?", PRO_PRICE).plans == ()


def test_a_plan_of_another_product_takes_nothing_from_the_thread(plane: ControlPlane) -> None:
    frame = frame_of(plane, "how much is the Plus plan?", PRO_PRICE)  # Plus is Relay's
    assert frame.plans == ("Plus",) and frame.product is None


def test_another_product_named_drops_the_threads_plan(plane: ControlPlane) -> None:
    frame = frame_of(plane, "what does beacon cost", PRO_PRICE)
    assert frame.product == "Beacon" and frame.source("product") == "typed" and frame.plans == ()


def test_a_comparison_follow_up_compares_with_the_plan_discussed(plane: ControlPlane) -> None:
    frame = frame_of(plane, "and pro?", COMPARED)
    assert frame.plans == ("Growth", "Pro") and frame.source("plans") == "typed+thread"


def test_a_draft_never_takes_product_facts_from_an_unrelated_turn(plane: ControlPlane) -> None:
    frame = frame_of(plane, "draft a followup to Sarah", TEAM_PRICE)
    assert frame.intent is Intent.DRAFT_EMAIL
    assert frame.product is None and frame.plans == ()
    assert frame.person == "Sarah Kim" and frame.account == "Umbrella Health"


def test_a_draft_pointing_back_at_the_pricing_takes_it(plane: ControlPlane) -> None:
    frame = frame_of(plane, "draft an email to tyler with that pricing", TEAM_PRICE)
    assert (frame.product, frame.plans, frame.source("plans")) == ("orbit", ("Team",), "thread")


def test_a_message_that_is_not_a_follow_up_is_read_on_its_own(plane: ControlPlane) -> None:
    frame = frame_of(plane, "how many calls did we have with hooli", COMPARED)
    assert frame.intent is Intent.CALL_SEARCH and not frame.follow_up
    assert frame.account == "Hooli" and frame.plans == () and frame.product is None


def test_an_account_alone_after_a_product_question_is_not_a_product_question(plane: ControlPlane) -> None:
    frame = frame_of(plane, "hooli?", PRO_PRICE)
    assert frame.intent is not Intent.PRODUCT_QUESTION


def test_a_recap_naming_nothing_continues_the_threads_meeting(plane: ControlPlane) -> None:
    frame = frame_of(plane, "what were the action items?", GLOBEX_RECAP)
    assert (frame.intent, frame.account, frame.meeting_id) == (Intent.MEETING_SUMMARY, "Globex", 7)
    assert frame.source("meeting_id") == "thread"


def test_a_recap_naming_a_kind_keeps_the_account_but_not_the_meeting(plane: ControlPlane) -> None:
    frame = frame_of(plane, "recap the qbr", GLOBEX_RECAP)
    assert (frame.account, frame.source("account"), frame.meeting_kind, frame.meeting_id) == (
        "Globex", "thread", "qbr", None)


def test_a_recap_naming_another_account_takes_nothing(plane: ControlPlane) -> None:
    frame = frame_of(plane, "summarize my last call with henrik", GLOBEX_RECAP)
    assert (frame.person, frame.account, frame.meeting_id) == ("Henrik Larsen", "Kestrel Financial", None)


def test_a_call_search_follow_up_keeps_the_account(plane: ControlPlane) -> None:
    thread = ThreadContext(last_intent="call_search", account="Globex")
    frame = frame_of(plane, "and what about pricing?", thread)
    assert (frame.intent, frame.account, frame.source("account")) == (Intent.CALL_SEARCH, "Globex", "thread")
    assert frame_of(plane, "find calls about pricing", thread).account is None  # a new search, not a follow-up


def test_slots_an_intent_does_not_use_are_left_out(plane: ControlPlane) -> None:
    frame = frame_of(plane, "what does the pro plan cost for acme?")
    assert frame.intent is Intent.PRODUCT_QUESTION and frame.account is None


def test_another_language_is_said_and_nothing_is_named(plane: ControlPlane) -> None:
    frame = frame_of(plane, "cuánto cuesta el plan pro?")
    assert (frame.intent, frame.language, frame.plans) == (Intent.UNKNOWN, "es", ())


def test_the_logged_frame_names_slots_and_sources_never_values(plane: ControlPlane) -> None:
    frame = frame_of(plane, "draft a followup to Sarah about the renewal", TEAM_PRICE)
    logged = json.dumps(frame.log_summary())
    assert "Sarah" not in logged and "renewal" not in logged
    assert frame.log_summary()["person"] == "typed"
    shown = frame.as_json()
    assert shown["slots"]["person"] == {"value": "Sarah Kim", "source": "typed"}


def test_a_product_named_by_what_it_offers_beats_the_threads(plane: ControlPlane) -> None:
    frame = frame_of(plane, "whats an sms credit pack cost", PRO_PRICE)  # SMS credits are Beacon's add-on
    assert (frame.product, frame.source("product"), frame.plans) == ("Beacon", "catalog", ())
    # ...but not when the thread's product offers it too
    assert frame_of(plane, "does it have audit logs", PRO_PRICE).product == "orbit"


def test_the_industry_asked_about_is_a_typed_slot_never_taken_from_the_thread(plane: ControlPlane,
                                                                              demo_vocabulary: Vocabulary) -> None:
    healthcare = next(kind for kind in demo_vocabulary.industries if kind.lower().startswith("health"))
    frame = frame_of(plane, "do we have any healthcare customers?", GLOBEX_RECAP)
    assert frame.intent is Intent.MEETING_SUMMARY
    assert frame.industry == healthcare and frame.source("industry") == "typed"
    assert frame_of(plane, "any in that space who'd be a reference?", GLOBEX_RECAP).industry is None
    assert frame_of(plane, "what does healthcare cost on pro").industry is None  # no accounts asked about


def test_her_boss_is_the_senior_contact_at_her_account_in_her_line_of_work(plane: ControlPlane,
                                                                           demo_vocabulary: Vocabulary) -> None:
    analyst = next(c for c in demo_vocabulary.contacts if "analyst" in c.title.lower())
    thread = ThreadContext(last_intent="draft_email", account=analyst.account, person=analyst.name)
    frame = frame_of(plane, "send it to her boss instead", thread)
    boss = next(c for c in demo_vocabulary.contacts if c.name == frame.person)
    assert frame.intent is Intent.DRAFT_EMAIL and boss.account == analyst.account and boss.name != analyst.name
    assert any(word in boss.title.lower() for word in ("head", "vp", "chief", "director"))
