"""Thread memory: what each turn of a Slack thread or shell session was about, for follow-ups.

Each stored turn carries the conversation's *effective* context (what the message named, plus
what it inherited), so recalling a thread reads one row: its latest turn within the TTL.
A thread keeps at most `max_turns` rows; rows older than the TTL are deleted as new turns arrive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, text

from knowledge.db import Database


MAX_TOPIC_CHARS = 100


@dataclass(frozen=True)
class TurnContext:
    """What a turn was about; every field optional."""

    product: str | None = None
    plan: str | None = None
    account: str | None = None
    meeting_id: int | None = None
    person: str | None = None
    # What a product question asked ("price", "limits", "item:feature:Audit logs"...), so that
    # "and what about Enterprise?" asks the same of another plan.
    aspect: str | None = None
    quantity: int | None = None  # the seats a price was asked for ("10 pro seats")
    plans: tuple[str, ...] = ()  # the plans a comparison was about, when more than one
    plan_seats: tuple[int, ...] = ()  # the seats of each of `plans`, for a deal mixing plans ("55 Growth + 10 Pro")
    term: str | None = None  # "year" when a yearly figure was asked, "month" when a monthly one
    topic: str | None = None  # what a call search looked for, so "which ones were with acme" narrows it
    discount: float | None = None  # a percentage off the thread's quotes: typed ("w/ the 12% off") or the deal's

    def follow(self, new: TurnContext) -> TurnContext:
        """The context of a follow-up naming `new`: named fields win, the rest is inherited.

        A plan belongs to its product and a meeting or person to its account: naming another
        product drops the inherited plan, naming another account drops the meeting and person.
        """
        merged = replace(self)
        if new.product and new.product != self.product:
            merged = replace(merged, product=new.product, plan=None, plans=(), plan_seats=(), quantity=None, term=None,
                             discount=None)
        if new.account and new.account != self.account:
            merged = replace(merged, account=new.account, meeting_id=None, person=None)
        for name in ("plan", "meeting_id", "person", "aspect", "quantity", "term", "topic", "discount"):
            value = getattr(new, name)
            if value is not None and value != "":
                merged = replace(merged, **{name: value})
        if new.plan:  # a turn about other plans: the comparison's plans are no longer the subject
            merged = replace(merged, plans=new.plans, plan_seats=new.plan_seats if len(new.plan_seats) == len(new.plans) else ())
        return merged

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, "", ()) for f in fields(self))

    def to_json(self) -> str:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps({k: v for k, v in values.items() if v not in (None, "", ())}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | None) -> TurnContext:
        try:
            data: Any = json.loads(raw or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        meeting_id = data.get("meeting_id")
        return cls(
            product=_str_or_none(data.get("product")),
            plan=_str_or_none(data.get("plan")),
            account=_str_or_none(data.get("account")),
            meeting_id=meeting_id if isinstance(meeting_id, int) and not isinstance(meeting_id, bool) else None,
            person=_str_or_none(data.get("person")),
            aspect=_str_or_none(data.get("aspect")),
            quantity=_positive_int(data.get("quantity")),
            term=data.get("term") if data.get("term") in ("month", "year") else None,
            topic=(_str_or_none(data.get("topic")) or "")[:MAX_TOPIC_CHARS] or None,
            plans=tuple(p for p in data.get("plans") or () if isinstance(p, str) and p)[:5]
            if isinstance(data.get("plans"), list) else (),
            plan_seats=tuple(n for n in data.get("plan_seats") or () if _positive_int(n))[:5]
            if isinstance(data.get("plan_seats"), list) else (),
            discount=_percentage(data.get("discount")),
        )


@dataclass(frozen=True)
class ThreadMemory:
    """A thread's latest turn: its intent and effective context (empty for a new thread)."""

    context: TurnContext = TurnContext()
    last_intent: str | None = None
    turns: int = 0  # how many turns the thread has stored (0: a new conversation)


def _percentage(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 100 else None


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# Module-level statements: SQLAlchemy compiles each once (this runs on every message).
_RECALL = text(
    "SELECT intent, context, (SELECT count(*) FROM threadturn WHERE thread_key = :key AND created_at >= :cutoff)"
    " AS turns FROM threadturn WHERE thread_key = :key AND created_at >= :cutoff ORDER BY id DESC LIMIT 1"
).bindparams(bindparam("cutoff", type_=DateTime()))
_INSERT = text(
    "INSERT INTO threadturn (thread_key, created_at, intent, context) VALUES (:key, :now, :intent, :ctx)"
).bindparams(bindparam("now", type_=DateTime()))
_TRIM = text(
    "DELETE FROM threadturn WHERE thread_key = :key AND id NOT IN "
    "(SELECT id FROM threadturn WHERE thread_key = :key ORDER BY id DESC LIMIT :keep)"
)
_EXPIRE = text("DELETE FROM threadturn WHERE created_at < :cutoff").bindparams(bindparam("cutoff", type_=DateTime()))


def recall(db: Database, thread_key: str, *, now: datetime, ttl_s: int) -> ThreadMemory:
    """The thread's latest turn younger than `ttl_s` seconds, or an empty memory."""
    with db.engine.connect() as conn:
        row = conn.execute(_RECALL, {"key": thread_key, "cutoff": now - timedelta(seconds=ttl_s)}).first()
    if row is None:
        return ThreadMemory()
    return ThreadMemory(context=TurnContext.from_json(row.context), last_intent=row.intent, turns=row.turns)


def remember(
    db: Database,
    thread_key: str,
    intent: str,
    context: TurnContext,
    *,
    now: datetime,
    ttl_s: int,
    max_turns: int,
    stored_turns: int | None = None,
) -> None:
    """Store one turn; keep the thread within `max_turns` and drop expired turns.

    `stored_turns` (the thread's live turns, as `recall` counted them) lets the common case skip the
    clean-up: the thread is trimmed only when it would exceed `max_turns`, and expired turns of every
    thread are deleted when a new thread starts (threads are what the table grows by).
    """
    with db.write_engine.begin() as conn:
        conn.execute(_INSERT, {"key": thread_key, "now": now, "intent": intent, "ctx": context.to_json()})
        if stored_turns is None or stored_turns + 1 > max_turns:
            conn.execute(_TRIM, {"key": thread_key, "keep": max(1, max_turns)})
        if stored_turns is None or stored_turns == 0:
            conn.execute(_EXPIRE, {"cutoff": now - timedelta(seconds=ttl_s)})
