"""Conversation evaluation: labelled multi-turn conversations run through the production pipeline.

Each line of the file is one conversation:

    {"id": "pro-then-enterprise",
     "turns": [{"say": "how much is pro", "expect": ["\\$99"], "forbid": [], "intent": "product_question",
                "slots": {"plans": ["Pro"]}}, ...]}

Every conversation is its own thread with fresh thread memory, answered by the same `Pipeline` as
Slack. A turn passes when every `expect` regex matches the reply's plain text, no `forbid` regex
does (both case-insensitive), the intent is the one given (if given) and every slot given in
`slots` is the frame's (if given).
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.pipeline import IncomingMessage, Pipeline
from control_plane.evaluation import (
    EvalReport,
    LabelledFileError,
    json_rows,
    known_intent,
)
from control_plane.frame import SLOT_NAMES
from control_plane.intents import Intent
from control_plane.patterns import load_patterns

_TURN_KEYS = {"say", "expect", "forbid", "intent", "slots"}


@dataclass(frozen=True)
class LabelledTurn:
    say: str
    expect: tuple[re.Pattern[str], ...] = ()
    forbid: tuple[re.Pattern[str], ...] = ()
    intent: Intent | None = None
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    id: str
    line: int
    turns: tuple[LabelledTurn, ...]


def read_conversations(path: Path) -> list[Conversation]:
    """Every conversation in a JSONL file; a malformed line is an error naming the file, line and field."""
    conversations: list[Conversation] = []
    seen: set[str] = set()
    for number, where, row in json_rows(path):
        if not isinstance(row, dict) or not isinstance(row.get("turns"), list) or not row["turns"]:
            raise LabelledFileError(f'{where}: expected an object with "id" and a non-empty "turns" list')
        ident = str(row.get("id") or f"line-{number}")
        if ident in seen:
            raise LabelledFileError(f"{where}: duplicate conversation id {ident!r}")
        seen.add(ident)
        turns = tuple(_turn(f"{where}, turn {index}", turn) for index, turn in enumerate(row["turns"], 1))
        conversations.append(Conversation(ident, number, turns))
    if not conversations:
        raise LabelledFileError(f"{path}: no conversations")
    return conversations


def _turn(where: str, raw: Any) -> LabelledTurn:
    if not isinstance(raw, dict) or not isinstance(raw.get("say"), str):
        raise LabelledFileError(f'{where}: expected an object with a string "say"')
    unknown = set(raw) - _TURN_KEYS
    if unknown:
        raise LabelledFileError(f"{where}: unknown key(s) {sorted(unknown)} (known: {', '.join(sorted(_TURN_KEYS))})")
    intent = None
    if raw.get("intent") is not None:
        intent = known_intent(raw["intent"], load_patterns().intent_names, where)
    slots = raw.get("slots") or {}
    if not isinstance(slots, dict) or set(slots) - set(SLOT_NAMES):
        raise LabelledFileError(f"{where}: slots must be an object with keys among {', '.join(SLOT_NAMES)}")
    return LabelledTurn(
        say=raw["say"], expect=_regexes(where, "expect", raw), forbid=_regexes(where, "forbid", raw),
        intent=intent, slots=slots,
    )


def _regexes(where: str, key: str, raw: dict[str, Any]) -> tuple[re.Pattern[str], ...]:
    values = raw.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise LabelledFileError(f"{where}: {key} must be a list of regex strings")
    compiled = []
    for value in values:
        try:
            compiled.append(re.compile(value, re.IGNORECASE))
        except re.error as exc:
            raise LabelledFileError(f"{where}: {key} regex {value!r} is broken: {exc}") from None
    return tuple(compiled)


@dataclass
class TurnOutcome:
    conversation: str
    turn: int  # 1-based
    say: str
    reply: str
    intent: str
    expected_intent: str | None
    llm_validation: str  # "skipped": decided by the patterns alone
    missing: list[str]  # expected regexes that did not match
    forbidden: list[str]  # forbidden regexes that matched
    wrong_slots: dict[str, dict[str, Any]]  # slot -> {"expected", "got"}
    frame: dict[str, Any]

    @property
    def passed(self) -> bool:
        intent_ok = self.expected_intent is None or self.expected_intent == self.intent
        return intent_ok and not self.missing and not self.forbidden and not self.wrong_slots

    def as_json(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation, "turn": self.turn, "say": self.say, "reply": self.reply,
            "intent": self.intent, "expected_intent": self.expected_intent, "missing": self.missing,
            "forbidden": self.forbidden, "wrong_slots": self.wrong_slots, "passed": self.passed,
        }


@dataclass
class ConversationReport:
    outcomes: list[TurnOutcome] = field(default_factory=list)

    @property
    def turns(self) -> int:
        return len(self.outcomes)

    @property
    def turns_passed(self) -> int:
        return sum(outcome.passed for outcome in self.outcomes)

    @property
    def turn_pass_rate(self) -> float:
        return self.turns_passed / self.turns if self.turns else 0.0

    def conversations(self) -> tuple[int, int]:
        """(conversations fully passed, conversations)."""
        by_id: dict[str, bool] = {}
        for outcome in self.outcomes:
            by_id[outcome.conversation] = by_id.get(outcome.conversation, True) and outcome.passed
        return sum(by_id.values()), len(by_id)

    def failures_by_intent(self) -> dict[str, dict[str, int]]:
        """For each intent a turn should have (or got, when unlabelled): turns and failed turns."""
        table: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            row = table.setdefault(outcome.expected_intent or outcome.intent, Counter())
            row["turns"] += 1
            row["failed"] += not outcome.passed
        return {intent: dict(row) for intent, row in sorted(table.items())}

    def failures_by_slot(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for outcome in self.outcomes:
            counts.update(outcome.wrong_slots.keys())
        return dict(sorted(counts.items()))

    def failed(self) -> list[TurnOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]

    def as_json(self) -> dict[str, Any]:
        passed, total = self.conversations()
        return {
            "turns": self.turns,
            "turns_passed": self.turns_passed,
            "turn_pass_rate": round(self.turn_pass_rate, 4),
            "conversations": total,
            "conversations_passed": passed,
            "by_intent": self.failures_by_intent(),
            "by_slot": self.failures_by_slot(),
            "failures": [outcome.as_json() for outcome in self.failed()],
        }


async def run_conversations(pipeline: Pipeline, conversations: list[Conversation]) -> ConversationReport:
    """Answer every turn of every conversation, each conversation in a thread of its own."""
    report = ConversationReport()
    run = secrets.token_hex(3)
    for conversation in conversations:
        thread = f"eval:{run}:{conversation.id}"
        for number, turn in enumerate(conversation.turns, 1):
            reply = await pipeline.handle(IncomingMessage(text=turn.say, thread_key=thread, source="shell", user="eval"))
            frame = reply.frame or {}
            report.outcomes.append(TurnOutcome(
                conversation=conversation.id,
                turn=number,
                say=turn.say,
                reply=reply.plain,
                intent=reply.intent,
                expected_intent=turn.intent.value if turn.intent else None,
                llm_validation=reply.llm_validation,
                missing=[p.pattern for p in turn.expect if not p.search(reply.plain)],
                forbidden=[p.pattern for p in turn.forbid if p.search(reply.plain)],
                wrong_slots=_wrong_slots(turn.slots, frame),
                frame=frame,
            ))
    return report


def is_conversation_file(path: Path) -> bool:
    """Whether a JSONL file holds conversations (`turns`) rather than single labelled messages."""
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    row = json.loads(line)
                    return isinstance(row, dict) and "turns" in row
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return False


def intent_report(report: ConversationReport) -> EvalReport:
    """The intent decisions of every labelled turn, each made in its thread as production makes it."""
    evaluated = EvalReport()
    for outcome in report.outcomes:
        if outcome.expected_intent is None:
            continue
        expected, predicted = outcome.expected_intent, outcome.intent
        skipped = outcome.llm_validation == "skipped"
        evaluated.total += 1
        evaluated.skipped += skipped
        evaluated.confusion.setdefault(expected, Counter())[predicted] += 1
        if predicted == expected:
            evaluated.correct += 1
            evaluated.skipped_correct += skipped
        else:
            evaluated.misclassified.append({
                "line": f"{outcome.conversation}#{outcome.turn}", "text": outcome.say, "expected": expected,
                "predicted": predicted, "confidence": 0.0, "skipped": skipped, "pattern": None,
            })
    return evaluated


def _wrong_slots(expected: dict[str, Any], frame: dict[str, Any]) -> dict[str, dict[str, Any]]:
    slots = frame.get("slots", {})
    wrong = {}
    for name, want in expected.items():
        got = (slots.get(name) or {}).get("value")
        if not _same(want, got):
            wrong[name] = {"expected": want, "got": got}
    return wrong


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, list) or isinstance(got, list):
        return [str(v).casefold() for v in (want or [])] == [str(v).casefold() for v in (got or [])]
    if want is None or got is None:
        return want is got
    if isinstance(got, dict):  # a time range: compared by its label
        got = got.get("label")
    return str(want).casefold() == str(got).casefold()
