"""The pattern tier against labelled messages: precision of the skips first, then coverage and accuracy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from control_plane import Intent
from control_plane.evaluation import EvalReport, evaluate, read_labelled
from knowledge.vocabulary import Vocabulary
from tests.support.control_plane import NOW, offline_plane
from tests.support.paths import LABELLED, shared_golden

MIN_SKIPPED_PRECISION = 0.98
MIN_COVERAGE = 0.6
MIN_ACCURACY = 0.9


def assert_targets(report: EvalReport) -> None:
    wrong_skips = [m for m in report.misclassified if m["skipped"]]
    assert report.skipped_precision >= MIN_SKIPPED_PRECISION, wrong_skips
    assert report.coverage >= MIN_COVERAGE
    assert report.accuracy >= MIN_ACCURACY, report.misclassified
    assert report.entity_mismatches == []


def test_the_project_labelled_set_is_large_and_varied() -> None:
    messages = read_labelled(LABELLED)
    assert len(messages) >= 150
    per_intent = Counter(m.intent for m in messages)
    assert set(per_intent) == set(Intent)
    assert min(per_intent.values()) >= 10
    assert len({m.text.lower() for m in messages}) == len(messages)
    assert sum("<@" in m.text or "<mailto:" in m.text or ":" in m.text for m in messages) >= 5  # Slack markup
    assert sum(bool(m.entities) for m in messages) >= 60


def test_targets_on_the_project_labelled_set(demo_vocabulary: Vocabulary) -> None:
    assert_targets(evaluate(offline_plane(demo_vocabulary), read_labelled(LABELLED), NOW))


@pytest.mark.skipif(shared_golden() is None, reason="no shared golden set next to the repository")
def test_targets_and_entities_on_the_shared_golden_set(demo_vocabulary: Vocabulary) -> None:
    golden = shared_golden()
    assert golden is not None
    report = evaluate(offline_plane(demo_vocabulary), read_labelled(golden), NOW)
    assert_targets(report)
    assert report.entity_checks >= 10


def test_without_any_vocabulary_the_targets_still_hold() -> None:
    report = evaluate(offline_plane(Vocabulary()), read_labelled(LABELLED), NOW)
    wrong_skips = [m for m in report.misclassified if m["skipped"]]
    assert report.skipped_precision >= MIN_SKIPPED_PRECISION, wrong_skips
    assert report.coverage >= MIN_COVERAGE and report.accuracy >= MIN_ACCURACY


# Phrasings the patterns were not written for, and look-alikes from outside the product: each must
# either fall below the threshold (and go to the LLM) or be skipped with the right intent.
UNSEEN = [
    ("how pricey is the top tier", Intent.PRODUCT_QUESTION),
    ("what's the seat minimum for Enterprise", Intent.PRODUCT_QUESTION),
    ("can we white-label the dashboard?", Intent.PRODUCT_QUESTION),
    ("what does the Growth plan give me over Starter", Intent.PRODUCT_QUESTION),
    ("anything in the transcripts about a reorg at Globex?", Intent.CALL_SEARCH),
    ("did Initech ever bring up Okta?", Intent.CALL_SEARCH),
    ("who asked about the roadmap in the last few weeks", Intent.CALL_SEARCH),
    ("catch me up on the Initech call", Intent.MEETING_SUMMARY),
    ("where did we land with Hooli on Tuesday", Intent.MEETING_SUMMARY),
    ("shoot Marcus a quick note thanking him", Intent.DRAFT_EMAIL),
    ("let Elena know by email that the quote is ready", Intent.DRAFT_EMAIL),
    ("how do I search calls with you", Intent.HELP),
    ("what are your capabilities", Intent.HELP),
    ("you rock", Intent.SMALLTALK),
    ("how much is a Tesla Model 3", Intent.UNKNOWN),
    ("what's the price of a plane ticket to Austin", Intent.UNKNOWN),
    ("what plan is Acme on in Salesforce", Intent.UNKNOWN),
    ("how much is the Acme deal worth", Intent.UNKNOWN),
    ("summarize this PDF", Intent.UNKNOWN),
    ("search Google for the best CRM", Intent.UNKNOWN),
    ("email IT about my broken monitor", Intent.UNKNOWN),
    ("compare iPhone vs Android", Intent.UNKNOWN),
    ("what is the plan for the holiday party", Intent.UNKNOWN),
    ("book a call with Tyler for tomorrow", Intent.UNKNOWN),
    ("schedule a demo with Globex next week", Intent.UNKNOWN),
    ("how many calls did I make last week for my commission", Intent.UNKNOWN),
    ("what's the price of Ledger stock", Intent.UNKNOWN),
    ("write a LinkedIn post about our Q3 results", Intent.UNKNOWN),
    ("draft my performance review", Intent.UNKNOWN),
    ("who is on call this weekend?", Intent.UNKNOWN),
    ("is there an umbrella in the office", Intent.UNKNOWN),
    ("can you relay this to the team", Intent.UNKNOWN),
    ("remind me what we agreed with Tidewater last week", Intent.MEETING_SUMMARY),
    ("did any prospects mention Gong last quarter?", Intent.CALL_SEARCH),
    ("how much is a round trip to London", Intent.UNKNOWN),
]


@pytest.mark.parametrize(("text", "intent"), UNSEEN)
def test_unseen_phrasings_are_never_skipped_with_the_wrong_intent(
    demo_vocabulary: Vocabulary, text: str, intent: Intent
) -> None:
    decision = offline_plane(demo_vocabulary).classify(text, NOW)
    assert decision.llm_validation != "skipped" or decision.intent is intent, decision


def test_a_threshold_above_one_skips_nothing(demo_vocabulary: Vocabulary) -> None:
    report = evaluate(offline_plane(demo_vocabulary, skip_threshold=1.01), read_labelled(LABELLED), NOW)
    assert report.skipped == sum(1 for m in read_labelled(LABELLED) if not m.text.strip())


def test_eval_reads_every_line_or_names_the_bad_one(tmp_path: Path) -> None:
    from control_plane.evaluation import LabelledFileError

    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "hi", "intent": "smalltalk"}\n\n{"text": "help", "intent": "help"}\n', encoding="utf-8")
    assert [m.line for m in read_labelled(good)] == [1, 3]
    for body, fragment in [
        ('{"text": "hi", "intent": "smalltalk"}\n{"text": "x", "intent": "pricing"}\n', ":2: unknown intent 'pricing'"),
        ('{"text": "hi"\n', ":1: not valid JSON"),
        ('["hi", "smalltalk"]\n', ':1: expected an object with string "text" and "intent"'),
        ('{"text": "hi", "intent": "smalltalk", "entities": {"color": "red"}}\n', ":1: entities must be an object"),
        ("\n\n", "no labelled messages"),
    ]:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(LabelledFileError) as raised:
            read_labelled(bad)
        assert fragment in str(raised.value)
