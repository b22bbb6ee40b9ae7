"""Meeting resolution: which account, person and meeting a message's frame refers to.

Timed as the `meeting_resolution` stage. The frame (see `control_plane.thread`) already says which
account, person, kind of meeting and time the message names or the thread supplies; this turns them
into a meeting with a few indexed queries, for recaps and drafts only.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from control_plane.frame import Frame
from control_plane.intents import Intent, TimeRange
from control_plane.names import NameIndex
from knowledge.db import Database
from knowledge.meetings import MeetingResolution, find_meetings, get_meeting
from knowledge.vocabulary import KnownContact

CANDIDATES = 5
MEETING_INTENTS = frozenset({Intent.MEETING_SUMMARY, Intent.DRAFT_EMAIL})

_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_LATEST = re.compile(
    rf"\b(latest|most recent|previous|last)\b(?!\s+(week|month|quarter|year|night|time|{_WEEKDAYS})\b)",
    re.IGNORECASE,
)


class MeetingResolver:
    def __init__(self, db: Database, names: NameIndex) -> None:
        self._db = db
        self.names = names
        self._kind_names = frozenset(names.vocabulary.meeting_kinds)

    def resolve(self, frame: Frame, lowered: str, now: datetime) -> MeetingResolution:
        """The account, person and meeting meant; meeting queries only for recaps and drafts.

        `lowered` is the normalized message ("my last call" asks for the latest meeting).
        """
        contacts = _prefer(self.names.contacts_named(frame.person), frame.account)
        contact = contacts[0] if contacts else None
        account = frame.account or (contact.account if contact is not None else None)
        if account is None:
            account = self.names.account_named(frame.person)
        kind = frame.meeting_kind if frame.meeting_kind in self._kind_names else None
        base = MeetingResolution(account=account, contact=contact, kind=kind, namesakes=tuple(contacts[1:]))
        if frame.intent not in MEETING_INTENTS:
            return base
        if frame.meeting_id is not None:
            remembered = get_meeting(self._db, frame.meeting_id)
            if remembered is not None:
                return replace(base, meeting=remembered.meeting, account=remembered.meeting.account)
        named = frame.typed("account") or frame.typed("person") or kind is not None or frame.time_range is not None
        latest = bool(_LATEST.search(lowered[:500]))
        return self._find(frame.intent, base, contact, frame.time_range, latest, bool(named), now)

    def _find(
        self,
        intent: Intent,
        base: MeetingResolution,
        contact: KnownContact | None,
        time_range: TimeRange | None,
        latest: bool,
        named: bool,
        now: datetime,
    ) -> MeetingResolution:
        start = time_range.start if time_range else None
        end = min(time_range.end, now) if time_range else now
        participant = contact.name if contact else None
        rows = find_meetings(
            self._db, account=base.account, kind=base.kind, participant=participant, start=start, end=end,
            limit=CANDIDATES + 1,
        )
        if not rows and participant:  # the contact may not be listed among the participants
            participant = None
            rows = find_meetings(self._db, account=base.account, kind=base.kind, start=start, end=end, limit=CANDIDATES + 1)
        searched = _describe(base.account, participant, base.kind, time_range.label if time_range else None)
        if not rows:  # nothing in that window: offer the closest meetings without it
            wider = find_meetings(self._db, account=base.account, kind=base.kind, end=now, limit=CANDIDATES)
            if not wider and base.kind:
                wider = find_meetings(self._db, account=base.account, end=now, limit=CANDIDATES)
            return replace(base, candidates=tuple(wider), searched=searched)
        if len(rows) == 1 or intent is Intent.DRAFT_EMAIL or latest or (named and time_range is None):
            others = () if latest or intent is Intent.DRAFT_EMAIL else tuple(rows[1:4])
            return replace(base, meeting=rows[0], candidates=others, searched=searched)
        # Several meetings fit and nothing says which: let the user choose.
        return replace(base, candidates=tuple(rows[:CANDIDATES]), searched=searched)


def _prefer(contacts: list[KnownContact], account: str | None) -> tuple[KnownContact, ...]:
    """Contacts without duplicates, those of `account` first."""
    unique = list(dict.fromkeys(contacts))
    if account is not None:
        unique.sort(key=lambda c: c.account.lower() != account.lower())
    return tuple(unique)


def _describe(account: str | None, participant: str | None, kind: str | None, when: str | None) -> str:
    words = [account or "", f"{kind} meetings" if kind else "meetings"]
    if participant:
        words.append(f"with {participant}")
    if when:
        words.append(when)
    return " ".join(w for w in words if w)
