"""Asking the LLM for a written answer, streamed to the reply when the caller gave a sink."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.context import HandlerContext, LLMKind

logger = logging.getLogger(__name__)

CUT_SHORT_NOTE = "\n\n_(The answer was cut short; ask again for the rest.)_"


@dataclass(frozen=True)
class Written:
    text: str
    streamed: bool


async def write(
    ctx: HandlerContext,
    *,
    system: str,
    user: str,
    kind: LLMKind,
    cache_key: Mapping[str, Any] | None,
    lead: str = "",
) -> Written | None:
    """The LLM's text, or None when it is unavailable (the caller then answers without it).

    With a sink, the text is streamed to it chunk by chunk as it arrives. A stream that breaks
    after its first chunk keeps what was shown and says it was cut short. `lead` (Markdown, e.g. a
    meeting's header) is streamed just before the first chunk, so nothing is shown if the LLM fails.
    """
    llm = ctx.llm
    if llm is None or not llm.available:
        return None
    if ctx.sink is None:
        text = await llm.complete(system=system, user=user, kind=kind, cache_key=cache_key)
        return Written(text, streamed=False) if text and text.strip() else None
    chunks = await llm.stream(system=system, user=user, kind=kind, cache_key=cache_key)
    if chunks is None:
        return None
    parts: list[str] = []
    iterator = chunks.__aiter__()
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            break
        except Exception as exc:  # a broken stream degrades the answer; it must not lose what was shown
            if not parts:
                logger.warning("LLM stream failed before its first chunk", extra={"error": type(exc).__name__})
                return None
            logger.warning("LLM stream broke after %d chunks", len(parts), extra={"error": type(exc).__name__})
            await ctx.sink.append(CUT_SHORT_NOTE)
            parts.append(CUT_SHORT_NOTE)
            break
        if chunk:
            if not parts and lead:
                await ctx.sink.append(lead)
            await ctx.sink.append(chunk)
            parts.append(chunk)
    text = "".join(parts)
    return Written(text, streamed=True) if text.strip() else None
