"""The pipeline: one message in, one reply out, through three timed stages.

`meeting_resolution` (thread memory, then the meeting once the frame is known), `control_plane`
(the intent, and the frame: what the message asks in its thread, each slot typed or from the thread)
and `handler` (the answer, and this turn stored in thread memory). While an unsure intent waits for its
LLM validation, its handler already runs on the pattern's reading (`bot.pipeline.speculation`). The whole request runs inside `request_scope`, so it ends with one summary log record,
and it never raises: a failure becomes a friendly reply quoting the correlation id. A caller that
passes `deliver` gets the reply before the turn is stored and the summary written: the user never
waits for the bookkeeping, and the summary records how long delivery took.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.observability import RequestContext, record, request_scope, stage
from bot.pipeline.message import Deliver, IncomingMessage, Reply, StreamSink, failure_reply
from bot.pipeline.quality import QualityRecorder
from bot.pipeline.resolution import MEETING_INTENTS, MeetingResolver
from bot.pipeline.speculation import Answered, Speculation
from control_plane import ControlPlane, ControlPlaneConfig, Decision, Intent
from control_plane.decision import NameLookups, Prepared
from control_plane.frame import Frame
from control_plane.deals import Deal
from control_plane.thread import ThreadContext, about_people, draft_quotes_their_deal, prices_their_deal
from handlers.context import AnswerLLM, HandlerContext, HandlerResult
from handlers.formatting import trim
from handlers.prompts import PROMPT_VERSION
from handlers.declaration import IntentHandler
from handlers.registry import Registry, RegistryError, default_registry
from knowledge.catalog_names import refresh_catalog_names
from knowledge.db import Database
from knowledge.meetings import find_meetings, get_meeting
from knowledge.revision import read_revision
from knowledge.thread_memory import ThreadMemory, TurnContext, recall, remember
from knowledge.vocabulary import load_vocabulary

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger(__name__)
_DEAL_MEETINGS = 6  # the latest meetings of an account read for the deal they record


@dataclass(frozen=True)
class _Knowledge:
    """The names a pipeline recognises, loaded at one knowledge revision."""

    revision: int
    lookups: NameLookups | None
    resolver: MeetingResolver


@dataclass(frozen=True)
class PendingTurn:
    """A turn to store in thread memory once its reply is out."""

    thread_key: str
    intent: Intent
    turn: TurnContext
    now: datetime
    stored_turns: int


class IntentDecider(Protocol):
    """The part of `control_plane.ControlPlane` the pipeline uses."""

    async def decide(self, text: str, now: datetime | None = None) -> Decision: ...

    def frame(self, decision: Decision, thread: ThreadContext, now: datetime | None = None) -> Frame: ...

    async def aclose(self) -> None: ...


def thread_context(memory: ThreadMemory) -> ThreadContext:
    """What the control plane needs of a thread's memory."""
    context = memory.context
    return ThreadContext(
        last_intent=memory.last_intent, product=context.product, plan=context.plan, account=context.account,
        person=context.person, meeting_id=context.meeting_id, aspect=context.aspect, quantity=context.quantity,
        plans=context.plans, plan_seats=context.plan_seats, term=context.term, topic=context.topic,
        discount=context.discount,
    )


class UndeliveredReply(Exception):
    """The reply was ready but never reached the user: the request failed."""


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Pipeline:
    def __init__(
        self,
        *,
        db: Database,
        llm: AnswerLLM | None,
        control_plane: IntentDecider,
        resolver: MeetingResolver,
        registry: Registry | None = None,
        memory_ttl_s: int = 86_400,
        memory_max_turns: int = 20,
        prompt_version: str = PROMPT_VERSION,
        clock: Callable[[], datetime] = utc_now,
        speculate: bool = False,
        quality: QualityRecorder | None = None,
    ) -> None:
        """`speculate`: answer an unsure intent while its LLM validation runs (`LLM_SPECULATE`)."""
        self.db = db
        self.speculate = speculate
        self.llm = llm
        self.control_plane = control_plane
        self.resolver = resolver
        self.registry = registry or default_registry()
        self._examples = self.registry.examples()
        self._context_free = self.registry.context_free()
        self.memory_ttl_s = memory_ttl_s
        self.memory_max_turns = memory_max_turns
        self.prompt_version = prompt_version
        self.clock = clock
        self.quality = quality  # None: no quality signals recorded
        self.knowledge_revision = 0  # the knowledge revision the names were loaded at (see knowledge.revision)
        # Turns being stored (in worker threads), by thread: a follow-up reads its thread's memory after them.
        self._storing: dict[str, asyncio.Future[None]] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Database, llm: AnswerLLM | None, registry: Registry | None = None
    ) -> Pipeline:
        """The pipeline for a process: one vocabulary for the control plane and meeting resolution, the
        shared LLM gateway (None or unavailable: deterministic answers), the handlers' declarations."""
        registry = registry or default_registry()
        revision = read_revision(db)  # before the names: an import committed meanwhile is seen again later
        vocabulary = load_vocabulary(db)
        control_plane = ControlPlane(ControlPlaneConfig.from_settings(settings), vocabulary, llm,
                                     intent_slots=registry.slots())
        problems = registry.mismatches(control_plane.patterns.intent_names)
        if problems:  # an intent nothing answers, or a handler nothing routes to: a mistake to fix, not to serve
            raise RegistryError("; ".join(problems))
        pipeline = cls(
            db=db,
            llm=llm,
            control_plane=control_plane,
            resolver=MeetingResolver(db, control_plane.names),
            registry=registry,
            memory_ttl_s=settings.thread_memory_ttl_s,
            memory_max_turns=settings.thread_memory_max_turns,
            speculate=settings.llm_speculate,
            quality=QualityRecorder(db, keep_exchanges=settings.quality_keep_exchanges,
                                    retention_days=settings.quality_exchange_retention_days),
        )
        pipeline.knowledge_revision = revision
        return pipeline

    def warm_up(self) -> None:
        """What the first messages would otherwise pay for (compiling patterns, reading the word list); blocking:
        a server runs it in a worker thread once it answers."""
        if isinstance(self.control_plane, ControlPlane):
            self.control_plane.warm_up()

    async def reload_knowledge(self) -> None:
        """Reload the names (accounts, contacts, products, plans, meeting kinds) after an import: they are
        read and indexed in a worker thread (on a large catalog that takes a noticeable fraction of a
        second, which the event loop must not wait for), then swapped in at once."""
        self._use_knowledge(await asyncio.to_thread(self._build_knowledge))

    def _build_knowledge(self) -> _Knowledge:
        revision = read_revision(self.db)  # first: an import committed meanwhile is seen again later
        vocabulary = load_vocabulary(self.db)
        refresh_catalog_names(self.db)  # the handlers' "did you mean" names, current with the control plane's
        if not isinstance(self.control_plane, ControlPlane):
            return _Knowledge(revision, None, self.resolver)
        lookups = self.control_plane.build_lookups(vocabulary)
        return _Knowledge(revision, lookups, MeetingResolver(self.db, lookups.names))

    def _use_knowledge(self, knowledge: _Knowledge) -> None:
        if knowledge.lookups is not None and isinstance(self.control_plane, ControlPlane):
            self.control_plane.use_lookups(knowledge.lookups)
        self.resolver = knowledge.resolver
        self.knowledge_revision = knowledge.revision

    async def aclose(self) -> None:
        """Let background work (shadow validations) finish or cancel it; call before closing the gateway."""
        await self.control_plane.aclose()
        if self.quality is not None:
            await self.quality.drain()

    async def handle(self, message: IncomingMessage, sink: StreamSink | None = None,
                     deliver: Deliver | None = None) -> Reply:
        """Answer one message, handing the reply to `deliver` (if given) before storing the turn and logging
        the summary, which then includes `delivery_ms` and `delivery` (`delivered`, or `failed` when
        `deliver` returned False: the summary then says `Request failed`). Never raises (except
        cancellation, and what `deliver` raises, after the summary records the failure): a failure is a
        friendly reply."""
        in_delivery = handed_over = False
        delivered = True  # the reply reached the user (no `deliver`: the caller shows it)
        try:
            with request_scope(
                source=message.source, channel=message.channel, user=message.user, event_id=message.event_id
            ) as request:
                pending: PendingTurn | None = None
                try:
                    reply, pending = await self._answer(message, sink, request)
                except Exception as exc:
                    request.fail(exc)
                    reply = self._failure_reply(request)
                if deliver is not None:
                    started = time.perf_counter()
                    in_delivery = True
                    taken = await deliver(reply) is not False
                    in_delivery, handed_over = False, True
                    delivered = taken
                    record(delivery_ms=round((time.perf_counter() - started) * 1000.0, 3),
                           delivery="delivered" if taken else "failed")
                    if not taken:
                        pending = None  # the user never saw this turn: a follow-up must not build on it
                        if not request.failed:
                            request.fail(UndeliveredReply("the reply could not be delivered"))
                if pending is not None:
                    with stage("handler"):
                        await self._store_turn(pending)
            # After the summary, in the background: quality bookkeeping is not part of the request's time.
            if self.quality is not None:
                self.quality.after_reply(message, reply, delivered=delivered)
            return reply
        except Exception:
            if in_delivery:
                raise  # the caller's own delivery failed: the caller deals with it
            logger.exception("request bookkeeping failed")  # the logging layer itself broke: still answer
            reply = failure_reply("unknown")
            if deliver is not None and not handed_over:
                await deliver(reply)
            return reply

    async def _answer(
        self, message: IncomingMessage, sink: StreamSink | None, request: RequestContext
    ) -> tuple[Reply, PendingTurn | None]:
        """The reply, and the turn to store in thread memory once it is delivered (None: nothing to store)."""
        now = self.clock()
        text = message.text or ""
        storing = self._storing.get(message.thread_key)
        if storing is not None:  # the thread's previous turn is being stored: read the memory after it
            await asyncio.wait([storing])
        with stage("meeting_resolution"):
            memory = ThreadMemory() if message.new_thread else self._recall(message.thread_key, now)
        speculation: Speculation | None = None
        with stage("control_plane"):
            if isinstance(self.control_plane, ControlPlane):
                prepared = self.control_plane.prepare(text, now)
                if prepared.needs_validation:
                    speculation = self._speculate(prepared, memory, text, now)
                verdict = self.control_plane.finish(prepared)
            else:
                verdict = self.control_plane.decide(text, now)
            try:
                decision = await verdict
                frame = self.control_plane.frame(decision, thread_context(memory), now)
            except BaseException:
                if speculation is not None:
                    await speculation.discard()
                raise
        validated_at = time.perf_counter()
        if message.on_intent is not None:
            message.on_intent(frame.intent.value, frame.as_json())
        record(
            intent=frame.intent.value,
            confidence=round(decision.confidence, 3),
            llm_validation=decision.llm_validation,
            frame=frame.log_summary(),
        )
        if frame.intent is not decision.intent:
            record(follow_up_of=frame.intent.value)
        handler = self.registry.handler_for(frame.intent)
        record(handler=handler.name)
        answered: Answered | None = None
        if speculation is not None:
            if speculation.agrees(decision, frame):
                answered = await speculation.confirm(validated_at)
            else:
                await speculation.discard()
        pending: PendingTurn | None = None
        if answered is None:
            answered = await self._run_handler(handler, text, decision, frame, now, sink)
        result, resolution = answered
        with stage("handler"):
            named = TurnContext(
                # (an account named beside a quote, "tidewater renewal: 55 growth + 10 pro", is the thread's account too)
                account=resolution.account or (decision.entities.account if frame.typed("account") or
                                               frame.intent is Intent.PRODUCT_QUESTION else None),
                person=resolution.contact.name if resolution.contact else None,
                # (not a meeting of another account than the one the frame is about: "what did maya counter with" in
                # a thread about Kestrel must not leave Maya's latest Acme meeting as the thread's)
                meeting_id=resolution.meeting.id if resolution.meeting and (
                    not frame.account or resolution.meeting.account.casefold() == frame.account.casefold()) else None,
            )
            turn = memory.context.follow(named).follow(result.context)
            if frame.intent is Intent.MEETING_SUMMARY and isinstance(self.control_plane, ControlPlane):
                # (reading a recap line by line takes ~0.2 ms a line: in a worker thread, off the event loop)
                deal = await asyncio.to_thread(self.control_plane.deal_in, result.plain, now)
                priced = prices_their_deal(decision.normalized_text)
                if (deal is None and priced or deal is not None and not deal.settled) and resolution.account:
                    # (the lines quoted may not state it, or only as asked or proposed: the deal their latest
                    # meetings record, with what was settled)
                    recorded = await asyncio.to_thread(self._recorded_deal, resolution.account, now)
                    if deal is None or (recorded is not None and (recorded.plan, recorded.seats) == (deal.plan, deal.seats)):
                        deal = recorded
                if deal is not None:  # "orbit pro, 60 seats": "how much is that per seat" next asks its price
                    turn = replace(turn, product=deal.product, plan=deal.plan, quantity=deal.seats,
                                   plans=tuple(plan for plan, _ in deal.mix), plan_seats=tuple(seats for _, seats in deal.mix),
                                   discount=deal.discount, aspect=turn.aspect if about_people(turn.aspect) else None)
                addon = self.control_plane.addon_named(decision.normalized_text)
                if addon is not None and not about_people(turn.aspect):
                    # "did acme get guided onboarding thrown in": "whats it normally cost" next asks the add-on's price
                    turn = replace(turn, aspect=f"item:addon:{addon}")
                if deal is not None and priced:
                    # "whats vandelays deal worth per yr": what the meetings say, then the deal priced
                    quote = await self._price_deal(deal, text, decision, now)
                    result.text, result.plain = f"{result.text}\n\n{quote.text}", f"{result.plain}\n\n{quote.plain}"
                    turn = replace(turn, aspect="quote", term=decision.entities.term or "year")
            if result.exact:
                turn = replace(turn, **{name: getattr(result.context, name) for name in result.exact})
            # Small talk, help and out-of-scope turns change nothing worth remembering: skipping them keeps
            # "thanks!" from breaking a conversation ("and Enterprise?" still follows the product question).
            if frame.intent not in self._context_free or turn != memory.context:
                pending = PendingTurn(message.thread_key, frame.intent, turn, now, memory.turns)
        facts: dict[str, Any] = {"snapshot_path": result.snapshot_path}
        if result.cache is not None:
            facts["cache"] = result.cache
        record(**facts)
        reply = Reply(
            mrkdwn=trim(result.text),
            plain=result.plain,
            intent=frame.intent.value,
            confidence=round(decision.confidence, 3),
            handler=handler.name,
            llm_validation=decision.llm_validation,
            correlation_id=request.correlation_id,
            stages=request.timer.ordered_stages(),
            total_ms=round(request.elapsed_ms(), 3),
            streamed=result.streamed,
            frame=frame.as_json(),
            pattern=next((c.pattern for c in decision.candidates if c.intent is decision.intent), ""),
            llm="used" if result.llm_used else "validated" if decision.llm_validation == "used" else "skipped",
            snapshot_version=result.snapshot_version,
        )
        return reply, pending

    def _speculate(self, prepared: Prepared, memory: ThreadMemory, text: str, now: datetime) -> Speculation | None:
        """Start answering the pattern's intent while it is validated; None (recorded `off`) when switched off
        or when its handler has side effects."""
        frame = self.control_plane.frame(prepared.decision, thread_context(memory), now)
        handler = self.registry.handler_for(frame.intent)
        if not self.speculate or handler.side_effects:
            record(speculation="off")
            return None
        decision = prepared.decision
        return Speculation.start(decision, frame, handler,
                                 lambda: self._run_handler(handler, text, decision, frame, now, sink=None))

    def _recorded_deal(self, account: str, now: datetime) -> Deal | None:
        """The deal the account's latest meetings record: the first decision or summary sentence, newest meeting first,
        stating one plan with seats (and the discount beside it)."""
        if not isinstance(self.control_plane, ControlPlane):
            return None  # (no control plane to read them with: the meetings need not be read)
        notes: list[str] = []
        for meeting in find_meetings(self.db, account=account, end=now, limit=_DEAL_MEETINGS):
            detail = get_meeting(self.db, meeting.id)
            if detail is not None:
                notes += [*detail.decisions, detail.summary]
        return self.control_plane.deal_in("\n".join(notes), now, mix_ends=True)

    async def _price_deal(self, deal: Deal, text: str, decision: Decision, now: datetime) -> HandlerResult:
        """The product handler's quote of an account's deal: its plan and seats, with its discount, for the period asked."""
        frame = Frame(intent=Intent.PRODUCT_QUESTION, term=decision.entities.term or "year", **deal.slots(),
                      sources={"product": "thread", "plans": "thread", "quantity": "thread", "term": "typed",
                               "discount": "thread"})
        result, _ = await self._run_handler(self.registry.handler_for(Intent.PRODUCT_QUESTION), text, decision, frame, now, None)
        return result

    async def _run_handler(self, handler: IntentHandler, text: str, decision: Decision, frame: Frame, now: datetime,
                           sink: StreamSink | None) -> Answered:
        """The handler's result for one reading of the message, and the meeting resolution it was given."""
        if (frame.intent is Intent.DRAFT_EMAIL and frame.account and not frame.plans and not frame.product
                and draft_quotes_their_deal(decision.normalized_text)):
            # "draft a note to mike w the pricing": the deal Tidewater's meetings record, priced in the draft
            deal = await asyncio.to_thread(self._recorded_deal, frame.account, now)
            if deal is not None:
                frame = replace(frame, **deal.slots(),
                                sources={**frame.sources, "product": "meetings", "plans": "meetings", "quantity": "meetings",
                                         **({"discount": "meetings"} if deal.discount else {})})
        with stage("meeting_resolution"):
            if frame.intent in MEETING_INTENTS:  # (meetings are read: off the event loop)
                resolution = await asyncio.to_thread(self.resolver.resolve, frame, decision.normalized_text, now)
            else:
                resolution = self.resolver.resolve(frame, decision.normalized_text, now)
        with stage("handler"):
            context = HandlerContext(
                text=text,
                decision=decision,
                frame=frame,
                resolution=resolution,
                db=self.db,
                llm=self.llm if handler.uses_llm else None,
                prompt_version=self.prompt_version,
                now=now,
                sink=sink,
                examples=self._examples,
            )
            result: HandlerResult = (await handler.handle(context)).with_readings(frame.readings)
        return result, resolution

    def _recall(self, thread_key: str, now: datetime) -> ThreadMemory:
        try:
            return recall(self.db, thread_key, now=now, ttl_s=self.memory_ttl_s)
        except SQLAlchemyError as exc:  # memory is a convenience: answer without it
            logger.warning("thread memory unavailable", extra={"error": type(exc).__name__})
            return ThreadMemory()

    async def _store_turn(self, pending: PendingTurn) -> None:
        """Store the turn in a worker thread (a write: waiting on SQLite's lock there stalls nothing)."""
        storing = asyncio.ensure_future(asyncio.to_thread(self._remember, pending))
        self._storing[pending.thread_key] = storing
        try:
            await storing
        finally:
            if self._storing.get(pending.thread_key) is storing:
                del self._storing[pending.thread_key]

    def _remember(self, pending: PendingTurn) -> None:
        try:
            remember(
                self.db,
                pending.thread_key,
                pending.intent.value,
                pending.turn,
                now=pending.now,
                ttl_s=self.memory_ttl_s,
                max_turns=self.memory_max_turns,
                stored_turns=pending.stored_turns,
            )
        except SQLAlchemyError as exc:
            logger.warning("could not store the turn in thread memory", extra={"error": type(exc).__name__})

    def _failure_reply(self, request: RequestContext) -> Reply:
        facts = request.facts
        return failure_reply(
            request.correlation_id,
            intent=str(facts.get("intent") or "unknown"),
            confidence=float(facts.get("confidence") or 0.0),
            handler=str(facts.get("handler") or "none"),
            llm_validation=str(facts.get("llm_validation") or "skipped"),
            stages=request.timer.ordered_stages(),
            total_ms=round(request.elapsed_ms(), 3),
        )
