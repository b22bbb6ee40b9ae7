"""What the records say of an account itself, and which accounts are in an industry or segment.

"what industry is tidewater in", "how big is kestrel", "who do we sell to in healthcare", "our enterprise
accounts": the account table's industry, segment and owner (one indexed read, or one bounded query).
"""

from __future__ import annotations

import re

from handlers.call_search import format_date
from handlers.context import HandlerContext, HandlerResult
from handlers.formatting import bold, clean
from knowledge.meetings import AccountProfile, account_profile, accounts_in, find_meetings, industries
from knowledge.thread_memory import TurnContext

# "what industry is tidewater in", "what segment", "how big are they", "what do they do"
ASKS_ACCOUNT_FACTS = re.compile(
    # (not "the forecast view by segment": a thing built per segment, not the account's own)
    r"\b(?:industry|industries|vertical|sector|(?<!by )(?<!per )(?<!each )segment(?! (?:view|report|forecast|dashboard)s?\b)|line of business|what (?:kind|sort|type) of (?:company|business|customer)|"
    r"how (?:big|large) (?:is|are)|what do (?:they|[\w&'-]+) (?:do|sell|make)(?: exactly)?[ ?!.]*$|never heard of)"
)
# "whats kestrel", "who are bluefin", "tell me about meridian": the account named and nothing else asked of it
_WHAT_IS_NAMED = re.compile(r"^\W*(?:(?:and|so|ok|hey)\W+)?(?:what(?:'s| is|s)|who (?:is|are)|who's|tell me about|"
                            r"what do we know about|background on) (?:the )?(?P<name>[\w&'-]+(?: [\w&'-]+){0,2}?)\W*(?:,|$)")


def asks_what_it_is(words: str, account: str) -> bool:
    """Whether the message asks what an account is ("whats kestrel, never heard of them"), naming nothing else."""
    found = _WHAT_IS_NAMED.search(words.lower()[:120])
    return found is not None and set(found.group("name").split()) <= set(account.lower().split())
# "who do we sell to in healthcare", "which accounts are in logistics", "our enterprise customers", "any smb accounts"
_ACCOUNTS_IN = re.compile(
    r"\b(?:who (?:do|did) we sell to|(?:which|what) (?:of our )?(?:accounts?|customers?|clients?|logos|companies) (?:are|is|do we have)|"
    r"(?:any|our|list|all) (?:of our )?(?:accounts?|customers?|clients?|logos))\s+(?:in|from|within)\s+(?:the\s+)?"
    r"(?P<what>[a-z][a-z &/-]{1,40}?)(?:\s+(?:space|industry|sector|vertical|segment|market))?\s*[?!.]*$"
    r"|\b(?:our|any|list|all|which|what) (?:of our )?(?P<segment>smb|mid-market|midmarket|mid market|enterprise) "
    r"(?:accounts?|customers?|clients?|logos)\b"
)
_SEGMENTS = {"midmarket": "mid-market", "mid market": "mid-market"}
_MAX_LISTED = 12


def asks_accounts_in(ctx: HandlerContext) -> bool:
    """Whether the message asks for the accounts of an industry or segment: one the control plane found among the
    accounts' own ("any healthcare customers", the frame's `industry`), or one named after "accounts in"."""
    return ctx.frame.industry is not None or bool(_ACCOUNTS_IN.search(ctx.words.lower()[:300]))


def accounts_in_reply(ctx: HandlerContext) -> HandlerResult | None:
    """The accounts in the industry or segment asked about; None when the message names none."""
    found = _ACCOUNTS_IN.search(ctx.words.lower()[:300])
    kind = ctx.frame.industry if found is None else None
    if found is None and kind is None:
        return None
    asked = (found.group("what") or found.group("segment") or "").strip() if found is not None else (kind or "").lower()
    asked = _SEGMENTS.get(asked, asked)
    matches = accounts_in(ctx.db, asked, limit=_MAX_LISTED) if asked else []
    if not matches and asked.endswith("s"):
        matches = accounts_in(ctx.db, asked[:-1], limit=_MAX_LISTED)  # "logistics companies", "banks"
    if not matches:
        known = industries(ctx.db)
        tail = (" Our accounts are in " + ", ".join(clean(name) for name in known) + ".") if known else ""
        return HandlerResult.from_marked(f"I don't see any account in “{clean(asked)}”.{tail}", context=TurnContext())
    lines = [f"Accounts in {bold(asked)}:"]
    lines += [f"• {_line(profile)}" for profile in matches]
    context = TurnContext(account=matches[0].name if len(matches) == 1 else None)
    return HandlerResult.from_marked("\n".join(lines), context=context)


def account_facts_reply(ctx: HandlerContext, account: str) -> HandlerResult | None:
    """The account's industry, segment and owner; None when nothing is recorded for it."""
    profile = account_profile(ctx.db, account)
    if profile is None or not (profile.industry or profile.segment or profile.owner):
        return None
    text = _line(profile)
    latest = find_meetings(ctx.db, account=profile.name, end=ctx.now, limit=1)
    if latest:  # (who they are, and where things stand: "tell me about meridian")
        meeting = latest[0]
        text += (f"\nLatest meeting: {clean(meeting.title)} ({clean(meeting.kind)}, {format_date(meeting.started_at, ctx.now)});"
                 " ask for a recap of it, or who is who there.")
    return HandlerResult.from_marked(text, context=TurnContext(account=profile.name))


def _line(profile: AccountProfile) -> str:
    facts = [clean(fact) for fact in (profile.industry, profile.segment) if fact]
    text = bold(profile.name) + (": " + ", ".join(facts) if facts else "")
    if profile.owner:
        text += f"; account executive {bold(profile.owner)}"
    return text + "."
