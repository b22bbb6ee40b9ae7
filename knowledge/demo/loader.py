"""Load the demo knowledge base into an empty database, with meeting dates relative to the load time.

The files under `data/` are in the public import format except one thing: a demo meeting carries
`when` instead of an absolute `started_at`, so "yesterday's meeting with Globex" or "the call with
Tyler on Tuesday" find a meeting whatever day the demo is loaded. `when` is one of

    {"days_ago": 1, "at": "15:00"}                          # N days before today, at a UTC time
    {"weekday": "tuesday", "weeks_back": 0, "at": "16:00"}  # the most recent Tuesday (today counts), minus N weeks
    {"weekday": "thursday", "calendar_week": -1, "at": "14:00"}  # that weekday of the previous Monday-Sunday week

Every resolved time is in the past: a time later today than the load time is moved into the part of
today that has already passed, keeping today's meetings in the order of their `at`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import as_file, files
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from knowledge.db import Database
from knowledge.models import Account, Product

if TYPE_CHECKING:  # the import machinery loads only when the demo is loaded, not at every start
    from knowledge.import_files import SourceFile

log = logging.getLogger(__name__)

DEMO_DATA = files("knowledge.demo") / "data"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def ensure_demo_data(db: Database, now: datetime | None = None) -> bool:
    """Load the demo into an empty database (no products and no accounts); returns whether it loaded.

    The emptiness check runs inside the import's write transaction, so two processes starting on the
    same fresh database load the demo once.
    """
    with db.engine.connect() as connection:
        if not is_empty(connection):
            return False
    from knowledge.importer import import_files

    report = import_files(db, demo_files(now), source="demo knowledge base", precondition=is_empty)
    loaded = bool(report.kinds)
    if loaded:
        log.info("demo knowledge base loaded", extra={"products": len(report.changed_products),
                                                      "load_s": round(report.seconds, 3)})
    return loaded


def is_empty(connection: Connection) -> bool:
    """No products and no accounts: a database the demo may fill."""
    return all(connection.execute(select(model.id).limit(1)).first() is None for model in (Product, Account))


def demo_files(now: datetime | None = None) -> list[SourceFile]:
    """The demo files, read and with every meeting's `when` turned into `started_at` relative to `now`."""
    from knowledge.import_files import read_folder

    now = _naive_utc(now or datetime.now(UTC))
    with as_file(DEMO_DATA) as folder:
        sources = read_folder(folder)
    return [_with_absolute_times(source, now) if source.kind == "meetings" else source for source in sources]


def _with_absolute_times(source: SourceFile, now: datetime) -> SourceFile:
    from knowledge.import_files import SourceFile, SourceRow

    rows = []
    for row in source.rows:
        data = dict(row.data)
        data["started_at"] = resolve_when(data.pop("when"), now).isoformat()
        rows.append(SourceRow(row.where, data))
    return SourceFile(source.kind, source.name, tuple(rows))


def resolve_when(when: dict[str, Any], now: datetime) -> datetime:
    """An absolute naive-UTC time for a relative `when`, always before `now` (see the module docstring)."""
    at = time.fromisoformat(when.get("at", "15:00"))
    today = now.date()
    if "days_ago" in when:
        day = today - timedelta(days=int(when["days_ago"]))
    else:
        weekday = WEEKDAYS.index(when["weekday"].lower())
        if "calendar_week" in when:
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=int(when["calendar_week"]))
            day = monday + timedelta(days=weekday)
        else:
            day = _last_weekday(today, weekday) - timedelta(weeks=int(when.get("weeks_back", 0)))
    if day > today:
        raise ValueError(f"demo meeting time {when} is in the future")
    moment = datetime.combine(day, at)
    if moment >= now:
        # Later today than the load time: squeeze into the elapsed part of today, in the same order.
        midnight = datetime.combine(today, time())
        fraction = (at.hour * 3600 + at.minute * 60 + at.second) / 86_400
        moment = midnight + (now - midnight) * fraction
    moment = moment.replace(microsecond=0)
    return moment if moment < now else now - timedelta(seconds=1)


def _last_weekday(today: date, weekday: int) -> date:
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
