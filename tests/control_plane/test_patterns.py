"""The patterns file: loaded and compiled once, every mistake in it named, and the scoring rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane import Intent, PatternError, load_patterns
from control_plane.classifier import PatternClassifier, _alternations
from control_plane.evaluation import read_labelled
from control_plane.normalize import normalize
from control_plane.prefilter import fast_search
from tests.support.control_plane import reference_candidates
from tests.support.paths import LABELLED

HEADER = "[limits]\nmatch_chars = 200\nconfident_chars = 60\nlong_message_cap = 0.8\n\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "patterns.toml"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_packaged_patterns_cover_every_intent_and_are_compiled_once() -> None:
    patterns = load_patterns()
    assert patterns is load_patterns()  # cached: compiled once per process
    assert {group.intent for group in patterns.intents} == set(Intent)
    assert all(group.description for group in patterns.intents)
    assert patterns.pattern_count > 100
    for group in patterns.intents:
        confidences = [p.confidence for p in group.patterns]
        assert confidences == sorted(confidences, reverse=True)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ('[intents.help]\npatterns = [ { id = "broken", confidence = 0.9, regex = \'\'\'(unclosed\'\'\' } ]\n',
         ["intent 'help'", "pattern #1 'broken'", "broken regex", "(unclosed"]),
        ('[intents."Pricing-Q"]\npatterns = [ { confidence = 0.9, regex = "price" } ]\n',
         ["[intents.Pricing-Q]", "not an intent name", "lower-case letters"]),
        ('[intents.help]\npatterns = [ { id = "a", confidence = 0.9, regex = "x" }, { id = "too-sure", confidence = 1.5, regex = "help" } ]\n',
         ["intent 'help'", "pattern #2 'too-sure'", "confidence must be a number between 0 and 1", "1.5"]),
        ('[intents.help]\npatterns = [ { id = "neg", confidence = -0.1, regex = "help" } ]\n',
         ["pattern #1 'neg'", "between 0 and 1"]),
        ('[intents.help]\npatterns = [ { id = "word", confidence = "high", regex = "help" } ]\n',
         ["pattern #1 'word'", "'high'"]),
        ('[intents.help]\npatterns = [ { id = "bool", confidence = true, regex = "help" } ]\n',
         ["pattern #1 'bool'", "between 0 and 1"]),
        ('[intents.help]\npatterns = [ { confidence = 0.9, regex = "help" } ]\n'
         'negatives = [ { id = "both", veto = true, penalty = 0.2, regex = "x" } ]\n',
         ["negative #1 'both'", "either veto = true or a penalty"]),
        ('[intents.help]\npatterns = [ { confidence = 0.9, regex = "help" } ]\n'
         'negatives = [ { id = "big", penalty = 2, regex = "x" } ]\n',
         ["negative #1 'big'", "penalty must be a number between 0 and 1"]),
        ('[intents.help]\npatterns = [ { id = "redos", confidence = 0.9, regex = \'\'\'(?:\\w+ )*help\'\'\' } ]\n',
         ["pattern #1 'redos'", "catastrophic backtracking"]),
        ('[intents.help]\npatterns = [ { id = "nested", confidence = 0.9, regex = \'\'\'(a+)+b\'\'\' } ]\n',
         ["pattern #1 'nested'", "catastrophic backtracking"]),
        ('[intents.help]\npatterns = [ { id = "backref", confidence = 0.9, regex = \'\'\'(a)\\1\'\'\' } ]\n',
         ["pattern #1 'backref'", "backreference"]),
        ('[intents.help]\npatterns = [ { id = "named", confidence = 0.9, regex = \'\'\'(?P<x>help)\'\'\' } ]\n',
         ["pattern #1 'named'", "named group"]),
        ('[intents.help]\npatterns = [ { id = "flags", confidence = 0.9, regex = \'\'\'(?i)help\'\'\' } ]\n',
         ["pattern #1 'flags'", "global inline flag"]),
        ('[intents.help]\npatterns = [ { id = "empty", confidence = 0.9, regex = \'\'\'x?\'\'\' } ]\n',
         ["pattern #1 'empty'", "matches empty text"]),
        ('[intents.help]\npatterns = [ { id = "who", confidence = 0.9, regex = \'\'\'{account} help\'\'\' } ]\n',
         ["pattern #1 'who'", "unknown placeholder {account}", "{product}"]),
        ('[intents.help]\npatterns = [ { id = "typo", confidence = 0.9, regex = "help", confidance = 0.3 } ]\n',
         ["pattern #1 'typo'", "unknown key(s) ['confidance']"]),
        ('[intents.help]\npatterns = [ { id = "same", confidence = 0.9, regex = "a" }, { id = "same", confidence = 0.8, regex = "b" } ]\n',
         ["intent 'help'", "duplicate pattern id(s) ['same']"]),
        ('[intents.help]\npatterns = [ { confidence = 0.9, regex = "help" ]\n', ["not valid TOML"]),
    ],
)
def test_a_mistake_in_the_file_fails_at_load_naming_file_intent_and_pattern(
    tmp_path: Path, body: str, fragments: list[str]
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(PatternError) as raised:
        load_patterns(path)
    message = str(raised.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("[limits]\nmatch_chars = 0\n", "match_chars must be a positive integer"),
        ("[limits]\nlong_message_cap = 1.2\n", "long_message_cap must be a number between 0 and 1"),
        ("[limits]\nmax_chars = 3\n", "unknown key(s) ['max_chars']"),
        ("[thresholds]\nskip = 0.9\n", "unknown top-level table(s) ['thresholds']"),
    ],
)
def test_bad_limits_are_named(tmp_path: Path, header: str, fragment: str) -> None:
    path = write(tmp_path, '[intents.help]\npatterns = [ { confidence = 0.9, regex = "help" } ]\n', header=header)
    with pytest.raises(PatternError) as raised:
        load_patterns(path)
    assert str(raised.value).startswith(str(path)) and fragment in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PatternError, match="cannot read patterns file"):
        load_patterns(tmp_path / "nope.toml")


SCORING = """
[intents.product_question]
patterns = [
  { id = "price-plan", confidence = 0.95, regex = '''\\bprice\\b.{0,20}\\bplan\\b''' },
  { id = "price", confidence = 0.7, regex = '''\\bprice\\b''' },
  { id = "named", confidence = 0.92, regex = '''\\bdoes {product} support\\b''' },
]
negatives = [
  { id = "stock", veto = true, regex = '''\\bstock\\b''' },
  { id = "calls", penalty = 0.2, regex = '''\\bcalls\\b''' },
]

[intents.call_search]
patterns = [ { id = "calls", confidence = 0.9, regex = '''\\bcalls\\b''' } ]
"""


def test_score_is_the_best_matching_pattern_and_negatives_veto_or_lower(tmp_path: Path) -> None:
    classifier = PatternClassifier(load_patterns(write(tmp_path, SCORING)))

    best = classifier.candidates("what is the price of the pro plan")
    assert [(c.intent, c.confidence, c.pattern) for c in best] == [(Intent.PRODUCT_QUESTION, 0.95, "price-plan")]

    assert classifier.candidates("price of apple stock") == []  # vetoed

    lowered = classifier.candidates("find calls about the price")
    assert [(c.intent, c.confidence) for c in lowered] == [(Intent.CALL_SEARCH, 0.9), (Intent.PRODUCT_QUESTION, 0.5)]
    assert lowered[1].pattern == "price-calls"

    assert classifier.candidates("nothing here") == []


def test_long_messages_are_capped_and_only_the_first_characters_are_matched(tmp_path: Path) -> None:
    classifier = PatternClassifier(load_patterns(write(tmp_path, SCORING)))
    long_message = "what is the price of the pro plan " + "and more words " * 3
    assert classifier.candidates(long_message)[0].confidence == 0.8  # long_message_cap
    assert classifier.candidates("x" * 300 + " price") == []  # beyond match_chars = 200


def test_placeholders_are_filled_from_the_vocabulary_and_dropped_without_it(tmp_path: Path) -> None:
    patterns = load_patterns(write(tmp_path, SCORING))
    with_catalog = PatternClassifier(patterns, {"product": ["Orbit", "Orbit Analytics"], "plan": []})
    assert with_catalog.candidates("does orbit analytics support sso")[0].pattern == "named"
    assert with_catalog.candidates("does nimbus support sso") == []
    without = PatternClassifier(patterns)
    assert without.candidates("does orbit support sso") == []


CATALOG = {"product": ["Orbit", "Beacon", "Ledger", "Relay"], "plan": ["Starter", "Team", "Pro", "Enterprise", "Free"]}
_PACKAGED = PatternClassifier(load_patterns(), CATALOG)
_ALTERNATIONS = _alternations(CATALOG)


def test_the_literal_prefilter_never_changes_a_result_on_the_labelled_messages() -> None:
    texts = [normalize(m.text).lowered for m in read_labelled(LABELLED)]
    for text in texts:
        assert _PACKAGED.candidates(text) == reference_candidates(load_patterns(), _ALTERNATIONS, text), text


WORDS = ["calls", "recall", "price", "priced", "pricing", "plan", "plans", "the", "pro", "orbit", "team", "what",
         "can", "you", "do", "summarize", "summary", "of", "email", "e-mail", "to", "tyler", "stock", "about", "'s",
         "?", "!", ".", ",", "-", "hi", "thanks", "search", "find", "any", "meeting", "demo", "q3", "vs", "does",
         "support", "sso", "flight", "book", "a", "an", "with", "is", "there", "free", "trial", "help", "x", "1"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=14), st.sampled_from(["", " ", "-", "'"]))
def test_the_literal_prefilter_never_changes_a_result(words: list[str], glue: str) -> None:
    text = normalize((glue or " ").join(words)).lowered
    assert _PACKAGED.candidates(text) == reference_candidates(load_patterns(), _ALTERNATIONS, text)


@pytest.mark.parametrize(
    ("regex", "text", "expected"),
    [
        (r"\b(?:calls?|meetings?)\b", "recall the calls", "calls"),
        (r"\b(?:calls?|meetings?)\b", "recalls and premeetings", None),
        (r"\bpric(?:e|ing)", "oprice, then pricing", "pricing"),
        (r"\b(?:[a-z]+ ){0,2}plan", "the pro plan", "the pro plan"),
        (r"\b-?plan", "a-plan", "-plan"),  # may open with a non-word character: searched as written
    ],
)
def test_fast_search_finds_what_re_search_finds(regex: str, text: str, expected: str | None) -> None:
    compiled = re.compile(regex)
    match = fast_search(compiled)(text)
    reference = compiled.search(text)
    assert (match.group() if match else None) == (reference.group() if reference else None) == expected
