"""What a handler receives and what it returns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from control_plane.frame import Frame
from control_plane.intents import Decision, Reading
from handlers.formatting import bold, clean, markdown_to_mrkdwn, render_mrkdwn, render_plain
from knowledge.db import Database
from knowledge.meetings import MeetingResolution
from knowledge.thread_memory import TurnContext

if TYPE_CHECKING:
    from handlers.declaration import OfferedExample

LLMKind = Literal["answer", "draft", "short"]


class AnswerLLM(Protocol):
    """The part of the LLM gateway handlers use (the gateway in `bot/llm` satisfies it).

    Unavailable (no key, breaker open, deadline, malformed reply) is `None`, never an exception.
    """

    @property
    def available(self) -> bool: ...

    async def complete(
        self, *, system: str, user: str, kind: LLMKind = "answer", cache_key: Mapping[str, Any] | None = None
    ) -> str | None: ...

    async def stream(
        self, *, system: str, user: str, kind: LLMKind = "answer", cache_key: Mapping[str, Any] | None = None
    ) -> AsyncIterator[str] | None: ...


class ChunkSink(Protocol):
    """Where a streamed LLM answer goes as it is written (the Slack reply being streamed)."""

    async def append(self, text: str) -> None: ...


@dataclass(frozen=True)
class HandlerContext:
    """One classified message, with everything a handler may need to answer it."""

    text: str  # the message as the user wrote it
    decision: Decision
    frame: Frame  # what the message asks in its thread: every slot, typed or from the thread
    resolution: MeetingResolution  # the account, person and meeting the message refers to
    db: Database
    llm: AnswerLLM | None
    prompt_version: str
    now: datetime  # naive UTC
    sink: ChunkSink | None = None
    examples: tuple[OfferedExample, ...] = ()  # every handler's help examples (`handlers.registry`)

    @property
    def words(self) -> str:
        """The message as understood: markup resolved, shorthand written out, typos of names read."""
        return self.decision.text.clean if self.decision.text is not None else self.text

    @property
    def llm_ready(self) -> bool:
        return self.llm is not None and self.llm.available


@dataclass
class HandlerResult:
    """A handler's reply: Slack mrkdwn, a plain-text rendering, and facts for the log and thread memory."""

    text: str  # Slack mrkdwn
    plain: str
    snapshot_path: Literal["fast", "slow"] | None = None
    snapshot_version: int | None = None  # the product snapshot's version the answer was read from
    cache: Literal["hit", "miss"] | None = None
    llm_used: bool = False
    streamed: bool = False
    context: TurnContext = field(default_factory=TurnContext)  # what this turn was about
    # Context fields this turn set exactly, None included (a search without an account filter means the
    # next follow-up searches all accounts too); other fields of `context` only override when set.
    exact: frozenset[str] = frozenset()
    readings_noted: bool = False  # the handler said itself how it read misspelt names (see `with_readings`)

    @classmethod
    def from_marked(cls, marked: str, **facts: Any) -> HandlerResult:
        """A reply composed with `handlers.formatting` markers."""
        return cls(text=render_mrkdwn(marked), plain=render_plain(marked), **facts)

    def with_readings(self, readings: tuple[Reading, ...]) -> HandlerResult:
        """The reply opened by how misspelt names were read ("I read “vandaly” as Vandelay Industries."), so a
        wrong guess is seen at once; key words read from typos are not worth a note."""
        named = [r for r in readings if r.kind != "word"]
        if not named or self.readings_noted or self.streamed:
            return self
        note = " ".join(f"(I read “{clean(r.typed)}” as {bold(r.read_as)}.)" for r in named)
        self.text = render_mrkdwn(note) + "\n" + self.text
        self.plain = render_plain(note) + "\n" + self.plain
        self.readings_noted = True
        return self

    @classmethod
    def from_markdown(cls, markdown: str, **facts: Any) -> HandlerResult:
        """A reply an LLM wrote in Markdown: converted for Slack, shown as it is in a terminal."""
        return cls(text=markdown_to_mrkdwn(markdown), plain=clean(markdown).strip(), **facts)
