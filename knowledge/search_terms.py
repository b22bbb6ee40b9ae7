"""The words a call search looks for: the user's text split into terms, each with its shorthand's spelling in full.

Shared by every engine's version of call search (knowledge.dialects.search turns the terms into an FTS5 or a
PostgreSQL query); no term ever reaches a query's syntax unquoted.
"""

from __future__ import annotations

import re

# Words that match almost every segment: they make a search slow and its ranking no better.
STOPWORDS = frozenset(
    "a about after all also an and any are as at be been before but by can could did do does for from had has"
    " have how i if in into is it its me my no not of on or our so some than that the their them then there"
    " these they this to us was we were what when where which who why will with would you your".split()
)

# Shorthand reps type for what calls say in full: "pen testing" finds "penetration test" too.
CALL_SYNONYMS = {
    "pen": "penetration", "2fa": "two-factor", "mfa": "multi-factor", "dpa": "data processing agreement",
    "msa": "master services agreement", "poc": "proof of concept", "sow": "statement of work",
    "sfdc": "salesforce", "infosec": "security",
}

# A user's "quoted phrase" (closed quotes only), or a run of non-space characters.
_TERM = re.compile(r'"([^"]*)"|(\S+)')

Term = tuple[str, ...]  # what the user typed (a word or a phrase), then the same said in full if it is shorthand


def search_terms(text: str) -> tuple[Term, ...]:
    """Every word or "quoted phrase" of `text` to search for, with its synonym; () when there is nothing to search.

    Common words ("the", "about", ...) outside quotes are left out unless nothing else is left, and a
    repeated term is kept once (it changes nothing but the query's cost).
    """
    terms: list[tuple[str, bool]] = []  # (term, is a common word)
    for phrase, word in _TERM.findall(text.replace("\x00", " ")):
        term = " ".join((phrase or word).split())
        if not any(char.isalnum() for char in term):
            continue  # punctuation alone tokenizes to nothing
        terms.append((term, not phrase and term.lower() in STOPWORDS))
    kept = dict.fromkeys([term for term, common in terms if not common] or [term for term, _ in terms])
    return tuple(_with_synonym(term) for term in kept)


def _with_synonym(term: str) -> Term:
    synonym = CALL_SYNONYMS.get(term.lower())
    return (term, synonym) if synonym else (term,)
