"""How a handler module declares the intent it answers: one decorator on its `handle` coroutine.

    @handles("product_question", slots=("product", "plans"), uses_llm=True,  # side_effects=True: never speculated
             examples=(HelpExample("Product questions", "what does the {plan} plan cost?", "plans, prices"),))
    async def handle(ctx: HandlerContext) -> HandlerResult: ...

The registry, the help reply, the slots the thread may fill and the intents whose turns are worth
remembering are all derived from these declarations (see `handlers.registry`). A new intent is one
handler module plus one `[intents.NAME]` section in `control_plane/patterns.toml`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from control_plane.frame import SLOT_NAMES
from control_plane.intents import Intent
from handlers.context import HandlerContext, HandlerResult

HandleFn = Callable[[HandlerContext], Awaitable[HandlerResult]]
DECLARATION_ATTRIBUTE = "__pitcrew_handler__"


@dataclass(frozen=True)
class HelpExample:
    """One line of the help reply. `question` may name {plan}, {account} and {person}: the help reply
    fills them with real names from the knowledge base."""

    title: str
    question: str
    what: str = ""

    def render(self, names: Mapping[str, str]) -> str:
        return self.question.format_map(dict(names))


@dataclass(frozen=True)
class OfferedExample:
    """A help example as handlers receive it: with the slots its handler reads and its rank there (0: main)."""

    example: HelpExample
    slots: tuple[str, ...]
    rank: int


@dataclass(frozen=True)
class IntentHandler:
    intent: Intent
    handle: HandleFn
    slots: tuple[str, ...] = ()  # frame slots it reads; the thread fills only these, and none: a context-free turn
    uses_llm: bool = False  # without it, the handler is given no LLM even when one is configured
    examples: tuple[HelpExample, ...] = ()  # the first is listed by "help"; the others offered when close
    # It changes something beyond its reply (writes, sends, calls out): never run speculatively, before the
    # LLM has confirmed the intent, since a discarded answer must leave no trace.
    side_effects: bool = False

    @property
    def name(self) -> str:
        """Logged as the request's `handler`."""
        return self.intent.value

    @property
    def context_free(self) -> bool:
        """Its turns change nothing a follow-up could build on (help, small talk, out of scope)."""
        return not self.slots


def handles(intent: str, *, slots: Iterable[str] = (), uses_llm: bool = False,
            examples: Iterable[HelpExample] = (), side_effects: bool = False) -> Callable[[HandleFn], HandleFn]:
    """Declare the decorated coroutine as the handler of `intent`."""
    slot_names = tuple(slots)
    unknown = sorted(set(slot_names) - set(SLOT_NAMES))
    if unknown:
        raise ValueError(f"handler of {intent!r} declares unknown frame slot(s) {unknown}; known: {', '.join(SLOT_NAMES)}")

    def declare(handle: HandleFn) -> HandleFn:
        declaration = IntentHandler(Intent(intent), handle, slot_names, uses_llm, tuple(examples), side_effects)
        setattr(handle, DECLARATION_ATTRIBUTE, declaration)
        return handle

    return declare


def declaration_of(value: object) -> IntentHandler | None:
    found = getattr(value, DECLARATION_ATTRIBUTE, None)
    return found if isinstance(found, IntentHandler) else None
