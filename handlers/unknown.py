"""unknown: out of scope, not understood, or not in English; each gets an honest reply and a way forward."""

from __future__ import annotations

from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import handles
from handlers.help import examples_near

OUT_OF_SCOPE = (
    "That's outside what I can help with. I answer questions about our products (plans, prices, features, "
    "integrations), search recorded sales calls, recap meetings and draft follow-up emails."
)
NOT_UNDERSTOOD = "I'm not sure what you're asking."
ENGLISH_ONLY = "I can only answer in English for now. Could you ask again in English?"
# A pattern for an out-of-scope request (travel, markets, IT support...) matched at least this surely.
OUT_OF_SCOPE_CONFIDENCE = 0.85


@handles("unknown")
async def handle(ctx: HandlerContext) -> HandlerResult:
    examples = examples_near(ctx)
    suggestion = "For example: " + ", ".join(f"“{example}”" for example in examples) + ". Say “help” for more."
    if not ctx.decision.normalized_text:
        return HandlerResult.from_marked("I didn't get a question there. " + suggestion)
    if ctx.frame.language != "en":
        return HandlerResult.from_marked(f"{ENGLISH_ONLY} {suggestion}")
    top = ctx.decision.candidates[0] if ctx.decision.candidates else None
    if top is not None and top.intent.value == "unknown" and top.confidence >= OUT_OF_SCOPE_CONFIDENCE:
        return HandlerResult.from_marked(f"{OUT_OF_SCOPE}\n{suggestion}")
    return HandlerResult.from_marked(f"{NOT_UNDERSTOOD} I can answer product questions, search calls, recap "
                                     f"meetings and draft follow-ups.\n{suggestion}")
