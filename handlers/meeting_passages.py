"""The lines of a meeting that answer what a recap request asks ("what was the competitor price",
"whats sarahs budget"): transcript turns sharing the question's words, best first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from handlers.text_match import terms

MAX_PASSAGES = 3
MAX_QUESTION_CHARS = 500  # what a recap asks is said in its opening

# Words of a recap request that ask for the meeting, not for something said in it.
_REQUEST_WORDS = terms(
    """recap summarize summarise summary sum tldr brief debrief notes minutes takeaways highlights key points
    action items next steps decisions call calls meeting meetings demo session sync latest last recent
    previous yesterday today week again what who when how happened happen discuss discussed said say talk
    talked go went get got did were was the a an please pls thanks send email draft follow up"""
)


def question_words(question: str, names: Iterable[str]) -> frozenset[str]:
    """The content words of a recap request, without the request itself and the names it uses."""
    named = frozenset().union(*(terms(name) for name in names if name))
    return terms(question[:MAX_QUESTION_CHARS]) - _REQUEST_WORDS - named


def passages(words: frozenset[str], transcript: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Up to `MAX_PASSAGES` turns holding the most of `words`, in the order they were said."""
    if not words:
        return []
    scored = [(len(words & terms(said)), index) for index, (_, said) in enumerate(transcript)]
    best = sorted((pair for pair in scored if pair[0] > 0), key=lambda pair: (-pair[0], pair[1]))[:MAX_PASSAGES]
    return [transcript[index] for _, index in sorted(best, key=lambda pair: pair[1])]
