"""meeting_summary called directly: the recap of the frame's meeting (the thread's, or the one the resolution found),
and the candidates when no meeting is clear. No LLM: the recap is the stored summary."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from control_plane.intents import Intent
from handlers import meeting_summary
from knowledge.meetings import MeetingResolution

if TYPE_CHECKING:
    from tests.handlers.conftest import HandlerKit

RECAP = Intent.MEETING_SUMMARY


async def test_the_frames_meeting_is_recapped_with_its_facts(kit: HandlerKit) -> None:
    row = kit.row("meetings", external_id="acme-discovery")
    meeting = kit.meeting("acme-discovery")
    frame = kit.frame(RECAP, meeting_id=meeting.id, sources={"meeting_id": "thread"})

    result = await meeting_summary.handle(kit.context(frame, "recap it"))

    header, participants = result.plain.splitlines()[:2]
    started = datetime.fromisoformat(row["started_at"])
    assert header.startswith(f"{kit.account_name(row['account'])}: {row['title']} ({row['kind']}, ")
    assert header.endswith(f" at {started:%H:%M} UTC, {row['duration_minutes']} min)")
    assert participants == "Participants: " + ", ".join(row["participants"])
    assert row["summary"] in result.plain
    decisions = result.plain.split("Decisions\n")[1].split("\n\n")[0].splitlines()
    actions = result.plain.split("Action items\n")[1].splitlines()
    assert decisions == [f"• {d}" for d in row["decisions"]]
    assert actions == [f"• {a}" for a in row["action_items"]]
    assert (result.context.account, result.context.meeting_id) == (meeting.account, meeting.id)
    assert not result.llm_used


async def test_other_matches_named_are_only_the_same_accounts(kit: HandlerKit) -> None:
    meeting, same, other = kit.meeting("acme-pricing"), kit.meeting("acme-proposal"), kit.meeting("globex-qbr")
    assert other.account != meeting.account
    resolution = MeetingResolution(account=meeting.account, meeting=meeting, candidates=(same, other))

    result = await meeting_summary.handle(
        kit.context(kit.frame(RECAP, account=meeting.account), "recap the acme pricing call", resolution=resolution))

    [matches] = [line for line in result.plain.splitlines() if line.startswith("Other matches: ")]
    assert same.title in matches
    assert other.title not in result.plain  # another account's meeting is another conversation entirely


async def test_a_question_about_the_call_quotes_the_lines_that_answer_it(kit: HandlerKit) -> None:
    meeting = kit.meeting("acme-pricing")
    lines = [t for t in kit.rows["transcripts"] if t["meeting"] == "acme-pricing" and "closewise" in t["text"].lower()]
    assert lines
    frame = kit.frame(RECAP, meeting_id=meeting.id, sources={"meeting_id": "thread"})

    result = await meeting_summary.handle(kit.context(frame, "what did they say about closewise on that call?"))

    quoted = [line for line in result.plain.splitlines() if line.startswith("• ")]
    assert quoted and f"{meeting.title} (" in quoted[0]  # the meeting the thread is about comes first
    assert all("closewise" in q.lower() for q in quoted)  # each passage quoted answers the question


async def test_without_a_clear_meeting_the_candidates_are_offered_in_order(kit: HandlerKit) -> None:
    candidates = tuple(kit.meeting(external_id) for external_id in ("acme-contract", "acme-proposal", "acme-pricing"))
    resolution = MeetingResolution(account=candidates[0].account, candidates=candidates, searched="Acme Corp meetings")
    frame = kit.frame(RECAP, account=candidates[0].account)

    result = await meeting_summary.handle(kit.context(frame, "summarize the call with Acme", resolution=resolution))

    lines = result.plain.splitlines()
    assert lines[0] == "Which meeting do you mean (Acme Corp meetings)? The closest ones:"
    assert [line.split(": ", 1)[1].split(" (")[0] for line in lines[1:4]] == [m.title for m in candidates]
    assert [line.split(".")[0] for line in lines[1:4]] == ["1", "2", "3"]
    assert result.context.meeting_id is None and result.context.account == candidates[0].account


async def test_no_meeting_at_all_says_what_was_looked_for(kit: HandlerKit) -> None:
    account = kit.account_name("bluefin")
    resolution = MeetingResolution(account=account, searched=f"{account} demo meetings yesterday")
    frame = kit.frame(RECAP, account=account, meeting_kind="demo")

    result = await meeting_summary.handle(kit.context(frame, "recap yesterday's demo with bluefin",
                                                      resolution=resolution))

    assert result.plain.startswith(f"I couldn't find that meeting ({account} demo meetings yesterday).")
    assert result.context.meeting_id is None
