"""Evaluate the pattern tier on a labelled JSONL file: accuracy, coverage, precision of the skips.

Each line is `{"text": ..., "intent": ..., "entities": {...}}` (`entities` optional: only the keys
given are checked; an account matches through any of its aliases, a time range by its label).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from control_plane.decision import ControlPlane
from control_plane.intents import Decision, Intent
from control_plane.patterns import load_patterns

ENTITY_KEYS = ("person", "account", "product", "plans", "topic", "time_range", "meeting_kind")


class LabelledFileError(ValueError):
    """The labelled file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class LabelledMessage:
    line: int
    text: str
    intent: Intent
    entities: dict[str, Any] = field(default_factory=dict)


def json_rows(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line number, "file:line", parsed JSON) for each non-blank line of a labelled JSONL file; a file that cannot be
    read or a line that is not JSON is a `LabelledFileError` saying where and why."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LabelledFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise LabelledFileError(f"{path}: not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield number, where, json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledFileError(f"{where}: not valid JSON ({exc.msg})") from None


def read_labelled(path: Path, known: Collection[Intent] | None = None) -> list[LabelledMessage]:
    """Every labelled message in a JSONL file; blank lines are ignored, anything else malformed is an error,
    and so is an intent outside `known` (by default the intents of the packaged patterns file)."""
    known = tuple(known) if known is not None else load_patterns().intent_names
    messages = []
    for number, where, row in json_rows(path):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("intent"), str):
            raise LabelledFileError(f'{where}: expected an object with string "text" and "intent"')
        intent = known_intent(row["intent"], known, where)
        entities = row.get("entities") or {}
        if not isinstance(entities, dict) or set(entities) - set(ENTITY_KEYS):
            raise LabelledFileError(f"{where}: entities must be an object with keys among {', '.join(ENTITY_KEYS)}")
        messages.append(LabelledMessage(number, row["text"], intent, entities))
    if not messages:
        raise LabelledFileError(f"{path}: no labelled messages")
    return messages


def known_intent(name: str, known: Collection[Intent], where: str) -> Intent:
    """`name` as one of the `known` intents, or a LabelledFileError naming them."""
    try:
        intent = Intent(name)
    except ValueError:
        intent = None
    if intent is None or intent not in known:
        raise LabelledFileError(f"{where}: unknown intent {name!r} (known: {', '.join(i.value for i in known)})")
    return intent


@dataclass
class EvalReport:
    total: int = 0
    correct: int = 0
    skipped: int = 0
    skipped_correct: int = 0
    confusion: dict[str, Counter[str]] = field(default_factory=dict)  # expected -> predicted -> count
    misclassified: list[dict[str, Any]] = field(default_factory=list)
    entity_checks: int = 0
    entity_mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return _ratio(self.correct, self.total)

    @property
    def coverage(self) -> float:
        """The share of messages decided without the LLM."""
        return _ratio(self.skipped, self.total)

    @property
    def skipped_precision(self) -> float:
        """Of the messages decided without the LLM, the share decided right (1.0 when none were)."""
        return _ratio(self.skipped_correct, self.skipped) if self.skipped else 1.0

    @property
    def entity_accuracy(self) -> float:
        return _ratio(self.entity_checks - len(self.entity_mismatches), self.entity_checks) if self.entity_checks else 1.0

    def per_intent(self) -> dict[str, dict[str, float | int]]:
        """Precision, recall and support for each intent."""
        result = {}
        seen = {name for row in self.confusion.values() for name in row} | set(self.confusion)
        for name in [i.value for i in Intent] + sorted(seen - {i.value for i in Intent}):
            support = sum(self.confusion.get(name, Counter()).values())
            predicted = sum(row.get(name, 0) for row in self.confusion.values())
            hits = self.confusion.get(name, Counter()).get(name, 0)
            result[name] = {
                "precision": _ratio(hits, predicted) if predicted else 1.0,
                "recall": _ratio(hits, support) if support else 1.0,
                "support": support,
                "predicted": predicted,
            }
        return result

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "coverage": round(self.coverage, 4),
            "skipped": self.skipped,
            "skipped_precision": round(self.skipped_precision, 4),
            "per_intent": {k: {m: round(v, 4) if isinstance(v, float) else v for m, v in stats.items()}
                           for k, stats in self.per_intent().items()},
            "confusion": {expected: dict(row) for expected, row in self.confusion.items()},
            "misclassified": self.misclassified,
            "entity_checks": self.entity_checks,
            "entity_accuracy": round(self.entity_accuracy, 4),
            "entity_mismatches": self.entity_mismatches,
        }


def evaluate(control_plane: ControlPlane, messages: Iterable[LabelledMessage], now: datetime) -> EvalReport:
    """Classify every message with the pattern tier alone and compare with its label."""
    report = EvalReport()
    for message in messages:
        decision = control_plane.classify(message.text, now)
        expected, predicted = message.intent.value, decision.intent.value
        report.total += 1
        report.confusion.setdefault(expected, Counter())[predicted] += 1
        skipped = decision.llm_validation == "skipped"
        report.skipped += skipped
        if predicted == expected:
            report.correct += 1
            report.skipped_correct += skipped
        else:
            report.misclassified.append({
                "line": message.line, "text": message.text, "expected": expected, "predicted": predicted,
                "confidence": decision.confidence, "skipped": skipped,
                "pattern": decision.candidates[0].pattern if decision.candidates else None,
            })
        _check_entities(control_plane, message, decision, report)
    return report


def _check_entities(control_plane: ControlPlane, message: LabelledMessage, decision: Decision, report: EvalReport) -> None:
    got = decision.entities.as_json()
    for key, expected in message.entities.items():
        report.entity_checks += 1
        actual = got[key]
        if not _entity_matches(control_plane, key, expected, actual):
            report.entity_mismatches.append({"line": message.line, "text": message.text, "entity": key,
                                             "expected": expected, "got": actual})


def _entity_matches(control_plane: ControlPlane, key: str, expected: Any, actual: Any) -> bool:
    if key == "time_range":
        actual = actual["label"] if isinstance(actual, dict) else None
    if key == "plans":
        return isinstance(expected, Sequence) and [str(e).casefold() for e in expected] == [a.casefold() for a in actual]
    if expected is None or actual is None:
        return expected is actual
    if key == "account" and control_plane.entities.canonical_account(str(expected)) == actual:
        return True
    return str(expected).casefold() == str(actual).casefold()


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
