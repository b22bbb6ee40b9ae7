"""Chat shorthand written out ("w/ globex" -> "with globex", "whats" -> "what's", "thx" -> "thanks").

Reps type the way people type in Slack; the patterns are written for the words those stand for. One
regex alternation over the whole text, so the cost is linear in its length.
"""

from __future__ import annotations

import re

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Written form -> what it stands for (all lower case; the first letter's case is kept).
SHORTHAND: dict[str, str] = {
    "w/": "with", "w/o": "without", "w": "with", "r": "are", "b/c": "because", "bc": "because", "cuz": "because",
    "u": "you", "ur": "your", "pls": "please", "plz": "please", "thx": "thanks", "thnx": "thanks",
    "thanx": "thanks", "thks": "thanks", "tks": "thanks", "rn": "right now", "atm": "at the moment",
    "eow": "end of week", "eod": "end of day", "eom": "end of month", "abt": "about", "msg": "message",
    "mtg": "meeting", "mtgs": "meetings", "convo": "conversation", "convos": "conversations",
    "wk": "week", "wks": "weeks", "yr": "year", "yrs": "years", "qtr": "quarter",
    "diff": "difference", "acct": "account", "accts": "accounts", "ppl": "people",
    "yday": "yesterday", "yest": "yesterday", "tmrw": "tomorrow", "tmr": "tomorrow", "lmk": "let me know",
    "idk": "i don't know", "f/u": "follow-up", "f/up": "follow-up", "fup": "follow-up", "cust": "customer", "custs": "customers", "ty": "thank you",
    "tyty": "thank you", "followup": "follow-up",
    "followups": "follow-ups", "annualy": "annually", "/mo": "per month",
    "/month": "per month", "/yr": "per year", "/year": "per year", "/seat": "per seat", "/user": "per user",
    "p/m": "per month", "p/y": "per year", "&": "and", "+": "and", "v": "vs", "vs.": "vs",
    "whats": "what's", "hows": "how's", "wheres": "where's", "whos": "who's", "thats": "that's",
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "cant": "can't", "isnt": "isn't",
    "arent": "aren't", "wasnt": "wasn't", "werent": "weren't", "wont": "won't", "im": "i'm", "ive": "i've",
    "youre": "you're", "theyre": "they're", "weve": "we've", "whatre": "what're",
    "hw": "how", "wat": "what", "wats": "what's", "anual": "annual", "anually": "annually", "cn": "can",
    "ent": "enterprise", "teh": "the", "hte": "the", "taht": "that", "wich": "which", "whcih": "which",
    "nxt": "next", "howd": "how'd", "whered": "where'd", "n": "and",
    "frm": "from", "thru": "through", "bak": "back", "becuase": "because", "recieve": "receive", "happend": "happened", "hapened": "happened",
    "happned": "happened", "px": "price", "pxs": "prices", "yrly": "yearly", "yrl": "yearly", "mthly": "monthly",
    "mnthly": "monthly", "monthy": "monthly", "b4": "before", "wht": "what", "wut": "what", "rite": "right", "golive": "go-live",
    "incl": "included", "inc": "included", "avail": "available", "avl": "available", "w/e": "whatever",
    "tues": "tuesday", "thurs": "thursday", "wensday": "wednesday", "yesterdays": "yesterday's", "todays": "today's", "tomorrows": "tomorrow's",
    **{f"{day}s": f"{day}'s" for day in _WEEKDAYS},
}
# "v" stands for "vs" only between words, "w" for "with" only before one.
_CONTEXT = {
    "v": r"(?<=\w )v(?= \w)",
    "w": r"(?<![\w/'-])w(?= [a-z0-9@<])",
    "r": r"(?<![\w/'-])r(?= (?:u|you|we|they|things)\b)",
    "+": r"(?<=\w )\+(?= \w)",
    # "n beacon?", "team n growth": "and" between words or opening a follow-up, never a lone letter elsewhere
    "n": r"(?:(?<=^)|(?<=[a-z0-9?!] ))n(?= [a-z0-9@<])",
    "&": r"(?<=\w )&(?= \w)",
    # "hw much", "cn it": only where a question opens with them
    "hw": r"(?<![\w/'-])hw(?= (?:much|many|do|does|is|are|can|about|long|often)\b)",
    "cn": r"(?<![\w/'-])cn(?= (?:it|i|you|we|they|he|she|that|this|orbit|beacon|ledger|relay|atlas|sentinel)\b)",
}
_SLASHED = {key for key in SHORTHAND if key.startswith("/")}
_WORDS = sorted((key for key in SHORTHAND if key not in _CONTEXT and key not in _SLASHED), key=len, reverse=True)
_PATTERN = re.compile(
    "|".join(
        [*_CONTEXT.values(),
         r"(?<=\w)(?:" + "|".join(re.escape(k) for k in sorted(_SLASHED, key=len, reverse=True)) + r")\b",
         # (a possessive is kept: "yday's call" is "yesterday's call")
         r"(?<![\w/'@.-])(?:" + "|".join(re.escape(k) for k in _WORDS) + r")(?='s\b|(?![\w'/@-]|\.\w))"]
    ),
    re.IGNORECASE,
)
# "ms teams", "ms outlook": Microsoft's products.
_MICROSOFT = re.compile(r"\bms(?= (?:teams|outlook|365|dynamics|word|excel|entra|azure)\b)", re.IGNORECASE)
# "mo" is "month" only after a number or "this/last/per".
_MONTH = re.compile(r"\b(?:(this|last|per|a) |(\d+) ?)mos?\b", re.IGNORECASE)
# "diff q", "diff question": a different question, not a comparison.
_DIFFERENT = re.compile(r"\bdiff(?= (?:q|qs|question|questions|topic|subject|thing|one)\b)", re.IGNORECASE)
# "the min", "min contract/seats/term": minimum, not minutes.
_MINIMUM = re.compile(r"^min(?=[ ?!.]*$)|\b(?:(?<=the )|(?<=a ))min\b|\bmin(?= (?:contract|commitment|seats?|term|spend|order|price|plan|number|size|team|users?|employees?|licen[cs]es?)\b)",
                      re.IGNORECASE)


# Each expansion above needs one of these as a whole word of the text (or, for "mo", a number just before it:
# "3mo"); the other written forms hold "/", "&", "+" or ".". A text of letters, digits and spaces holding none
# of them is left as it is (see `normalize.normalize_name`, which relies on this: keep the two in step).
TRIGGER_WORDS = frozenset(key for key in SHORTHAND if key.isalnum()) | {"diff", "mo", "mos", "ms", "min"}
_NUMBER_THEN_MONTHS = re.compile(r"\d+mos?")


def leaves_unchanged(lowered: str) -> bool:
    """Whether `expand_shorthand` leaves `lowered` (lower-case letters and digits, words apart by one space) as it is."""
    words = lowered.split(" ")
    if not TRIGGER_WORDS.isdisjoint(words):
        return False
    return "mo" not in lowered or not any(_NUMBER_THEN_MONTHS.fullmatch(word) for word in words)


def _expand(match: re.Match[str]) -> str:
    written = match.group()
    meaning = SHORTHAND[written.lower()]
    if written.startswith("/"):
        return " " + meaning
    return meaning[0].upper() + meaning[1:] if written[:1].isupper() and len(written) > 1 else meaning


def expand_shorthand(text: str) -> str:
    """`text` with chat shorthand written out; everything else unchanged."""
    if "diff " in text.lower():
        text = _DIFFERENT.sub("different", text)
    text = _PATTERN.sub(_expand, text)
    if "mo" in text.lower():
        text = _MONTH.sub(lambda m: f"{m.group(1)} month" if m.group(1) else f"{m.group(2)} month", text)
    if "ms " in text.lower():
        text = _MICROSOFT.sub("microsoft", text)
    if "min" in text.lower():
        text = _MINIMUM.sub("minimum", text)
    return text
