"""Message normalization before matching: Slack markup, emoji, control characters, chat shorthand, case, spacing.

The original text is never changed; handlers keep using it. `clean` keeps the letters' case (entities
such as a topic or a person's name are cut out of it), `lowered` is the same string in lower case,
character for character, so a match position in one is the same position in the other.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import NamedTuple

from control_plane.shorthand import expand_shorthand, leaves_unchanged

# Slack allows 40,000 characters; intent lives in the opening words, and regex time grows with length.
MAX_INPUT_CHARS = 4000

_SLACK_MARKUP = re.compile(r"<([^<>|\n]{0,500})(?:\|([^<>\n]{0,500}))?>")
_EMOJI_CODE = re.compile(r":(?=[a-z0-9_+'-]{0,60}[a-z])[a-z0-9_+'-]{1,60}:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Backticks go; a run of `*`, `_`, `~` goes where it opens or closes a word (see `_strip_markers`).
_FORMATTING = re.compile(r"`+|[*_~]+")
# Pictographs, dingbats, variation selectors and skin tones: a reaction, never a word of the request.
_EMOJI = re.compile("[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2b00-\u2bff\ufe0e\ufe0f\U0001f000-\U0001faff]+")
_REPEATED_PUNCTUATION = re.compile(r"([!?.,;:\-])\1+")
_LEADING_HANDLE = re.compile(r"^(?:@[\w.-]{1,80}[,:]?\s+)+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'})


class NormalizedText(NamedTuple):
    clean: str  # markup resolved, spacing collapsed, case kept
    lowered: str  # `clean` in lower case, same length


def _resolve_markup(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        return " "  # a user mention (usually the bot itself) carries no intent
    if target.startswith("#"):
        return f" #{label} " if label else " "
    if target.startswith("!"):
        return f" {label} " if label else " "  # <!here>, <!subteam^S1|@sales>, <!date^...|fallback>
    if label:
        return label
    return target.removeprefix("mailto:")


def _is_word_char(char: str) -> bool:
    """What `re` counts as `\\w` in a str pattern."""
    return char.isalnum() or char == "_"


def _strip_markers(match: re.Match[str]) -> str:
    """One run of `*`, `_`, `~` with what `(?<!\\w)[*_~]+(?=\\w)|(?<=\\w)[*_~]+(?!\\w)` removes taken out.

    That regex backtracks: on a run of `*` it retries from every position to the end of the run,
    quadratic in the run's length. Within a run its matches are known in advance: from a place after
    a non-word character it removes up to the last place followed by a word character (a `_` in the
    run, or the run's end when a word follows), and after a word character up to the last place
    followed by a non-word one (a `*` or `~`, or the run's end when no word follows). One pass.
    """
    run = match.group()
    if run[0] == "`":
        return ""
    text, start, end = match.string, match.start(), match.end()
    word_before = start > 0 and _is_word_char(text[start - 1])
    word_after = end < len(text) and _is_word_char(text[end])
    size = len(run)
    # The furthest place (an offset in the run, `size` for its end) each kind of match can reach.
    reach_opening = size if word_after else run.rfind("_")
    reach_closing = size if not word_after else max(run.rfind("*"), run.rfind("~"))
    kept: list[str] = []
    position = 0
    while position < size:
        after_word = word_before if position == 0 else run[position - 1] == "_"
        reach = reach_closing if after_word else reach_opening
        if reach > position:
            position = reach  # the match removes run[position:reach]
            continue
        kept.append(run[position])
        position += 1
    return "".join(kept)


def lower_same_length(text: str) -> str:
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    # A handful of characters (e.g. "İ") grow when lowered; keep those as they are.
    return "".join(ch if len(low := ch.lower()) != 1 else low for ch in text)


_PLAIN = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")


def normalize_name(text: str) -> str:
    """`normalize(text).lowered`, quicker for a plain name ("Solar Forge 1"): catalogs hold 100,000s of them.

    A text of ASCII letters and digits in words apart by single spaces meets none of the passes below but
    shorthand (no markup, entity, emoji, control or formatting character, repeated punctuation or extra
    space), and shorthand needs one of its trigger words; such a text normalizes to itself.
    """
    if len(text) <= MAX_INPUT_CHARS and _PLAIN.fullmatch(text):
        lowered = text.lower()
        if leaves_unchanged(lowered):
            return lowered
    return normalize(text).lowered


# Emoji that say something on their own: a wave greets ("👋", ":wave:"); the rest are decoration.
_EMOJI_WORDS = {"\U0001f44b": "hi", ":wave:": "hi"}


def _emoji_word(match: re.Match[str]) -> str:
    """A run of emoji as the word it stands for, if it is one of `_EMOJI_WORDS`, else a space."""
    found = match.group().lower()
    return next((f" {word} " for emoji, word in _EMOJI_WORDS.items() if emoji in found), " ")


def normalize(text: str) -> NormalizedText:
    """Normalize a raw Slack or shell message; never raises for any string."""
    # Each pass runs only when its trigger character is present: this is on every message's path.
    text = text[:MAX_INPUT_CHARS]
    if "<" in text:
        text = _SLACK_MARKUP.sub(_resolve_markup, text)
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
        text = _INVISIBLE.sub("", text)
        text = _EMOJI.sub(_emoji_word, text)
    if not text.isprintable():
        text = _CONTROL.sub(" ", text)
    if ":" in text:
        text = _EMOJI_CODE.sub(_emoji_word, text)
    if "`" in text or "*" in text or "_" in text or "~" in text:
        text = _FORMATTING.sub(_strip_markers, text)
    text = _REPEATED_PUNCTUATION.sub(r"\1", text)
    text = expand_shorthand(text)
    text = " ".join(text.split())
    if text.startswith("@"):
        text = _LEADING_HANDLE.sub("", text)
    return NormalizedText(clean=text, lowered=lower_same_length(text))
