"""meeting_summary: the resolved meeting's summary, decisions and action items, with date and participants."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, replace

from control_plane.meeting_questions import WHERE_THINGS_STAND
from control_plane.thread import PEOPLE_ASPECT, PERSON_ASPECT, names_an_owner
from handlers import llm_text, prompts
from handlers.call_search import format_date
from handlers.account_facts import (ASKS_ACCOUNT_FACTS, account_facts_reply, accounts_in_reply, asks_accounts_in,
                                    asks_what_it_is)
from handlers.account_roster import (ASKS_FOR_PEOPLE, ASKS_OWNER, ASKS_ROLE, ASKS_WHO_OWNS_A_TASK, ASKS_WHO_OWNS_NAMED_WORK,
                                     roster_reply)
from handlers.colleague_work import colleague_reply, contact_tasks
from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import HelpExample, handles
from handlers.formatting import bold, clean, render_markdown
from handlers.recap_sections import asked_part, part_of_recap
from handlers.text_match import the_ask, typed_words
from handlers.meeting_answers import (MAX_MEETINGS, MAX_SEGMENTS, Passage, Question, best_passages, has_content, passages_of,
                                      read_question, their_asks)
from handlers.meeting_passages import passages, question_words
from knowledge.meetings import (
    MeetingDetail,
    MeetingRef,
    MeetingResolution,
    account_contacts,
    account_meetings,
    contact_title,
    find_meetings,
    get_meeting,
    meeting_transcript,
)
from knowledge.thread_memory import TurnContext
from knowledge.vocabulary import KnownContact


@handles(
    "meeting_summary",
    slots=("account", "person", "colleague", "meeting_id", "time_range", "meeting_kind", "aspect", "topic",
           "industry"),
    uses_llm=True,
    examples=(HelpExample("Meeting recaps", "summarize my last call with {account}", "summary, decisions and action items"),),
)
async def handle(ctx: HandlerContext) -> HandlerResult:
    resolution = ctx.resolution
    opening = ctx.words[:_WHO_IS_SCAN].lower()
    if asks_accounts_in(ctx):  # "who do we sell to in healthcare", "any healthcare customers" (read off the loop)
        listed = await asyncio.to_thread(accounts_in_reply, ctx)
        if listed is not None:
            return listed
    if resolution.account and resolution.contact is None and (ASKS_ACCOUNT_FACTS.search(opening)
                                                               or asks_what_it_is(opening, resolution.account)) \
            and not ASKS_FOR_PEOPLE.search(opening):  # ("who are the contacts and what do they do": the people)
        facts = await asyncio.to_thread(account_facts_reply, ctx, resolution.account)  # "what industry is tidewater in"
        if facts is not None:
            return facts
    asks_for_people = ASKS_FOR_PEOPLE.search(opening) or ctx.frame.aspect == PEOPLE_ASPECT or names_an_owner(ctx.frame.aspect)
    # (not "whos his main contact there" after who Daniel is: that asks the account's people)
    if ctx.frame.colleague and not (ctx.frame.source("colleague") == "thread" and ASKS_FOR_PEOPLE.search(opening)):
        colleague = await asyncio.to_thread(colleague_reply, ctx, ctx.frame.colleague)
        if colleague is not None:
            return colleague
    # ("who is dana whitfield" after tyler's tasks asks who she is, not her tasks)
    # (or pointed at: "what does she need to do" after who Rebecca is)
    if resolution.contact is not None and (ctx.frame.typed("person") or _POINTS_AT_THEM.search(opening)) \
            and not _WHO_IS.search(opening):
        tasks = await asyncio.to_thread(contact_tasks, ctx, resolution.contact)  # "whats on tylers plate"
        if tasks is not None:
            return tasks
    # (not "whos their ciso again" after a question about Elena: a role at the account, whoever holds it)
    role_asked = ASKS_ROLE.search(opening) and not ctx.frame.typed("person")
    if resolution.contact is not None and not role_asked and (_WHO_IS.search(opening) or ctx.frame.aspect == PERSON_ASPECT):
        return _contact_card(ctx, resolution.contact)  # "who is sofia romano": who they are, and their meetings
    if (ASKS_WHO_OWNS_A_TASK.search(opening) and not ctx.frame.typed("account")) or ASKS_WHO_OWNS_NAMED_WORK.search(opening):
        asks_for_people = False  # "who owns the rollout on their side": whoever the meetings say, not the account's owner
    # (the thread's account will do for "and who owns that acct on our side", "whos the main contact there")
    if resolution.account and asks_for_people and (ctx.frame.typed("account") or ASKS_OWNER.search(opening)
                                                   or ctx.frame.aspect == PEOPLE_ASPECT
                                                   or (ctx.frame.account and (ASKS_ROLE.search(opening)
                                                                              or _POINTS_AT_ACCOUNT.search(opening)))):
        roster = roster_reply(ctx, resolution.account)  # "who should i talk to at globex about security"
        if roster is not None:
            return roster
    # Reading and ranking up to a few thousand passages takes ~10 ms of CPU: in a worker thread, so the
    # event loop keeps acknowledging other events meanwhile.
    answered = await asyncio.to_thread(_answer, ctx)
    if isinstance(answered, HandlerResult):
        return answered
    unanswered = answered  # what a question looked for that no meeting mentions: said before the recap
    meeting = resolution.meeting
    detail = get_meeting(ctx.db, meeting.id) if meeting is not None else None
    if detail is None:
        return HandlerResult.from_marked(
            candidates_reply(resolution, ctx),
            context=TurnContext(account=resolution.account),
        )
    context = TurnContext(account=detail.meeting.account, meeting_id=detail.meeting.id)
    header = meeting_header(detail.meeting, ctx)
    part = asked_part(ctx.words)
    if part is not None:  # "action items?" after a recap, "who was on the hooli call": that part, as recorded
        their_people = frozenset(c.name.lower() for c in account_contacts(ctx.db, detail.meeting.account, limit=_MAX_CONTACTS)) \
            if part == "participants" else frozenset()
        shown = part_of_recap(detail, part, their_people)
        return HandlerResult.from_marked(header + ("\n\n" + shown if shown else ""), context=context)

    transcript = meeting_transcript(ctx.db, detail.meeting.id)
    if transcript and ctx.llm_ready:
        lines = "\n".join(f"{speaker}: {said}" for speaker, said in transcript)
        written = await llm_text.write(
            ctx,
            system=prompts.MEETING_SUMMARY,
            user=f"{_meeting_facts(detail)}\nTranscript:\n{lines}",
            kind="answer",
            lead=render_markdown(header) + "\n\n",
            cache_key={
                "question": f"meeting-summary:{detail.meeting.id}",
                "intent": "meeting_summary",
                "entities": {"meeting_id": detail.meeting.id},
                "snapshot_version": hashlib.sha256(lines.encode()).hexdigest()[:16],
                "prompt_version": ctx.prompt_version,
            },
        )
        if written is not None:
            result = HandlerResult.from_markdown(written.text, llm_used=True, streamed=written.streamed, context=context)
            top = HandlerResult.from_marked(header)
            result.text = f"{top.text}\n\n{result.text}"
            result.plain = f"{top.plain}\n\n{result.plain}"
            return result
    asked = question_words(ctx.words, [detail.meeting.account, detail.meeting.title, *detail.meeting.participants])
    found = passages(asked, transcript)
    said = ""
    if found:  # "what was the competitor price": the lines that answer it, then the recap
        said = bold("On the call") + "\n" + "\n".join(f"• {clean(speaker)}: “{clean(text)}”" for speaker, text in found)
        said += "\n\n"
    if unanswered and not found:
        said = (f"I don't find anything on “{clean(unanswered.looked_for)}” in the {clean(detail.meeting.account)} meetings."
                " The latest one:\n\n")
    return HandlerResult.from_marked(header + "\n\n" + said + stored_summary(detail), context=context)


_WHO_IS = re.compile(r"^\W*(?:(?:and|so|ok|okay|wait|remind me|oh|also|btw|hey|sorry)\W+){0,3}(?:who(?:'s| is| was)|tell me about|what do (?:we|you) "
                     r"know about|remind me who)\b(?![^?.!\n]{0,60}\b(?:call|meeting|demo|said|say|ask|asked|on it)\b)"
                     # ("who's setting up the scorecards" asks who does a task, not who someone is)
                     r"(?! (?:\w+ing|supposed|meant|responsible|in charge|on the hook)\b)"
                     # "whats carla's title", "lenas email addy?": what the contact card says
                     # (also after a first sentence: "prepping for globex, priya might be on. whats her role")
                     r"|(?:^|(?<=[.!?;] ))\W*(?:(?:and|so|ok|okay)\W+)?(?:what(?:'s| is|s)? |whats |got )?(?:(?:his|her|their) |[\w-]+(?:'s)? ){1,2}"
                     r"(?:job )?(?:title|role|position|e-?mail(?: address| addy)?|addy|contact (?:info|details))\b[ ?!.]*(?:again)?[ ?!.]*$")
_WHO_IS_SCAN = 120
_MAX_TOPIC_CHARS = 300
_POINTS_AT_ACCOUNT = re.compile(r"\b(?:there|their|them|they|it|that one|that account|that acct|over there)\b")
_CARD_MEETINGS = 3
_MAX_CONTACTS = 50  # an account's contacts read to tell its people from ours on a call


def _contact_card(ctx: HandlerContext, contact: KnownContact) -> HandlerResult:
    title = contact_title(ctx.db, contact)
    lines = [f"{bold(contact.name)}: " + (f"{clean(title)} at " if title else "") + clean(contact.account)
             + (f" ({clean(contact.email)})" if contact.email else "") + "."]
    meetings = find_meetings(ctx.db, account=contact.account, participant=contact.name, end=ctx.now, limit=_CARD_MEETINGS)
    if meetings:
        lines.append("Their latest meetings with us:")
        lines += [f"• {_candidate_line(meeting, ctx)}" for meeting in meetings]
    context = TurnContext(account=contact.account, person=contact.name, meeting_id=meetings[0].id if meetings else None,
                          aspect=PERSON_ASPECT)
    return HandlerResult.from_marked("\n".join(lines), context=context)


@dataclass(frozen=True)
class _Unanswered:
    """A question about what the meetings say that none of them answers."""

    looked_for: str  # its content words, as typed


# A request for the meeting itself rather than for something said in it.
_RECAP = re.compile(
    r"\b(?:recap|summar\w*|sum up|tl;?dr|debrief|rundown|catch me up|fill me in|brief me|what happened|how did\b[^.?!\n]{0,60}\bgo|"
    r"how(?:'s| is| are)\b[^.?!\n]{0,40}\bgoing|how(?:'s| was)\b[^.?!\n]{0,60}\b(?:go|went)\b|gist|"
    r"who\b(?: [\w']+){0,4} (?:was|were) (?:on|in|there)\b|where(?:'s| is| are| r)\b[^.?!\n]{0,40}\bat\b|live yet|"
    r"latest|status|update|" + WHERE_THINGS_STAND + r"|anything new|anything i (?:need|should)|where did we land|where do we stand|key points|takeaways|next steps|"
    r"action items|notes|who (?:attended|joined|was on|were on|was there|were there|was in|were in))\b"
)


def _answer(ctx: HandlerContext) -> HandlerResult | _Unanswered | None:
    """What the account's meetings say to a question about what was said, offered or agreed; `_Unanswered`
    when nothing in them answers it; None when the message asks for a recap or names nothing to look for."""
    resolution, frame = ctx.resolution, ctx.frame
    account = resolution.account or (resolution.meeting.account if resolution.meeting else None)
    if account is None:
        return None
    asked = ctx.words
    named_meeting = bool(frame.meeting_id or frame.meeting_kind or frame.time_range or resolution.by_title)
    if _RECAP.search(asked.lower()[:500]):
        # "recap the hooli contract review", "how did yesterday's call go": the meeting itself, or honestly
        # none when it is not there (another meeting's notes would answer a question nobody asked)
        return None
    if _ASKS_THE_DEAL.search(asked.lower()[:500]):
        # "whats the acme deal again", "what did we sell initech", "what did they end up agreeing to": the latest
        # meeting whose notes state the deal, recapped
        for detail, _ in account_meetings(ctx.db, account, ctx.now, limit=MAX_MEETINGS, max_segments=0):
            if any(_STATES_SEATS.search(note) for note in (*detail.decisions, detail.summary)):
                header = meeting_header(detail.meeting, ctx)
                return HandlerResult.from_marked(header + "\n\n" + stored_summary(detail),
                                                 context=TurnContext(account=detail.meeting.account, meeting_id=detail.meeting.id))
    meetings = account_meetings(ctx.db, account, ctx.now, limit=MAX_MEETINGS, max_segments=MAX_SEGMENTS)
    if frame.time_range is not None:  # "what did tyler say on tuesday": that day's meetings, not every one
        within = [(detail, turns) for detail, turns in meetings
                  if frame.time_range.start <= detail.meeting.started_at < frame.time_range.end]
        # ("acme q3 deal: what did tom say": a quarter naming the deal, when no meeting was in it)
        meetings = within if within or not frame.time_range.label.startswith("Q") else meetings
    if not meetings:
        return None
    refs = [detail.meeting for detail, _ in meetings]
    names = [account, *(resolution.contact.name.split() if resolution.contact else ())]
    ask = the_ask(asked)
    if ask is not asked and has_content(read_question(ask, names, refs)):
        asked = ask  # "ok so context: ... he'll ask about the migration. can u give me the renewal terms we agreed"
    if frame.source("topic") == "thread" and frame.topic:
        asked = f"{frame.topic} {asked}"  # "no i meant tidewater": the last question, asked of Tidewater
    question = read_question(asked, names, refs)
    lowered = asked.lower()[:500]
    about_them = resolution.contact is not None and not question.people and bool(_POINTS_AT_THEM.search(lowered))
    if about_them:  # "what did she need from us" after "who is sofia romano": what Sofia said, in any meeting
        question = replace(question, people=frozenset({resolution.contact.name.lower()}))
    originally = bool(_ORIGINALLY.search(lowered))
    in_the_meeting = resolution.meeting is not None and (resolution.by_title or bool(frame.meeting_kind))
    # "what did sofia need from us" (not "what did luis ask in the review": his questions, found by their words)
    named_them = resolution.contact is not None and frame.typed("person") and bool(_NEEDS_FROM_US.search(lowered))
    if named_them and not question.people and resolution.contact is not None:
        question = replace(question, people=frozenset({resolution.contact.name.lower()}))  # "what did frank ask for"
    if len(question.people) == 1 and (originally or about_them or named_them) and _ASKS_WHAT_THEY_WANT.search(lowered) and (
            not has_content(replace(question, words=question.words - _WANT_WORDS)) or in_the_meeting or originally):
        # "what did she need from us", "what did elena originally want", "what did she ask for in the security
        # review": their asks (in the meeting named, if one is), the first ones if asked so
        named = [(detail, turns) for detail, turns in meetings if detail.meeting.id == resolution.meeting.id] \
            if in_the_meeting and resolution.meeting is not None else meetings  # (the None check is for the type checker)
        found = their_asks(next(iter(question.people)), passages_of(named or meetings), earliest_first=originally,
                           about=question.words - _WANT_WORDS if originally else frozenset())
        if found:
            return _what_meetings_say(found, ctx, question)
    if not has_content(question):
        return None
    if resolution.meeting is not None and question.words and question.words <= _RECAP_SECTIONS:
        return None  # "and the decisions?", "action items from the demo?": that part of the meeting's recap
    if named_meeting and resolution.meeting is not None and not has_content(
            question, beyond=None if about_them else resolution.meeting):
        # "whats the fix we did for tidewater", "what did ken ask in the demo": the meeting named, recapped
        return None
    preferred = {resolution.meeting.id} if resolution.meeting is not None and named_meeting else set()
    if frame.meeting_kind:
        preferred |= {m.id for m in refs if m.kind == frame.meeting_kind}
    found = best_passages(question, passages_of(meetings), preferred=frozenset(preferred), now=ctx.now)
    if not found:
        typed = typed_words(asked[:500], question.words)
        return _Unanswered(" ".join(typed)) if typed and not named_meeting else None
    return _what_meetings_say(found, ctx, question)


def _what_meetings_say(found: list[Passage], ctx: HandlerContext, question: Question) -> HandlerResult:
    lines = [f"{bold(found[0].meeting.account)}: what the meetings say"]
    lines += [f"• {_quoted(passage, ctx)}" for passage in found]
    shown = {passage.meeting.id for passage in found}
    lines.append("\nAsk “recap the " + clean(found[0].meeting.title) + "” for the whole meeting." if len(shown) == 1
                 else "\nAsk for a recap of any of them for the whole meeting.")
    # (the question's own words, kept only for a correction naming another account: "no i meant tidewater")
    # (the meeting only when all the lines are from one: a draft next is about the meeting the thread was on, or the
    # latest, not whichever meeting an answer happened to quote first)
    context = TurnContext(account=found[0].meeting.account, meeting_id=found[0].meeting.id if len(shown) == 1 else None,
                          topic=" ".join(typed_words(ctx.words[:_MAX_TOPIC_CHARS], question.words)) or None)
    return HandlerResult.from_marked("\n".join(lines), context=context)


# "whats the acme deal again", "what did we sell initech", "what deal did they land on", "what did they end up agreeing to"
_ASKS_THE_DEAL = re.compile(r"\bwhat(?:'s| is|s| was)? (?:the |their |our )?(?:[\w&'-]+ )?deal(?: again| look(?:s|ing)? like| (?:we|they) (?:have|got|signed|struck))?\W*$"
                            r"|\bwhat (?:did|have) (?:we|they) (?:sell|sold|buy|bought|sign|signed|agree to|end up (?:with|agreeing to|buying|signing))\b"
                            r"|\bwhat deal did\b|\bwhat (?:did|have) we sold\b|\bwhere did (?:we|they|it|things) (?:land|end up|settle)\b(?! on \w)")
_STATES_SEATS = re.compile(r"\b\d[\d,]*\s+(?:[A-Z][\w-]+\s+)?seats?\b|\bseats?\b[^.;]{0,20}\b\d{2,}")
# "pushing for", "holding out for": what someone wanted, said the way negotiations are talked about
_PUSHING_FOR = r"(?:push|hold|hop|angl|hold out|look|ask)(?:ing|ed|s)? (?:out )?for"
# The asking itself, not what was asked for ("what did sarah originally ask for discount wise": discount)
_WANT_WORDS = frozenset({"ask", "asked", "asking", "want", "wanted", "need", "needed", "request", "requested", "originally",
                         "initially", "first", "wise", "push", "pushing", "hold", "holding", "look", "looking"})
_ASKS_WHAT_THEY_WANT = re.compile(r"\bwhat (?:did|does|do|has|have) (?:[\w'-]+ ){1,2}(?:(?:originally|initially|first) )?"
                                  r"(?:need|want|ask|request|require|" + _PUSHING_FOR + r")\w*\b"
                                  r"|\bwhat (?:she|he|they) (?:needs?|needed|wants?|wanted|asked for|requested)\b"
                                  r"|\bwhat (?:is|was|were|are|s|'s) (?:[\w'-]+ ){1,2}(?:(?:originally|initially|first) )?"
                                  + _PUSHING_FOR + r"\b")
_NEEDS_FROM_US = re.compile(r"\b(?:need|needs|needed|want|wants|wanted|require\w*|request\w*|ask(?:ed|s|ing)? for|"
                            + _PUSHING_FOR + r")\b")
_ORIGINALLY = re.compile(r"\b(?:originally|initially|at first|in the beginning|at the start|to begin with|first (?:asked|wanted))\b")
_POINTS_AT_THEM = re.compile(r"\b(?:she|he|her|him|his|hers)\b")
# Words that name a part of a recap rather than something said in the meeting.
_RECAP_SECTIONS = frozenset({"decision", "decisions", "decide", "decided", "agree", "agreed", "action", "actions", "item",
                             "items", "next", "step", "steps", "summary", "notes", "takeaway", "takeaways", "todo", "todos",
                             "outcome", "outcomes"})


def _quoted(passage: Passage, ctx: HandlerContext) -> str:
    where = f"{clean(passage.meeting.title)} ({clean(passage.meeting.kind)}, {format_date(passage.meeting.started_at, ctx.now)})"
    if passage.source == "said":
        return f"{clean(passage.speaker)}, {where}: “{clean(passage.text)}”"
    label = {"summary": "Notes", "decision": "Decision", "action item": "Action item"}[passage.source]
    return f"{label}, {where}: “{clean(passage.text)}”"


def meeting_header(meeting: MeetingRef, ctx: HandlerContext) -> str:
    when = f"{format_date(meeting.started_at, ctx.now)} at {meeting.started_at:%H:%M} UTC"
    text = f"{bold(meeting.account)}: {clean(meeting.title)} ({clean(meeting.kind)}, {when}, {meeting.duration_minutes} min)"
    if meeting.participants:
        text += "\nParticipants: " + ", ".join(clean(p) for p in meeting.participants)
    # Other meetings of the same account: another account's meeting is another conversation entirely.
    others = [m for m in ctx.resolution.candidates if m.id != meeting.id and m.account == meeting.account]
    if others:
        text += "\nOther matches: " + "; ".join(_candidate_line(m, ctx) for m in others[:3])
    return text


def stored_summary(detail: MeetingDetail) -> str:
    parts = [clean(detail.summary) if detail.summary else "No summary was recorded for this meeting."]
    if detail.decisions:
        parts.append(bold("Decisions") + "\n" + "\n".join(f"• {clean(d)}" for d in detail.decisions))
    if detail.action_items:
        parts.append(bold("Action items") + "\n" + "\n".join(f"• {clean(a)}" for a in detail.action_items))
    return "\n\n".join(parts)


def candidates_reply(resolution: MeetingResolution, ctx: HandlerContext) -> str:
    looked_for = f" ({clean(resolution.searched)})" if resolution.searched else ""
    if not resolution.candidates:
        return (
            f"I couldn't find that meeting{looked_for}. Try naming the account and when, "
            "e.g. “summarize my last call with Acme” or “recap yesterday's demo with Globex”."
        )
    lines = [f"Which meeting do you mean{looked_for}? The closest ones:"]
    lines.extend(f"{n}. {_candidate_line(m, ctx)}" for n, m in enumerate(resolution.candidates, start=1))
    lines.append("Ask again with the account and day, e.g. “summarize the Acme demo from yesterday”.")
    return "\n".join(lines)


def _candidate_line(meeting: MeetingRef, ctx: HandlerContext) -> str:
    return f"{bold(meeting.account)}: {clean(meeting.title)} ({clean(meeting.kind)}, {format_date(meeting.started_at, ctx.now)})"


def _meeting_facts(detail: MeetingDetail) -> str:
    meeting = detail.meeting
    return (
        f"Account: {meeting.account}\nTitle: {meeting.title}\nKind: {meeting.kind}\n"
        f"Date: {meeting.started_at:%Y-%m-%d %H:%M} UTC\nParticipants: {', '.join(meeting.participants)}\n"
    )
