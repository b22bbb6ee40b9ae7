"""The LLM gateway: one shared OpenAI-compatible client with timeouts, retries, a circuit breaker and a cache."""

from bot.llm.gateway import LLMGateway

__all__ = ["LLMGateway"]
