"""The LLM gateway: one shared OpenAI-compatible client with timeouts, retries, a circuit breaker and a cache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.llm.gateway import LLMGateway

__all__ = ["LLMGateway"]


def __getattr__(name: str) -> Any:
    # Importing the openai SDK costs ~0.7 s; commands that only touch the cache table must not pay it.
    if name == "LLMGateway":
        from bot.llm.gateway import LLMGateway

        return LLMGateway
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
