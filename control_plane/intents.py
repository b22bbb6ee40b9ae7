"""The fixed set of intents and the values a classification produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple

from control_plane.normalize import NormalizedText

LLMValidation = Literal["skipped", "used", "unavailable"]


class Intent(StrEnum):
    PRODUCT_QUESTION = "product_question"
    CALL_SEARCH = "call_search"
    MEETING_SUMMARY = "meeting_summary"
    DRAFT_EMAIL = "draft_email"
    HELP = "help"
    SMALLTALK = "smalltalk"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TimeRange:
    """A half-open interval [start, end) in naive UTC, with the words that asked for it."""

    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True)
class Entities:
    person: str | None = None  # the email recipient or person named: a name or an address
    account: str | None = None  # a known account's canonical name
    product: str | None = None  # a catalog product's name
    plans: tuple[str, ...] = ()  # catalog plan names, in the order mentioned
    topic: str | None = None  # the search phrase for call search (or an email's subject matter)
    time_range: TimeRange | None = None
    meeting_kind: str | None = None  # discovery | demo | qbr | kickoff | negotiation | check-in | ...
    quantity: int | None = None  # seats a price is asked for ("10 pro seats")
    term: str | None = None  # "year" or "month": the period a price is asked for

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
            "account": self.account,
            "product": self.product,
            "plans": list(self.plans),
            "topic": self.topic,
            "time_range": time_range,
            "meeting_kind": self.meeting_kind,
            "quantity": self.quantity,
            "term": self.term,
        }


@dataclass(frozen=True)
class Reading:
    """A word read as a known name or key word it does not spell exactly ("startr" read as "Starter")."""

    typed: str
    read_as: str
    kind: str  # product | plan | account | contact | kind | word


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
