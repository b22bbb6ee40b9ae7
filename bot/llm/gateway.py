"""The LLM gateway: every LLM call of the process goes through one `LLMGateway`.

A call is refused at once when no key is configured or the circuit breaker is open; otherwise it waits
for one of `LLM_MAX_CONCURRENCY` slots, then makes up to `LLM_MAX_ATTEMPTS` attempts, each under its
kind's timeout, all under the call's deadline (which also never passes `LLM_DEADLINE_S` after the start of
the request being served). Anything that goes wrong is logged and returned as None: callers fall back to
their deterministic answers, the bot never crashes or hangs because of the LLM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from openai import AsyncOpenAI, AsyncStream
from pydantic import BaseModel

from bot.llm.accounting import CallRecord, llm_stage
from bot.llm.breaker import BreakerState, CircuitBreaker
from bot.llm.cache import ResponseCache, cache_key
from bot.llm.client import build_client
from bot.llm.config import GatewayConfig, KindProfile
from bot.llm.outcomes import PROVIDER_FAILURES, BreakerOpen, MalformedReply, Outcome, classify
from bot.llm.prompts import LeakDetector, SystemPromptGuard, messages
from bot.llm.retry import RetryBudget, retrying
from bot.observability import count_llm_call, current_request, record
from bot.settings import Settings
from knowledge.db import Database

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
TextKind = Literal["answer", "draft", "short"]
Attempt = Callable[[float], Awaitable[R]]  # takes the seconds this attempt may take


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
        self.breaker = CircuitBreaker(
            failure_threshold=config.breaker_failure_threshold,
            recovery_s=config.breaker_recovery_s,
            failure_rate=config.breaker_failure_rate,
            min_calls=config.breaker_min_calls,
            window_s=config.breaker_window_s,
        )
        self.retry_budget = RetryBudget(ratio=config.retry_budget_ratio, minimum=config.retry_budget_min,
                                        window_s=config.retry_budget_window_s)
        self._slots = asyncio.Semaphore(config.max_concurrency)

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None) -> LLMGateway:
        """The process's gateway. Without `OPENAI_API_KEY` no client is made and every call returns None."""
        config = GatewayConfig.from_settings(settings)
        client = build_client(settings) if settings.llm_configured else None
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

        async def attempt(timeout_s: float) -> T:
            completion = await client.chat.completions.parse(
                model=profile.model, messages=chat, response_format=schema, timeout=timeout_s  # type: ignore[arg-type]
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
        snapshot_version, prompt_version) the response cache is used; the model is added to the key."""
        profile = self.config.profile(kind)
        call = CallRecord(kind=kind, model=profile.model)
        client = self._client
        if client is None:
            call.finish(Outcome.UNCONFIGURED)
            return None
        system_message = self._guard.system_message(system)
        chat = messages(system_message, user)

        async def attempt(timeout_s: float) -> str:
            completion = await client.chat.completions.create(model=profile.model, messages=chat, timeout=timeout_s)  # type: ignore[arg-type]
            call.add_usage(completion.usage)
            content = completion.choices[0].message.content if completion.choices else None
            if not content or not content.strip():
                raise MalformedReply("empty reply")
            return content

        with llm_stage():
            try:
                key, cached = await self._cache_lookup(call, cache_key, profile)
                if cached is not None:
                    call.outcome = Outcome.OK
                    return cached
                answer = await self._call(call, profile, attempt)
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

        async def attempt(timeout_s: float) -> _OpenStream:
            ends_at = asyncio.get_running_loop().time() + timeout_s
            chunks = await client.chat.completions.create(
                model=profile.model, messages=chat, stream=True, stream_options={"include_usage": True},  # type: ignore[arg-type]
                timeout=timeout_s,
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

        with llm_stage():
            try:
                key, cached = await self._cache_lookup(call, cache_key, profile)
                if cached is not None:
                    call.finish(Outcome.OK)
                    return _single_chunk(cached)
                opened = await self._call(call, profile, attempt, keep_slot=True)
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

    async def _call(self, call: CallRecord, profile: KindProfile, attempt: Attempt[R], *, keep_slot: bool = False) -> R:
        """Breaker, deadline, concurrency slot and retries around `attempt`; raises `Unavailable` on failure.
        With `keep_slot`, a successful call keeps its slot (the caller releases it)."""
        if self.breaker.rejects():
            call.fail(Outcome.BREAKER_OPEN)
            raise Unavailable(Outcome.BREAKER_OPEN)
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
                    result = await self._attempt(attempt, profile, deadline)
                except asyncio.CancelledError:
                    raise
                except Exception as first_failure:
                    result = await self._retry(first_failure, call, profile, attempt, deadline, min_attempt_s)
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
                     deadline: float, min_attempt_s: float) -> R:
        """The attempts after a failed first one, under the tenacity controller; re-raises the last error.

        The first attempt runs outside tenacity: most calls succeed at once, and tenacity's own machinery
        costs ~0.1 ms a call. Its failure is replayed as the controller's first attempt, so whether to retry,
        how long to wait (Retry-After) and when to stop are decided exactly as if tenacity had run it.
        """
        controller = retrying(policy=self.config.retry, deadline=deadline, min_attempt_s=min_attempt_s,
                              breaker=self.breaker, budget=self.retry_budget)
        replayed = False
        async for attempt_manager in controller:
            with attempt_manager:
                if not replayed:
                    replayed = True
                    raise first_failure
                call.attempts += 1
                result = await self._attempt(attempt, profile, deadline)
        return result

    async def _attempt(self, attempt: Attempt[R], profile: KindProfile, deadline: float) -> R:
        """One attempt under the breaker, within min(kind timeout, what is left of the deadline)."""
        if not self.breaker.allow():
            raise BreakerOpen()
        loop = asyncio.get_running_loop()
        started = loop.time()
        ends_at = min(started + profile.timeout_s, deadline)
        try:
            async with asyncio.timeout_at(ends_at):
                result = await attempt(max(ends_at - started, 0.001))
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as exc:
            outcome = classify(exc)
            cut_short = outcome is Outcome.TIMEOUT and ends_at < started + profile.timeout_s
            if outcome in PROVIDER_FAILURES and not cut_short:
                self.breaker.record_failure()
            elif outcome in (Outcome.CLIENT_ERROR, Outcome.MALFORMED):
                self.breaker.record_success()  # the provider answered: it is up
            else:
                self.breaker.release()
            raise
        self.breaker.record_success()
        return result

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
