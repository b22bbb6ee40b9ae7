"""Structured outputs without per-call schema work.

The SDK's `chat.completions.parse()` turns the Pydantic model into a strict JSON schema on every call, and
builds its parsed reply by constructing the completion again; for a small validation that was most of the
call's CPU. Here the `response_format` is prepared once per schema (with the SDK's own converter, so the
request is the one `.parse()` sends), the call is a plain `create()`, and the reply's text is validated
by the model itself.
"""

from __future__ import annotations

from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from pydantic import BaseModel

from bot.llm.outcomes import MalformedReply

T = TypeVar("T", bound=BaseModel)

# Finish reasons that leave a structured reply incomplete (what `.parse()` raises for).
_CUT_OFF = frozenset({"length", "content_filter"})


class ResponseFormats:
    """The `response_format` parameter for each schema, built on first use and kept as long as the schema."""

    def __init__(self) -> None:
        self._prepared: WeakKeyDictionary[type[BaseModel], dict[str, Any]] = WeakKeyDictionary()

    def __call__(self, schema: type[BaseModel]) -> dict[str, Any]:
        prepared = self._prepared.get(schema)
        if prepared is None:
            from openai.lib._parsing._completions import type_to_response_format_param

            prepared = dict(type_to_response_format_param(schema))  # type: ignore[arg-type]
            self._prepared[schema] = prepared
        return prepared


def parse_reply(completion: Any, schema: type[T]) -> T:
    """The first choice's content validated into `schema`; `MalformedReply` (or pydantic's ValidationError)
    when there is none, it was refused or cut off, or it does not fit."""
    if not completion.choices:
        raise MalformedReply("no choices")
    choice = completion.choices[0]
    if choice.finish_reason in _CUT_OFF:
        raise MalformedReply(f"cut off ({choice.finish_reason})")
    message = choice.message
    if getattr(message, "refusal", None) or not message.content:
        raise MalformedReply("refused or empty")
    return schema.model_validate_json(message.content)
