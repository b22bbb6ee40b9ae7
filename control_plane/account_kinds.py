"""Questions about the accounts of one industry or segment: "do we have any healthcare customers", "our logistics
accounts?", "any in retail", "need a manufacturing reference", "smb ones?".

The industries and segments are the ones the accounts are recorded with (`Vocabulary.industries`); a word asks for
one when it starts like one of its words ("health" for Healthcare, "banks" for Banking). Bounded: two regex passes
over the message's opening, so the cost is linear in its length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_SCAN_CHARS = 300
_STEM = 5  # a word of at least one letter less than this asks for an industry whose word it begins (or that begins it)
# "healthcare customers", "manufacturing reference", "smb ones", "logistics accts"
_KIND_BEFORE_NOUN = re.compile(r"\b(?P<word>[a-z][a-z-]{2,30})\s+(?:customers?|accounts?|accts?|clients?|logos|companies|"
                               r"references?|ref|ones?|prospects?)\b")
# "any in retail", "who do we have in logistics", "accounts from the banking space"
_IN_A_KIND = re.compile(r"\b(?:in|from)\s+(?:the\s+)?(?P<word>[a-z][a-z-]{2,30})(?:\s+(?:space|industry|sector|vertical|segment|"
                        r"market|world))?(?:\s*[?!.]*$|\s+(?:i|we|you|that|who|which|to|for)\b)")  # ("... in healthcare i can name drop")
# "and in healthcare?", "what about in retail": another industry asked of the accounts just listed (an industry word only)
_JUST_A_KIND = re.compile(r"^\W*(?:(?:and|what about|how about|also|ok|same)\W+)?(?:in|from)\s+(?:the\s+)?(?P<word>[a-z][a-z-]{2,30})"
                          r"(?:\s+(?:space|industry|sector|vertical|segment|market))?\W*$")
# What makes "in retail" a question about our accounts, not about something else in retail
_ABOUT_ACCOUNTS = re.compile(r"\b(?:any|anyone|anybody|who|which|customers?|accounts?|accts?|clients?|logos|references?|ones|"
                             r"do we have|we have)\b")
_NOT_AN_INDUSTRY = frozenset({"and", "the", "our", "any", "other", "all", "new", "existing", "current", "big", "top", "key"})


def _same_word(typed: str, known: str) -> bool:
    """"banks" for banking, "health" for healthcare, "retailers" for retail; not "final" for financial."""
    bare = typed.removesuffix("s")
    return (len(bare) >= _STEM - 1 and known.startswith(bare)) or (len(known) >= _STEM - 1 and typed.startswith(known))


def industry_words(industries: Iterable[str]) -> dict[str, str]:
    """Each word of each industry or segment (lower case, 3+ letters) -> that industry or segment as recorded."""
    words: dict[str, str] = {}
    for industry in industries:
        for word in re.findall(r"[a-z][a-z-]{2,}", industry.lower()):
            if word not in _NOT_AN_INDUSTRY:
                words.setdefault(word, industry)
    return words


def may_ask_for_a_kind(lowered: str) -> bool:
    """Whether the message has the shape of such a question, before any industry is looked up."""
    opening = lowered[:MAX_SCAN_CHARS]
    return bool(_KIND_BEFORE_NOUN.search(opening)) or (bool(_IN_A_KIND.search(opening)) and bool(_ABOUT_ACCOUNTS.search(opening))) \
        or bool(_JUST_A_KIND.match(opening))


def kind_asked(lowered: str, words: dict[str, str]) -> str | None:
    """The industry or segment whose accounts the (lower-case) message asks about; None when it asks about none."""
    opening = lowered[:MAX_SCAN_CHARS]
    for match in (_KIND_BEFORE_NOUN.search(opening), _IN_A_KIND.search(opening) if _ABOUT_ACCOUNTS.search(opening) else None,
                  _JUST_A_KIND.match(opening)):
        if match is None:
            continue
        word = match.group("word")
        if word in _NOT_AN_INDUSTRY or len(word) < 3:
            continue
        found = words.get(word) or next((industry for known, industry in words.items() if _same_word(word, known)), None)
        if found is not None:
            return found
    return None
