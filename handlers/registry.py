"""Which handler answers which intent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from control_plane.intents import Intent
from handlers import call_search, draft_email, meeting_summary, product_question, smalltalk, unknown
from handlers import help as help_handler
from handlers.context import HandlerContext, HandlerResult

HandleFn = Callable[[HandlerContext], Awaitable[HandlerResult]]


@dataclass(frozen=True)
class Handler:
    name: str  # logged as the request's `handler`
    handle: HandleFn


Registry = Mapping[Intent, Handler]

DEFAULT_REGISTRY: Registry = MappingProxyType(
    {
        Intent.PRODUCT_QUESTION: Handler("product_question", product_question.handle),
        Intent.CALL_SEARCH: Handler("call_search", call_search.handle),
        Intent.MEETING_SUMMARY: Handler("meeting_summary", meeting_summary.handle),
        Intent.DRAFT_EMAIL: Handler("draft_email", draft_email.handle),
        Intent.HELP: Handler("help", help_handler.handle),
        Intent.SMALLTALK: Handler("smalltalk", smalltalk.handle),
        Intent.UNKNOWN: Handler("unknown", unknown.handle),
    }
)


def handler_for(registry: Registry, intent: Intent) -> Handler:
    """The intent's handler; an intent missing from a registry falls back to `unknown`'s."""
    return registry.get(intent) or registry.get(Intent.UNKNOWN) or DEFAULT_REGISTRY[Intent.UNKNOWN]
