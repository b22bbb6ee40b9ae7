"""Time expressions ("last week", "Tuesday", "Q3") -> concrete naive-UTC ranges relative to `now`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from control_plane.intents import TimeRange

RECENT_DAYS = 30  # "recent calls": the last 30 days, today included

# "the past two weeks": counts written as words.
COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2, "couple": 2, "few": 3}  # longer first: tried in order
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_TIME_EXPRESSION = re.compile(
    r"\b(?:"
    r"(?P<today>today|today's|tonight|this (?:morning|afternoon|evening))"
    r"|(?P<yesterday>yesterday|yesterday's|last night)"
    r"|(?P<rolling>(?:last|past|previous) (?P<count>\d{1,3}|" + "|".join(COUNT_WORDS) + r") "
    r"(?P<unit>days?|dys|w(?:ee|e|ea|ek)ks?|wks?|months?|mon?ths?|mnths?))"
    r"|(?P<relative>(?P<which>this|last|past|previous) (?P<period>week|month|quarter|year)(?:'s)?)"
    r"|(?P<recent>recent|recently|lately|latest)"
    r"|(?P<weekday>(?:last |this past |on )?(?P<day>" + "|".join(WEEKDAYS) + r")(?:'s)?)"
    r"|(?P<quarter>q(?P<q>[1-4])(?: ?(?:of )?'?(?P<year>(?:19|20)?\d{2}))?)"
    r")\b"
)


_TIME_EXPRESSION_ANY_CASE = re.compile(_TIME_EXPRESSION.pattern, re.IGNORECASE)


def without_time_expressions(text: str) -> str:
    """`text` with its time expressions ("the past two weks", "last Tuesday") blanked: they are no topic."""
    return _TIME_EXPRESSION_ANY_CASE.sub(" ", text) if _HINT.search(text.lower()) else text


# Every time expression contains one of these (a plain alternation of literals: re skips through text fast).
_HINT = re.compile("day|dys|week|wek|weak|wks|month|mnth|quarter|year|recent|late|night|morning|afternoon|evening|q[1-4]")


def naive_utc(moment: datetime) -> datetime:
    """`moment` in UTC without tzinfo (a naive datetime is taken to be UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


# "what r they using today", "what plan are they on today": "today" as "these days", in a question about the
# present with no meeting named
_NOWADAYS = re.compile(r"^(?!.*\b(?:call|calls|meeting|meetings|demo|sync|session|recap|summary)\b).*\b(?:are|is|r)\b"
                       r"[^.?!\n]{0,40}\b(?:using|on|running|paying|have|doing|at)\b[^.?!\n]{0,20}\btoday\b")


def parse_time_range(lowered: str, now: datetime) -> TimeRange | None:
    """The first time expression in lower-case text as a half-open [start, end) range, or None."""
    if _HINT.search(lowered) is None:  # most messages name no time: skip the big regex
        return None
    match = _TIME_EXPRESSION.search(lowered)
    if match is None:
        return None
    now = naive_utc(now)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    if match.group("today"):
        if _NOWADAYS.search(lowered[:500]):
            return None  # "what are they using today": these days, not the meetings of today
        return TimeRange(today, tomorrow, "today")
    if match.group("yesterday"):
        return TimeRange(today - timedelta(days=1), today, "yesterday")
    if match.group("rolling"):
        count = match.group("count")
        unit = {"d": "day", "w": "week", "m": "month"}[match.group("unit")[0]]  # "weks", "mnths": typed in haste
        return _rolling(int(count) if count.isdigit() else COUNT_WORDS[count], unit, today, tomorrow)
    if match.group("relative"):
        return _relative(match.group("which"), match.group("period"), today)
    if match.group("recent"):
        return TimeRange(today - timedelta(days=RECENT_DAYS - 1), tomorrow, "recent")
    if match.group("weekday"):
        day = WEEKDAYS.index(match.group("day"))
        # The most recent such day, today included (the demo data places "Tuesday's call" the same way).
        back = (today.weekday() - day) % 7
        start = today - timedelta(days=back)
        return TimeRange(start, start + timedelta(days=1), match.group("day").capitalize())
    return _quarter(int(match.group("q")), match.group("year"), today)


def _rolling(count: int, unit: str, today: datetime, tomorrow: datetime) -> TimeRange | None:
    if count < 1:
        return None
    days = count * {"d": 1, "w": 7, "m": 30}[unit[0]]
    plural = unit if unit.endswith("s") or count == 1 else unit + "s"
    return TimeRange(today - timedelta(days=days - 1), tomorrow, f"last {count} {plural}")


def _relative(which: str, period: str, today: datetime) -> TimeRange:
    previous = which != "this"
    label = f"{'last' if previous else 'this'} {period}"
    if period == "week":
        start = today - timedelta(days=today.weekday())
        if previous:
            start -= timedelta(days=7)
        return TimeRange(start, start + timedelta(days=7), label)
    if period == "month":
        start = today.replace(day=1)
        if previous:
            start = (start - timedelta(days=1)).replace(day=1)
        return TimeRange(start, _add_months(start, 1), label)
    if period == "quarter":
        start = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
        if previous:
            start = _add_months(start, -3)
        return TimeRange(start, _add_months(start, 3), label)
    start = today.replace(month=1, day=1)
    if previous:
        start = start.replace(year=start.year - 1)
    return TimeRange(start, start.replace(year=start.year + 1), label)


def _quarter(number: int, year_text: str | None, today: datetime) -> TimeRange:
    if year_text:
        year = int(year_text)
        year = year + 2000 if year < 100 else year
        label = f"Q{number} {year}"
    else:
        # A bare quarter means the latest one that has started: in February, "Q3" is last year's.
        year = today.year if 3 * (number - 1) + 1 <= today.month else today.year - 1
        label = f"Q{number}"
    start = datetime(year, 3 * (number - 1) + 1, 1)
    return TimeRange(start, _add_months(start, 3), label)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)
