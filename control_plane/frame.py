"""The frame: what one message asks, with every slot filled and where each value came from.

The control plane reads the message into `Entities` (what was typed); `control_plane.thread` merges
the thread's context into them. Handlers render a frame; they never look for names themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from control_plane.intents import Intent, Reading, TimeRange

# typed+thread: a typed plan compared with the thread's; catalog: the product whose offer the message names
SlotSource = Literal["typed", "thread", "typed+thread", "catalog", "meetings"]
Term = Literal["month", "year"]

SLOT_NAMES = (
    "product", "plans", "account", "person", "colleague", "meeting_id", "meeting_kind", "topic", "time_range",
    "quantity", "term", "aspect", "discount", "industry", "plan_seats",
)


@dataclass(frozen=True)
class Frame:
    intent: Intent
    product: str | None = None  # a catalog product's name
    plans: tuple[str, ...] = ()  # plan names, in the order mentioned
    account: str | None = None  # a known account's name
    person: str | None = None  # a known contact's name, or a name or address as typed
    colleague: str | None = None  # one of our own people (only ever typed)
    meeting_id: int | None = None  # the meeting the thread is about (only ever from the thread)
    meeting_kind: str | None = None
    topic: str | None = None
    time_range: TimeRange | None = None
    quantity: int | None = None  # seats
    term: Term | None = None  # "per year", "annual": a yearly figure is wanted
    aspect: str | None = None  # what the thread's product question asked (only ever from the thread)
    discount: float | None = None  # a percentage off quotes, from the thread (typed ones are read from the words)
    industry: str | None = None  # "any healthcare customers": the accounts' industry or segment asked about (only typed)
    plan_seats: tuple[int, ...] = ()  # the seats of each of `plans`: a deal mixing plans (only from the thread)
    sources: dict[str, SlotSource] = field(default_factory=dict)  # filled slot -> where it came from
    follow_up: bool = False  # the message leans on the previous turn ("and for enterprise?")
    readings: tuple[Reading, ...] = ()
    language: str = "en"  # "en", or the other language the message is written in

    def source(self, slot: str) -> SlotSource | None:
        return self.sources.get(slot)

    def typed(self, slot: str) -> bool:
        return self.sources.get(slot) == "typed"

    def as_json(self) -> dict[str, Any]:
        """Slot values and their sources (no message text): for `classify` and `ask --json`."""
        slots: dict[str, Any] = {}
        for name in SLOT_NAMES:
            value = getattr(self, name)
            if value in (None, (), ""):
                continue
            if isinstance(value, TimeRange):
                value = {"label": value.label, "start": value.start.isoformat(), "end": value.end.isoformat()}
            elif isinstance(value, tuple):
                value = list(value)
            slots[name] = {"value": value, "source": self.sources.get(name, "typed")}
        result: dict[str, Any] = {"intent": self.intent.value, "slots": slots, "follow_up": self.follow_up}
        if self.readings:
            result["readings"] = [{"typed": r.typed, "read_as": r.read_as, "kind": r.kind} for r in self.readings]
        if self.language != "en":
            result["language"] = self.language
        return result

    def log_summary(self) -> dict[str, str]:
        """Slot name -> source, for the request summary: which slots were filled and how, never their values."""
        return {name: self.sources.get(name, "typed") for name in SLOT_NAMES if getattr(self, name) not in (None, (), "")}
