"""The pattern tier: each intent scores the confidence of its best matching pattern, less its negatives.

Matching is the hot path (every message, a 50 µs budget), so the rules are flattened into one list
in evaluation order and a literal prefilter (see `prefilter`) picks the few worth a regex search.
A rule's regex is compiled the first time it is searched: a process that answers one message (`pitcrew
ask`) compiles the few that message needs, not all ~200.
Rules naming `{product}` or `{plan}` search a copy of the message with the catalog names masked (see
`mentions`), so they cost the same whatever the size of the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from control_plane.intents import Candidate, Intent
from control_plane.mentions import MentionIndex, Mentions, placeholder_bits
from control_plane.normalize import normalize
from control_plane.patterns import Negative, Pattern, PatternSet
from control_plane.prefilter import LiteralScanner, boundary_search
from knowledge.vocabulary import Vocabulary

_PATTERN, _VETO, _PENALTY = 0, 1, 2


def placeholder_terms(vocabulary: Vocabulary) -> dict[str, list[str]]:
    """What {product} and {plan} stand for: the catalog's names as the normalizer writes them."""
    products = [p.name for p in vocabulary.products] + [p.slug.replace("-", " ") for p in vocabulary.products]
    return {"product": products, "plan": list(vocabulary.plans)}


def _alternations(terms: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Each placeholder as an alternation of its names: what the masked matching must agree with."""
    alternations = {}
    for name, values in terms.items():
        words = {normalize(value).lowered for value in values} - {""}
        if words:
            # Longest first, so "orbit analytics" wins over "orbit".
            alternations[name] = "(?:" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"
    return alternations


class _Rule(NamedTuple):
    """One pattern or negative, flattened for the hot loop (its search function is in `_searches`)."""

    intent: Intent
    kind: int  # _PATTERN | _VETO | _PENALTY
    source: str  # the regex searched
    boundary: bool  # `source` is searched without its leading `\b` (see `prefilter.fast_search`)
    value: float  # a pattern's confidence or a negative's penalty
    id: str
    needs: tuple[frozenset[str], ...]  # literal sets it needs one literal of each of (see `prefilter`)
    key: frozenset[str]  # the most selective of them (empty: no literal needed, always tried)
    view: int  # 0: searches the text; else the kind bits of its placeholders: searches the text with those masked


def _or(values: Iterable[int]) -> int:
    result = 0
    for value in values:
        result |= value
    return result


def _rule(intent: Intent, rule: Pattern | Negative, mentions: MentionIndex) -> _Rule | None:
    """The rule with its placeholders filled in; None if the vocabulary has no names for one of them."""
    view = 0
    gate: tuple[frozenset[str], ...] = ()
    if rule.placeholders:
        if any(name not in mentions.kinds for name in rule.placeholders):
            return None
        # A placeholder matches marks only, never a literal, so the literals the prefilter reads from
        # the rest of the regex lie outside the masked names: they are in the unmasked text too. A
        # rule with placeholders is searched only in a message naming something, which holds one of
        # the names' first words.
        view = placeholder_bits(rule.placeholders)
        first_words = mentions.first_words(view)
        gate = (first_words,) if first_words else ()
    needs = rule.needs + gate
    key = max(needs, key=lambda g: (min(map(len, g)), -len(g))) if needs else frozenset()
    source, boundary = rule.search_source, rule.boundary
    if isinstance(rule, Pattern):
        return _Rule(intent, _PATTERN, source, boundary, rule.confidence, rule.id, needs, key, view)
    return _Rule(intent, _VETO if rule.veto else _PENALTY, source, boundary, rule.penalty, rule.id, needs, key, view)


def compiled_search(source: str, boundary: bool) -> Callable[[str], object]:
    """The search function of a rule's regex (truthy when it matches)."""
    return boundary_search(re.compile(source[2:])) if boundary else re.compile(source).search


class PatternClassifier:
    """Ranks the intents a message matches; built once per pattern set and vocabulary."""

    def __init__(self, patterns: PatternSet, terms: Mapping[str, Iterable[str]] | None = None) -> None:
        """`terms`: the names each placeholder stands for (see `placeholder_terms`)."""
        self.patterns = patterns
        self._limits = patterns.limits
        self._mentions = MentionIndex(terms or {})
        # Evaluation order: intent by intent, best pattern first, then the intent's negatives. Rules
        # are numbered in that order, so sorting the numbers of the rules worth trying keeps it.
        rules: list[_Rule] = []
        for group in patterns.intents:
            positives = [r for r in (_rule(group.intent, p, self._mentions) for p in group.patterns) if r]
            if positives:
                rules += positives
                rules += [r for r in (_rule(group.intent, n, self._mentions) for n in group.negatives) if r]
        self._rules = tuple(rules)
        # Each rule's search, compiled on first use: a stand-in compiles it and puts the real one in its place.
        self._searches: list[Callable[[str], object]] = [self._compile_first(number) for number in range(len(rules))]
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

    def _compile_first(self, number: int) -> Callable[[str], object]:
        def search_compiling(text: str) -> object:
            rule = self._rules[number]
            search = self._searches[number] = compiled_search(rule.source, rule.boundary)
            return search(text)

        return search_compiling

    def compile_all(self) -> None:
        """Compile every rule's regex now (a long-running process may prefer to pay it before the first message)."""
        for number, rule in enumerate(self._rules):
            self._searches[number] = compiled_search(rule.source, rule.boundary)

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
        rules, masks, searches = self._rules, self._masks, self._searches
        found_candidates: list[Candidate] = []
        current: Intent | None = None
        score: float | None = None
        pattern_id = ""
        mentions: Mentions | None = None  # looked for once, when a rule first needs them
        looked_for_mentions = False
        for number in sorted(numbers):
            intent, kind, _source, _boundary, value, rule_id, _needs, _key, view = rules[number]
            if intent is not current:
                if score is not None and current is not None:
                    found_candidates.append(Candidate(current, score, pattern_id))
                current, score = intent, None
            if masks[number] & present != masks[number]:
                continue  # a literal it needs is missing: it cannot match
            if (kind == _PATTERN) != (score is None):
                continue  # a pattern after the intent's best match, or a negative for an intent that did not match
            subject = text
            if view:
                if not looked_for_mentions:
                    mentions, looked_for_mentions = self._mentions.find(text), True
                masked = mentions.view(view) if mentions is not None else None
                if masked is None:
                    continue  # the message names nothing its placeholders stand for
                subject = masked
            if kind == _PATTERN:
                if searches[number](subject):
                    score, pattern_id = value, rule_id
            elif searches[number](subject):  # a negative, for an intent that matched
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
