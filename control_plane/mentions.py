"""Where a message names a product or a plan, and the message with those names masked for the patterns.

Patterns say `{product}` and `{plan}`. Filling those in with an alternation of every catalog name made
the regexes grow with the catalog (10,000 products: ~10 s to compile and ~20 MiB of regex). Instead
the names are found here by dictionary lookups and a copy of the text has each one replaced by marks
of the same length, which is all a placeholder matches (`PLACEHOLDER_PATTERNS`). The patterns stay
the same few regexes whatever the size of the catalog.

A mention is where the alternation would have matched: a name starting at a word start and, when it
ends with a word character, ending at a word end (every placeholder in the patterns has `\\b` or a
space on each side); the longest name at each place, left to right, without overlaps, kind by kind.
Masking keeps every length, so bounded gaps (`[^.?!\\n]{0,40}`) and positions are unchanged.

The marks are the ligatures U+FB00-FB02 (ﬀ ﬁ ﬂ): word characters, so `\\b` around a placeholder
behaves as it did around the name, and never in normalized text, because NFKC turns each into letters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from control_plane.normalize import normalize_name
from control_plane.prefilter import MIN_LITERAL_CHARS

KINDS = ("product", "plan")  # the placeholders, one bit each
_BIT = {kind: 1 << number for number, kind in enumerate(KINDS)}
_FIRST_MARK = 0xFB00  # a character in mentions of the kinds in `bits` becomes chr(_FIRST_MARK + bits - 1)
# A placeholder rule is only looked at when one of its names' first words is in the message (see
# `MentionIndex.first_words`), unless the names start with more different words than this.
MAX_GATE_WORDS = 256


def mark(bits: int) -> str:
    """The mark of a character inside mentions of the kinds in `bits`."""
    return chr(_FIRST_MARK + bits - 1)


# What each placeholder expands to: a run of the marks of every set of kinds that includes it.
PLACEHOLDER_PATTERNS = {
    kind: "[" + "".join(mark(bits) for bits in range(1, 1 << len(KINDS)) if bits & _BIT[kind]) + "]+" for kind in KINDS
}
MARKS = frozenset(mark(bits) for bits in range(1, 1 << len(KINDS)))

_WORD = re.compile(r"\w+")


def _is_word_char(char: str) -> bool:
    """What `re` counts as `\\w` in a str pattern."""
    return char.isalnum() or char == "_"


def placeholder_bits(placeholders: Iterable[str]) -> int:
    """The kind bits of a rule's placeholders."""
    return sum({_BIT[name] for name in placeholders})


class _Name(NamedTuple):
    bits: int  # the kinds it is a name of
    open_end: bool  # ends with a non-word character: no word end needed after it


# The few distinct values, shared by every name (a catalog has 100,000s of names).
_NAME_VALUES = {(bits, open_end): _Name(bits, open_end) for bits in range(1, 1 << len(KINDS)) for open_end in (False, True)}


class Mentions:
    """The names found in one message, and the masked copies of it that placeholder rules search."""

    __slots__ = ("_spans", "_text", "_views")

    def __init__(self, text: str, spans: dict[int, list[tuple[int, int]]]) -> None:
        self._text = text
        self._spans = spans  # kind bit -> (start, end) of each mention, left to right, apart
        self._views: dict[int, str | None] = {}

    def spans(self, kind: str) -> list[tuple[int, int]]:
        """Where names of `kind` are mentioned."""
        return list(self._spans.get(_BIT[kind], ()))

    def view(self, bits: int) -> str | None:
        """The text with mentions of the kinds in `bits` masked; None if it mentions none of them."""
        if bits not in self._views:
            self._views[bits] = self._mask(bits)
        return self._views[bits]

    def _mask(self, bits: int) -> str | None:
        found = [(bit, spans) for bit, spans in self._spans.items() if bit & bits and spans]
        if not found:
            return None
        text = self._text
        if len(found) == 1:  # the usual case: one kind, its spans in order and apart
            bit, spans = found[0]
            pieces, last = [], 0
            for start, end in spans:
                pieces += (text[last:start], mark(bit) * (end - start))
                last = end
            pieces.append(text[last:])
            return "".join(pieces)
        covered = [0] * len(text)  # mentions of different kinds may overlap: mark character by character
        for bit, spans in found:
            for start, end in spans:
                for position in range(start, end):
                    covered[position] |= bit
        return "".join(mark(bits) if bits else char for char, bits in zip(text, covered))


class MentionIndex:
    """Catalog names by their first word; built once per vocabulary, a lookup costs the same at any size."""

    def __init__(self, terms: Mapping[str, Iterable[str]]) -> None:
        """`terms`: placeholder -> the names it stands for, as written in the catalog."""
        bits_of: dict[str, int] = {}
        named = 0  # the kinds with at least one name
        for kind, values in terms.items():
            if kind not in _BIT:
                raise ValueError(f"unknown placeholder {kind!r} (known: {', '.join(KINDS)})")
            bit = _BIT[kind]
            for value in values:
                name = normalize_name(value)
                if name:
                    bits_of[name] = bits_of.get(name, 0) | bit
                    named |= bit
        self.kinds = frozenset(kind for kind, bit in _BIT.items() if named & bit)
        self._names: dict[str, _Name] = {}
        lengths: dict[str, set[int]] = {}
        self._first_words: dict[int, set[str]] = {bit: set() for bit in _BIT.values()}
        first_words = self._first_words
        for name, bits in bits_of.items():
            first = _WORD.match(name)
            if first is None:  # opens with a non-word character: never at a word start
                continue
            word = first.group()
            self._names[name] = _NAME_VALUES[bits, not _is_word_char(name[-1])]
            found = lengths.get(word)
            if found is None:
                found = lengths[word] = set()
            found.add(len(name))
            for bit, words in first_words.items():
                if bits & bit:
                    words.add(word)
        # First word -> the lengths of the names it opens, longest first ("orbit analytics" before
        # "orbit"): a few slices and dictionary lookups per mention, however many names share the word.
        self._lengths = {word: tuple(sorted(found, reverse=True)) for word, found in lengths.items()}

    def first_words(self, bits: int) -> frozenset[str] | None:
        """The words the names of the kinds in `bits` start with: one is in any message naming one of
        them. None when they are too many or too short to be worth a literal prefilter."""
        words = frozenset().union(*(found for bit, found in self._first_words.items() if bit & bits))
        if not words or len(words) > MAX_GATE_WORDS or min(map(len, words)) < MIN_LITERAL_CHARS:
            return None
        return words

    def find(self, lowered: str) -> Mentions | None:
        """The names in `lowered` (normalized, lower case), or None when it names none."""
        lengths = self._lengths
        words = _WORD.findall(lowered)
        if lengths.keys().isdisjoint(words):  # most messages: one pass in C
            return None
        starts = sorted(start for word in lengths.keys() & words for start in _word_starts(lowered, word))
        names = self._names
        spans: dict[int, list[tuple[int, int]]] = {}
        free_from = dict.fromkeys(_BIT.values(), 0)  # kind bit -> where its next mention may start
        size = len(lowered)
        for start, word in starts:
            wanted = 0
            for bit, free in free_from.items():
                if start >= free:
                    wanted |= bit
            for length in lengths[word]:
                end = start + length
                name = names.get(lowered[start:end])
                if name is None or not name.bits & wanted:
                    continue
                if not name.open_end and end < size and _is_word_char(lowered[end]):
                    continue  # "orbit analytic" in "orbit analytics"
                hit = name.bits & wanted
                for bit in free_from:
                    if bit & hit:
                        spans.setdefault(bit, []).append((start, end))
                        free_from[bit] = end
                wanted &= ~hit
                if not wanted:
                    break
        return Mentions(lowered, spans) if spans else None


def _word_starts(text: str, word: str) -> list[tuple[int, str]]:
    """Where `word` is a whole word of `text` (a maximal run of word characters)."""
    found = []
    size = len(word)
    start = text.find(word)
    while start >= 0:
        end = start + size
        if (start == 0 or not _is_word_char(text[start - 1])) and (end == len(text) or not _is_word_char(text[end])):
            found.append((start, word))
        start = text.find(word, end)
    return found
