"""The LLM gateway: every LLM call of the process goes through one `LLMGateway`.

A call is refused at once when no key is configured or the circuit breaker is open; otherwise it waits
for one of `LLM_MAX_CONCURRENCY` slots, then makes up to `LLM_MAX_ATTEMPTS` attempts, each under its
kind's timeout, all under the call's deadline (which also never passes `LLM_DEADLINE_S` after the start of
the request being served). Connecting may take `LLM_CONNECT_TIMEOUT_S`; a stream's first chunk may be
`LLM_FIRST_BYTE_TIMEOUT_S` in coming, and so may any reply while the provider is silent (its latest
attempt timed out), so a provider that takes connections and never answers is found out in seconds. A
request pays for such a stall once: while the provider stays silent, its later calls and retries are not
made (outcome `silent`). Anything that goes wrong is logged and returned as None: callers fall back to
their deterministic answers, the bot never crashes or hangs because of the LLM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel

from bot.llm.accounting import CallRecord, llm_stage
from bot.llm.breaker import BreakerState, CircuitBreaker
from bot.llm.cache import ResponseCache, cache_key
from bot.llm.config import GatewayConfig, KindProfile
from bot.llm.outcomes import (
    PROVIDER_FAILURES,
    BreakerOpen,
    MalformedReply,
    Outcome,
    classify,
)
from bot.llm.prompts import LeakDetector, SystemPromptGuard, messages
from bot.llm.retry import RetryBudget, retrying
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


Attempt = Callable[[AttemptLimits], Awaitable[R]]


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


class LLMGateway:
    def __init__(
        self,
        config: GatewayConfig,
        client: AsyncOpenAI | None,
        cache: ResponseCache | None = None,
        *,
        guard: SystemPromptGuard | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._cache = cache if cache is not None and cache.enabled else None
        self._guard = guard or SystemPromptGuard()
        self.breaker = CircuitBreaker(**asdict(config.breaker))  # the limits are the breaker's arguments
        self.retry_budget = RetryBudget(ratio=config.retry_budget_ratio, minimum=config.retry_budget_min,
                                        window_s=config.retry_budget_window_s)
        self._slots = asyncio.Semaphore(config.max_concurrency)

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None) -> LLMGateway:
        """The process's gateway. Without `OPENAI_API_KEY` no client is made and every call returns None."""
        config = GatewayConfig.from_settings(settings)
        client = None
        if settings.llm_configured:
            from bot.llm.client import build_client

            client = build_client(settings)
        cache = None
        if db is not None:
            cache = ResponseCache(db, ttl_s=settings.response_cache_ttl_s, max_entries=settings.response_cache_max_entries)
        return cls(config, client, cache)

    # State --------------------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return self._client is not None

    @property
    def available(self) -> bool:
        """Configured and the breaker not open: a call now may reach the provider."""
        return self._client is not None and self.breaker.state is not BreakerState.OPEN

    @property
    def breaker_state(self) -> str:
        return self.breaker.state.value

    @property
    def cache(self) -> ResponseCache | None:
        return self._cache

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    # Calls --------------------------------------------------------------------------------------------

    async def structured(self, *, system: str, user: str, schema: type[T], kind: str = "validate") -> T | None:
        """A reply parsed into `schema` (a Pydantic model) through structured outputs; None when unavailable
        or when the reply does not validate."""
        profile = self.config.profile(kind)
        call = CallRecord(kind=kind, model=profile.model)
        client = self._client
        if client is None:
            call.finish(Outcome.UNCONFIGURED)
            return None
        chat = messages(self._guard.system_message(system), user)

        async def attempt(limits: AttemptLimits) -> T:
            completion = await client.chat.completions.parse(
                model=profile.model, messages=chat, response_format=schema, timeout=limits.http_timeout()  # type: ignore[arg-type]
            )
            call.add_usage(completion.usage)
            if not completion.choices:
                raise MalformedReply("no choices")
            parsed = completion.choices[0].message.parsed
            if parsed is None:
                raise MalformedReply("refused or empty")
            return parsed

        with llm_stage():
            try:
                return await self._call(call, profile, attempt)
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
        snapshot_version, prompt_version) the response cache is used; the model is added to the key.

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
        attempt = self._stream_opener(client, profile, chat, call)

        with llm_stage():
            try:
                key, cached = await self._cache_lookup(call, cache_key, profile)
                if cached is not None:
                    call.outcome = Outcome.OK
                    return cached
                opened = await self._call(call, profile, attempt, keep_slot=True, streamed=True)
                try:
                    answer = await self._gather(opened, call)
                finally:
                    self._slots.release()
                if answer is None:
                    return None
                if not answer.strip():
                    call.fail(Outcome.MALFORMED)
                    return None
                if self._guard.leaks(answer, system_message):
                    call.fail(Outcome.LEAK)
                    return None
                if key is not None and self._cache is not None:
                    await asyncio.to_thread(self._cache.put, key, answer, profile.model)
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
        complete stream is cached like `complete`."""
        profile = self.config.profile(kind)
        call = CallRecord(kind=kind, model=profile.model, stream=True)
        client = self._client
        if client is None:
            call.finish(Outcome.UNCONFIGURED)
            return None
        system_message = self._guard.system_message(system)
        chat = messages(system_message, user)
        detector = self._guard.detector(system_message)
        attempt = self._stream_opener(client, profile, chat, call)

        with llm_stage():
            try:
                key, cached = await self._cache_lookup(call, cache_key, profile)
                if cached is not None:
                    call.finish(Outcome.OK)
                    return _single_chunk(cached)
                opened = await self._call(call, profile, attempt, keep_slot=True, streamed=True)
            except Unavailable:
                call.finish()
                return None
            except BaseException:
                call.finish(call.outcome or Outcome.ERROR)
                raise
        call.first_chunk_ms = round((time.perf_counter() - call.started) * 1000.0, 3)
        if detector.feed(opened.first):
            await opened.chunks.close()
            self._slots.release()
            call.finish(Outcome.LEAK)
            return None
        relay = self._relay(opened, call, detector, key, profile.model)
        # Prime it: from now on its `finally` returns the slot and closes the connection, even if the
        # consumer never iterates (the event loop closes abandoned async generators).
        await relay.__anext__()
        return relay

    # Machinery ----------------------------------------------------------------------------------------

    @staticmethod
    def _stream_opener(client: AsyncOpenAI, profile: KindProfile, chat: Any, call: CallRecord) -> Attempt[_OpenStream]:
        """An attempt that opens a stream and returns once its first text chunk has arrived."""

        async def attempt(limits: AttemptLimits) -> _OpenStream:
            ends_at = asyncio.get_running_loop().time() + limits.total_s
            chunks = await client.chat.completions.create(
                model=profile.model, messages=chat, stream=True, stream_options={"include_usage": True},
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

    @staticmethod
    async def _gather(opened: _OpenStream, call: CallRecord) -> str | None:
        """The rest of an opened stream, joined to its first chunk; None (the call failed) if it breaks off."""
        parts = [opened.first]
        try:
            while True:
                try:
                    async with asyncio.timeout_at(opened.ends_at):
                        chunk = await opened.chunks.__anext__()
                except StopAsyncIteration:
                    return "".join(parts)
                call.add_usage(chunk.usage)
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    parts.append(text)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            call.fail(classify(exc), exc)
            call.details["truncated"] = True
            return None
        finally:
            await opened.chunks.close()

    async def _cache_lookup(self, call: CallRecord, fields: Mapping[str, Any] | None,
                            profile: KindProfile) -> tuple[str | None, str | None]:
        """(entry key, cached answer); both None when the call does not use the cache."""
        if fields is None or self._cache is None:
            return None, None
        key = cache_key(fields, profile.model)
        cached = await asyncio.to_thread(self._cache.get, key)  # a write (hit count): off the event loop
        call.cache = "hit" if cached is not None else "miss"
        record(cache=call.cache)
        return key, cached

    async def _call(self, call: CallRecord, profile: KindProfile, attempt: Attempt[R], *, keep_slot: bool = False,
                    streamed: bool = False) -> R:
        """Breaker, deadline, concurrency slot and retries around `attempt`; raises `Unavailable` on failure.
        With `keep_slot`, a successful call keeps its slot (the caller releases it). `streamed`: the attempt
        returns at the stream's first chunk, so it is limited to the first-byte timeout."""
        if self.breaker.rejects():
            call.fail(Outcome.BREAKER_OPEN)
            raise Unavailable(Outcome.BREAKER_OPEN)
        if self._waited_in_vain():
            call.fail(Outcome.SILENT)
            raise Unavailable(Outcome.SILENT)
        loop = asyncio.get_running_loop()
        deadline = self._deadline(profile, loop.time())
        min_attempt_s = min(0.5, profile.timeout_s / 4)
        if deadline - loop.time() < min_attempt_s:  # too late for an attempt to be of any use
            call.fail(Outcome.DEADLINE)
            raise Unavailable(Outcome.DEADLINE)
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            call.fail(Outcome.DEADLINE)
            raise Unavailable(Outcome.DEADLINE) from None
        succeeded = False
        try:
            count_llm_call()
            self.retry_budget.record_call()
            try:
                call.attempts += 1
                try:
                    result = await self._attempt(attempt, profile, deadline, streamed)
                except asyncio.CancelledError:
                    raise
                except Exception as first_failure:
                    result = await self._retry(first_failure, call, profile, attempt, deadline, min_attempt_s,
                                               streamed)
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
                self._slots.release()

    async def _retry(self, first_failure: Exception, call: CallRecord, profile: KindProfile, attempt: Attempt[R],
                     deadline: float, min_attempt_s: float, streamed: bool) -> R:
        """The attempts after a failed first one, under the tenacity controller; re-raises the last error.

        The first attempt runs outside tenacity: most calls succeed at once, and tenacity's own machinery
        costs ~0.1 ms a call. Its failure is replayed as the controller's first attempt, so whether to retry,
        how long to wait (Retry-After) and when to stop are decided exactly as if tenacity had run it.
        """
        controller = retrying(policy=self.config.retry, deadline=deadline, min_attempt_s=min_attempt_s,
                              breaker=self.breaker, budget=self.retry_budget, retry_timeouts=profile.retry_timeouts,
                              give_up=self._waited_in_vain)
        replayed = False
        async for attempt_manager in controller:
            with attempt_manager:
                if not replayed:
                    replayed = True
                    raise first_failure
                call.attempts += 1
                result = await self._attempt(attempt, profile, deadline, streamed)
        return result

    async def _attempt(self, attempt: Attempt[R], profile: KindProfile, deadline: float, streamed: bool) -> R:
        """One attempt under the breaker, within min(kind timeout, what is left of the deadline); a stream (or,
        while the provider is silent, any attempt) must also start answering within the first-byte timeout."""
        if not self.breaker.allow():
            raise BreakerOpen()
        loop = asyncio.get_running_loop()
        started = loop.time()
        total_ends = min(started + profile.timeout_s, deadline)
        # A non-streamed reply's first byte comes with its last, so it gets the whole timeout, unless the
        # provider has just let an attempt time out: then no caller waits long to find out it still does.
        first_byte_s = profile.first_byte_s if streamed or self.breaker.silent else profile.timeout_s
        wait_s = min(first_byte_s, profile.timeout_s)
        ends_at = min(started + wait_s, total_ends)
        limits = AttemptLimits(connect_s=self.config.connect_timeout_s, first_byte_s=max(ends_at - started, 0.001),
                               total_s=max(total_ends - started, 0.001))
        try:
            async with asyncio.timeout_at(ends_at):
                result = await attempt(limits)
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as exc:
            outcome = classify(exc)
            cut_short = outcome is Outcome.TIMEOUT and ends_at < started + wait_s
            if outcome is Outcome.TIMEOUT:
                record(llm_stalled=True)  # this request has waited for the provider in vain once
            if outcome in PROVIDER_FAILURES and not cut_short:
                self.breaker.record_failure(timeout=outcome is Outcome.TIMEOUT)
            elif outcome in (Outcome.CLIENT_ERROR, Outcome.MALFORMED):
                self.breaker.record_success()  # the provider answered: it is up
            else:
                self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    def _waited_in_vain(self) -> bool:
        """The request being served already had an LLM attempt time out, and the provider has been silent since:
        asking again would most likely cost it another timeout."""
        request = current_request()
        return self.breaker.silent and request is not None and bool(request.facts.get("llm_stalled"))

    def _deadline(self, profile: KindProfile, now: float) -> float:
        """The call's deadline on the loop clock: its kind's, but never past the request's LLM deadline."""
        deadline = now + profile.deadline_s
        request = current_request()
        if request is not None:
            deadline = min(deadline, now + self.config.request_deadline_s - request.elapsed_ms() / 1000.0)
        return deadline

    async def _relay(self, opened: _OpenStream, call: CallRecord, detector: LeakDetector, key: str | None,
                     model: str) -> AsyncGenerator[str, None]:
        """Yield the stream's text, first chunk included; release everything when done, however it ends."""
        parts = [opened.first]
        outcome = Outcome.OK
        complete = False
        try:
            yield ""  # priming step, consumed by stream()
            yield opened.first
            while True:
                try:
                    async with asyncio.timeout_at(opened.ends_at):
                        chunk = await opened.chunks.__anext__()
                except StopAsyncIteration:
                    complete = True
                    break
                call.add_usage(chunk.usage)
                text = chunk.choices[0].delta.content if chunk.choices else None
                if not text:
                    continue
                if detector.feed(text):
                    outcome = Outcome.LEAK
                    break
                parts.append(text)
                yield text
            if complete and detector.finish():
                outcome = Outcome.LEAK  # only the last word was left to send; do not cache it
        except asyncio.CancelledError:
            call.details["cancelled"] = True
            raise
        except GeneratorExit:
            call.details["closed_early"] = True
            raise
        except Exception as exc:
            outcome = classify(exc)
            call.fail(outcome, exc)
        finally:
            try:
                await opened.chunks.close()
            finally:
                self._slots.release()
                if outcome is Outcome.OK and complete and key is not None and self._cache is not None:
                    await asyncio.to_thread(self._cache.put, key, "".join(parts), model)
                if not complete and outcome is Outcome.OK:
                    call.details["truncated"] = True
                call.finish(outcome)


async def _single_chunk(text: str) -> AsyncGenerator[str, None]:
    yield text
