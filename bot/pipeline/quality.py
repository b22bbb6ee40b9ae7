"""Quality signals from answering: implicit ones seen by the pipeline, explicit ones (👍/👎) handed in by Slack or the shell.

Implicit signals, all negative, need no click: the same user asks the same question again in the same thread
within `REPHRASE_WINDOW_S` (`rephrased`, recorded against the earlier answer), the answer was the fallback
("I'm not sure what you're asking": `fallback`), answering failed (`failed`) or the reply never reached Slack
(`undelivered`). The rephrase check keeps each thread's last question in memory only (normalized, at most
`MAX_TRACKED` threads, dropped after the window): text never reaches a log or, unless QUALITY_KEEP_EXCHANGES
is on, the database. Writes happen after the reply is delivered, gathered for `FLUSH_DELAY_S` and stored in one
transaction in a worker thread, and only when there is something to write: a plain answer costs one
dictionary update and one string comparison.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy.exc import SQLAlchemyError

from bot.pipeline.message import IncomingMessage, Reply
from knowledge.db import Database
from knowledge.quality import (
    FAILED,
    FALLBACK,
    FEEDBACK,
    REPHRASED,
    UNDELIVERED,
    AnswerFacts,
    Exchange,
    Signal,
    keep_exchanges,
    record_reason,
    record_signals,
)

log = logging.getLogger(__name__)

REPHRASE_WINDOW_S = 120.0
REPHRASE_SIMILARITY = 60.0  # rapidfuzz token_set_ratio of the two questions, lower-cased
MAX_TRACKED = 10_000  # threads whose last question is remembered (oldest dropped first)
REPHRASE_TEXT_CHARS = 500  # only the start of a long message is compared (keeps the check linear and small)
FALLBACK_HANDLERS = frozenset({"unknown"})  # the handler of "I'm not sure what you're asking"
# Signals wait this long to be stored together: one transaction per burst instead of one per signal, so
# storing them costs the requests around them nothing measurable (see docs/quality.md).
FLUSH_DELAY_S = 0.5


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def answer_facts(reply: Reply) -> AnswerFacts:
    """What a signal records of `reply`."""
    return AnswerFacts(reply.correlation_id, reply.intent, reply.handler, reply.pattern, reply.llm,
                       reply.snapshot_version)


@dataclass(frozen=True)
class _Asked:
    question: str
    slots: dict[str, Any]
    answer: AnswerFacts
    at: datetime


def _typed_slots(frame: dict[str, Any] | None) -> dict[str, Any]:
    slots = (frame or {}).get("slots") or {}
    return {name: slot.get("value") for name, slot in slots.items()
            if isinstance(slot, dict) and slot.get("source", "typed") == "typed"}


def _normalized(text: str) -> str:
    return " ".join(text[:REPHRASE_TEXT_CHARS].lower().split())


class RephraseTracker:
    """Each (thread, user)'s last question, to tell a rephrasing from a follow-up."""

    def __init__(self, window_s: float = REPHRASE_WINDOW_S, max_tracked: int = MAX_TRACKED) -> None:
        self._window = timedelta(seconds=window_s)
        self._max = max_tracked
        self._last: OrderedDict[tuple[str, str], _Asked] = OrderedDict()

    def note(self, key: tuple[str, str], question: str, reply: Reply, at: datetime) -> AnswerFacts | None:
        """Remember this question; the earlier answer it rephrases, if it does."""
        asked = _Asked(_normalized(question), _typed_slots(reply.frame), answer_facts(reply), at)
        previous = self._last.pop(key, None)
        self._last[key] = asked
        while len(self._last) > self._max:
            self._last.popitem(last=False)
        if previous is None or at - previous.at > self._window or not asked.question:
            return None
        # A follow-up naming something else ("and Enterprise?" after Pro) is a new question, however alike.
        clash = any(name in previous.slots and previous.slots[name] != value for name, value in asked.slots.items())
        if clash or fuzz.token_set_ratio(previous.question, asked.question) < REPHRASE_SIMILARITY:
            return None
        return previous.answer


class QualityRecorder:
    """Stores quality signals (and, when the operator keeps them, exchanges) for one process."""

    def __init__(self, db: Database, *, keep_exchanges: bool = False, retention_days: int = 30,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.db = db
        self.keep_exchanges = keep_exchanges
        self.retention_days = retention_days
        self.clock = clock
        self.rephrases = RephraseTracker()
        self._signals: list[Signal] = []  # waiting to be stored
        self._exchanges: list[Exchange] = []
        self._flushing: asyncio.Task[None] | None = None  # the store waiting for FLUSH_DELAY_S
        self._storing: set[asyncio.Future[None]] = set()  # stores under way in worker threads

    def implicit_signals(self, message: IncomingMessage, reply: Reply, *, delivered: bool) -> list[Signal]:
        """The implicit signals this turn gives (cheap, no I/O)."""
        now = self.clock()
        user = message.user or ""
        signals: list[Signal] = []
        facts = answer_facts(reply)
        if reply.failed:
            signals.append(Signal(facts, user, FAILED, False, now, source=message.source))
        elif not delivered:
            signals.append(Signal(facts, user, UNDELIVERED, False, now, source=message.source))
        elif reply.handler in FALLBACK_HANDLERS:
            signals.append(Signal(facts, user, FALLBACK, False, now, source=message.source))
        if not reply.failed and message.text:
            rephrased = self.rephrases.note((message.thread_key, user), message.text, reply, now)
            if rephrased is not None:
                signals.append(Signal(rephrased, user, REPHRASED, False, now, source=message.source))
        return signals

    def after_reply(self, message: IncomingMessage, reply: Reply, *, delivered: bool) -> None:
        """Record what this turn says about quality, in the background (`drain()` waits for it); never raises:
        a lost signal must not fail a request, and no request waits for its signals to be stored."""
        try:
            signals = self.implicit_signals(message, reply, delivered=delivered)
            exchange = None
            if self.keep_exchanges and delivered and not reply.failed:
                exchange = Exchange(reply.correlation_id, self.clock(), reply.intent, reply.handler, message.text,
                                    reply.plain, reply.frame or {})
            if not signals and exchange is None:
                return
            self._signals += signals
            if exchange is not None:
                self._exchanges.append(exchange)
            if self._flushing is None:
                self._flushing = asyncio.create_task(self._flush_later(FLUSH_DELAY_S), name="quality signals")
        except Exception:
            log.exception("could not record the quality signals of a request",
                          extra={"correlation_id": reply.correlation_id})

    async def _flush_later(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._flushing = None
        await self._flush()

    async def _flush(self) -> None:
        signals, exchanges, self._signals, self._exchanges = self._signals, self._exchanges, [], []
        if signals or exchanges:
            storing = asyncio.ensure_future(asyncio.to_thread(self._write, signals, exchanges))
            self._storing.add(storing)
            storing.add_done_callback(self._storing.discard)
            await storing

    async def drain(self) -> None:
        """Store the signals waiting now (a shutdown, a test about to read them)."""
        task, self._flushing = self._flushing, None
        if task is not None:
            task.cancel()  # still waiting: stored below instead
            await asyncio.gather(task, return_exceptions=True)
        await self._flush()
        await asyncio.gather(*self._storing, return_exceptions=True)  # stores under way finish first

    def _write(self, signals: list[Signal], exchanges: list[Exchange]) -> None:
        try:
            record_signals(self.db, signals)
            if exchanges:
                keep_exchanges(self.db, exchanges, retention_days=self.retention_days)
        except SQLAlchemyError as exc:
            log.warning("could not store quality signals", extra={"error": type(exc).__name__,
                                                                  "signals": len(signals)})

    async def feedback(self, facts: AnswerFacts, user: str, *, positive: bool, source: str = "slack",
                       reason: str | None = None) -> None:
        """Store a 👍/👎 (replacing this user's earlier click on the same answer). Raises SQLAlchemyError."""
        signal = Signal(facts, user, FEEDBACK, positive, self.clock(), reason=reason, source=source)
        await asyncio.to_thread(record_signals, self.db, [signal])

    async def reason(self, correlation_id: str, user: str, reason: str) -> bool:
        """Attach "what was wrong?" to the user's 👎; False when there is no 👎 of theirs to attach it to."""
        return await asyncio.to_thread(record_reason, self.db, correlation_id, user, reason)
