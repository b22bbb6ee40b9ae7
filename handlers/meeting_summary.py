"""meeting_summary: the resolved meeting's summary, decisions and action items, with date and participants."""

from __future__ import annotations

import hashlib

from handlers import llm_text, prompts
from handlers.call_search import format_date
from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import HelpExample, handles
from handlers.formatting import bold, clean, render_markdown
from handlers.meeting_passages import passages, question_words
from knowledge.meetings import MeetingDetail, MeetingRef, MeetingResolution, get_meeting, meeting_transcript
from knowledge.thread_memory import TurnContext


@handles(
    "meeting_summary",
    slots=("account", "person", "meeting_id", "time_range", "meeting_kind"),
    uses_llm=True,
    examples=(HelpExample("Meeting recaps", "summarize my last call with {account}", "summary, decisions and action items"),),
)
async def handle(ctx: HandlerContext) -> HandlerResult:
    resolution = ctx.resolution
    meeting = resolution.meeting
    detail = get_meeting(ctx.db, meeting.id) if meeting is not None else None
    if detail is None:
        return HandlerResult.from_marked(
            candidates_reply(resolution, ctx),
            context=TurnContext(account=resolution.account),
        )
    context = TurnContext(account=detail.meeting.account, meeting_id=detail.meeting.id)
    header = meeting_header(detail.meeting, ctx)

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
    return HandlerResult.from_marked(header + "\n\n" + said + stored_summary(detail), context=context)


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
