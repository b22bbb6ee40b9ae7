"""Which handler answers which intent, found in the handler modules' own declarations.

Every module of the `handlers` package is imported once and its `@handles` coroutines collected
(registration on the handler, as in slack-machine's plugins); everything else the pipeline and the
control plane need to know about intents is derived from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache
from types import MappingProxyType, ModuleType

from control_plane.intents import Intent
from handlers.declaration import HandleFn, IntentHandler, OfferedExample, declaration_of


class RegistryError(Exception):
    """Two handlers claim one intent, or the fallback intent has none."""


class Registry:
    def __init__(self, handlers: Iterable[IntentHandler]) -> None:
        by_intent: dict[Intent, IntentHandler] = {}
        for handler in handlers:
            if handler.intent in by_intent:
                raise RegistryError(f"two handlers declare the intent {handler.intent.value!r}")
            by_intent[handler.intent] = handler
        if Intent.UNKNOWN not in by_intent:
            raise RegistryError("no handler declares the intent 'unknown', which answers what nothing else does")
        self._by_intent: Mapping[Intent, IntentHandler] = MappingProxyType(by_intent)

    @classmethod
    def discover(cls, package: ModuleType) -> Registry:
        """The handlers declared in `package`'s modules, in module-name order."""
        found: list[IntentHandler] = []
        for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            declared = {id(d): d for value in vars(module).values() if (d := declaration_of(value)) is not None}
            found.extend(d for d in declared.values() if d.handle.__module__ == module.__name__)
        return cls(found)

    @property
    def intents(self) -> tuple[Intent, ...]:
        return tuple(self._by_intent)

    def handler_for(self, intent: Intent) -> IntentHandler:
        """The intent's handler; an intent no handler declares is answered by `unknown`'s."""
        return self._by_intent.get(intent) or self._by_intent[Intent.UNKNOWN]

    def slots(self) -> dict[Intent, tuple[str, ...]]:
        """The frame slots each intent's handler reads (the control plane lets the thread fill only these)."""
        return {intent: handler.slots for intent, handler in self._by_intent.items()}

    def context_free(self) -> frozenset[Intent]:
        """Intents whose turns leave the thread's context as it was."""
        return frozenset(intent for intent, handler in self._by_intent.items() if handler.context_free)

    def examples(self) -> tuple[OfferedExample, ...]:
        """Every help example, in the help reply's order (built-in intents first)."""
        ordered = sorted(self._by_intent.values(), key=_help_order)
        return tuple(OfferedExample(example, handler.slots, rank)
                     for handler in ordered for rank, example in enumerate(handler.examples))

    def mismatches(self, pattern_intents: Iterable[Intent]) -> list[str]:
        """What does not line up between the patterns file's intents and the handlers' declarations."""
        defined = set(pattern_intents)
        problems = [f"patterns.toml defines the intent {intent.value!r}, but no handler module declares it "
                    f"(@handles({intent.value!r}) in a module of handlers/)"
                    for intent in sorted(defined - set(self._by_intent))]
        problems += [f"a handler declares the intent {intent.value!r}, but patterns.toml has no [intents.{intent.value}]"
                     for intent in sorted(set(self._by_intent) - defined - {Intent.UNKNOWN})]
        return problems

    def replacing(self, intent: Intent, handle: HandleFn, *, side_effects: bool | None = None) -> Registry:
        """A copy whose `intent` is answered by `handle` (tests: a handler that fails, or has side effects)."""
        handler = replace(self.handler_for(intent), intent=intent, handle=handle)
        if side_effects is not None:
            handler = replace(handler, side_effects=side_effects)
        return Registry([*(h for i, h in self._by_intent.items() if i is not intent), handler])


_BUILT_IN_ORDER = {intent: index for index, intent in enumerate(Intent)}


def _help_order(handler: IntentHandler) -> tuple[int, str]:
    return _BUILT_IN_ORDER.get(handler.intent, len(_BUILT_IN_ORDER)), handler.intent.value


@cache
def default_registry() -> Registry:
    """The handlers of this package (imported once)."""
    import handlers

    return Registry.discover(handlers)
