"""Meeting resolution: which account, person and meeting a message's frame refers to.

Timed as the `meeting_resolution` stage. The frame (see `control_plane.thread`) already says which
account, person, kind of meeting and time the message names or the thread supplies; this turns them
into a meeting with a few indexed queries, for recaps and drafts only.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from control_plane.frame import Frame
from control_plane.intents import Intent, TimeRange
from control_plane.meeting_questions import WHERE_THINGS_STAND
from control_plane.names import NameIndex
from control_plane.thread import readdresses_the_draft
from knowledge.db import Database
from knowledge.meetings import KIND_WORDS, MeetingDetail, MeetingResolution, find_meetings, get_meeting
from knowledge.search import search_calls
from knowledge.vocabulary import KnownContact

CANDIDATES = 5
_TASK_SEARCH_LIMIT = 5  # meetings read for one given the recipient as a task about the topic
TITLE_CANDIDATES = 30  # recent meetings whose titles a message naming one is compared with
MEETING_INTENTS = frozenset({Intent.MEETING_SUMMARY, Intent.DRAFT_EMAIL})

_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_WEEKDAY_NAMES = frozenset(_WEEKDAYS.split("|"))
_A_WEEK = timedelta(days=7)
_LATEST = re.compile(rf"\b(latest|most recent|previous|last)\b(?!\s+(week|month|quarter|year|night|time|{_WEEKDAYS})\b)",
                     re.IGNORECASE)
# Where things stand now ("are they live yet", "where are they at"): the latest meeting says, whatever its kind
_STATUS = re.compile(
    r"\b(?:live yet|live now|gone live|signed yet|closed yet|where (?:are|is|r) (?:they|we|things|it) at|where do (?:we|things) stand|"
    # "whats the status there", "current state of the deal", "get up to speed", "any news"
    r"status|any (?:news|updates?)|(?:the|their) deal (?:so far|now|currently)|" + WHERE_THINGS_STAND + r")\b",
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
        if frame.intent is Intent.DRAFT_EMAIL and account is None and contact is None and frame.meeting_id is None:
            return base  # a draft to someone unknown is grounded in nobody else's meeting
        drafting_about = frame.intent is Intent.DRAFT_EMAIL and frame.topic and account and kind is None \
            and frame.time_range is None and not (frame.source("topic") == "thread" and frame.meeting_id is not None)
        if drafting_about and contact is not None:
            # "a note to omar about the training schedule": the meeting that gave him that, whatever the titles say
            tasked = self._tasked_about(account, frame.topic, contact.name, now + timedelta(seconds=1))
            if tasked is not None:
                return replace(base, meeting=tasked.meeting, account=tasked.meeting.account)
        first = _FIRST.search(lowered[:500]) if frame.intent is Intent.MEETING_SUMMARY else None
        if first is not None and (account or contact is not None):
            # "recap my first call with jane at acme": the earliest meeting with them, not the latest
            who = contact.name if contact is not None else None
            rows = find_meetings(self._db, account=account, kind=kind, participant=who, end=now, limit=1, earliest=True)
            rows = rows or find_meetings(self._db, account=account, kind=kind, end=now, limit=1, earliest=True)
            if rows:
                return replace(base, meeting=rows[0], account=rows[0].account)
        # A thread's meeting is kept unless the message names another by its title ("the sso one").
        # ("wheres hooli at w/ onboarding": how things stand, the latest meeting, not the one titled "onboarding")
        by_title = (frame.meeting_id is None or _NAMES_A_MEETING.search(lowered[:500])) and not (
            _STANDING.search(lowered[:500]) and frame.time_range is None)
        titled = self._by_title(base, frame, lowered, now) if by_title else None
        if titled is not None:
            return titled
        # (a revision keeps the draft's meeting: its topic comes from the thread, with the meeting it found)
        if drafting_about:
            # "email grace re the rows that failed import": the account's meeting about that, not merely the latest
            topical = self._by_topic(base, account, frame.topic, now, contact.name if contact is not None else None)
            if topical is not None:
                return topical
        if frame.meeting_id is not None:
            remembered = get_meeting(self._db, frame.meeting_id)
            if (remembered is not None and frame.intent is Intent.DRAFT_EMAIL and contact is not None and frame.typed("person")
                    and frame.sources.get("meeting_id") == "thread" and contact.name not in remembered.meeting.participants
                    and not readdresses_the_draft(lowered)):  # ("send it to henrik instead": the same draft, to him)
                remembered = None  # "draft elena a f/u" after a call she was not on: her own latest meeting
            if remembered is not None:
                meeting = remembered.meeting
                if _BEFORE_THAT.search(lowered[:500]):  # "and the one before that?": the account's previous meeting
                    earlier = find_meetings(self._db, account=meeting.account, end=meeting.started_at, limit=1)
                    meeting = earlier[0] if earlier else meeting
                elif _IN_THE_END.search(lowered[:500]) or _THE_LAST_ONE.search(lowered[:500]):
                    # "did they end up signing?", "and the last call w them?": the account's latest meeting
                    latest_rows = find_meetings(self._db, account=meeting.account, end=now, limit=1)
                    meeting = latest_rows[0] if latest_rows and latest_rows[0].started_at > meeting.started_at else meeting
                return replace(base, meeting=meeting, account=meeting.account)
        named = (frame.typed("account") or frame.typed("person") or frame.typed("colleague") or kind is not None
                 or frame.time_range is not None)
        status = bool(_STATUS.search(lowered[:500]))
        latest = status or bool(_LATEST.search(lowered[:500]))
        time_range = frame.time_range
        if time_range is not None and time_range.label == "recent" and (frame.typed("account") or frame.typed("person")):
            # "whats the latest on globex from the qbr", "whats been happening w hooli lately": the latest such
            # meeting, however long ago, not only the last 30 days'
            time_range, latest = None, True
        # "recap mayas last call": the meetings one of our own people was on, when no customer is named
        participant = contact.name if contact is not None else frame.colleague
        return self._find(frame.intent, base, participant, time_range, latest, bool(named), now, status=status)

    def _by_title(self, base: MeetingResolution, frame: Frame, lowered: str, now: datetime) -> MeetingResolution | None:
        """The meeting whose title the message names ("the contract review", "the security one"), when
        exactly one of the account's recent meetings fits best; None when the words name no title."""
        words = self._title_words(lowered, frame)
        if not words:
            return None
        time_range = frame.time_range
        rows = find_meetings(
            self._db, account=base.account, start=time_range.start if time_range else None,
            end=min(time_range.end, now) if time_range else now, limit=TITLE_CANDIDATES,
        )
        if frame.meeting_id is not None and all(m.id != frame.meeting_id for m in rows):
            remembered = get_meeting(self._db, frame.meeting_id)  # the thread's, however old
            if remembered is not None:
                rows.append(remembered.meeting)
        # Equally good titles: the thread's meeting first ("the security one" after a search that found
        # it), then the most recent.
        scored = sorted(((_overlap(words, f"{m.title} {m.kind} {KIND_WORDS.get(m.kind, '')}"), index, m)
                         for index, m in enumerate(rows)),
                        key=lambda item: (-item[0], item[2].id != frame.meeting_id, item[1]))
        if not scored or scored[0][0] == 0:
            return None
        others = tuple(m for score, _, m in scored[1:4] if score > 0)
        return replace(base, meeting=scored[0][2], candidates=others, account=scored[0][2].account, by_title=True)

    def _by_topic(self, base: MeetingResolution, account: str, topic: str, now: datetime,
                  recipient: str | None = None) -> MeetingResolution | None:
        """The account's meeting about `topic`: one the draft's recipient was in, if any ("a note to alan about the
        baa": the security review he joined, not the pricing call that also mentions it)."""
        end = now + timedelta(seconds=1)
        hits = search_calls(self._db, topic=topic, account=account, end=end, limit=1, participant=recipient) if recipient else []
        hits = hits or search_calls(self._db, topic=topic, account=account, end=end, limit=1)
        detail = get_meeting(self._db, hits[0].meeting_id) if hits else None
        if detail is None:
            return None
        return replace(base, meeting=detail.meeting, account=detail.meeting.account)

    def _tasked_about(self, account: str, topic: str, recipient: str, end: datetime) -> MeetingDetail | None:
        """Among the few meetings best about `topic`, one the recipient was not on whose decisions or action items give
        them that very thing ("Luis to create the Okta app"): "a note to luis re the okta app". (Meetings they were on
        are found by the search for the topic among their own.)"""
        phrase = topic.lower().strip()
        first = recipient.split()[0].lower()
        for hit in search_calls(self._db, topic=topic, account=account, end=end, limit=_TASK_SEARCH_LIMIT):
            detail = get_meeting(self._db, hit.meeting_id)
            if detail is not None and recipient not in detail.meeting.participants and any(
                    phrase in line.lower() and first in line.lower()
                                          for line in (*detail.decisions, *detail.action_items)):
                return detail
        return None

    def _title_words(self, lowered: str, frame: Frame) -> set[str]:
        """The words of the message that may name a meeting's title: not the request, the account, the
        person, the time or words every meeting has."""
        names = {word for value in (frame.account, frame.person) if value for word in _WORDS.findall(value.lower())}
        if frame.account:
            names |= {word for alias in self.names.account_aliases if self.names.account_aliases[alias] == frame.account
                      for word in _WORDS.findall(alias)}
        stems = {_stem(word) for word in _WORDS.findall(lowered[:500]) if word not in _NOT_TITLE_WORDS and len(word) > 2}
        return stems - {_stem(name) for name in names}  # "hooli's" names the account, not a title

    def _find(
        self,
        intent: Intent,
        base: MeetingResolution,
        participant: str | None,
        time_range: TimeRange | None,
        latest: bool,
        named: bool,
        now: datetime,
        *,
        status: bool = False,
    ) -> MeetingResolution:
        start = time_range.start if time_range else None
        end = min(time_range.end, now) if time_range else now
        rows = find_meetings(
            self._db, account=base.account, kind=base.kind, participant=participant, start=start, end=end,
            limit=CANDIDATES + 1,
        )
        if not rows and participant:  # the contact may not be listed among the participants
            participant = None
            rows = find_meetings(self._db, account=base.account, kind=base.kind, start=start, end=end, limit=CANDIDATES + 1)
        if not rows and start is not None and time_range is not None and time_range.label.lower() in _WEEKDAY_NAMES:
            # "last friday's vandelay call" when there was none yesterday (a Friday): the Friday before
            rows = find_meetings(self._db, account=base.account, kind=base.kind, participant=participant,
                                 start=start - _A_WEEK, end=end - _A_WEEK, limit=CANDIDATES + 1)
        searched = _describe(base.account, participant, base.kind, time_range.label if time_range else None)
        if not rows:  # nothing in that window: offer the closest meetings without it
            wider = find_meetings(self._db, account=base.account, kind=base.kind, end=now, limit=CANDIDATES)
            if not wider and base.kind:
                wider = find_meetings(self._db, account=base.account, end=now, limit=CANDIDATES)
                if wider and status and time_range is None:
                    # "the state of the deal before their kickoff": where things stand is the latest meeting's
                    return replace(base, meeting=wider[0], searched=searched)
            return replace(base, candidates=tuple(wider), searched=searched)
        if len(rows) == 1 or intent is Intent.DRAFT_EMAIL or latest or (named and time_range is None):
            others = () if latest or intent is Intent.DRAFT_EMAIL else tuple(rows[1:4])
            return replace(base, meeting=rows[0], candidates=others, searched=searched)
        # Several meetings fit and nothing says which: let the user choose.
        return replace(base, candidates=tuple(rows[:CANDIDATES]), searched=searched)


_WORDS = re.compile(r"[a-z0-9][a-z0-9'-]*")
# "my first call with jane", "the initial demo", "our very first meeting": the earliest one
_FIRST = re.compile(r"\b(?:first|earliest|initial|original|1st)\s+(?:ever\s+)?(?:[a-z-]+\s+)?(?:call|meeting|convo|conversation|"
                    r"demo|sync|chat|touchpoint|one)\b")
# A meeting named relative to the thread's: the one before it, or how things ended up since.
_BEFORE_THAT = re.compile(
    r"\b(?:one|call|meeting|session|check-?in|demo|sync) (?:before (?:that|it|this)|the (?:week|day|time) before)\b"
    r"|\b(?:the )?(?:one|call|meeting) before\W*$"
    r"|\b(?:previous|prior|earlier) (?:one|call|meeting|check-?in|demo|sync)\b"
)
# "wheres hooli at with onboarding", "how's the rollout going", "is initech live yet": how things stand now
_STANDING = re.compile(r"\bwhere(?:'s| is| are| r)\b[^.?!\n]{0,40}\bat\b|\bhow(?:'s| is| are)\b[^.?!\n]{0,40}\bgoing\b|"
                       r"\b(?:live|done|signed|closed|finished) yet\b|\bstatus\b|\bwhere (?:are|r|do) we\b")
# "and the last call w them", "their latest meeting": the account's most recent, whichever the thread was on
_THE_LAST_ONE = re.compile(r"\b(?:the|their|our) (?:last|latest|most recent) (?:call|meeting|one|convo|conversation|sync)\b")
_IN_THE_END = re.compile(r"\b(?:end(?:ed)? up|in the end|eventually|finally|ever (?:sign|close|buy|renew)\w*|since then|"
                         r"where did (?:they|we|it|things) land|landed|w(?:ou|i)nd up)\b")
# "the sso one", "that pricing call", "the contract review": a meeting referred to by what it was about.
_NAMES_A_MEETING = re.compile(
    r"\b(?:the|that|our|this) (?:[\w-]+ ){1,4}(?:one|call|meeting|demo|review|session|sync|kick-?off|qbr|"
    r"walkthrough|check-?in|discussion|negotiation)\b"
)
# Words of a recap or draft request that name no particular meeting.
_NOT_TITLE_WORDS = frozenset(
    """the a an and or of for with to from in on at about by my our their his her your its it it's this that that's these those
    what's whats who's how's there's let's
    one ones recap recaps summarize summarise summary sum up tldr brief debrief notes minutes takeaways highlights
    key points action items next steps decisions outcome outcomes what was were is are did do does we they i you
    happened happen say said discuss discussed agreed decide decided call calls meeting meetings chat convo
    conversation session sync last latest most recent previous yesterday today yesterday's today's week month
    quarter year ago draft write email e-mail follow-up followup up note reply send please pls can could would
    me us them who how go went there any all get give show tell whats what's where when which again more
    monday tuesday wednesday thursday friday saturday sunday morning afternoon evening so far then ok okay and""".split()
)


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _overlap(words: set[str], title: str) -> int:
    return len(words & {_stem(word) for word in _WORDS.findall(title.lower())})


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
