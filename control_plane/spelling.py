"""Typos in names and key words: "startr" is read as Starter, "globx" as Globex, "integation" as integration.

A word is corrected only when it is not an English word (the word list symspellpy ships), it or the
name is at least `MIN_WORD_CHARS` long (neither shorter than `MIN_SHORT_CHARS`), and it is one edit
(insert, delete, substitute or swap two neighbours) away from exactly one known spelling (two edits
for a name of `LONG_WORD_CHARS` letters or more). Candidates come from a symmetric-deletion index
(every spelling with each one letter left out), so a lookup is a few dictionary probes whatever the
size of the catalog; rapidfuzz's optimal-string-alignment distance confirms them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from control_plane import user_cache

MIN_WORD_CHARS = 5
# A typo of four letters ("tylr") or of a four-letter name ("acmee") is read only where the longer of the two
# has five letters or more: between two four-letter words one edit is too easy a coincidence.
MIN_SHORT_CHARS = 4
# Names whose possessive without an apostrophe may be an English word ("umbrellas budget"): an account's or a
# person's, never a plan's ("teams" is not the Team plan's) or a key word's.
_POSSESSED_KINDS = frozenset({"account", "contact", "colleague"})
# Long names ("vandelay", "umbrella") are also read through two edits ("vandaly"), compared one by one
# with rapidfuzz, so only while there are at most this many of them.
LONG_WORD_CHARS = 7
MAX_LONG_SPELLINGS = 5_000
# The index keeps one entry per deletion; past this many spellings, names of the kinds listed last
# in `Speller.add` calls (products on a huge catalog) are matched exactly only.
MAX_SPELLINGS = 60_000
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]")
_WORD_LIST = "frequency_dictionary_en_82_765.txt"  # in symspellpy's package

# Words the patterns and handlers key on, so a typo in them is read as what it means.
KEYWORDS = tuple(
    """price prices pricing priced cost costs expensive cheapest discount discounts annual annually monthly
    yearly billing billed invoice contract minimum maximum seats seat license licenses plans plan tiers tier
    enterprise feature features include includes included integration integrations integrate integrates
    connector connectors storage limits limit retention compliance security certified certification
    encryption uptime compare comparison difference versus between summarize summarise summary recap
    transcript transcripts recording recordings meeting meetings conversation conversations calls
    search mentioned mention discussed discuss draft email emails follow-up reply yesterday today tomorrow
    morning afternoon quarter month week last latest recent previous forecasting sequences onboarding
    salesforce hubspot support supports available trial""".split()
)


class Correction(NamedTuple):
    spelling: str  # the known spelling, lower case
    kind: str  # the kind of name it is, or "word" for a key word
    typo: bool  # False for a plural or a possessive written without its apostrophe ("henriks")
    possessive: bool = False  # a typo of a name's possessive written without its apostrophe ("tylrs": Tyler's)


@lru_cache(maxsize=1)
def _word_list() -> dict[str, str]:
    """Each word of the list symspellpy ships, with its count as written (the last line of a word wins).

    Read at every start, so without a Python-level step per line: splitting, partitioning and the dict
    are done in C (~8x cheaper than a loop over the 82,000 lines)."""
    listing = resources.files("symspellpy").joinpath(_WORD_LIST).read_text(encoding="utf-8")
    parts = list(map(str.partition, listing.splitlines(), repeat(" ")))
    words = dict(zip(map(itemgetter(0), parts), map(itemgetter(2), parts)))
    words.pop("", None)
    return words


def word_counts() -> dict[str, int]:
    """About 82,000 English words (with inflections and common proper names), lower case, with how often
    each occurs in a large English corpus (the list symspellpy ships)."""
    return {word: int(count) if count.isdigit() else 0 for word, count in _word_list().items()}


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    return frozenset(_word_list())


@lru_cache(maxsize=1)
def rapidfuzz_modules() -> tuple[Any, Any]:
    """rapidfuzz's `process` and `OSA`, imported on the first spelling check (a process answering "hi" needs none)."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    return process, OSA


def prepare() -> None:
    """Load now what the first spelling check would (the word list, rapidfuzz)."""
    english_words()
    rapidfuzz_modules()


@lru_cache(maxsize=4)
def common_words(at_least: int) -> frozenset[str]:
    """The words of the list occurring at least `at_least` times (`word_counts()[word] >= at_least`).

    A name index needs only these ~1,300 of the 82,000 words, so they are kept in the user cache (keyed by
    the list file and this module's code): a start that needs no spelling check never reads the list."""
    key = _common_words_key(at_least)
    folder = user_cache.cache_folder()
    path = folder / "common-words.json" if folder is not None and key is not None else None
    stored = user_cache.read(path, key) if path is not None else None
    if isinstance(stored, list) and all(isinstance(word, str) for word in stored):
        return frozenset(stored)
    digits = len(str(at_least))  # a count written with fewer digits is smaller
    found = frozenset(word for word, count in _word_list().items()
                      if len(count) >= digits and count.isdigit() and int(count) >= at_least)
    if path is not None:
        user_cache.write(path, key, sorted(found))
    return found


def _common_words_key(at_least: int) -> dict[str, object] | None:
    try:
        listing = Path(str(resources.files("symspellpy").joinpath(_WORD_LIST)))
        stat = listing.stat()
        code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    except (OSError, TypeError):  # not a plain file (a zipped install): worked out at every start
        return None
    return {"list": str(listing), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "at_least": at_least, "code": code}


def _deletions(word: str) -> set[str]:
    return {word[:index] + word[index + 1 :] for index in range(len(word))}


class Speller:
    """Known spellings and their one-letter deletions; build once per vocabulary."""

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}  # spelling -> kind (the first kind it was added as)
        self._by_deletion: dict[str, set[str]] = {}
        self._long: list[str] = []  # long spellings of names (not key words), for two-edit typos
        # Three-letter names of people and accounts: too short for typos, but "leos plate" is Leo's.
        self._short_owners: dict[str, str] = {}

    def add(self, words: Iterable[str], kind: str) -> None:
        """Known spellings of `kind` (multi-word names are added word by word)."""
        for phrase in words:
            for word in _WORD.findall(phrase.lower()):
                if len(word) == MIN_SHORT_CHARS - 1 and kind in _POSSESSED_KINDS:
                    self._short_owners.setdefault(word, kind)
                if len(word) < (MIN_WORD_CHARS if kind in ("word", "term") else MIN_SHORT_CHARS) or word in self._kinds:
                    continue
                if len(self._kinds) >= MAX_SPELLINGS:
                    return
                self._kinds[word] = kind
                if kind != "word" and len(word) >= LONG_WORD_CHARS and len(self._long) < MAX_LONG_SPELLINGS:
                    self._long.append(word)
                for key in (word, *_deletions(word)):
                    self._by_deletion.setdefault(key, set()).add(word)

    def correct(self, word: str) -> Correction | None:
        """The one known spelling `word` (lower case) is a typo of, or None."""
        # The word list loads on the first word worth a check (a process answering "hi" never reads it).
        if len(word) < MIN_SHORT_CHARS or word in self._kinds:
            return None
        # A plural or a possessive without its apostrophe; an account's or a person's even when it is an
        # English word ("umbrellas budget")
        singular_kind = (self._kinds.get(word[:-1]) or self._short_owners.get(word[:-1])) if word.endswith("s") else None
        if singular_kind == "term":
            return None  # "integrations", "workflows": the plural of what the catalog offers, already understood
        if singular_kind is not None and (singular_kind in _POSSESSED_KINDS or word not in english_words()):
            return Correction(word[:-1], singular_kind, typo=False)
        if word in english_words():
            return None
        process, OSA = rapidfuzz_modules()
        found: set[str] = set()
        for key in (word, *_deletions(word)):
            found |= self._by_deletion.get(key, set())
        close = [spelling for spelling in found if OSA.distance(word, spelling, score_cutoff=1) <= 1
                 and max(len(word), len(spelling)) >= MIN_WORD_CHARS]
        if not close and len(word) >= LONG_WORD_CHARS - 1 and self._long:
            two = process.extract(word, self._long, scorer=OSA.distance, score_cutoff=2, limit=2)
            close = [spelling for spelling, distance, _ in two if distance <= 2]
            if len(two) == 2 and two[0][1] < two[1][1]:
                close = close[:1]  # one name is clearly closer
        if len(close) != 1:
            # "tylrs plate": a typo of a person's or account's name, with its possessive's "s"
            owner = self.correct(word[:-1]) if word.endswith("s") and len(word) > MIN_SHORT_CHARS else None
            if owner is not None and owner.typo and owner.kind in _POSSESSED_KINDS:
                return owner._replace(possessive=True)
            return None  # nothing close, or two names equally close: not sure enough to pick one
        return Correction(close[0], self._kinds[close[0]], typo=True)
