"""call_search: recorded calls by topic, account and time, top 5 with a highlighted snippet."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

from control_plane.intents import TimeRange
from control_plane.names import KIND_SYNONYMS
from control_plane.spelling import english_words
from control_plane.time_ranges import without_time_expressions
from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import HelpExample, handles
from handlers.formatting import bold, clean, highlight, italic
from knowledge.meetings import find_meetings
from knowledge.search import STOPWORDS, CallHit, count_calls, participant_named, search_calls
from knowledge.thread_memory import TurnContext
from knowledge.vocabulary import KnownContact, account_aliases

TOP = 5
MAX_TOPIC_SCAN = 500  # the request is in the opening of a message

# "how many calls", "number of meetings": a count, with the latest listed.
_COUNT = re.compile(r"\bhow many\b|\bnumber of (?:calls|meetings|demos|conversations)\b|\bcount (?:of )?(?:the |our )?calls\b")
_TIME_WORDS = re.compile(
    r"\bso far\b|\b(?:today|tonight|yesterday|this|last|past|previous|recent|recently|lately|latest|week|weeks|month|months|"
    r"quarter|year|morning|afternoon|evening|days?|ago|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"q[1-4]|two|three|four|five|six|seven|eight|nine|ten|couple|few)(?:'s)?\b|\b\d+\b",
    re.IGNORECASE,
)

# Words of a search request that are not its topic, for when the classifier found no topic.
_REQUEST_WORDS = re.compile(
    r"\b(search|find|look\s+up|lookup|show|list|get|give|me|all|any|every|recent|recently|latest|calls?|"
    r"meetings?|conversations?|transcripts?|recordings?|where|that|which|who|with|about|for|mentioned|mentioning|"
    r"mention|talked|talking|discussed|discussing|came\s+up|brought\s+up|on|in|the|a|an|of|our|my|customers?|"
    r"prospects?|did|do|does|we|they|us|please|can|you|is|are|was|were|there|and|what|how|also|then|ok|okay|"
    r"from|had|have|has|many|much|any|anything|something|else|hey|hi|pull|up|recorded|check|see|need|want|"
    r"i|i'm|my|our|their|them|it|its|just|only|again|too|either|thanks|thank|had|run|ran|held|hold|touched|touch|touches|"
    r"touching|other|others|covered|cover|covering|went|done|happened|happen|got|go|some|been|into|these|those|"
    r"joined|attended|led|ran|hosted|at|join|attend|sit|sat|hop|hopped|we've|we're|they've|i've|you've|we'd|ve|"
    r"accounts?|clients?|deals?|companies|logos|needed|needs|wanted|wants|asked|put|signed|bought|chose|picked)\b",
    re.IGNORECASE,
)


@handles(
    "call_search",
    slots=("account", "person", "colleague", "topic", "time_range", "meeting_kind"),
    examples=(HelpExample("Call search", "find calls about pricing with {account} last month",
                          "recorded sales calls by topic, account and time"),),
)
async def handle(ctx: HandlerContext) -> HandlerResult:
    # A search over a million transcript turns takes 10-30 ms of CPU, mostly inside SQLite (which releases the
    # GIL): in a worker thread, so the event loop keeps acknowledging other events meanwhile.
    return await asyncio.to_thread(_answer, ctx)


def _answer(ctx: HandlerContext) -> HandlerResult:
    frame = ctx.frame
    account = frame.account or ctx.resolution.account
    time_range = frame.time_range
    kind = ctx.resolution.kind  # a kind the recorded meetings have
    topic = frame.topic or _topic_from_text(ctx.words, account, ctx.resolution.contact, time_range, frame.meeting_kind)
    participant, topic = _participant_in(ctx, topic)
    if participant is None and frame.colleague and ctx.resolution.contact is None:
        # "calls where sam talked abt scim": the calls Sam Patel was on, about SCIM
        participant, topic = frame.colleague.split()[0].lower(), _without_name(topic, frame.colleague)
    contact = ctx.resolution.contact
    if participant is None and contact is not None and frame.typed("person") and find_meetings(
            ctx.db, account=contact.account, participant=contact.name, limit=1):
        participant = contact.name.lower()  # "kestrel calls w henrik": the calls Henrik was on, not all of Kestrel's
    start, end = (time_range.start, time_range.end) if time_range else (None, None)
    if end is not None:
        end = min(end, ctx.now + timedelta(seconds=1))

    context = {"context": TurnContext(account=account, topic=topic), "exact": frozenset({"account", "topic"})}
    stranger = _unknown_party(ctx, topic) if account is None and contact is None and participant is None else None
    if stranger is not None:  # "calls with wayne enterprises": a party we have no calls with, not a topic
        return HandlerResult.from_marked(
            f"I don't know an account or contact called “{clean(stranger)}”, so I have no calls with them. "
            f"To find calls that mention it, ask “calls about {clean(stranger)}”.", **context)
    searched = _describe_search(topic, account, time_range.label if time_range else None, kind, participant)
    if topic is None and _COUNT.search(ctx.decision.normalized_text):
        total = count_calls(ctx.db, account=account, start=start, end=end, kind=kind, participant=participant)
        hits = search_calls(ctx.db, topic=None, account=account, start=start, end=end, limit=TOP, kind=kind,
                            participant=participant)
        head = f"{total} call{'s' if total != 1 else ''} {searched}" + ("." if not hits else ". The latest:")
        return HandlerResult.from_marked(head + ("\n" + _hits_lines(hits, ctx.now) if hits else ""), **context)

    hits = search_calls(ctx.db, topic=topic, account=account, start=start, end=end, limit=TOP, kind=kind,
                        participant=participant)
    if hits:
        # "recap it" next recaps the best match
        found = {"context": TurnContext(account=account, meeting_id=hits[0].meeting_id, topic=topic),
                 "exact": frozenset({"account", "meeting_id", "topic"})}
        return HandlerResult.from_marked(_hits_reply(f"Calls {searched}", hits, ctx.now), **found)

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


# "calls with wayne enterprises", "any meetings w/ initrode?": who the calls were with, all the message names.
_WITH_PARTY = re.compile(r"\b(?:calls?|meetings?|demos?|conversations?|convos?|syncs?)\s+(?:with|w)\s+([^?.!\n]{2,60}?)[\s?.!]*$")


def _unknown_party(ctx: HandlerContext, topic: str | None) -> str | None:
    """The party a search asks for calls *with*, when it is no account or contact we know (it is then the topic)."""
    if not topic:
        return None
    match = _WITH_PARTY.search(ctx.decision.normalized_text[:MAX_TOPIC_SCAN])
    if match is None or match.group(1).strip().lower() != topic.strip().lower():
        return None
    words = topic.lower().split()
    english = english_words()
    # A name: a company's ("wayne enterprises", "stark industries") or a word no dictionary has ("initrode");
    # "calls with pricing" is a topic search typed loosely.
    if words[-1] in _COMPANY_WORDS or any(word not in english for word in words):
        return topic.strip()
    return None


_COMPANY_WORDS = frozenset("""inc incorporated corp corporation co company llc ltd limited plc gmbh ag sa group labs lab
    industries enterprises systems technologies tech holdings partners solutions ventures capital bank financial
    health healthcare foods retail media networks software logistics motors pharma""".split())


def _participant_in(ctx: HandlerContext, topic: str | None) -> tuple[str | None, str | None]:
    """("daniel", what is left of the topic) when the topic's first word is the first name of a recent call's
    participant who is not a contact ("what calls has daniel had"), else (None, topic)."""
    words = topic.split() if topic else []
    if not words or ctx.resolution.contact is not None or len(words) > 3:
        return None, topic
    first = words[0].lower().removesuffix("'s").removesuffix("’s")  # "daniel's tidewater calls"
    full = participant_named(ctx.db, first)
    if full is None:
        return None, topic
    name = set(full.lower().split())
    return first, " ".join(w for w in words[1:] if w.lower() not in name) or None


def _without_name(topic: str | None, name: str) -> str | None:
    """The topic without the words of `name` (and their possessives)."""
    if not topic:
        return topic
    parts = {word.lower() for word in name.split()}
    kept = [w for w in topic.split() if w.lower().removesuffix("'s").removesuffix("’s") not in parts]
    return " ".join(kept) or None


def _topic_from_text(text: str, account: str | None, contact: KnownContact | None,
                     time_range: TimeRange | None, kind: str | None) -> str | None:
    """The words of the request left once the request itself, the account, person and time are removed."""
    rest = clean(text[:MAX_TOPIC_SCAN])
    # The account's name, its aliases and, last, its single words: what is left of a misspelt or shortened
    # name ("meridan retail": Meridian Retail Group) is not a topic.
    account_names = (account, *account_aliases(account), *account.split()) if account else ()
    for known in (*account_names, contact.name if contact else None, *(contact.name.split() if contact else ()),
                  time_range.label if time_range else None):
        if known:
            rest = re.sub(r"\b" + re.escape(known) + r"(?:'s)?\b", " ", rest, flags=re.IGNORECASE)
    if kind:
        for word in [kind, kind.replace("-", " "), *(alias for alias, canonical in KIND_SYNONYMS.items() if canonical == kind)]:
            rest = re.sub(r"\b" + re.escape(word) + r"s?\b", " ", rest, flags=re.IGNORECASE)
    rest = _TIME_WORDS.sub(" ", without_time_expressions(rest))
    rest = _REQUEST_WORDS.sub(" ", rest)
    words = [word for word in re.findall(r"[\w'-]+", rest) if word.lower() not in STOPWORDS and len(word) > 1]
    return " ".join(words) if words else None


def _describe_search(topic: str | None, account: str | None, time_label: str | None, kind: str | None = None,
                     participant: str | None = None) -> str:
    parts = [f"({clean(kind)})"] if kind else []
    if participant:
        parts.append(f"with {bold(participant.title())}" + (f" ({bold(account)})" if account else " on the call"))
    if topic:
        parts.append(f"about “{clean(topic)}”")
    if account and not participant:
        parts.append(f"with {bold(account)}")
    if time_label:
        parts.append(f"({clean(time_label)})")
    return " ".join(parts) if parts else "(most recent)"


def _hits_reply(title: str, hits: list[CallHit], now: datetime) -> str:
    return f"{title}: {len(hits)} best match{'es' if len(hits) != 1 else ''}\n" + _hits_lines(hits, now)


def _hits_lines(hits: list[CallHit], now: datetime) -> str:
    lines = []
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
