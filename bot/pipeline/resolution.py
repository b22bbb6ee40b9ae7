"""Meeting resolution: which account, person and meeting a message refers to.

It runs in two steps, both timed as the `meeting_resolution` stage. Before classification,
`mentions()` finds the accounts, contacts and meeting kinds the text names (in memory, from the
vocabulary the control plane uses too). Once the intent is known, `resolve()` turns them, the
classifier's entities (time range) and the thread's memory into a meeting with a few indexed
queries, for recaps and drafts only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from control_plane.intents import Entities, Intent, TimeRange
from control_plane.normalize import MAX_INPUT_CHARS
from knowledge.db import Database
from knowledge.meetings import MeetingResolution, find_meetings, get_meeting
from knowledge.thread_memory import TurnContext
from knowledge.vocabulary import KnownContact, Vocabulary

CANDIDATES = 5
# Names are looked for in the opening the control plane keeps of a message (MAX_INPUT_CHARS): each phrase
# pattern costs ~0.1 µs a character, 25 ms for all of them on a 40,000-character message.
MENTION_SCAN_CHARS = MAX_INPUT_CHARS
MEETING_INTENTS = frozenset({Intent.MEETING_SUMMARY, Intent.DRAFT_EMAIL})

_KIND_ALIASES = {
    "qbr": ("qbr", "quarterly business review", "business review", "quarterly review"),
    "kickoff": ("kickoff", "kick-off", "kick off"),
    "check-in": ("check-in", "check in", "checkin"),
    "demo": ("demo", "demos", "demonstration"),
    "negotiation": ("negotiation", "negotiations"),
}
# Words for any meeting, not a kind of meeting (a demo loaded with kind "call" must not make
# "my last call with Acme" look for meetings of kind "call" only).
_GENERIC_KINDS = frozenset({"", "call", "calls", "meeting", "meetings", "conversation"})
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_LATEST = re.compile(
    rf"\b(latest|most recent|previous|last)\b(?!\s+(week|month|quarter|year|night|time|{_WEEKDAYS})\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Mentions:
    """What the message text names, before classification."""

    account: str | None = None  # the account's name
    contacts: tuple[KnownContact, ...] = ()  # every contact answering to the name used, best first
    kind: str | None = None
    latest: bool = False  # "my last call", "the latest demo"


def _phrase_pattern(phrases: Iterable[str], flags: int = re.IGNORECASE) -> re.Pattern[str] | None:
    ordered = sorted({p for p in phrases if p}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"(?<![\w@.-])(" + "|".join(re.escape(p) for p in ordered) + r")(?![\w@-])", flags)


class MeetingResolver:
    def __init__(self, db: Database, vocabulary: Vocabulary) -> None:
        self._db = db
        self._accounts = vocabulary.account_aliases()  # lower-case alias -> account name
        self._account_pattern = _phrase_pattern(self._accounts)
        self._contacts_by_name: dict[str, list[KnownContact]] = {}
        self._contacts_by_first: dict[str, list[KnownContact]] = {}
        first_names: set[str] = set()
        for contact in vocabulary.contacts:
            for key in {contact.name.lower(), contact.email.lower()} - {""}:
                self._contacts_by_name.setdefault(key, []).append(contact)
            first = (contact.name.split() or [""])[0]
            if len(first) >= 2:
                self._contacts_by_first.setdefault(first.lower(), []).append(contact)
                first_names.add(first)
        self._contact_pattern = _phrase_pattern(self._contacts_by_name)
        # A first name alone must be written capitalised ("Will", "May" and "Mark" are also words).
        self._first_pattern = _phrase_pattern(first_names, flags=0)
        self._kind_names = frozenset(vocabulary.meeting_kinds) - _GENERIC_KINDS
        self._kinds: dict[str, str] = {}
        for kind in self._kind_names:
            for alias in _KIND_ALIASES.get(kind.lower(), (kind.lower(), kind.lower().replace("-", " "))):
                self._kinds[alias] = kind
        self._kind_pattern = _phrase_pattern(self._kinds)

    # --- before classification ------------------------------------------------------------------

    def mentions(self, text: str) -> Mentions:
        """Accounts, contacts and meeting kinds named in the opening of `text` (no database access)."""
        text = text[:MENTION_SCAN_CHARS]
        account = None
        if self._account_pattern is not None:
            match = self._account_pattern.search(text)
            if match:
                account = self._accounts[match.group(1).lower()]
        contacts: list[KnownContact] = []
        if self._contact_pattern is not None:
            for match in self._contact_pattern.finditer(text):
                contacts.extend(self._contacts_by_name[match.group(1).lower()])
        if not contacts and self._first_pattern is not None:
            for match in self._first_pattern.finditer(text):
                contacts.extend(self._contacts_by_first[match.group(1).lower()])
        kind = None
        if self._kind_pattern is not None:
            match = self._kind_pattern.search(text)
            if match:
                kind = self._kinds[match.group(1).lower()]
        return Mentions(
            account=account, contacts=_prefer(contacts, account), kind=kind, latest=bool(_LATEST.search(text))
        )

    # --- once the intent is known ---------------------------------------------------------------

    def account_named(self, name: str | None) -> str | None:
        """The account a name (or an email address, by its domain) refers to."""
        if not name:
            return None
        account = self._accounts.get(name.strip().lower())
        if account is None and "@" in name:
            domain = name.rsplit("@", 1)[1].split(".")[0].lower()
            account = self._accounts.get(domain)
        return account

    def contacts_named(self, name: str | None) -> list[KnownContact]:
        if not name or not name.strip():
            return []
        key = name.strip().lower()
        return list(self._contacts_by_name.get(key) or self._contacts_by_first.get(key.split()[0], []))

    def resolve(
        self,
        intent: Intent,
        mentions: Mentions,
        entities: Entities,
        memory: TurnContext,
        now: datetime,
        *,
        follow_up: bool = False,
    ) -> MeetingResolution:
        """The account, person and meeting meant; meeting queries only for recaps and drafts.

        A message naming no account, person, kind or time inherits the conversation's account and person
        when it is a recap or a draft ("draft an email about it") or a follow-up of the previous turn.
        """
        account = mentions.account or self.account_named(entities.account) or self.account_named(entities.person)
        contacts = _prefer(list(mentions.contacts) or self.contacts_named(entities.person), account)
        contact = contacts[0] if contacts else None
        if account is None and contact is not None:
            account = contact.account
        kind = mentions.kind or (entities.meeting_kind if entities.meeting_kind in self._kind_names else None)
        time_range = entities.time_range
        named = account is not None or contact is not None or kind is not None or time_range is not None
        if not named and (intent in MEETING_INTENTS or follow_up):
            account = memory.account
            inherited = self.contacts_named(memory.person)
            contact = inherited[0] if inherited else None
        base = MeetingResolution(account=account, contact=contact, kind=kind, namesakes=tuple(contacts[1:]))
        if intent not in MEETING_INTENTS:
            return base

        if memory.meeting_id is not None and (not named or _continues(memory, account, kind, time_range)):
            remembered = get_meeting(self._db, memory.meeting_id)
            if remembered is not None:
                return replace(base, meeting=remembered.meeting, account=remembered.meeting.account)
        return self._find(intent, base, contact, time_range, mentions.latest, named, now)

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


def _continues(memory: TurnContext, account: str | None, kind: str | None, time_range: TimeRange | None) -> bool:
    """A message naming only the account (or a person of it) the conversation is about keeps its
    meeting: "draft an email to Tyler about it" right after the recap of a call with Tyler."""
    if kind is not None or time_range is not None or memory.account is None:
        return False
    return account is None or account.lower() == memory.account.lower()


def _describe(account: str | None, participant: str | None, kind: str | None, when: str | None) -> str:
    words = [account or "", f"{kind} meetings" if kind else "meetings"]
    if participant:
        words.append(f"with {participant}")
    if when:
        words.append(when)
    return " ".join(w for w in words if w)
