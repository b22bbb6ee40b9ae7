"""Questions about the accounts of one industry or segment, read against the industries the accounts are recorded with."""

from __future__ import annotations

import pytest

from control_plane.account_kinds import industry_words, kind_asked, may_ask_for_a_kind

KINDS = industry_words(["Healthcare", "Industrial manufacturing", "Banking", "Food and beverage", "SMB", "Mid-market"])


@pytest.mark.parametrize(("message", "kind"), [
    ("do we have any healthcare customers", "Healthcare"),
    ("need a manufacturing reference, who do we have", "Industrial manufacturing"),
    ("any in banking?", "Banking"),
    ("any banks accounts", "Banking"),  # a form of the industry's word
    ("smb ones?", "SMB"),
    ("which mid-market accounts do we have", "Mid-market"),
    ("food customers", "Food and beverage"),
])
def test_the_industry_or_segment_asked_for(message: str, kind: str) -> None:
    assert may_ask_for_a_kind(message)
    assert kind_asked(message, KINDS) == kind


@pytest.mark.parametrize("message", [
    "our new customers",  # no industry
    "what does growth cost",
    "in retail",  # an industry we have no account in, and nothing asks for accounts
    "and the pilot in healthcare",  # "in healthcare" without asking for accounts
    "and the final ones",  # "final" begins no industry's word ("financial" does not begin with it either)
])
def test_no_industry_asked(message: str) -> None:
    assert kind_asked(message, KINDS) is None


def test_only_the_opening_of_a_long_message_is_read() -> None:
    # (40,000 characters: the industry named past the opening is not looked for, so the scan stays bounded)
    message = "customers " * 4_000 + "in healthcare"
    assert may_ask_for_a_kind(message) and kind_asked(message, KINDS) is None
