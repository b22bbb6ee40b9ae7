"""smalltalk: a short friendly reply to greetings and thanks."""

from __future__ import annotations

import re

from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import handles

_THANKS = re.compile(r"\b(thanks?|thx|ty|cheers|appreciate|great job|nice one|awesome|perfect)\b", re.IGNORECASE)
# Praise is thanks too: "ur a lifesaver", "you're the best", "legend".
_PRAISE = re.compile(r"\b(lifesaver|life saver|legend|hero|star|genius|champ|rockstar|the best|good (bot|job)|well done|nice work|great work|love (it|this))\b",
                     re.IGNORECASE)
_BYE = re.compile(r"\b(bye|goodbye|see you|later|good night|have a good)\b", re.IGNORECASE)
_TIME_OF_DAY = re.compile(r"\bgood (morning|afternoon|evening)\b", re.IGNORECASE)
_NEVER_MIND = re.compile(r"\b(wrong (window|chat|thread|channel|person|tab|bot)|never ?mind|nvm|disregard|ignore (that|this|me)|my bad)\b",
                         re.IGNORECASE)
_HOW_ARE_YOU = re.compile(r"\bhow are (you|u)|how's it going|how is it going\b", re.IGNORECASE)

PROMPT = "Ask me about a product, a call or a meeting, or say “help” for examples."


@handles("smalltalk")
async def handle(ctx: HandlerContext) -> HandlerResult:
    return HandlerResult.from_marked(reply_to(ctx.words))


def reply_to(text: str) -> str:
    if _NEVER_MIND.search(text):
        return "No problem. I'm here when you need me."
    if _THANKS.search(text) or _PRAISE.search(text):
        return "You're welcome! Anything else I can look up?"
    if _BYE.search(text):
        return "Bye for now, and good luck with your deals!"
    greeting = _TIME_OF_DAY.search(text)
    if greeting:
        return f"Good {greeting.group(1).lower()}! {PROMPT}"
    if _HOW_ARE_YOU.search(text):
        return f"All good here, ready to help. {PROMPT}"
    return f"Hi! {PROMPT}"
