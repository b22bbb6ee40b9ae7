"""A literal prefilter for the patterns: one scan of the text tells which patterns could possibly match.

Python's `re` tries every alternative at every position, so searching ~150 patterns costs far more
than the 50 µs a message may take. Nearly every pattern needs some literal text to match ("price",
"calls", "summar"...). Those literals are read from the regex's parse tree, joined into one
trie-shaped regex and found in a single pass; a pattern runs only when one of its literals is present.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

try:
    from re import _constants as _c
    from re import _parser as _sre_parser
except ImportError:  # pragma: no cover - other Python versions: no prefilter, every pattern runs
    _sre_parser = None  # type: ignore[assignment]
    _c = None  # type: ignore[assignment]

MIN_LITERAL_CHARS = 2  # a one-character literal selects nothing


def required_literals(regex: str) -> tuple[frozenset[str], ...]:
    """Sets of literals a match of `regex` must contain: one literal of every set (no sets: always try it)."""
    if _sre_parser is None:
        return ()
    try:
        found = _requirements(_sre_parser.parse(regex))
    except Exception:  # an unusual construct: no prefilter for this pattern, it always runs
        return ()
    return tuple(frozenset(group) for group in found if min(len(literal) for literal in group) >= MIN_LITERAL_CHARS)


def _requirements(items: Any) -> list[set[str]]:
    """Every literal set one sequence needs: its literal runs, and what its groups and branches need."""
    needed: list[set[str]] = []
    run: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            needed.append({"".join(run)})
            run = []
        if op is _c.SUBPATTERN:
            if not arg[1] & _c.SRE_FLAG_IGNORECASE:  # a case-insensitive group needs no particular case
                needed.extend(_requirements(arg[-1]))
        elif op is _c.BRANCH:
            # One branch or another: each branch's most selective set, joined.
            choices = [_most_selective(_requirements(branch)) for branch in arg[1]]
            if all(choices):
                needed.append(set().union(*choices))  # type: ignore[arg-type]
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and arg[0] >= 1:
            needed.extend(_requirements(arg[2]))
    if run:
        needed.append({"".join(run)})
    return needed


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _most_selective(groups: list[set[str]]) -> set[str] | None:
    """Longer literals first (rarer in text), then fewer of them."""
    return max(groups, key=lambda g: (min(len(literal) for literal in g), -len(g)), default=None)


class LiteralScanner:
    """Finds which of a fixed set of literals occur in a text, in one regex pass."""

    def __init__(self, literals: Iterable[str]) -> None:
        words = sorted(set(literals))
        self._findall = re.compile("(?=(" + _trie_regex(words) + "))").findall if words else None
        # The scan reports the longest literal starting at each position; shorter ones starting
        # there too are its prefixes.
        known = set(words)
        self.prefixes = {word: frozenset(word[:n] for n in range(1, len(word) + 1) if word[:n] in known) for word in words}

    def longest(self, text: str) -> set[str]:
        """The longest literal starting at each position where one starts."""
        return set(self._findall(text)) if self._findall is not None else set()

    def present(self, text: str) -> set[str]:
        """Every literal that occurs in `text`."""
        found: set[str] = set()
        for word in self.longest(text):
            found |= self.prefixes[word]
        return found


def _trie_regex(words: list[str]) -> str:
    """An alternation shaped like a trie ("pric(?:e|ing)"): `re` walks it character by character."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = "|".join(branches)
        if "" in node:
            return f"(?:{body})?"  # tried longest first, then the word ending here
        return branches[0] if len(branches) == 1 else f"(?:{body})"

    return emit(trie)


def fast_search(regex: re.Pattern[str]) -> Callable[[str], object]:
    """`regex.search`, or an equivalent that is faster for a regex opening with `\\b` then words.

    `re` only skips quickly through text to the possible first characters of a pattern that opens
    with them; a leading `\\b` turns that off and costs 2-3x. `\\bR` is searched as `R`, keeping the
    first match whose start is a word start.
    """
    rest = boundary_stripped(regex.pattern, regex.flags)
    return regex.search if rest is None else boundary_search(re.compile(rest))


def boundary_stripped(pattern: str, flags: int = 0) -> str | None:
    """`R` when `pattern` is `\\bR` and `R` opens with a word character (see `fast_search`), else None."""
    if _sre_parser is None or not pattern.startswith("\\b") or flags & ~re.UNICODE:
        return None
    rest = pattern[2:]
    try:
        opens_with_word_char = _opens_with_word_char(_sre_parser.parse(rest))
        re.compile(rest)
    except Exception:
        return None
    return rest if opens_with_word_char else None


def boundary_search(stripped: re.Pattern[str]) -> Callable[[str], re.Match[str] | None]:
    """Search `\\bR` given `R` compiled: `R`'s first match that starts at a word start."""
    search = stripped.search

    def search_at_word_start(text: str) -> re.Match[str] | None:
        match = search(text)
        while match is not None:
            start = match.start()
            if start == 0 or not _is_word_char(text[start - 1]):
                return match
            match = search(text, start + 1)
        return None

    return search_at_word_start


def _opens_with_word_char(items: Any) -> bool:
    """Whether every match of the parsed sequence starts with a word character."""
    if not items:
        return False
    op, arg = items[0]
    if op is _c.LITERAL:
        return _is_word_char(chr(arg))
    if op is _c.SUBPATTERN:
        return not arg[1] and _opens_with_word_char(arg[-1])
    if op is _c.BRANCH:
        return all(_opens_with_word_char(branch) for branch in arg[1])
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        return arg[0] >= 1 and _opens_with_word_char(arg[2])
    if op is _c.IN:
        return all(
            (kind is _c.LITERAL and _is_word_char(chr(value)))
            or (kind is _c.RANGE and all(_is_word_char(chr(v)) for v in range(value[0], value[1] + 1)))
            or (kind is _c.CATEGORY and value in (_c.CATEGORY_DIGIT, _c.CATEGORY_WORD))
            for kind, value in arg
        )
    return False
