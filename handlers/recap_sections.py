"""The part of a meeting's recap a message asks for alone ("action items?", "what did they decide", "who was on it")."""

from __future__ import annotations

import re

from handlers.formatting import bold, clean
from knowledge.meetings import MeetingDetail

_SCAN_CHARS = 300
_ACTION_ITEMS = re.compile(r"\b(?:action ?items?|next steps?|to-?dos?|follow[ -]?ups?|tasks?|who(?:'s| is) doing what|"
                           r"who owes what|what do (?:we|i) owe|homework)\b")
_DECISIONS = re.compile(r"\b(?:decisions?|decide|decided|agreed|agreements?|outcomes?|where did (?:we|they) land)\b")
_PARTICIPANTS = re.compile(r"\bwho\b(?: [\w']+){0,4} (?:was|were) (?:on|in|there|at)\b|\bwho\b(?: [\w']+){0,4} "
                           r"(?:attended|joined|came|showed up|dialed in)\b|\b(?:attendees|participants)\b")
# Asking for the whole meeting: the recap, whatever parts are named beside it.
_WHOLE_RECAP = re.compile(r"\b(?:recap|summar\w*|sum up|tl;?dr|debrief|rundown|run-?down|catch me up|fill me in|brief me|"
                          r"what happened|how did\b[^.?!\n]{0,60}\bgo|key points|takeaways|highlights|notes|gist|overview)\b")


def asked_part(words: str) -> str | None:
    """"action items", "decisions" or "participants" when the message asks for that part alone; None for the whole."""
    lowered = words.lower()[:_SCAN_CHARS]
    if _WHOLE_RECAP.search(lowered):
        return None
    found = [part for part, cue in (("action items", _ACTION_ITEMS), ("decisions", _DECISIONS), ("participants", _PARTICIPANTS))
             if cue.search(lowered)]
    return found[0] if len(found) == 1 else None


def part_of_recap(detail: MeetingDetail, part: str, their_people: frozenset[str] = frozenset()) -> str:
    """The recap's `part`, or that none was recorded. Participants (listed in the meeting's header already) are split
    into the account's people (`their_people`, lower case) and ours."""
    if part == "participants":
        participants = detail.meeting.participants
        if not participants:
            return "No participants were recorded for this meeting."
        theirs = [name for name in participants if name.lower() in their_people]
        ours = [name for name in participants if name.lower() not in their_people]
        if not theirs:
            return ""
        return (f"From {clean(detail.meeting.account)}: " + ", ".join(clean(name) for name in theirs)
                + (". From our side: " + ", ".join(clean(name) for name in ours) if ours else "") + ".")
    entries = detail.action_items if part == "action items" else detail.decisions
    if not entries:
        return f"No {part} were recorded for this meeting."
    return bold(part.capitalize()) + "\n" + "\n".join(f"• {clean(entry)}" for entry in entries)
