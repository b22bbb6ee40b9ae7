"""Exchanges for improving patterns and prompts, with people taken out: `pitcrew export exchanges`.

The text comes from the `qualityexchange` table, which holds it only when the operator turned
QUALITY_KEEP_EXCHANGES on (never from the logs: message text stays out of those). On the way out, every
contact's and account's name from the knowledge base (full, first or last name, slug; any case, with a
possessive "s") and every e-mail address, phone number and Slack user or channel id found by pattern is
replaced by a placeholder such as `<CONTACT_2>` or `<EMAIL_1>`: the same value gets the same placeholder
throughout one export, so a conversation still reads as one. Each text is scanned a fixed number of times with
compiled patterns, so the work is linear in its length.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from bot.evaluation.quality import outcomes
from knowledge.db import Database
from knowledge.quality import Exchange, Signal

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SLACK_MENTION = re.compile(r"<[@#!]?([UWCDG][A-Z0-9]{6,})(?:\|[^>]{0,200})?>")
SLACK_ID = re.compile(r"\b([UW][A-Z0-9]{6,}|[CDG][A-Z0-9]{6,})\b")
PHONE = re.compile(r"(?<![\w$.,-])\+?\(?\d[\d ().-]{5,18}\d(?![\w.,-]?\d)")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
PHONE_DIGITS = (7, 15)  # what a phone number has (E.164 allows 15); fewer or more is some other number
MIN_NAME_PART = 3  # first and last names shorter than this are too likely to be ordinary words


@dataclass(frozen=True)
class _Known:
    kind: str  # CONTACT | ACCOUNT
    key: str  # which one (so every form of one name shares its placeholder)


class Redactor:
    """Replaces people, accounts and identifiers with stable placeholders (one instance per export)."""

    def __init__(self, names: dict[str, _Known]) -> None:
        self._names = names  # lower-cased form -> whose it is
        forms = sorted(names, key=len, reverse=True)  # longest first: "Priya Raman" before "Priya"
        self._name_pattern = (re.compile(r"\b(" + "|".join(re.escape(f) for f in forms) + r")(?:'s|s)?\b",
                                         re.IGNORECASE) if forms else None)
        self._placeholders: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = defaultdict(int)

    @classmethod
    def from_knowledge(cls, db: Database) -> Redactor:
        names: dict[str, _Known] = {}
        with db.engine.connect() as conn:
            for contact_id, name, email in conn.execute(text("SELECT id, name, email FROM contact")):
                who = _Known("CONTACT", f"c{contact_id}")
                names[name.lower()] = who
                for part in name.split():
                    if len(part) >= MIN_NAME_PART:
                        names.setdefault(part.lower(), who)
                if email:
                    names.setdefault(email.lower(), who)
            for account_id, name, slug in conn.execute(text("SELECT id, name, slug FROM account")):
                who = _Known("ACCOUNT", f"a{account_id}")
                names.setdefault(name.lower(), who)
                names.setdefault(slug.lower().replace("-", " "), who)
                names.setdefault(slug.lower(), who)
        return cls(names)

    def _placeholder(self, kind: str, key: str) -> str:
        found = self._placeholders.get((kind, key))
        if found is None:
            self._counts[kind] += 1
            found = self._placeholders[kind, key] = f"<{kind}_{self._counts[kind]}>"
        return found

    def text(self, value: str) -> str:
        value = EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group(0).lower()), value)
        value = SLACK_MENTION.sub(lambda m: self._placeholder(_slack_kind(m.group(1)), m.group(1)), value)
        value = SLACK_ID.sub(lambda m: self._placeholder(_slack_kind(m.group(1)), m.group(1)), value)
        value = PHONE.sub(self._phone, value)
        if self._name_pattern is not None:
            value = self._name_pattern.sub(self._name, value)
        return value

    def _phone(self, match: re.Match[str]) -> str:
        found = match.group(0)
        digits = re.sub(r"\D", "", found)
        if ISO_DATE.fullmatch(found.strip()) or not PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]:
            return found
        return self._placeholder("PHONE", digits)

    def _name(self, match: re.Match[str]) -> str:
        who = self._names[match.group(1).lower()]
        return self._placeholder(who.kind, who.key)

    def value(self, value: Any) -> Any:
        """Any JSON value with every string in it redacted (keys are field names, kept)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value


def _slack_kind(slack_id: str) -> str:
    return "SLACK_USER" if slack_id[0] in "UW" else "SLACK_CHANNEL"


@dataclass(frozen=True)
class ExportCounts:
    good: int
    negative: int
    skipped: int  # unrated (with --min-score positive)


def rate(exchanges: Iterable[Exchange], signals: Iterable[Signal]) -> list[tuple[Exchange, str, list[Signal]]]:
    """Each exchange with its outcome: "negative" if any rep's outcome was, "positive" if some were and none
    negative, "unrated" without any signal."""
    by_answer: dict[str, list[Signal]] = defaultdict(list)
    for signal in signals:
        by_answer[signal.answer.correlation_id].append(signal)
    rated = []
    for exchange in exchanges:
        found = by_answer.get(exchange.correlation_id, [])
        results = outcomes(found)
        verdict = ("unrated" if not results else "negative" if any(not o.positive for o in results) else "positive")
        rated.append((exchange, verdict, found))
    return rated


def export_record(exchange: Exchange, verdict: str, signals: list[Signal], redactor: Redactor) -> dict[str, Any]:
    """One JSONL line: the exchange with people and identifiers replaced."""
    return {
        "correlation_id": exchange.correlation_id,
        "created_at": exchange.created_at.isoformat(),
        "intent": exchange.intent,
        "handler": exchange.handler,
        "outcome": verdict,
        "signals": sorted({s.kind for s in signals}),
        "question": redactor.text(exchange.question),
        "answer": redactor.text(exchange.answer),
        "frame": redactor.value(exchange.frame),
        "reasons": [redactor.text(s.reason) for s in signals if s.reason],
    }
