"""call_search: recorded calls by topic, account and time, top 5 with a highlighted snippet."""

from __future__ import annotations

import re
from datetime import datetime

from handlers.context import HandlerContext, HandlerResult
from handlers.formatting import bold, clean, highlight, italic
from knowledge.search import CallHit, search_calls
from knowledge.thread_memory import TurnContext

TOP = 5
# Without a topic from the classifier, the topic is read from the message's opening, as the classifier
# reads it: a 40,000-character message would otherwise be searched for thousands of words.
TOPIC_SOURCE_CHARS = 500

# Words of a search request that are not its topic, for when the classifier found no topic.
_REQUEST_WORDS = re.compile(
    r"\b(search|find|look\s+up|lookup|show|list|get|give|me|all|any|every|recent|recently|latest|calls?|"
    r"meetings?|conversations?|transcripts?|recordings?|where|that|which|who|with|about|for|mentioned|mentioning|"
    r"mention|talked|talking|discussed|discussing|came\s+up|brought\s+up|on|in|the|a|an|of|our|my|customers?|"
    r"prospects?|did|do|does|we|they|us|please|can|you|is|are|was|were|there|and|what|how|also|then|ok|okay)\b",
    re.IGNORECASE,
)


async def handle(ctx: HandlerContext) -> HandlerResult:
    entities = ctx.decision.entities
    account = entities.account or ctx.resolution.account
    topic = entities.topic or _topic_from_text(ctx.text, account, entities.time_range.label if entities.time_range else None)
    time_range = entities.time_range
    start, end = (time_range.start, time_range.end) if time_range else (None, None)

    hits = search_calls(ctx.db, topic=topic, account=account, start=start, end=end, limit=TOP)
    searched = _describe_search(topic, account, time_range.label if time_range else None)
    context = {"context": TurnContext(account=account), "exact": frozenset({"account"})}
    if hits:
        return HandlerResult.from_marked(_hits_reply(f"Calls {searched}", hits, ctx.now), **context)

    # Nothing: widen the search one filter at a time, so the rep still gets something useful.
    lines = [f"No calls found {searched}."]
    if time_range is not None:
        wider = search_calls(ctx.db, topic=topic, account=account, limit=TOP)
        if wider:
            lines.append(_hits_reply(f"Matches outside {time_range.label}", wider, ctx.now))
            return HandlerResult.from_marked("\n\n".join(lines), **context)
    if account and topic:
        wider = search_calls(ctx.db, topic=topic, account=None, start=start, end=end, limit=TOP)
        if wider:
            lines.append(_hits_reply("The same topic with other accounts", wider, ctx.now))
            return HandlerResult.from_marked("\n\n".join(lines), **context)
    lines.append(_suggestion(topic, account, time_range is not None))
    return HandlerResult.from_marked("\n".join(lines), **context)


def _topic_from_text(text: str, account: str | None, time_label: str | None) -> str | None:
    """The words of the request's opening left once the request itself, the account and the time are removed."""
    rest = clean(text[:TOPIC_SOURCE_CHARS])
    for known in (account, time_label):
        if known:
            rest = re.sub(re.escape(known), " ", rest, flags=re.IGNORECASE)
    rest = re.sub(r"\b(today|yesterday|this|last|past|week|month|quarter|year|morning|afternoon)\b", " ", rest, flags=re.I)
    rest = _REQUEST_WORDS.sub(" ", rest)
    words = re.findall(r"[\w'-]+", rest)
    return " ".join(words) if words else None


def _describe_search(topic: str | None, account: str | None, time_label: str | None) -> str:
    parts = []
    if topic:
        parts.append(f"about “{clean(topic)}”")
    if account:
        parts.append(f"with {bold(account)}")
    if time_label:
        parts.append(f"({clean(time_label)})")
    return " ".join(parts) if parts else "(most recent)"


def _hits_reply(title: str, hits: list[CallHit], now: datetime) -> str:
    lines = [f"{title}: {len(hits)} best match{'es' if len(hits) != 1 else ''}"]
    for number, hit in enumerate(hits, start=1):
        lines.append(
            f"{number}. {bold(hit.account)}: {clean(hit.title)} ({clean(hit.kind)}), {format_date(hit.started_at, now)}"
        )
        snippet = highlight(hit.snippet).strip()
        if snippet:
            speaker = clean(hit.speaker)
            lines.append(f"      {italic(speaker) + ': ' if speaker else ''}“{snippet}”")
    return "\n".join(lines)


def _suggestion(topic: str | None, account: str | None, had_time: bool) -> str:
    tips = []
    if topic and len(topic.split()) > 1:
        tips.append("fewer or more general words")
    if account:
        tips.append("no account filter")
    if had_time:
        tips.append("a wider time range")
    if not tips:
        tips.append("another word for the topic (\"pricing\", \"security\", \"renewal\")")
    return "Try " + " or ".join(tips) + ", e.g. “find calls about pricing last month”."


def format_date(when: datetime, now: datetime) -> str:
    """A call date as a rep says it: "today", "yesterday", "Tue 4 Jun", with the year when not this year."""
    days = (now.date() - when.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    text = f"{when:%a} {when.day} {when:%b}"
    return text if when.year == now.year else f"{text} {when.year}"
