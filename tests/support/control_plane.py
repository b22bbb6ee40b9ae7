"""Shared pieces for the control-plane tests: the clock, an offline control plane and a brute-force reference
of the pattern scoring (the `demo_vocabulary` fixture is in tests/control_plane/conftest.py)."""

from __future__ import annotations

import re
from datetime import datetime

from control_plane import Candidate, ControlPlane, ControlPlaneConfig
from control_plane.patterns import Negative, Pattern, PatternSet, expand
from handlers.registry import default_registry
from knowledge.vocabulary import Vocabulary

# A Wednesday afternoon: every relative time expression resolves against it.
NOW = datetime(2025, 3, 5, 15, 0)


def offline_plane(vocabulary: Vocabulary, **config: float) -> ControlPlane:
    """A control plane with no LLM, knowing the slots the handlers read (as the pipeline builds it)."""
    return ControlPlane(ControlPlaneConfig(**config), vocabulary, None, intent_slots=default_registry().slots())


def reference_candidates(patterns: PatternSet, alternations: dict[str, str], lowered: str) -> list[Candidate]:
    """The scoring rules applied by brute force: every regex searched, no prefilter."""
    text = lowered[: patterns.limits.match_chars]
    found = []
    for group in patterns.intents:

        def compiled(rule: Pattern | Negative) -> re.Pattern[str] | None:
            if not rule.placeholders:
                return rule.regex
            if any(name not in alternations for name in rule.placeholders):
                return None
            return re.compile(expand(rule.template, alternations))

        best = next((p for p in group.patterns if (rx := compiled(p)) is not None and rx.search(text)), None)
        if best is None:
            continue
        score: float | None = best.confidence
        pattern_id = best.id
        for negative in group.negatives:
            rx = compiled(negative)
            if score is None or rx is None or not rx.search(text):
                continue
            if negative.veto:
                score = None
            else:
                score = round(score - negative.penalty, 4)
                pattern_id += f"-{negative.id}"
                score = score if score > 0 else None
        if score is not None:
            if len(lowered) > patterns.limits.confident_chars:
                score = min(score, patterns.limits.long_message_cap)
            found.append(Candidate(group.intent, score, pattern_id))
    return sorted(found, key=lambda c: -c.confidence)
