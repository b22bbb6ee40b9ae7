"""The pattern tier: each intent scores the confidence of its best matching pattern, less its negatives.

Matching is the hot path (every message, a 50 µs budget), so the rules are flattened into one list
in evaluation order and a literal prefilter (see `prefilter`) picks the few worth a regex search.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import NamedTuple

from control_plane.intents import Candidate, Intent
from control_plane.normalize import normalize
from control_plane.patterns import Negative, Pattern, PatternSet, expand
from control_plane.prefilter import LiteralScanner, fast_search, required_literals
from knowledge.vocabulary import Vocabulary

_PATTERN, _VETO, _PENALTY = 0, 1, 2


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


class _Rule(NamedTuple):
    """One pattern or negative, flattened for the hot loop."""

    intent: Intent
    kind: int  # _PATTERN | _VETO | _PENALTY
    search: Callable[[str], object]  # truthy when the rule matches
    value: float  # a pattern's confidence or a negative's penalty
    id: str
    needs: tuple[frozenset[str], ...]  # literal sets it needs one literal of each of (see `prefilter`)
    key: frozenset[str]  # the most selective of them (empty: no literal needed, always tried)


def _or(values: Iterable[int]) -> int:
    result = 0
    for value in values:
        result |= value
    return result


def _rule(intent: Intent, rule: Pattern | Negative, alternations: dict[str, str]) -> _Rule | None:
    """The rule with its placeholders filled in; None if the vocabulary has nothing for one of them."""
    if rule.placeholders:
        if any(name not in alternations for name in rule.placeholders):
            return None
        rule = replace(rule, regex=re.compile(expand(rule.template, alternations)))
    needs = required_literals(rule.regex.pattern)
    key = max(needs, key=lambda g: (min(map(len, g)), -len(g))) if needs else frozenset()
    search = fast_search(rule.regex)
    if isinstance(rule, Pattern):
        return _Rule(intent, _PATTERN, search, rule.confidence, rule.id, needs, key)
    return _Rule(intent, _VETO if rule.veto else _PENALTY, search, rule.penalty, rule.id, needs, key)


class PatternClassifier:
    """Ranks the intents a message matches; built once per pattern set and vocabulary."""

    def __init__(self, patterns: PatternSet, terms: Mapping[str, Iterable[str]] | None = None) -> None:
        self.patterns = patterns
        self._limits = patterns.limits
        alternations = _alternations(terms or {})
        # Evaluation order: intent by intent, best pattern first, then the intent's negatives. Rules
        # are numbered in that order, so sorting the numbers of the rules worth trying keeps it.
        rules: list[_Rule] = []
        for group in patterns.intents:
            positives = [r for r in (_rule(group.intent, p, alternations) for p in group.patterns) if r]
            if positives:
                rules += positives
                rules += [r for r in (_rule(group.intent, n, alternations) for n in group.negatives) if r]
        self._rules = tuple(rules)
        self._always = frozenset(number for number, rule in enumerate(rules) if not rule.key)
        # A rule is looked at when a literal of its key is present (by_literal), and searched only when
        # every literal set it needs is satisfied: one bit per distinct set, compared as integers.
        bits: dict[frozenset[str], int] = {}
        self._masks = tuple(sum(1 << bits.setdefault(group, len(bits)) for group in set(rule.needs)) for rule in rules)
        by_literal: dict[str, set[int]] = {}
        for number, rule in enumerate(rules):
            for literal in rule.key:
                by_literal.setdefault(literal, set()).add(number)
        literal_bits: dict[str, int] = {}
        for group, bit in bits.items():
            for literal in group:
                literal_bits[literal] = literal_bits.get(literal, 0) | 1 << bit
        self._scanner = LiteralScanner(literal_bits)
        # The scanner reports the longest literal at each position; its prefixes are there too.
        self._found = {
            found: (
                frozenset().union(*(by_literal.get(prefix, ()) for prefix in prefixes)),
                _or(literal_bits[prefix] for prefix in prefixes),
            )
            for found, prefixes in self._scanner.prefixes.items()
        }

    def candidates(self, lowered: str) -> list[Candidate]:
        """Every intent with a positive score, best first. `lowered` is normalized, lower-case text."""
        text = lowered[: self._limits.match_chars]
        numbers = set(self._always)
        present = 0
        found_table = self._found
        for found in self._scanner.longest(text):
            keyed, found_bits = found_table[found]
            numbers |= keyed
            present |= found_bits
        rules, masks = self._rules, self._masks
        found_candidates: list[Candidate] = []
        current: Intent | None = None
        score: float | None = None
        pattern_id = ""
        for number in sorted(numbers):
            intent, kind, search, value, rule_id, _needs, _key = rules[number]
            if intent is not current:
                if score is not None and current is not None:
                    found_candidates.append(Candidate(current, score, pattern_id))
                current, score = intent, None
            if masks[number] & present != masks[number]:
                continue  # a literal it needs is missing: it cannot match
            if kind == _PATTERN:
                if score is None and search(text):
                    score, pattern_id = value, rule_id
            elif score is not None and search(text):  # a negative, for an intent that matched
                if kind == _VETO:
                    score = None
                else:
                    score = round(score - value, 4)
                    pattern_id = f"{pattern_id}-{rule_id}"
                    if score <= 0:
                        score = None
        if score is not None and current is not None:
            found_candidates.append(Candidate(current, score, pattern_id))
        if len(lowered) > self._limits.confident_chars:
            cap = self._limits.long_message_cap
            found_candidates = [c._replace(confidence=cap) if c.confidence > cap else c for c in found_candidates]
        found_candidates.sort(key=lambda c: -c.confidence)
        return found_candidates
