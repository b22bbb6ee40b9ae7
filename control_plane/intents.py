"""Intents and the values a classification produces.

An intent is a section of `patterns.toml` (`[intents.NAME]`) answered by the handler module that
declares it: adding one needs no change here. The intents the control plane itself reasons about
(follow-ups, the catalog fallback, out of scope) are named as constants.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, NamedTuple

from control_plane.normalize import NormalizedText

LLMValidation = Literal["skipped", "used", "unavailable"]
_INTENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class _Intents(type):
    """`for intent in Intent` gives the built-in intents; `x in Intent` holds for any intent."""

    def __iter__(cls) -> Iterator[Intent]:
        return iter(cls._builtin)  # type: ignore[attr-defined]

    def __contains__(cls, value: object) -> bool:
        return isinstance(value, Intent)


class Intent(str, metaclass=_Intents):
    """An intent's name. One object per name, so intents compare with `is` as enum members do."""

    __slots__ = ()
    _interned: ClassVar[dict[str, Intent]] = {}
    _builtin: ClassVar[tuple[Intent, ...]] = ()
    PRODUCT_QUESTION: ClassVar[Intent]
    CALL_SEARCH: ClassVar[Intent]
    MEETING_SUMMARY: ClassVar[Intent]
    DRAFT_EMAIL: ClassVar[Intent]
    HELP: ClassVar[Intent]
    SMALLTALK: ClassVar[Intent]
    UNKNOWN: ClassVar[Intent]

    def __new__(cls, name: str) -> Intent:
        found = cls._interned.get(name)
        if found is None:
            if not isinstance(name, str) or not _INTENT_NAME.fullmatch(name):
                raise ValueError(f"not an intent name: {name!r} (lower-case letters, digits and _)")
            found = super().__new__(cls, name)
            cls._interned[str.__str__(found)] = found
        return found

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Intent({str.__str__(self)!r})"

    def __reduce__(self) -> tuple[type[Intent], tuple[str]]:
        return Intent, (str.__str__(self),)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Validated from a string (pydantic models may hold an intent)."""
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(cls, core_schema.str_schema())


for _name in ("product_question", "call_search", "meeting_summary", "draft_email", "help", "smalltalk", "unknown"):
    setattr(Intent, _name.upper(), Intent(_name))
Intent._builtin = tuple(Intent(name) for name in Intent._interned)


@dataclass(frozen=True)
class TimeRange:
    """A half-open interval [start, end) in naive UTC, with the words that asked for it."""

    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True)
class Entities:
    person: str | None = None  # the email recipient or person named: a name or an address
    colleague: str | None = None  # one of our own people named (an account owner, a rep on the calls)
    account: str | None = None  # a known account's canonical name
    product: str | None = None  # a catalog product's name
    plans: tuple[str, ...] = ()  # catalog plan names, in the order mentioned
    topic: str | None = None  # the search phrase for call search (or an email's subject matter)
    time_range: TimeRange | None = None
    meeting_kind: str | None = None  # discovery | demo | qbr | kickoff | negotiation | check-in | ...
    quantity: int | None = None  # seats a price is asked for ("10 pro seats")
    term: str | None = None  # "year" or "month": the period a price is asked for
    industry: str | None = None  # the industry or segment whose accounts are asked about, as the accounts record it

    def as_json(self) -> dict[str, object]:
        """A JSON-ready dict (datetimes as ISO strings)."""
        time_range = None
        if self.time_range is not None:
            time_range = {
                "start": self.time_range.start.isoformat(),
                "end": self.time_range.end.isoformat(),
                "label": self.time_range.label,
            }
        return {
            "person": self.person,
            "colleague": self.colleague,
            "account": self.account,
            "product": self.product,
            "plans": list(self.plans),
            "topic": self.topic,
            "time_range": time_range,
            "meeting_kind": self.meeting_kind,
            "quantity": self.quantity,
            "term": self.term,
            "industry": self.industry,
        }


@dataclass(frozen=True)
class Reading:
    """A word read as a known name or key word it does not spell exactly ("startr" read as "Starter")."""

    typed: str
    read_as: str
    kind: str  # product | plan | account | contact | colleague | person | kind | word | term


class Candidate(NamedTuple):
    """One intent the patterns found evidence for, with the confidence of its best pattern."""

    intent: Intent
    confidence: float
    pattern: str  # the id of the pattern that set the confidence, for tuning


@dataclass(frozen=True)
class Decision:
    intent: Intent
    confidence: float
    llm_validation: LLMValidation
    entities: Entities
    normalized_text: str
    # The pattern tier's runner-up and the gap to it: why validation was (or was not) skipped.
    runner_up: Intent | None
    margin: float
    candidates: tuple[Candidate, ...] = field(default=(), compare=False)
    readings: tuple[Reading, ...] = ()  # typos read as names or key words
    language: str = "en"  # another language's code when the message is not in English
    text: NormalizedText | None = field(default=None, compare=False, repr=False)  # what was classified
