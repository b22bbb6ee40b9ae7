"""What one of our own people is on: the action items they own, the accounts they own, their latest calls.

"whats on mayas plate", "what does sam owe acme", "which accounts does rachel cover", "who is leo". Our
colleagues are account owners and the people on several accounts' calls (`knowledge.vocabulary`); a question
about a customer contact is answered from the meetings instead (`handlers.meeting_summary`).
"""

from __future__ import annotations

import re
from dataclasses import replace

from control_plane.thread import COLLEAGUE_ASPECT, PERSON_ASPECT, TASKS_ASPECT, colleague_aspect, tasks_aspect
from handlers.call_search import format_date
from handlers.context import HandlerContext, HandlerResult
from handlers.formatting import and_list, bold, clean
from handlers.text_match import the_ask
from knowledge.meetings import MeetingDetail, account_meetings, accounts_owned, meeting_transcript, meetings_with
from knowledge.thread_memory import TurnContext
from knowledge.vocabulary import KnownContact

MAX_MEETINGS = 40  # their latest meetings read, whatever the size of the knowledge base
MAX_ITEMS = 8
MAX_ACCOUNT_MEETINGS = 12
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PROFILE_MEETINGS = 3
_POINTS_AT_SOMEONE = re.compile(r"\b(?:he|she|his|her)\b")
_POINTS_AT_THEM = re.compile(r"\b(?:them|they|their|theirs|there|her|him)\b")  # ("what did sam owe her": the thread's contact)

# "whats on mayas plate", "what is leo on the hook for", "what does sam owe them", "daniel's to-dos"
ASKS_TASKS = re.compile(
    r"\bplate\b|\bon the hook\b|\bowes?\b|\bowing\b|\bto-?dos?\b|\baction items?\b|\btasks?\b|\bfollow[ -]?ups?\b|"
    r"\bcommit(?:ted|ments?)?\b|\b(?:take|took|taking|takes) on\b|\bpromised?\b|\bsupposed to\b|\bwaiting on\b|\bopen items?\b|\bnext steps?\b|"
    r"\b(?:need|needs|has|have|got) to (?:do|send|deliver|finish)\b|\bworking on\b|\bdeliverables?\b|\bon [\w']+ (?:list|desk)\b|\bleft (?:on|to do)\b"
)
# "which accounts does rachel cover", "whats daniels book", "who is leo", "what does maya do"
ASKS_PROFILE = re.compile(
    r"\baccounts?\b|\bbook of business\b|\bterritory\b|\bportfolio\b|\bwhat (?:does|do) \w+ (?:own|cover|manage|handle|do)\b|"
    r"^\W*(?:(?:and|so|ok|okay|wait)\W+)?(?:who(?:'s| is| was)|tell me about|remind me who)\b|\brole\b"
)


_ASKS_WHO = re.compile(r"^\W*(?:(?:and|so|ok|okay|wait|remind me|sorry)\W+){0,2}(?:who(?:'s| is| was)|whos)\b")


def colleague_reply(ctx: HandlerContext, colleague: str) -> HandlerResult | None:
    """Their action items or who they are; None when the message asks something else of them (a recap of their
    call, what they said), which the meetings answer."""
    asked = ctx.words.lower()[:500]
    frame = ctx.frame
    # An account typed, or the thread's when the message points at it ("whats leo got open for them")
    named = frame.typed("account") or frame.typed("person") or (frame.source("account") == "thread"
                                                                 and bool(_POINTS_AT_THEM.search(asked)))
    account = ctx.resolution.account if named else None
    aspect = frame.aspect or ""
    free = not named and frame.meeting_kind is None and frame.time_range is None  # no account or meeting asked
    # What the message asks outright comes first; then what the thread was listing ("and rachel adams?")
    if ASKS_TASKS.search(asked):
        return _tasks_of(ctx, colleague, account)
    if (free or _ASKS_WHO.search(asked)) and ASKS_PROFILE.search(asked):
        return _profile(ctx, colleague)  # ("whos leo park? keeps popping up in the hooli notes": who he is, there too)
    if aspect.startswith(TASKS_ASPECT):
        return _tasks_of(ctx, colleague, account)
    if free and (aspect.startswith(COLLEAGUE_ASPECT) or aspect == PERSON_ASPECT):
        return _profile(ctx, colleague)  # ("and leo?" after who a customer contact is: who Leo is)
    return None


def owned_items(colleague: str, detail: MeetingDetail) -> list[str]:
    """The meeting's action items `colleague` owns: "Maya to send...", "Maya and Jane to...", "Maya Chen will..."."""
    first = colleague.split()[0].lower()
    subjects = (f"{colleague.lower()} ", f"{first} ", f"{first}, ")
    return [item for item in detail.action_items if item.lower().startswith(subjects)]


def _tasks_of(ctx: HandlerContext, colleague: str, account: str | None) -> HandlerResult:
    meetings = meetings_with(ctx.db, colleague, ctx.now, limit=MAX_MEETINGS)
    if account is not None:
        meetings = [detail for detail in meetings if detail.meeting.account.casefold() == account.casefold()]
    return tasks_reply(ctx, colleague, meetings, account)


def contact_tasks(ctx: HandlerContext, contact: KnownContact) -> HandlerResult | None:
    """"whats on tylers plate": the action items a customer contact owns in their account's meetings; None when
    the message asks something else of them."""
    asked = the_ask(ctx.words).lower()[:500]  # (not "he'll ask what we committed to" in a long message's context)
    if not (ASKS_TASKS.search(asked) or (ctx.frame.aspect or "").startswith(TASKS_ASPECT)):
        return None
    meetings = [detail for detail, _ in account_meetings(ctx.db, contact.account, ctx.now, limit=MAX_ACCOUNT_MEETINGS,
                                                         max_segments=0)]
    owner = (ctx.frame.aspect or "").removeprefix(TASKS_ASPECT)
    if owner and owner != contact.name and _POINTS_AT_SOMEONE.search(asked):
        # "anything he owes priya?" after what Sam owes: Sam's items that name Priya
        first = contact.name.split()[0].lower()
        named = [replace(detail, action_items=tuple(item for item in detail.action_items if first in item.lower()))
                 for detail in meetings]
        if not any(owned_items(owner, detail) for detail in named):
            named = meetings  # none names them: what the owner owes their account
        return tasks_reply(ctx, owner, named, contact.account)
    return tasks_reply(ctx, contact.name, meetings, contact.account)


def tasks_reply(ctx: HandlerContext, person: str, meetings: list[MeetingDetail], account: str | None) -> HandlerResult:
    """`person`'s action items in `meetings` (latest first); each names its account unless `account` is given."""
    items = [(detail, item) for detail in meetings for item in owned_items(person, detail)]
    where = f" with {bold(account)}" if account else ""
    context = TurnContext(account=account, meeting_id=items[0][0].meeting.id if items else None,
                          aspect=tasks_aspect(person))
    if not items:
        return HandlerResult.from_marked(f"I don't see any action item for {bold(person)} in the meetings{where}.",
                                         context=context)
    lines = [f"{bold(person)}'s action items{where}, latest meetings first:"]
    lines += [f"• {clean(item)} ({_where(detail, ctx, account is None)})" for detail, item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        lines.append(f"…and {len(items) - MAX_ITEMS} more from older meetings.")
    return HandlerResult.from_marked("\n".join(lines), context=context)


def _profile(ctx: HandlerContext, colleague: str) -> HandlerResult:
    owned = accounts_owned(ctx.db, colleague)
    meetings = meetings_with(ctx.db, colleague, ctx.now, limit=MAX_MEETINGS)
    role = _role_of(ctx, colleague, meetings)
    lines = [f"{bold(colleague)} is on our side"
             + (f": account executive for {_listed(owned)}." if owned
                else f", our {bold(role)} (not a customer contact)." if role else ", not a customer contact.")]
    if meetings:
        accounts = sorted({detail.meeting.account for detail in meetings} - set(owned))
        if accounts:
            lines.append(f"Also on calls with {_listed(accounts)}.")
        lines.append("Latest meetings:")
        lines += [f"• {bold(detail.meeting.account)}: {clean(detail.meeting.title)} ({clean(detail.meeting.kind)}, "
                  f"{format_date(detail.meeting.started_at, ctx.now)})" for detail in meetings[:_PROFILE_MEETINGS]]
        open_items = sum(len(owned_items(colleague, detail)) for detail in meetings)
        if open_items:
            first = colleague.split()[0]
            lines.append(f"{open_items} action item{'s' if open_items != 1 else ''} in their meetings: ask "
                         f"“what is {first} on the hook for”.")
    elif not owned:
        lines[0] = f"{bold(colleague)} is on our side; I have no meetings of theirs."
    mention = _mentioned_at(ctx, colleague, ctx.frame.account) if ctx.frame.account else None
    if mention is not None:  # "who is leo park again" in a thread about Acme: what Acme's notes say of him
        detail, note = mention
        lines.insert(1, f"At {bold(detail.meeting.account)}: “{clean(note)}” ({_where(detail, ctx, False)})")
    return HandlerResult.from_marked("\n".join(lines), context=TurnContext(aspect=colleague_aspect(colleague)))


# How the calls and notes introduce one of our people: "Sam is our solutions engineer", "I'm Leo, I'll be your customer
# success manager", "introduce Leo Park as Acme's customer success manager", "Leo, our CSM, will..."
_ROLE_NOUN = (r"(?P<role>(?:[a-z-]+ ){0,3}?(?:manager|engineer|executive|director|lead|specialist|representative|rep|architect|"
              r"consultant|partner|csm|ae|sdr|bdr|se))\b")
_ROLE_TEMPLATES = (
    r"\b{first}(?: [a-z]+)?,? (?:is |will be )?(?:our|your) " + _ROLE_NOUN,
    r"\bi'?m {first}(?: [a-z]+)?,? (?:and )?(?:i'?ll be |i am |i'm )?(?:your|our|the) " + _ROLE_NOUN,
    r"\b{first}(?: [a-z]+)? as (?:[a-z]+'s |our |your |the |their )" + _ROLE_NOUN,
)
_ROLE_TRANSCRIPTS = 6  # their latest meetings whose transcripts are read for how they were introduced
_ROLE_WORDS = {"csm": "customer success manager", "se": "solutions engineer", "ae": "account executive"}


def _role_of(ctx: HandlerContext, colleague: str, meetings: list[MeetingDetail]) -> str | None:
    """The role the notes or calls give one of our people ("customer success manager"); None when none does."""
    first = re.escape(colleague.split()[0].lower())
    patterns = [re.compile(template.replace("{first}", first)) for template in _ROLE_TEMPLATES]
    texts = [note for detail in meetings for note in (*detail.action_items, *detail.decisions, detail.summary)]
    for detail in meetings[-_ROLE_TRANSCRIPTS:]:  # (people are introduced on the first calls: the earliest ones)
        texts += [text for _speaker, text in meeting_transcript(ctx.db, detail.meeting.id, max_chars=_ROLE_SCAN_CHARS)]
    for text in texts:
        lowered = text.lower()
        if first not in lowered:
            continue
        for pattern in patterns:
            found = pattern.search(lowered)
            if found:
                role = found.group("role").strip()
                return _ROLE_WORDS.get(role, role)
    return None


_ROLE_SCAN_CHARS = 8_000


def _mentioned_at(ctx: HandlerContext, colleague: str, account: str) -> tuple[MeetingDetail, str] | None:
    """The latest note of the account's meetings (summary sentence, decision or action item) naming `colleague`."""
    full = colleague.lower()
    for detail, _ in account_meetings(ctx.db, account, ctx.now, limit=MAX_ACCOUNT_MEETINGS, max_segments=0):
        for note in (*detail.action_items, *detail.decisions, *_SENTENCE.split(detail.summary)):
            if full in note.lower():
                return detail, note
    return None


def _where(detail: MeetingDetail, ctx: HandlerContext, with_account: bool) -> str:
    meeting = detail.meeting
    account = f"{clean(meeting.account)}, " if with_account else ""
    return f"{account}{clean(meeting.title)}, {format_date(meeting.started_at, ctx.now)}"


def _listed(names: list[str]) -> str:
    return and_list([bold(name) for name in names])
