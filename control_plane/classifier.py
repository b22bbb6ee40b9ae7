"""The pattern tier: each intent scores the confidence of its best matching pattern, less its negatives."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from control_plane.intents import Candidate, Intent
from control_plane.normalize import normalize
from control_plane.patterns import IntentPatterns, Negative, Pattern, PatternSet, expand
from knowledge.vocabulary import Vocabulary


def placeholder_terms(vocabulary: Vocabulary) -> dict[str, list[str]]:
    """What {product} and {plan} stand for: the catalog's names as the normalizer writes them."""
    products = [p.name for p in vocabulary.products] + [p.slug.replace("-", " ") for p in vocabulary.products]
    return {"product": products, "plan": list(vocabulary.plans)}


def _alternations(terms: Mapping[str, Iterable[str]]) -> dict[str, str]:
    alternations = {}
    for name, values in terms.items():
        words = {normalize(value).lowered for value in values} - {""}
        if words:
            # Longest first, so "orbit analytics" wins over "orbit".
            alternations[name] = "(?:" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"
    return alternations


@dataclass(frozen=True)
class _Level:
    """The patterns of one intent that share a confidence, searched as one alternation."""

    confidence: float
    regex: re.Pattern[str]
    patterns: tuple[Pattern, ...]


@dataclass(frozen=True)
class _CompiledIntent:
    intent: Intent
    any_regex: re.Pattern[str]  # every positive pattern of the intent: one search rules the intent out
    levels: tuple[_Level, ...]  # highest confidence first
    negatives: tuple[Negative, ...]


def _alternation(patterns: tuple[Pattern, ...]) -> re.Pattern[str]:
    # The loader rejects named groups, backreferences and global flags, so any patterns join cleanly.
    if len(patterns) == 1:
        return patterns[0].regex
    return re.compile("|".join(f"(?:{p.regex.pattern})" for p in patterns))


def _filled(rule: Pattern | Negative, alternations: dict[str, str]) -> Pattern | Negative | None:
    """The rule with its placeholders filled in; None if the vocabulary has nothing for one of them."""
    if not rule.placeholders:
        return rule
    if any(name not in alternations for name in rule.placeholders):
        return None
    return replace(rule, regex=re.compile(expand(rule.template, alternations)))


def _compile_intent(group: IntentPatterns, alternations: dict[str, str]) -> _CompiledIntent:
    patterns = tuple(p for p in (_filled(p, alternations) for p in group.patterns) if isinstance(p, Pattern))
    negatives = tuple(n for n in (_filled(n, alternations) for n in group.negatives) if isinstance(n, Negative))
    levels: list[_Level] = []
    for pattern in patterns:  # already sorted by confidence, highest first
        if levels and levels[-1].confidence == pattern.confidence:
            same = (*levels[-1].patterns, pattern)
            levels[-1] = _Level(pattern.confidence, _alternation(same), same)
        else:
            levels.append(_Level(pattern.confidence, pattern.regex, (pattern,)))
    return _CompiledIntent(
        intent=group.intent,
        any_regex=_alternation(patterns) if patterns else re.compile(r"(?!)"),
        levels=tuple(levels),
        negatives=negatives,
    )


class PatternClassifier:
    """Ranks the intents a message matches; built once per pattern set and vocabulary."""

    def __init__(self, patterns: PatternSet, terms: Mapping[str, Iterable[str]] | None = None) -> None:
        self.patterns = patterns
        self._limits = patterns.limits
        alternations = _alternations(terms or {})
        compiled = (_compile_intent(group, alternations) for group in patterns.intents)
        self._intents = tuple(c for c in compiled if c.levels)

    def candidates(self, lowered: str) -> list[Candidate]:
        """Every intent with a positive score, best first. `lowered` is normalized, lower-case text."""
        text = lowered[: self._limits.match_chars]
        long_message = len(lowered) > self._limits.confident_chars
        found: list[Candidate] = []
        for compiled in self._intents:
            if compiled.any_regex.search(text) is None:
                continue
            scored = self._score(compiled, text)
            if scored is None:
                continue
            confidence, pattern_id = scored
            if long_message:
                confidence = min(confidence, self._limits.long_message_cap)
            found.append(Candidate(compiled.intent, round(confidence, 4), pattern_id))
        found.sort(key=lambda c: -c.confidence)
        return found

    @staticmethod
    def _score(compiled: _CompiledIntent, text: str) -> tuple[float, str] | None:
        for level in compiled.levels:
            if level.regex.search(text) is None:
                continue
            pattern_id = next((p.id for p in level.patterns if p.regex.search(text)), level.patterns[0].id)
            confidence = level.confidence
            for negative in compiled.negatives:
                if negative.regex.search(text) is None:
                    continue
                if negative.veto:
                    return None
                confidence -= negative.penalty
                pattern_id = f"{pattern_id}-{negative.id}"
            return (confidence, pattern_id) if confidence > 0 else None
        return None
