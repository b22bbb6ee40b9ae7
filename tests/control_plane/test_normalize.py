"""Normalization: Slack markup, emoji codes, control characters, case, spacing, punctuation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from control_plane.normalize import MAX_INPUT_CHARS, normalize


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
        (":wave:", ""),
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
