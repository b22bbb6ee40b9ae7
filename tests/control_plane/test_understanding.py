"""How reps really write: chat shorthand, typos in names and key words, lower-case names, other languages."""

from __future__ import annotations

import pytest

from control_plane import ControlPlane, Intent
from control_plane.language import detect_language
from control_plane.names import NameIndex
from control_plane.normalize import normalize
from control_plane.shorthand import expand_shorthand
from control_plane.spelling import Speller
from control_plane.thread import ThreadContext
from knowledge.vocabulary import Vocabulary
from tests.support.control_plane import NOW, offline_plane


@pytest.fixture(scope="module")
def plane(demo_vocabulary: Vocabulary) -> ControlPlane:
    return offline_plane(demo_vocabulary)


@pytest.fixture(scope="module")
def names(demo_vocabulary: Vocabulary) -> NameIndex:
    return NameIndex(demo_vocabulary)


@pytest.mark.parametrize(("typed", "meant"), [
    ("any calls w globex last week?", "any calls with globex last week?"),
    ("w/ acme pls", "with acme please"),
    ("whats the min contract for enterprise", "what's the minimum contract for enterprise"),
    ("summarize yesterdays call", "summarize yesterday's call"),
    ("what can u do", "what can you do"),
    ("thx!!", "thanks!!"),
    ("$99/mo", "$99 per month"),
    ("last mo", "last month"),
    ("pro v enterprise", "pro vs enterprise"),
    ("growth & pro", "growth and pro"),
    ("draft a f/u to sarah eow", "draft a follow-up to sarah end of week"),
    ("demos we ran in teh last month", "demos we ran in the last month"),
    ("diff q - storage on team?", "different q - storage on team?"),  # another question, not a comparison
    ("diff between pro and team", "difference between pro and team"),
])
def test_shorthand_is_written_out(typed: str, meant: str) -> None:
    assert expand_shorthand(typed) == meant


@pytest.mark.parametrize("text", ["AT&T", "a 10 min call", "u.s. customers", "the w", "Q&A", "vs.code", "mom"])
def test_words_that_only_look_like_shorthand_stay(text: str) -> None:
    assert expand_shorthand(text) == text


def test_emoji_and_markup_are_not_words() -> None:
    assert normalize("thx!! 🙏🏽").lowered == "thanks!"
    assert normalize("<@U07BOT> *whats* the price 👍").lowered == "what's the price"


@pytest.mark.parametrize(("typed", "read_as", "kind"), [
    ("startr", "starter", "plan"), ("entreprise", "enterprise", "plan"), ("globx", "globex", "account"),
    ("integation", "integration", "word"), ("hoolis", "hooli", "account"),
])
def test_a_typo_one_edit_from_one_known_name_is_read_as_it(names: NameIndex, typed: str, read_as: str, kind: str) -> None:
    correction = names.speller.correct(typed)
    assert correction is not None and (correction.spelling, correction.kind) == (read_as, kind)


@pytest.mark.parametrize("word", ["started", "globe", "teams", "price", "pro", "acne", "growths"])
def test_english_words_and_short_words_are_never_corrected(names: NameIndex, word: str) -> None:
    correction = names.speller.correct(word)
    assert correction is None or not correction.typo  # "growths" is only a plural of a known word


def test_a_typo_equally_close_to_two_names_is_left_alone() -> None:
    speller = Speller()
    speller.add(["Kestrel", "Kestrol"], "account")
    assert speller.correct("kestral") is None
    assert speller.correct("kestrl") is None


def test_a_plural_or_apostrophe_less_possessive_is_the_name_not_a_typo(names: NameIndex) -> None:
    correction = names.speller.correct("henriks")
    assert correction is not None and correction.spelling == "henrik" and not correction.typo


@pytest.mark.parametrize(("text", "person"), [
    ("recap my last call with henrik", "Henrik Larsen"),
    ("draft a followup to sarah", "Sarah Kim"),
    ("whats sarahs budget", "Sarah Kim"),
    ("email ben about the renewal", "Ben Carter"),  # an everyday word ("ben"), after a cue
])
def test_lower_case_names_are_people(plane: ControlPlane, text: str, person: str) -> None:
    decision = plane.classify(text, NOW)
    frame = plane.frame(decision, ThreadContext(), NOW)
    assert frame.person == person


def test_an_everyday_word_that_is_also_a_first_name_needs_a_cue(plane: ControlPlane) -> None:
    assert plane.classify("mike check: is sso on pro?", NOW).entities.person is None


@pytest.mark.parametrize(("text", "language"), [
    ("cuánto cuesta el plan pro?", "es"),
    ("¿qué incluye el plan growth?", "es"),
    ("combien coûte le plan pro pour une équipe?", "fr"),
    ("was kostet der pro plan für unser team?", "de"),
    ("Kannst du mir eine Zusammenfassung vom letzten Kestrel-Call geben?", "de"),
    ("peux-tu me donner un résumé du dernier appel ?", "fr"),
    ("quanto custa o plano pro para a equipe?", "pt"),
    ("what does the pro plan cost?", "en"),
    ("el plan pro price", "en"),  # one stray word is not another language
    ("que sera sera, whats the price of pro", "en"),
])
def test_languages(text: str, language: str) -> None:
    assert detect_language(normalize(text).lowered) == language


def test_another_language_is_answered_in_english_only_without_an_llm_call(plane: ControlPlane) -> None:
    decision = plane.classify("¿Cuánto cuesta el plan Enterprise para 50 usuarios?", NOW)
    assert (decision.intent, decision.llm_validation, decision.language) == (Intent.UNKNOWN, "skipped", "es")


@pytest.mark.parametrize(("text", "intent"), [
    ("is forecasting in starter?", Intent.PRODUCT_QUESTION),
    ("whats the min contract for enterprise", Intent.PRODUCT_QUESTION),
    ("what happens to their data if they cancel", Intent.PRODUCT_QUESTION),  # a FAQ's words
    ("how many calls did we have with hooli", Intent.CALL_SEARCH),
    ("kestrel calls", Intent.CALL_SEARCH),
    ("whats the latest w vandelay", Intent.MEETING_SUMMARY),
    ("what can u do", Intent.HELP),
    ("thx!! 🙏", Intent.SMALLTALK),
    ("u rock, thanks for the help", Intent.SMALLTALK),
    ("email sofia the sub-processor list", Intent.DRAFT_EMAIL),
    ("sum up my last call with henrick", Intent.MEETING_SUMMARY),
    ("what did vandelay decide", Intent.MEETING_SUMMARY),
    ("hi pitcrew 👋 what can u do", Intent.HELP),
    ("nice. how r u today", Intent.SMALLTALK),
    ("what can u do exactly", Intent.HELP),
    ("btw who's globex's cfo?", Intent.UNKNOWN),  # no org data: out of scope, never a recap
    ("what did sofia push back on in the kestrel data residency review", Intent.MEETING_SUMMARY),
    ("notes from the tidewater renewal discussion", Intent.MEETING_SUMMARY),
    ("remind me what acme signed up for", Intent.MEETING_SUMMARY),
    ("draft carla a thank you + trial next steps", Intent.DRAFT_EMAIL),  # a draft, though it names "trial"
    ("how often does the salesforce sync run", Intent.PRODUCT_QUESTION),
    ("do we store card numbers", Intent.PRODUCT_QUESTION),
])
def test_reps_phrasing_gets_the_obvious_intent(plane: ControlPlane, text: str, intent: Intent) -> None:
    assert plane.classify(text, NOW).intent is intent


def test_catalog_words_never_outrank_a_request_about_meetings(plane: ControlPlane) -> None:
    thread = ThreadContext(last_intent="meeting_summary", account="Hooli", meeting_id=3)
    decision = plane.classify("and from the sso setup call", NOW)
    assert decision.llm_validation != "skipped"  # a catalog word, but about a call: not sure at all
    assert plane.frame(decision, thread, NOW).intent is Intent.MEETING_SUMMARY
    # ...nor make a product question of a message about an account
    assert plane.classify("salesforce with acme?", NOW).intent is not Intent.PRODUCT_QUESTION


@pytest.mark.parametrize(("text", "intent"), [
    ("morning!! first week here lol", Intent.SMALLTALK),
    ("gm all ☕", Intent.SMALLTALK),
    ("morning all, crazy week huh", Intent.SMALLTALK),
    ("morning, globex recap", Intent.MEETING_SUMMARY),  # a greeting before a request: the request
    ("hey sso on growth", Intent.PRODUCT_QUESTION),  # ...or before catalog words
    ("hi, what did acme sign", Intent.MEETING_SUMMARY),
])
def test_a_greeting_with_chatter_is_small_talk_and_one_before_a_request_is_the_request(
        plane: ControlPlane, text: str, intent: Intent) -> None:
    decision = plane.classify(text, NOW)
    assert decision.intent is intent
    if intent is Intent.SMALLTALK and not text.startswith("gm"):
        assert decision.llm_validation != "skipped"  # short of certain: an LLM, when there is one, confirms it


def test_a_question_after_a_lead_in_is_read_on_its_own_short_of_certain(plane: ControlPlane) -> None:
    decision = plane.classify("need more, how much is extra storage", NOW)
    assert decision.intent is Intent.PRODUCT_QUESTION and decision.llm_validation != "skipped"
    assert plane.classify("long day, no idea", NOW).intent is Intent.UNKNOWN
