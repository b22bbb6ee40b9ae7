"""The LLM gateway: every LLM call of the process goes through one `LLMGateway`.

A call is refused at once when no key is configured or the circuit breaker is open. Callers asking for the
same thing while it is being fetched share one provider call (single flight, `bot.llm.single_flight`): a
written answer by its response-cache key, a validation by its prompt and schema. The call itself waits for
a slot of its kind's pool (`LLM_VALIDATE_MAX_CONCURRENCY` for validations, `LLM_MAX_CONCURRENCY` for
written answers), then makes up to `LLM_MAX_ATTEMPTS` attempts, each under its kind's timeout, all under
the call's deadline (which also never passes `LLM_DEADLINE_S` after the start of the request being
served). Connecting may take `LLM_CONNECT_TIMEOUT_S`; a stream's first chunk may be
`LLM_FIRST_BYTE_TIMEOUT_S` in coming, and so may any reply while the provider is silent (its latest
attempt timed out), so a provider that takes connections and never answers is found out in seconds. A
request pays for such a stall once: while the provider stays silent, its later calls and retries are not
made (outcome `silent`). Anything that goes wrong is logged and returned as None: callers fall back to
their deterministic answers, the bot never crashes or hangs because of the LLM.

Providers (`bot.llm.providers`): each has its own breaker and retry budget; a call goes to the primary, and
to the next one when the primary's breaker is open or the primary failed. A call still unanswered after its
kind's recent p95 (`bot.llm.hedging`) sends one hedge to the next provider (with one, to the same): the first
to answer (a stream: the first to send text) wins and the other is cancelled, its request closed. A cached
answer makes no call, so it is never hedged.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel

from bot.llm.accounting import CallRecord, llm_stage
from bot.llm.breaker import CircuitBreaker
from bot.llm.cache import ResponseCache, cache_key
from bot.llm.config import GatewayConfig, KindProfile
from bot.llm.hedging import HedgePolicy
from bot.llm.outcomes import (
    PROVIDER_FAILURES,
    BreakerOpen,
    MalformedReply,
    Outcome,
    classify,
)
from bot.llm.prompts import LeakDetector, SystemPromptGuard, messages
from bot.llm.providers import Provider, Providers, make_provider
from bot.llm.retry import RetryBudget, retrying
from bot.llm.single_flight import Flight, SingleFlight
from bot.llm.speculation import current_ledger, estimated_tokens
from bot.llm.structured import ResponseFormats, parse_reply
from bot.observability import count_llm_call, current_request, record
from bot.settings import Settings
from knowledge.db import Database

if TYPE_CHECKING:  # the SDK is imported only once an LLM is configured (it costs ~0.7 s to load)
    import httpx2
    from openai import AsyncOpenAI, AsyncStream

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
TextKind = Literal["answer", "draft", "short"]


@dataclass(frozen=True)
class AttemptLimits:
    """How long one attempt may take: to connect, to the first byte (a stream's first chunk), in all."""

    connect_s: float
    first_byte_s: float
    total_s: float

    def http_timeout(self) -> httpx2.Timeout:
        """The SDK's per-request timeout: its `read` is the longest silence, so the first byte's limit."""
        import httpx2

        return httpx2.Timeout(self.total_s, connect=min(self.connect_s, self.total_s), read=self.first_byte_s)


Attempt = Callable[[Provider, AttemptLimits], Awaitable[R]]
# Why a call may try the next provider: the primary is down or refused, not the caller's own limits.
_FAIL_OVER = PROVIDER_FAILURES | {Outcome.BREAKER_OPEN, Outcome.SILENT}


class Unavailable(Exception):
    """Internal: the call ends without a result; `outcome` says why (already set on the record)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


@dataclass
class _OpenStream:
    """A provider stream whose first text chunk has arrived."""

    chunks: AsyncStream[Any]
    first: str
    ends_at: float  # loop time by which the rest must have arrived


@dataclass(eq=False)
class _Shared:
    """What one provider call hands everyone aboard its flight, filled in as it goes."""

    call: CallRecord  # the provider call's record (the caller that started it owns and logs it)
    chunks: list[str] = field(default_factory=list)  # a written answer's text so far
    complete: bool = False  # the whole written answer arrived
    parsed: Any = None  # a structured reply, validated
    ended: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    async def change(self) -> None:
        """Until the next chunk, or the end."""
        await self._changed.wait()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @property
    def outcome(self) -> Outcome:
        return self.call.outcome or Outcome.ERROR


Fly = Callable[[_Shared], Coroutine[Any, Any, None]]


class LLMGateway:
    def __init__(
        self,
        config: GatewayConfig,
        client: AsyncOpenAI | None,
        cache: ResponseCache | None = None,
        *,
        guard: SystemPromptGuard | None = None,
        providers: list[Provider] | None = None,
    ) -> None:
        """`client`: the one provider's; `providers` (made with `make_provider`) replace it when given."""
        self.config = config
        if providers is None:
            providers = [make_provider("default", client, config)] if client is not None else []
        self.providers = Providers(providers)
        self._client = providers[0].client if providers else None
        self._cache = cache if cache is not None and cache.enabled else None
        self._guard = guard or SystemPromptGuard()
        # The first provider's, kept by name: with one provider they are the gateway's breaker and budget.
        self.breaker = providers[0].breaker if providers else CircuitBreaker(**asdict(config.breaker))
        self.retry_budget = providers[0].retry_budget if providers else RetryBudget(
            ratio=config.retry_budget_ratio, minimum=config.retry_budget_min, window_s=config.retry_budget_window_s)
        self.hedging = HedgePolicy(after_s=config.hedge_after_s, max_ratio=config.hedge_max_ratio)
        self._slots = {pool: asyncio.Semaphore(size) for pool, size in config.slots.items()}
        self._texts: SingleFlight[_Shared] = SingleFlight()
        self._replies: SingleFlight[_Shared] = SingleFlight()
        self._formats = ResponseFormats()
        self._solo = itertools.count()  # keys of calls no one else can share

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None) -> LLMGateway:
        """The process's gateway. Without `OPENAI_API_KEY` no client is made and every call returns None."""
        config = GatewayConfig.from_settings(settings)
        providers: list[Provider] = []
        if settings.llm_providers:
            from bot.llm.client import build_client_for

            for index, entry in enumerate(settings.llm_providers, start=1):
                client = build_client_for(settings, entry.base_url, entry.api_key.get_secret_value())
                providers.append(make_provider(entry.name or f"p{index}", client, config, model=entry.model,
                                               fast_model=entry.fast_model, weight=entry.weight))
        elif settings.llm_configured:
            from bot.llm.client import build_client

            providers.append(make_provider("default", build_client(settings), config))
        cache = None
        if db is not None:
            cache = ResponseCache(db, ttl_s=settings.response_cache_ttl_s, max_entries=settings.response_cache_max_entries)
        return cls(config, None, cache, providers=providers)

    # State --------------------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return self._client is not None

    @property
    def available(self) -> bool:
        """Configured and some provider's breaker not open: a call now may reach a provider."""
        return self._client is not None and self.providers.available

    @property
    def breaker_state(self) -> str:
        """The best of the providers' breaker states (`open` only when every provider's is)."""
        return self.providers.state() if self._client is not None else self.breaker.state.value

    @property
    def cache(self) -> ResponseCache | None:
        return self._cache

    async def aclose(self) -> None:
        """Give up the calls still under way (their callers get None), then close the connection pool."""
        await self._texts.close()
        await self._replies.close()
        for provider in self.providers.all:
            await provider.client.close()

    # Calls --------------------------------------------------------------------------------------------

    async def structured(self, *, system: str, user: str, schema: type[T], kind: str = "validate") -> T | None:
        """A reply validated into `schema` (a Pydantic model) through structured outputs; None when unavailable
        or when the reply does not validate. The same prompt and schema asked for again while the first call is
        under way share its reply."""
        profile = self.config.profile(kind)
        call = CallRecord(kind=kind, model=profile.model)
        client = self._client
        if client is None:
            call.finish(Outcome.UNCONFIGURED)
            return None
        chat = messages(self._guard.system_message(system), user)
        response_format = self._formats(schema)
        key = ("structured", kind, profile.model, id(schema), *(message["content"] for message in chat))

        async def fly(shared: _Shared) -> None:
            async def attempt(provider: Provider, limits: AttemptLimits) -> T:
                completion = await provider.client.chat.completions.create(
                    model=provider.model_for(profile), messages=chat,
                    response_format=response_format,  # type: ignore[arg-type]
                    timeout=limits.http_timeout(),
                )
                shared.call.add_usage(completion.usage)
                return parse_reply(completion, schema)

            try:
                shared.parsed = await self._call(shared.call, profile, attempt)
            except Unavailable:
                pass
            finally:
                shared.end()

        with llm_stage():
            try:
                flight = self._board(self._replies, key, call, profile, fly)
                try:
                    await self._wait(flight, call, profile, lambda: flight.state.ended)
                finally:
                    self._replies.leave(flight)
                shared = flight.state
                if shared.parsed is None:
                    self._share_failure(shared, call)
                    return None
                call.outcome = Outcome.OK
                parsed: T = shared.parsed
                return parsed
            except Unavailable:
                return None
            finally:
                call.finish()

    async def complete(
        self,
        *,
        system: str,
        user: str,
        kind: TextKind = "answer",
        cache_key: Mapping[str, Any] | None = None,
    ) -> str | None:
        """A text reply; None when unavailable. With `cache_key` (question, intent, entities,
        snapshot_version, prompt_version) the response cache is used, the model added to the key, and
        callers asking with the same key meanwhile share the call.

        The reply is asked for as a stream and gathered: its first chunk shows within the first-byte
        timeout that the provider is answering, where a plain reply says nothing until it is complete.
        A failure after the first chunk makes the call unavailable (it is not retried)."""
        profile = self.config.profile(kind)
        call = CallRecord(kind=kind, model=profile.model)
        client = self._client
        if client is None:
            call.finish(Outcome.UNCONFIGURED)
            return None
        system_message = self._guard.system_message(system)
        chat = messages(system_message, user)

        with llm_stage():
            try:
                key, cached = await self._cache_lookup(call, cache_key, profile)
                if cached is not None:
                    call.outcome = Outcome.OK
                    return cached
                flight = self._board_text(client, profile, chat, call, key, system_message)
                try:
                    await self._wait(flight, call, profile, lambda: flight.state.ended)
                finally:
                    self._texts.leave(flight)
                shared = flight.state
                if not shared.complete:
                    self._share_failure(shared, call)
                    return None
                answer = "".join(shared.chunks)
                call.outcome = Outcome.OK
                if not answer.strip():
                    call.fail(Outcome.MALFORMED)
                    return None
                if self._guard.leaks(answer, system_message):
                    call.fail(Outcome.LEAK)
                    return None
                return answer
            except Unavailable:
                return None
            finally:
                call.finish()

    async def stream(
        self,
        *,
        system: str,
        user: str,
        kind: TextKind = "answer",
        cache_key: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[str] | None:
        """Text chunks as the model writes them; None when unavailable before the first chunk. A cached
        answer comes as one chunk. A failure after the first chunk ends the stream early (logged); a
        complete stream is cached like `complete`, and shared like it while under way."""
        profile = self.config.profile(kind)
        call = CallRecord(kind=kind, model=profile.model, stream=True)
        client = self._client
        if client is None:
            call.finish(Outcome.UNCONFIGURED)
            return None
        system_message = self._guard.system_message(system)
        chat = messages(system_message, user)
        detector = self._guard.detector(system_message)

        with llm_stage():
            try:
                key, cached = await self._cache_lookup(call, cache_key, profile)
                if cached is not None:
                    call.finish(Outcome.OK)
                    return _single_chunk(cached)
                flight = self._board_text(client, profile, chat, call, key, system_message)
                try:
                    await self._wait(flight, call, profile, lambda: bool(flight.state.chunks) or flight.state.ended)
                except BaseException:
                    self._texts.leave(flight)
                    raise
            except Unavailable:
                call.finish()
                return None
            except BaseException:
                call.finish(call.outcome or Outcome.ERROR)
                raise
        shared = flight.state
        if not shared.chunks:
            self._texts.leave(flight)
            self._share_failure(shared, call)
            call.finish()
            return None
        call.first_chunk_ms = round((time.perf_counter() - call.started) * 1000.0, 3)
        if detector.feed(shared.chunks[0]):
            self._texts.leave(flight)  # the last to leave closes the provider's stream
            call.finish(Outcome.LEAK)
            return None
        relay = self._relay(flight, call, detector)
        # Prime it: from now on its `finally` leaves the flight and logs the call, even if the consumer
        # never iterates (the event loop closes abandoned async generators).
        await relay.__anext__()
        return relay

    # Single flight ------------------------------------------------------------------------------------

    def _board(self, flights: SingleFlight[_Shared], key: Hashable, call: CallRecord, profile: KindProfile,
               fly: Fly) -> Flight[_Shared]:
        """The flight for `key`, started with `call` as its record if none is under way. A new call is refused
        at once while the breaker is open (raises `Unavailable`), without a task."""
        if not flights.has(key) and not self.providers.any_admits():
            call.fail(Outcome.BREAKER_OPEN)
            raise Unavailable(Outcome.BREAKER_OPEN)
        flight, started = flights.join(key, lambda: _Shared(call), fly)
        if not started:
            call.details["coalesced"] = True
        return flight

    def _board_text(self, client: AsyncOpenAI, profile: KindProfile, chat: Any, call: CallRecord, key: str | None,
                    system_message: str) -> Flight[_Shared]:
        """The written answer's flight: shared by its cache key; an answer without one is never shared (nor is
        a speculative one: its cache write waits for its confirmation)."""
        shared_by = key if key is not None and current_ledger() is None else ("solo", next(self._solo))

        async def fly(shared: _Shared) -> None:
            await self._fly_text(shared, client, profile, chat, key, system_message)

        return self._board(self._texts, shared_by, call, profile, fly)

    async def _wait(self, flight: Flight[_Shared], call: CallRecord, profile: KindProfile,
                    ready: Callable[[], bool]) -> None:
        """Until `ready()`. The caller that started the flight waits as long as it runs (its deadline is the
        flight's); one that boarded it gives up at its own deadline (raises `Unavailable`), leaving it running."""
        shared = flight.state
        if shared.call is call:
            while not ready():
                await shared.change()
            return
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(self._deadline(profile, loop.time())):
                while not ready():
                    await shared.change()
        except TimeoutError:
            call.fail(Outcome.DEADLINE)
            raise Unavailable(Outcome.DEADLINE) from None

    @staticmethod
    def _share_failure(shared: _Shared, call: CallRecord) -> None:
        """Note on a caller's record that the shared call failed, and why (its own record already says so)."""
        if shared.call is call:
            return
        call.outcome = shared.outcome
        for name in ("error", "status", "truncated"):
            if name in shared.call.details:
                call.details[name] = shared.call.details[name]
        if shared.outcome is Outcome.TIMEOUT:
            record(llm_stalled=True)  # this request, too, has waited for the provider in vain

    async def _fly_text(self, shared: _Shared, client: AsyncOpenAI, profile: KindProfile, chat: Any,
                        key: str | None, system_message: str) -> None:
        """One written answer, from the provider's stream into `shared`; cached when it arrived whole (a
        speculative one only once confirmed: `bot.llm.speculation`)."""
        call = shared.call
        ledger = current_ledger()
        if ledger is not None:
            ledger.track(asyncio.current_task())
        try:
            try:
                opened = await self._call(call, profile, self._stream_opener(profile, chat, call),
                                          keep_slot=True, streamed=True)
            except Unavailable:
                return
            try:
                shared.add(opened.first)
                shared.complete = await self._read_rest(opened, shared)
            finally:
                try:
                    await opened.chunks.close()
                finally:
                    self._slots[profile.pool].release()
            answer = "".join(shared.chunks)
            if (shared.complete and key is not None and self._cache is not None and answer.strip()
                    and not self._guard.leaks(answer, system_message)):
                if ledger is not None:
                    ledger.defer(self._cache, key, answer, profile.model)
                    return
                try:
                    await asyncio.to_thread(self._cache.put, key, answer, profile.model)
                except Exception as exc:  # the answer stands; only the next asker pays for it again
                    logger.warning("response cache write failed", extra={"error": type(exc).__name__})
        finally:
            if ledger is not None:
                spent = call.total_tokens
                if spent is None:  # cut off before the provider said: what was sent and received
                    spent = estimated_tokens(sum(len(m["content"]) for m in chat), sum(map(len, shared.chunks)))
                ledger.spent(spent)
            shared.end()

    @staticmethod
    async def _read_rest(opened: _OpenStream, shared: _Shared) -> bool:
        """The rest of an opened stream into `shared`; False (the call failed) if it breaks off."""
        call = shared.call
        try:
            while True:
                try:
                    async with asyncio.timeout_at(opened.ends_at):
                        chunk = await opened.chunks.__anext__()
                except StopAsyncIteration:
                    return True
                call.add_usage(chunk.usage)
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    shared.add(text)
        except asyncio.CancelledError:
            call.details["cancelled"] = True
            raise
        except Exception as exc:
            call.fail(classify(exc), exc)
            call.details["truncated"] = True
            return False

    async def _relay(self, flight: Flight[_Shared], call: CallRecord,
                     detector: LeakDetector) -> AsyncGenerator[str, None]:
        """Yield the shared answer's text to one caller, first chunk included; leave the flight and log the call
        when done, however it ends."""
        shared = flight.state
        outcome = Outcome.OK
        sent = 1
        try:
            yield ""  # priming step, consumed by stream()
            yield shared.chunks[0]
            while True:
                if sent < len(shared.chunks):
                    text = shared.chunks[sent]
                    sent += 1
                    if detector.feed(text):
                        outcome = Outcome.LEAK
                        break
                    yield text
                elif shared.ended:
                    break
                else:
                    await shared.change()
            if outcome is Outcome.OK and shared.complete and detector.finish():
                outcome = Outcome.LEAK  # only the last word was left to send
        except asyncio.CancelledError:
            call.details["cancelled"] = True
            raise
        except GeneratorExit:
            call.details["closed_early"] = True
            raise
        finally:
            self._texts.leave(flight)  # the last to leave a stream still coming closes it
            if outcome is Outcome.OK and shared.ended and not shared.complete:
                self._share_failure(shared, call)  # it broke off: the shared call's outcome says why
                outcome = shared.outcome
            elif outcome is Outcome.OK and not shared.ended:
                call.details["truncated"] = True
            call.finish(outcome)

    # Machinery ----------------------------------------------------------------------------------------

    @staticmethod
    def _stream_opener(profile: KindProfile, chat: Any, call: CallRecord) -> Attempt[_OpenStream]:
        """An attempt that opens a stream and returns once its first text chunk has arrived."""

        async def attempt(provider: Provider, limits: AttemptLimits) -> _OpenStream:
            ends_at = asyncio.get_running_loop().time() + limits.total_s
            chunks = await provider.client.chat.completions.create(
                model=provider.model_for(profile), messages=chat, stream=True, stream_options={"include_usage": True},
                timeout=limits.http_timeout(),
            )
            try:
                while True:
                    try:
                        chunk = await chunks.__anext__()
                    except StopAsyncIteration:
                        raise MalformedReply("stream ended before any text") from None
                    call.add_usage(chunk.usage)
                    text = chunk.choices[0].delta.content if chunk.choices else None
                    if text:
                        return _OpenStream(chunks, text, ends_at)
            except BaseException:
                await chunks.close()
                raise

        return attempt

    async def _cache_lookup(self, call: CallRecord, fields: Mapping[str, Any] | None,
                            profile: KindProfile) -> tuple[str | None, str | None]:
        """(entry key, cached answer); both None without key fields. The entry key is also the key the call
        is shared by, so it is made even when the cache is off."""
        if fields is None:
            return None, None
        key = cache_key(fields, profile.model)
        if self._cache is None:
            return key, None
        cached = await asyncio.to_thread(self._cache.get, key)  # a write (hit count): off the event loop
        call.cache = "hit" if cached is not None else "miss"
        record(cache=call.cache)
        return key, cached

    async def _call(self, call: CallRecord, profile: KindProfile, attempt: Attempt[R], *, keep_slot: bool = False,
                    streamed: bool = False) -> R:
        """The call on the primary provider (hedged when it is slow), then on the next ones while a provider is
        down or refuses; raises `Unavailable` on failure. With `keep_slot`, a successful call keeps its slot
        (the caller releases it). `streamed`: the attempt returns at the stream's first chunk."""
        order = self.providers.order()
        if not order:
            call.fail(Outcome.BREAKER_OPEN)
            raise Unavailable(Outcome.BREAKER_OPEN)
        self.hedging.record_call()
        for index in range(len(order)):
            if index and len(self.providers) > 1:
                call.details["failed_over"] = True
            try:
                return await self._hedged(order[index:], call, profile, attempt, keep_slot, streamed)
            except Unavailable as unavailable:
                if unavailable.outcome not in _FAIL_OVER or index + 1 == len(order):
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _hedged(self, order: list[Provider], call: CallRecord, profile: KindProfile, attempt: Attempt[R],
                      keep_slot: bool, streamed: bool) -> R:
        """The call on `order[0]`; still unanswered after the hedge delay (and within the hedge share), one more
        on the next provider (with one, the same): the first to succeed wins, the other is cancelled."""
        primary = order[0]
        kind = f"{call.kind}:{'stream' if streamed else 'reply'}"  # a stream's latency is to its first chunk
        samples, delay = self.hedging.window(kind), self.hedging.delay(kind)
        if len(self.providers) > 1:
            call.details["provider"] = primary.name
        loop = asyncio.get_running_loop()
        if delay is None:
            started = loop.time()
            result = await self._call_on(primary, call, profile, attempt, keep_slot=keep_slot, streamed=streamed)
            samples.add(loop.time() - started)
            return result
        tasks: dict[asyncio.Task[R], tuple[Provider, float]] = {}

        def launch(provider: Provider) -> None:
            task = loop.create_task(self._call_on(provider, call, profile, attempt, keep_slot=keep_slot,
                                                  streamed=streamed), name="llm-attempt")
            tasks[task] = (provider, loop.time())

        launch(primary)
        first = next(iter(tasks))
        winner: asyncio.Task[R] | None = None
        refused = False  # slow enough for a hedge, but the hedge share was spent
        try:
            done, _ = await asyncio.wait(tasks, timeout=delay)
            if not done:
                if self.hedging.try_hedge():
                    backup = order[1] if len(order) > 1 else primary
                    launch(backup)
                    call.details["hedged_to"] = backup.name
                    record(llm_hedged=True)
                else:
                    refused = True
            failure: BaseException | None = None
            pending = set(tasks)
            while pending and winner is None:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = task.exception()
                    if error is None and winner is None:
                        winner = task
                    elif error is not None:
                        failure = error
            if winner is None:
                assert failure is not None
                raise failure
            provider, started = tasks[winner]
            if refused:  # the tail hedges are for: it must not set the delay (it would stop all hedging)
                samples.censor()
            else:
                samples.add(loop.time() - started)
            if len(tasks) > 1:
                call.details["hedge_won"] = winner is not first
                if len(self.providers) > 1:
                    call.details["provider"] = provider.name
            return winner.result()
        finally:
            losers = [task for task in tasks if task is not winner]
            for task in losers:
                if not task.done():
                    task.cancel()
                    if winner is not None:  # outrun by its hedge (not a caller that gave up)
                        samples.censor()
            if losers:
                await asyncio.gather(*losers, return_exceptions=True)
            for task in losers:  # finished together with the winner: give back what it holds
                if keep_slot and not task.cancelled() and task.exception() is None:
                    await self._discard(task.result(), profile)

    async def _discard(self, result: Any, profile: KindProfile) -> None:
        """A losing attempt that succeeded anyway: close its stream and free its slot."""
        try:
            if isinstance(result, _OpenStream):
                await result.chunks.close()
        finally:
            self._slots[profile.pool].release()

    async def _call_on(self, provider: Provider, call: CallRecord, profile: KindProfile, attempt: Attempt[R], *,
                       keep_slot: bool = False, streamed: bool = False) -> R:
        """Breaker, deadline, concurrency slot and retries around `attempt` on one provider; raises `Unavailable`
        on failure. `streamed`: the attempt returns at the stream's first chunk, so it is limited to the
        first-byte timeout."""
        if provider.breaker.rejects():
            call.fail(Outcome.BREAKER_OPEN)
            raise Unavailable(Outcome.BREAKER_OPEN)
        if self._waited_in_vain(provider):
            call.fail(Outcome.SILENT)
            raise Unavailable(Outcome.SILENT)
        loop = asyncio.get_running_loop()
        deadline = self._deadline(profile, loop.time())
        min_attempt_s = min(0.5, profile.timeout_s / 4)
        if deadline - loop.time() < min_attempt_s:  # too late for an attempt to be of any use
            call.fail(Outcome.DEADLINE)
            raise Unavailable(Outcome.DEADLINE)
        slots = self._slots[profile.pool]
        try:
            async with asyncio.timeout_at(deadline):
                await slots.acquire()
        except TimeoutError:
            call.fail(Outcome.DEADLINE)
            raise Unavailable(Outcome.DEADLINE) from None
        succeeded = False
        try:
            count_llm_call()
            provider.retry_budget.record_call()
            try:
                call.attempts += 1
                try:
                    result = await self._attempt(provider, attempt, profile, deadline, streamed)
                except asyncio.CancelledError:
                    raise
                except Exception as first_failure:
                    result = await self._retry(provider, first_failure, call, profile, attempt, deadline,
                                               min_attempt_s, streamed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outcome = classify(exc)
                if outcome is Outcome.TIMEOUT and loop.time() >= deadline - 0.001:
                    outcome = Outcome.DEADLINE
                call.fail(outcome, exc)
                if outcome is Outcome.ERROR:
                    logger.warning("unexpected LLM error %s", type(exc).__name__, extra={"error": type(exc).__name__})
                raise Unavailable(outcome) from None
            succeeded = True
            call.outcome = Outcome.OK
            return result
        finally:
            if not (succeeded and keep_slot):
                slots.release()

    async def _retry(self, provider: Provider, first_failure: Exception, call: CallRecord, profile: KindProfile,
                     attempt: Attempt[R], deadline: float, min_attempt_s: float, streamed: bool) -> R:
        """The attempts after a failed first one, under the tenacity controller; re-raises the last error.

        The first attempt runs outside tenacity: most calls succeed at once, and tenacity's own machinery
        costs ~0.1 ms a call. Its failure is replayed as the controller's first attempt, so whether to retry,
        how long to wait (Retry-After) and when to stop are decided exactly as if tenacity had run it.
        """
        controller = retrying(policy=self.config.retry, deadline=deadline, min_attempt_s=min_attempt_s,
                              breaker=provider.breaker, budget=provider.retry_budget,
                              retry_timeouts=profile.retry_timeouts, give_up=lambda: self._waited_in_vain(provider))
        replayed = False
        async for attempt_manager in controller:
            with attempt_manager:
                if not replayed:
                    replayed = True
                    raise first_failure
                call.attempts += 1
                result = await self._attempt(provider, attempt, profile, deadline, streamed)
        return result

    async def _attempt(self, provider: Provider, attempt: Attempt[R], profile: KindProfile, deadline: float,
                       streamed: bool) -> R:
        """One attempt under the breaker, within min(kind timeout, what is left of the deadline); a stream (or,
        while the provider is silent, any attempt) must also start answering within the first-byte timeout."""
        breaker = provider.breaker
        if not breaker.allow():
            raise BreakerOpen()
        loop = asyncio.get_running_loop()
        started = loop.time()
        total_ends = min(started + profile.timeout_s, deadline)
        # A non-streamed reply's first byte comes with its last, so it gets the whole timeout, unless the
        # provider has just let an attempt time out: then no caller waits long to find out it still does.
        first_byte_s = profile.first_byte_s if streamed or breaker.silent else profile.timeout_s
        wait_s = min(first_byte_s, profile.timeout_s)
        ends_at = min(started + wait_s, total_ends)
        limits = AttemptLimits(connect_s=self.config.connect_timeout_s, first_byte_s=max(ends_at - started, 0.001),
                               total_s=max(total_ends - started, 0.001))
        try:
            async with asyncio.timeout_at(ends_at):
                result = await attempt(provider, limits)
        except asyncio.CancelledError:
            breaker.release()
            raise
        except Exception as exc:
            outcome = classify(exc)
            cut_short = outcome is Outcome.TIMEOUT and ends_at < started + wait_s
            if outcome is Outcome.TIMEOUT:
                record(llm_stalled=True)  # this request has waited for the provider in vain once
            if outcome in PROVIDER_FAILURES and not cut_short:
                breaker.record_failure(timeout=outcome is Outcome.TIMEOUT)
            elif outcome in (Outcome.CLIENT_ERROR, Outcome.MALFORMED):
                breaker.record_success()  # the provider answered: it is up
            else:
                breaker.release()
            raise
        breaker.record_success()
        return result

    def _waited_in_vain(self, provider: Provider) -> bool:
        """The request being served already had an LLM attempt time out, and the provider has been silent since:
        asking again would most likely cost it another timeout."""
        request = current_request()
        return provider.breaker.silent and request is not None and bool(request.facts.get("llm_stalled"))

    def _deadline(self, profile: KindProfile, now: float) -> float:
        """The call's deadline on the loop clock: its kind's, but never past the request's LLM deadline."""
        deadline = now + profile.deadline_s
        request = current_request()
        if request is not None:
            deadline = min(deadline, now + self.config.request_deadline_s - request.elapsed_ms() / 1000.0)
        return deadline


async def _single_chunk(text: str) -> AsyncGenerator[str, None]:
    yield text
