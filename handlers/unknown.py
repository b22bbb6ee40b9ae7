"""unknown: what is out of scope, and what to ask instead."""

from __future__ import annotations

from handlers.context import HandlerContext, HandlerResult

OUT_OF_SCOPE = (
    "That's outside what I can help with. I answer questions about our products (plans, prices, features, "
    "integrations), search recorded sales calls, recap meetings and draft follow-up emails."
)
SUGGESTION = "For example: “what does the Pro plan cost?”, “find calls about pricing last week” or “summarize my last call with Acme”. Say “help” for more."


async def handle(ctx: HandlerContext) -> HandlerResult:
    if not ctx.text.strip():
        return HandlerResult.from_marked("I didn't get a question there. " + SUGGESTION)
    return HandlerResult.from_marked(f"{OUT_OF_SCOPE}\n{SUGGESTION}")
