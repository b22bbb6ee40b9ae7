"""The control plane: classify with patterns, skip LLM validation when sure, ask the LLM otherwise."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from control_plane import spelling
from control_plane.account_kinds import kind_asked, may_ask_for_a_kind
from control_plane.classifier import PatternClassifier, placeholder_terms
from control_plane.config import ControlPlaneConfig
from control_plane.deals import Deal, deal_in
from control_plane.entities import MAX_TOPIC_CHARS, EntityExtractor
from control_plane.frame import Frame
from control_plane.intents import Candidate, Decision, Entities, Intent, LLMValidation, Reading
from control_plane.language import ENGLISH, detect_language
from control_plane.meeting_questions import asks_a_question, asks_what_happened
from control_plane.names import NameIndex
from control_plane.normalize import NormalizedText, normalize
from control_plane.patterns import PatternSet, load_patterns
from control_plane.rollout import RolloutGate
from control_plane.shadow import ShadowValidator
from control_plane.thread import CATALOG_TERM, NAMES_A_PLAN, IntentSlots, ThreadContext, intent_in_thread, merge_thread
from control_plane.time_ranges import naive_utc, parse_time_range
from control_plane.validation import (
    IntentLLM,
    IntentValidation,
    ValidatedEntities,
    system_prompt,
    user_prompt,
    validation_schema,
)
from knowledge.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

_MAX_PERSON_CHARS = 120
_ABOUT_MEETINGS = frozenset({Intent.CALL_SEARCH, Intent.MEETING_SUMMARY, Intent.DRAFT_EMAIL})
_MEETING_EVIDENCE = 0.7  # below this, a lone keyword ("email sends per day") is no evidence against the catalog
# The confidence of a product question known only by the catalog words it names (below the skip threshold).
CATALOG_TERM_CONFIDENCE = 0.8
_ANY_DAY = datetime(2026, 1, 5)  # the names a message gives do not depend on the day (only its time range does)
# "whats their api limit", "storage on pro": what a plan allows, asked beside an account
_LIMIT_ASKED = re.compile(r"\b(?:limits?|caps?|quotas?|storage|retention|sla|uptime|how many|max(?:imum)?)\b")
# A question about what was said or agreed with a named account or contact: answered from its meetings.
MEETING_QUESTION_CONFIDENCE = 0.92
# A question naming an account or contact that no pattern reads as anything else: about its meetings, short
# of certain (the LLM, if any, confirms it).
ACCOUNT_QUESTION_CONFIDENCE = 0.84  # below a pattern's own (0.85): a follow-up still continues its thread
# "any healthcare customers": the accounts of a recorded industry or segment, sure enough to skip the LLM
ACCOUNTS_OF_A_KIND_CONFIDENCE = 0.9
# "how many seats does hooli have": their deal's seats, certain enough to skip the LLM (the account is named)
ACCOUNT_COUNT_CONFIDENCE = 0.9
_HOW_MANY_THINGS = "how-many-things"
_ASKS_SEATS_OF = re.compile(r"\bhow many (?:seats|users|licen[cs]es)\b")
# A greeting followed by words no pattern reads ("morning!! first week here lol"): small talk, short of certain
GREETING_CHATTER_CONFIDENCE = 0.85
_CHATTER_MAX_WORDS = 12
# A few words before a comma, full stop or dash that lead into the question ("need more, how much is ...")
_LEAD_IN = re.compile(r"^[^,.;:!?\-–]{1,40}?(?:[,.;:!?]|\s[-–])\s+(?=\S)")
_AFTER_A_LEAD_IN = 0.85
# "acme deal size", "umbrella final terms", "vandelay closed 🎉": a few words beside a name, asked in no question
# form, are about that account's meetings too
_SHORT_ABOUT_SOMEONE = 6
_LEANING_ON_A_THREAD = frozenset("""a an the and n or so ok okay just only what about how also too pls please thx thanks for with w at
    on from of to in ones one them those these it that this same again then instead either""".split())
# What a catalog or out-of-scope reading of such a question is left with (below the skip threshold).
_OUTWEIGHED = 0.8
# Intents that keep a message about someone when a pattern is sure of them ("find globex calls where...").
_OWN_MEETING_WORK = frozenset({Intent.CALL_SEARCH, Intent.DRAFT_EMAIL, Intent.MEETING_SUMMARY, Intent.HELP})
_EPSILON = 1e-9  # confidences are rounded to 4 places; compare thresholds with a little slack


@dataclass(frozen=True)
class _Analysis:
    """The pattern tier's view of one message."""

    text: NormalizedText
    candidates: tuple[Candidate, ...]
    intent: Intent
    confidence: float
    runner_up: Intent | None
    margin: float
    readings: tuple[Reading, ...] = ()
    language: str = ENGLISH


@dataclass(frozen=True)
class Prepared:
    """A message read by the pattern tier, its LLM validation not yet asked for (`ControlPlane.prepare`)."""

    analysis: _Analysis
    now: datetime
    decision: Decision  # the pattern tier's: what stands if no validation is asked for or none comes
    needs_validation: bool  # unsure, and an LLM to ask is available
    withheld: bool = False  # sure, but the rollout withholds the skip: validated, and the agreement measured


@dataclass(frozen=True)
class NameLookups:
    """What the control plane knows of the catalog's names: for the patterns and for the entities."""

    classifier: PatternClassifier
    entities: EntityExtractor
    names: NameIndex


class ControlPlane:
    """Decides each message's intent and entities; safe to share across concurrent requests."""

    def __init__(
        self,
        config: ControlPlaneConfig,
        vocabulary: Vocabulary,
        llm: IntentLLM | None,
        *,
        patterns: PatternSet | None = None,
        rng: random.Random | None = None,
        intent_slots: IntentSlots | None = None,
    ) -> None:
        """`intent_slots`: the frame slots each intent's handler reads (`handlers.registry` has them); without
        them every intent but help, small talk and unknown may take every slot from the thread."""
        self.config = config
        self.intent_slots = intent_slots
        self.patterns = patterns or load_patterns()
        self._llm = llm
        self._system_prompt = system_prompt(self.patterns.descriptions())
        self._schema = validation_schema(self.patterns.intent_names)
        self._shadow = ShadowValidator(llm, config.shadow_rate, self._system_prompt, self._schema, rng or random.Random())
        self._rollout: RolloutGate | None = None  # None: confident messages always skip (no rollout control)
        self.use_lookups(self.build_lookups(vocabulary))

    def use_rollout(self, gate: RolloutGate | None) -> None:
        """Follow `gate` (control_plane.rollout) on which confident messages skip LLM validation."""
        self._rollout = gate
        self._shadow.on_result = gate.observe_agreement if gate is not None else None

    def build_lookups(self, vocabulary: Vocabulary) -> NameLookups:
        """The catalog name lookups for `vocabulary`, without using them yet (safe in a worker thread)."""
        names = NameIndex(vocabulary)
        return NameLookups(
            PatternClassifier(self.patterns, placeholder_terms(vocabulary)), EntityExtractor(vocabulary, names), names
        )

    def warm_up(self) -> None:
        """Do now what the first messages would otherwise do on their way: compile every pattern's regex and
        read the spelling word list (a long-running process calls this in a worker thread once it serves)."""
        self._classifier.compile_all()
        spelling.prepare()

    def use_lookups(self, lookups: NameLookups) -> None:
        """Swap in lookups from `build_lookups` (after an import); requests in flight keep the ones they started with."""
        self._classifier, self._entities, self._names = lookups.classifier, lookups.entities, lookups.names

    @property
    def entities(self) -> EntityExtractor:
        return self._entities

    @property
    def names(self) -> NameIndex:
        return self._names

    def deal_in(self, text: str, now: datetime, *, mix_ends: bool = False) -> Deal | None:
        """The plan and seats an answer about meetings (or meeting notes) states, for the thread (see
        `control_plane.deals`)."""
        return deal_in(text, self._entities, self._names, naive_utc(now), mix_ends=mix_ends)

    def addon_named(self, text: str) -> str | None:
        """The add-on a message names in full, if one (see `NameIndex.addon_named`)."""
        return self._names.addon_named(text.lower())

    # The pattern tier ---------------------------------------------------------------------------------

    def classify(self, text: str, now: datetime | None = None) -> Decision:
        """The pattern tier alone, synchronously: "skipped" when confident, otherwise "unavailable"."""
        analysis = self._analyze(text)
        validation: LLMValidation = "skipped" if self._confident(analysis) else "unavailable"
        return self._decision(analysis, analysis.intent, analysis.confidence, validation, _now(now))

    def _analyze(self, text: str) -> _Analysis:
        greeted = normalize(text if isinstance(text, str) else "")
        normalized, readings = self._names.read(without_greeting(greeted))
        if not normalized.lowered:
            # Nothing left to classify (empty, only a mention or emoji codes): certain, and not worth an LLM call.
            return _Analysis(normalized, (), Intent.UNKNOWN, 1.0, None, 1.0)
        language = detect_language(normalized.lowered)
        if language != ENGLISH:  # answered with "English only": certain, and not worth an LLM call
            return _Analysis(normalized, (), Intent.UNKNOWN, 1.0, None, 1.0, readings, language)
        candidates = self._candidates(normalized)
        lead_in = _LEAD_IN.match(normalized.lowered) if not candidates else None
        if lead_in is not None:
            # "need more, how much is extra storage", "ok so. who owns hooli": the question after a few words that lead
            # into it, read on its own (short of certain: the lead-in may have mattered)
            rest = NormalizedText(normalized.clean[lead_in.end():], normalized.lowered[lead_in.end():])
            candidates = tuple(c._replace(confidence=min(c.confidence, _AFTER_A_LEAD_IN)) for c in self._candidates(rest))
        if not candidates and normalized.lowered != greeted.lowered and self._only_chatter(normalized.lowered):
            candidates = (Candidate(Intent.SMALLTALK, GREETING_CHATTER_CONFIDENCE, "greeting-then-chatter"),)
        if not candidates:
            return _Analysis(normalized, (), Intent.UNKNOWN, 0.0, None, 0.0, readings)
        best = candidates[0]
        second = candidates[1] if len(candidates) > 1 else None
        margin = round(best.confidence - (second.confidence if second else 0.0), 4)
        return _Analysis(normalized, candidates, best.intent, best.confidence, second.intent if second else None, margin,
                         readings)

    def _with_meeting_question(self, lowered: str, candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        """"did maya agree to the 25%?", "what api rate limit did we give hooli": a question about what was said
        or agreed with a named account or contact is about its meetings, whatever catalog words it holds."""
        if any(c.intent in _OWN_MEETING_WORK and c.confidence >= self.config.skip_threshold - _EPSILON
               and c.intent is not Intent.MEETING_SUMMARY for c in candidates):
            return candidates  # a search, a draft or help the patterns are sure of
        if not self._names.asks_about_someone(lowered):
            return candidates
        seats = self._entities.extract(NormalizedText(lowered, lowered), Intent.PRODUCT_QUESTION, _ANY_DAY)
        if seats.plans and (seats.quantity or self._names.catalog_terms_in(lowered) or self._names.names_a_limit(lowered)
                            or _LIMIT_ASKED.search(lowered)):
            # "whats globex worth per yr after the 12%? 450 ent seats", "acme is on orbit pro right, whats their api
            # limit": a quote or a plan's limit, whoever it is for
            return candidates
        if asks_what_happened(lowered):
            confidence, pattern = MEETING_QUESTION_CONFIDENCE, "about-a-meeting"
        elif (asks_a_question(lowered) or self._short_about_someone(lowered)) and all(
                c.confidence < (ACCOUNT_QUESTION_CONFIDENCE if c.intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN)
                                else _MEETING_EVIDENCE) for c in candidates):
            # Only a catalog or out-of-scope reading is outweighed: a search or a draft keeps its own evidence.
            confidence, pattern = ACCOUNT_QUESTION_CONFIDENCE, "about-an-account"
        else:
            return candidates
        current = next((c for c in candidates if c.intent is Intent.MEETING_SUMMARY), None)
        meeting = Candidate(Intent.MEETING_SUMMARY, max(confidence, current.confidence if current else 0.0),
                            current.pattern if current and current.confidence >= confidence else pattern)
        others = tuple(
            c._replace(confidence=min(c.confidence, _OUTWEIGHED)) if c.intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN) else c
            for c in candidates if c.intent is not Intent.MEETING_SUMMARY
        )
        return tuple(sorted((meeting, *others), key=lambda c: -c.confidence))

    def _with_accounts_of_a_kind(self, lowered: str, candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        """"do we have any healthcare customers", "need a manufacturing reference": the accounts of an industry or
        segment the accounts are recorded with, which their meetings' handler lists; a search or a draft the
        patterns are sure of keeps its own reading."""
        if any(c.intent in (Intent.CALL_SEARCH, Intent.DRAFT_EMAIL) and c.confidence >= ACCOUNTS_OF_A_KIND_CONFIDENCE
               for c in candidates):
            return candidates
        if not may_ask_for_a_kind(lowered) or kind_asked(lowered, self._names.industry_words) is None:
            return candidates
        if self._names.catalog_terms_in(lowered):
            return candidates  # "do enterprise customers get a dedicated csm": what the plan includes
        others = tuple(c._replace(confidence=min(c.confidence, _OUTWEIGHED)) if c.intent is not Intent.MEETING_SUMMARY else c
                       for c in candidates if c.intent is not Intent.MEETING_SUMMARY or c.confidence < ACCOUNTS_OF_A_KIND_CONFIDENCE)
        return (Candidate(Intent.MEETING_SUMMARY, ACCOUNTS_OF_A_KIND_CONFIDENCE, "accounts-of-a-kind"), *others)

    def _candidates(self, normalized: NormalizedText) -> tuple[Candidate, ...]:
        """The patterns' readings of the message, with what the names, catalog words and plans it holds add."""
        candidates = self._with_meeting_question(normalized.lowered, tuple(self._classifier.candidates(normalized.lowered)))
        candidates = self._with_accounts_of_a_kind(normalized.lowered, candidates)
        candidates = self._with_catalog_terms(normalized.lowered, candidates)
        candidates = self._with_an_accounts_count(normalized.lowered, candidates)
        return self._with_named_plans(normalized, candidates)

    def _with_an_accounts_count(self, lowered: str, candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        """"how many seats does hooli have", "meridian is on beacon pro right? how many seats": a count of an account's
        deal, which its meetings record, not a plan's limit."""
        if not candidates or candidates[0].pattern != _HOW_MANY_THINGS or not _ASKS_SEATS_OF.search(lowered[:300]):
            return candidates
        if not any(name.kind == "account" for found in self._names.find(lowered[:300]) for name in found.names):
            return candidates
        return (Candidate(Intent.MEETING_SUMMARY, ACCOUNT_COUNT_CONFIDENCE, "seats-of-an-account"),
                *(c._replace(confidence=min(c.confidence, _OUTWEIGHED)) for c in candidates))

    def _only_chatter(self, lowered: str) -> bool:
        """What follows a greeting asks nothing and names nothing we know: "morning!! first week here lol"."""
        return ("?" not in lowered and len(lowered.split()) <= _CHATTER_MAX_WORDS and not self._names.find(lowered)
                and not self._names.catalog_terms_in(lowered))

    def _short_about_someone(self, lowered: str) -> bool:
        """A few words beside a name that say what about ("acme deal size"), not only lean on a thread ("just vandelay
        pls", "and acme?")."""
        if len(lowered.split()) > _SHORT_ABOUT_SOMEONE:
            return False
        found = self._names.find(lowered)
        rest = list(lowered)
        for match in found:
            rest[match.start : match.end] = " " * (match.end - match.start)
        return any(word not in _LEANING_ON_A_THREAD for word in re.findall(r"[a-z0-9']+", "".join(rest)))

    def _with_catalog_terms(self, lowered: str, candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        """A message no pattern is sure of that names what the catalog offers ("is forecasting in starter",
        "what if they cancel") is a product question, short of certain: the LLM, if any, confirms it."""
        if candidates and candidates[0].confidence >= CATALOG_TERM_CONFIDENCE:
            return candidates
        if any((c.intent in _ABOUT_MEETINGS and c.confidence >= _MEETING_EVIDENCE) or c.intent is Intent.PRODUCT_QUESTION
               for c in candidates):
            # About meetings, or a product question the patterns already weighed (and marked down: "from
            # the sso setup call"): the catalog's words add nothing.
            return candidates
        if not (self._names.catalog_terms_in(lowered) or self._names.names_a_limit(lowered)) \
                or self._names.names_someone(lowered):
            return candidates
        return (Candidate(Intent.PRODUCT_QUESTION, CATALOG_TERM_CONFIDENCE, CATALOG_TERM), *candidates)

    def _with_named_plans(self, text: NormalizedText, candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        """A message no pattern places that names a plan or product where one is meant ("customer has 20 reps,
        whats growth gonna run them per yr", "can a 10 person team even buy enterprise") is a product question,
        short of certain."""
        if candidates:
            return candidates
        entities = self._entities.extract(text, Intent.UNKNOWN, _ANY_DAY)
        if not entities.plans and not entities.product:
            return candidates
        return (Candidate(Intent.PRODUCT_QUESTION, CATALOG_TERM_CONFIDENCE, NAMES_A_PLAN),)

    def _confident(self, analysis: _Analysis) -> bool:
        if not analysis.text.lowered or analysis.language != ENGLISH:
            return True
        return (
            analysis.confidence >= self.config.skip_threshold - _EPSILON
            and analysis.margin >= self.config.ambiguity_margin - _EPSILON
        )

    def _decision(
        self, analysis: _Analysis, intent: Intent, confidence: float, validation: LLMValidation, now: datetime,
        entities: Entities | None = None,
    ) -> Decision:
        return Decision(
            intent=intent,
            confidence=confidence,
            llm_validation=validation,
            entities=entities if entities is not None else self._entities.extract(analysis.text, intent, now),
            normalized_text=analysis.text.lowered,
            runner_up=analysis.runner_up,
            margin=analysis.margin,
            candidates=analysis.candidates,
            readings=analysis.readings,
            language=analysis.language,
            text=analysis.text,
        )

    # The decision -------------------------------------------------------------------------------------

    async def decide(self, text: str, now: datetime | None = None) -> Decision:
        """Intent and entities for one message; never raises for any input (the LLM may be unavailable)."""
        return await self.finish(self.prepare(text, now))

    def prepare(self, text: str, now: datetime | None = None) -> Prepared:
        """The pattern tier's reading of one message, and whether it waits for an LLM validation (the
        pipeline may start answering the pattern's intent meanwhile: `finish` gives the verdict)."""
        now = _now(now)
        analysis = self._analyze(text)
        confident = self._confident(analysis)
        rollout = self._rollout
        # Without an LLM to ask there is nothing to withhold the skip for: the patterns decide as they always did.
        if confident and rollout is not None and analysis.text.lowered and analysis.language == ENGLISH \
                and self._llm is not None and self._llm.available and not rollout.skip_allowed():
            decision = self._decision(analysis, analysis.intent, analysis.confidence, "unavailable", now)
            return Prepared(analysis, now, decision, needs_validation=True, withheld=True)
        if confident:
            return Prepared(analysis, now, self._decision(analysis, analysis.intent, analysis.confidence, "skipped", now),
                            needs_validation=False)
        decision = self._decision(analysis, analysis.intent, analysis.confidence, "unavailable", now)
        return Prepared(analysis, now, decision, needs_validation=self._llm is not None and self._llm.available)

    async def finish(self, prepared: Prepared) -> Decision:
        """The decision for a prepared message: the pattern tier's when it was sure, else the LLM's verdict."""
        analysis, now = prepared.analysis, prepared.now
        if prepared.withheld and self._rollout is not None:
            return await self._validate_instead_of_skipping(analysis, self._rollout, now)
        if prepared.decision.llm_validation == "skipped":
            logger.info(
                "skipping LLM validation",
                extra={"intent": analysis.intent.value, "confidence": analysis.confidence, "margin": analysis.margin,
                       "pattern": analysis.candidates[0].pattern if analysis.candidates else "empty"},
            )
            decision = prepared.decision
            if analysis.text.lowered and analysis.language == ENGLISH:
                self._shadow.maybe_validate(analysis.text.clean, analysis.candidates, decision.intent)
            return decision
        validation = await self._validate(analysis)
        if validation is None:
            return prepared.decision
        intent = Intent(validation.intent)  # one of the patterns file's: the schema admits no other
        entities = self._merge_entities(self._entities.extract(analysis.text, intent, now), validation.entities, intent, now)
        return self._decision(analysis, intent, _unit(validation.confidence), "used", now, entities)

    async def _validate_instead_of_skipping(self, analysis: _Analysis, rollout: RolloutGate, now: datetime) -> Decision:
        """The rollout withholds the skip: validate as an unsure message is, and measure whether skipping would
        have given the same intent (the shadow agreement)."""
        validation = await self._validate(analysis)
        if validation is None:
            return self._decision(analysis, analysis.intent, analysis.confidence, "unavailable", now)
        intent = Intent(validation.intent)
        agreed = intent == analysis.intent
        # The same record as a background shadow validation: `pitcrew logs stats` and the dashboard count both.
        logger.info("shadow validation", extra={"shadow_agreement": agreed, "intent": analysis.intent.value,
                                                "llm_intent": validation.intent, "rollout": "withheld"})
        rollout.observe_agreement(agreed)
        entities = self._merge_entities(self._entities.extract(analysis.text, intent, now), validation.entities, intent, now)
        return self._decision(analysis, intent, _unit(validation.confidence), "used", now, entities)

    async def _validate(self, analysis: _Analysis) -> IntentValidation | None:
        if self._llm is None or not self._llm.available:
            return None
        try:
            return await self._llm.structured(
                system=self._system_prompt,
                user=user_prompt(analysis.text.clean, analysis.candidates),
                schema=self._schema,
                kind="validate",
            )
        except asyncio.CancelledError:
            raise
        except Exception:  # the gateway promises None, but a reply must never depend on that
            logger.warning("intent validation failed; the pattern result stands", exc_info=True)
            return None

    def _merge_entities(self, found: Entities, llm: ValidatedEntities, intent: Intent, now: datetime) -> Entities:
        """What the patterns found wins; the LLM fills gaps, checked against the vocabulary where possible."""
        extractor = self._entities
        plans = found.plans or tuple(dict.fromkeys(p for p in map(extractor.canonical_plan, llm.plans[:5]) if p))
        topic = found.topic
        if topic is None and intent in (Intent.CALL_SEARCH, Intent.DRAFT_EMAIL):
            topic = _short(llm.topic, MAX_TOPIC_CHARS)
        time_range = found.time_range
        if time_range is None and llm.time_range:
            time_range = parse_time_range(normalize(llm.time_range).lowered, now)
        return Entities(
            person=found.person or _short(llm.person, _MAX_PERSON_CHARS),
            account=found.account or extractor.canonical_account(llm.account),
            product=found.product or extractor.canonical_product(llm.product),
            plans=plans,
            topic=topic,
            time_range=time_range,
            meeting_kind=found.meeting_kind or (
                extractor.canonical_meeting_kind(llm.meeting_kind)
                if intent in (Intent.CALL_SEARCH, Intent.MEETING_SUMMARY) else None
            ),
        )

    # The message in its thread ---------------------------------------------------------------------------

    def frame(self, decision: Decision, thread: ThreadContext, now: datetime | None = None) -> Frame:
        """What the message asks in its thread: the intent it continues, typed slots, then the thread's."""
        if decision.language != ENGLISH:  # answered with "English only": nothing it names is looked up
            return Frame(intent=Intent.UNKNOWN, language=decision.language)
        intent, follow_up = intent_in_thread(decision, thread, self.intent_slots)
        if intent is not decision.intent and decision.text is not None:
            # Read again for the intent it continues: its topic, and names that count only for that intent.
            decision = replace(decision, intent=intent, entities=self._entities.extract(decision.text, intent, _now(now)))
        return merge_thread(decision, thread, self._names, intent=intent, follow_up=follow_up,
                            slots_for=self.intent_slots)

    # Background work ----------------------------------------------------------------------------------

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for shadow validations still running (at shutdown, or in tests)."""
        await self._shadow.drain(timeout)

    @property
    def shadow_pending(self) -> int:
        """Shadow validations still running in the background."""
        return self._shadow.pending

    async def aclose(self) -> None:
        """Give shadow validations a moment, then cancel what is left."""
        await self._shadow.close()


# "morning! whats the latest w acme", "hey quick q - ...": the request starts after the greeting.
_GREETING = re.compile(
    r"^(?:(?:hi|hey|hello|hiya|yo|morning|good (?:morning|afternoon|evening)|afternoon|evening|quick q(?:uestion)?|"
    r"quick one|fyi|btw|pls|please|hey there|hi there|hey team|hi team|hi all|hey all|hi folks|pitcrew|"
    # a change of subject announced before the question: "switching gears - ...", "unrelated q: ..."
    r"(?:switching|changing|shifting|switch|change) (?:gears|topics?|subjects?)|(?:on )?(?:a )?(?:different|another|new|other|separate) "
    r"(?:note|topic|subject|q|question|thing)|unrelated(?: q| question| but| note)?|random (?:q|question)|side (?:note|q|question)|"
    r"one more (?:q|question|thing)|another (?:q|question)|also (?:quick )?(?:q|question)|"
    # reactions and asides before the question: "oh nice and ...", "actually who is josh", "sorry, ..."
    r"oh|ah|ooh|aha|hmm+|actually|sorry|oops|nice|cool|great|awesome|perfect|got it|gotcha|sweet|wow)\b[\s,!.:;—–-]*)+"
)


def without_greeting(text: NormalizedText) -> NormalizedText:
    """`text` without an opening greeting, when a request of two words or more follows it."""
    match = _GREETING.match(text.lowered)
    if match is None or len(text.lowered[match.end() :].split()) < 2:
        return text
    return NormalizedText(text.clean[match.end() :], text.lowered[match.end() :])


def _now(now: datetime | None) -> datetime:
    return naive_utc(now) if now is not None else datetime.now(UTC).replace(tzinfo=None)


def _unit(value: float) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return 0.0
    return round(min(1.0, max(0.0, float(value))), 4)


def _short(value: str | None, limit: int) -> str | None:
    value = normalize(value).clean[:limit].strip() if value else ""
    return value or None
