"""Normalization: Slack markup, emoji codes, control characters, case, spacing, punctuation."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from control_plane.names import TOKEN, name_key
from control_plane.normalize import MAX_INPUT_CHARS, normalize, normalize_name
from control_plane.shorthand import SHORTHAND


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<@U07BOT> summarize my last call", "summarize my last call"),
        ("<@U07BOT|pitcrew>  help", "help"),
        ("see <https://acme.example/deck|the deck> please", "see the deck please"),
        ("open <https://acme.example/deck>", "open https://acme.example/deck"),
        ("email <mailto:jane@acme.com|jane@acme.com> today", "email jane@acme.com today"),
        ("post it in <#C123|deal-desk>", "post it in #deal-desk"),
        ("<!here> anyone?", "anyone?"),
        ("ping <!subteam^S1|@sales-eng>", "ping @sales-eng"),
        ("thank you :pray::skin-tone-2:", "thank you"),
        ("meet at 10:30:45", "meet at 10:30:45"),
        ("Pricing   for\n\tStarter", "Pricing for Starter"),
        ("help!!!   what???", "help! what?"),
        ("wait...... really", "wait. really"),
        ("*Pro* vs _Enterprise_ and `code`", "Pro vs Enterprise and code"),
        ("2*3 and jane_doe@acme.com", "2*3 and jane_doe@acme.com"),
        ("a\x00b\x07c\u200bd", "a b cd"),
        ("\u201cSOC 2\u201d and it\u2019s", '"SOC 2" and it\'s'),
        ("&lt;script&gt; &amp; co", "<script> & co"),
        ("@pitcrew, what can you do", "what can you do"),
        ("", ""),
        ("<@U1>", ""),
        (":wave:", "hi"), (":tada:", ""),
    ],
)
def test_markup_spacing_and_punctuation(raw: str, clean: str) -> None:
    normalized = normalize(raw)
    assert normalized.clean == clean
    assert normalized.lowered == clean.lower()


def test_the_original_is_cut_at_the_input_limit() -> None:
    assert len(normalize("a" * 40_000).clean) == MAX_INPUT_CHARS


@given(st.text(max_size=300))
def test_any_text_normalizes_and_lowered_lines_up_with_clean(text: str) -> None:
    normalized = normalize(text)
    assert len(normalized.lowered) == len(normalized.clean)
    assert normalized.lowered == normalized.lowered.lower() or any(len(c.lower()) != 1 for c in normalized.clean)
    assert normalized.clean == normalized.clean.strip()
    assert "  " not in normalized.clean


# Words a catalog name may hold, and every word shorthand reacts to, so the fast path meets its triggers.
_NAME_WORDS = sorted({key for key in SHORTHAND if key.isalnum()} | {
    "Solar", "forge", "PRO", "mo", "mos", "3mo", "12mos", "mo3", "ms", "ms365", "teams", "this", "a", "the", "per",
    "diff", "q", "question", "min", "Min", "contract", "W", "R", "you", "it", "2", "x1"})


@given(st.lists(st.sampled_from(_NAME_WORDS), min_size=1, max_size=6))
def test_a_plain_name_normalizes_as_normalize_does(words: list[str]) -> None:
    name = " ".join(words)
    assert normalize_name(name) == normalize(name).lowered


@given(st.text(alphabet="aBm o1-.&/:<*_ \n", max_size=40))
def test_any_name_normalizes_as_normalize_does(name: str) -> None:
    assert normalize_name(name) == normalize(name).lowered


def test_every_short_name_of_words_shorthand_looks_at_normalizes_as_normalize_does() -> None:
    # Shorthand reads neighbouring words ("ms teams", "3 mo", "the min", "hw much"): every sequence of three.
    words = ["ms", "teams", "mo", "3", "3mo", "this", "min", "contract", "the", "diff", "q", "w", "x", "r", "you",
             "hw", "much", "cn", "it", "v", "a", "Pro"]
    for name in (" ".join(combo) for size in (1, 2, 3) for combo in itertools.product(words, repeat=size)):
        assert normalize_name(name) == normalize(name).lowered, name


def test_plain_names_skip_the_passes_but_shorthand_still_applies() -> None:
    assert normalize_name("Solar Forge 1") == "solar forge 1"
    assert normalize_name("Ent Suite") == "enterprise suite"  # "ent" is shorthand for enterprise
    assert normalize_name("Pulse 3mo") == normalize("Pulse 3mo").lowered == "pulse 3 month"


@given(st.text(alphabet="aZ9 '.-&é_", max_size=30))
def test_a_name_key_is_the_lower_case_tokens_without_possessives(name: str) -> None:
    tokens = TOKEN.findall(name.lower())
    assert name_key(name) == " ".join(token.removesuffix("'s") for token in tokens)
