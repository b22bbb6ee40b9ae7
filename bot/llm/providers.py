"""The LLM providers a gateway may call (`LLM_PROVIDERS`, or the one `OPENAI_*` endpoint), each with its own
circuit breaker and retry budget, and the order a call tries them in.

A call's first attempt goes to the *primary*: the first provider in the list whose breaker admits calls, or,
when weights are given, the next one of a smooth weighted round robin among those with a weight (so a
provider with weight 3 takes three first attempts for another's one). The others follow in list order: a
hedge, or the call's next try when the primary is down, goes to the next one. An open breaker is skipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from bot.llm.breaker import BreakerState, CircuitBreaker
from bot.llm.config import GatewayConfig, KindProfile
from bot.llm.retry import RetryBudget

if TYPE_CHECKING:
    from openai import AsyncOpenAI


@dataclass(eq=False)
class Provider:
    """One OpenAI-compatible endpoint: its client (connection pool), models, breaker and retry budget."""

    name: str
    client: AsyncOpenAI
    breaker: CircuitBreaker
    retry_budget: RetryBudget
    model: str | None = None  # the main model's name here; None: the kind's (OPENAI_MODEL)
    fast_model: str | None = None  # None: OPENAI_FAST_MODEL
    weight: float = 0.0
    _credit: float = field(default=0.0, repr=False)  # smooth weighted round robin

    def __repr__(self) -> str:  # never the client (it holds the key)
        return f"Provider({self.name!r})"

    def model_for(self, profile: KindProfile) -> str:
        return (self.fast_model if profile.fast else self.model) or profile.model

    @property
    def admits(self) -> bool:
        """Its breaker would let a call through now (without claiming a half-open trial)."""
        return not self.breaker.rejects()


def make_provider(name: str, client: AsyncOpenAI, config: GatewayConfig, *, model: str | None = None,
                  fast_model: str | None = None, weight: float = 0.0) -> Provider:
    """A provider with a breaker and a retry budget of its own, limits from `config`."""
    breaker = CircuitBreaker(**asdict(config.breaker), name=f"llm:{name}")
    budget = RetryBudget(ratio=config.retry_budget_ratio, minimum=config.retry_budget_min,
                         window_s=config.retry_budget_window_s)
    return Provider(name, client, breaker, budget, model, fast_model, weight)


class Providers:
    """The configured providers, in order."""

    def __init__(self, providers: list[Provider]) -> None:
        self.all = providers

    def __len__(self) -> int:
        return len(self.all)

    def order(self) -> list[Provider]:
        """The providers whose breakers admit a call, the primary first, then the rest in list order."""
        open_ones = [provider for provider in self.all if provider.admits]
        weighted = [provider for provider in open_ones if provider.weight > 0]
        if len(weighted) < 2:
            return open_ones
        total = sum(provider.weight for provider in weighted)
        for provider in weighted:
            provider._credit += provider.weight
        primary = max(weighted, key=lambda provider: provider._credit)
        primary._credit -= total
        return [primary, *(provider for provider in open_ones if provider is not primary)]

    def any_admits(self) -> bool:
        """Some provider's breaker would let a call through now (unlike `order`, this moves no weights)."""
        return any(provider.admits for provider in self.all)

    @property
    def available(self) -> bool:
        return any(provider.breaker.state is not BreakerState.OPEN for provider in self.all)

    def state(self) -> str:
        """The best breaker state among the providers: whether calls can still flow somewhere."""
        states = {provider.breaker.state for provider in self.all}
        for state in (BreakerState.CLOSED, BreakerState.HALF_OPEN):
            if state in states:
                return state.value
        return BreakerState.OPEN.value
