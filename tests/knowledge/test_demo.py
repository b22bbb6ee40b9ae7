"""The demo knowledge base: loads once into an empty database and makes the golden questions answerable on any day."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from knowledge.db import Database
from knowledge.demo import demo_files, ensure_demo_data, resolve_when

# Monday 2025-03-03 to Sunday 2025-03-09, each early, mid-morning and late in the day.
NOWS = [datetime(2025, 3, 3 + day, hour, minute) for day in range(7) for hour, minute in ((0, 5), (10, 0), (23, 55))]


def demo_calls(now: datetime) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Meetings (started_at parsed) and each meeting's transcript text, as the loader resolves them for `now`."""
    files = {source.kind: source for source in demo_files(now)}
    meetings = [dict(row.data, started_at=datetime.fromisoformat(row.data["started_at"]))
                for row in files["meetings"].rows]
    transcripts: dict[str, str] = {}
    for row in files["transcripts"].rows:
        transcripts[row.data["meeting"]] = transcripts.get(row.data["meeting"], "") + " " + row.data["text"]
    return meetings, transcripts


def on_day(meetings: list[dict[str, Any]], day: date, **match: str) -> list[dict[str, Any]]:
    return [m for m in meetings if m["started_at"].date() == day and all(m[k] == v for k, v in match.items())]


def last_weekday(today: date, weekday: int) -> date:
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def query(db: Database, sql: str, **params: Any) -> list[Any]:
    with db.engine.connect() as connection:
        return connection.execute(text(sql), params).all()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One demo database shared by the read-only tests of this module."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    assert ensure_demo_data(db, datetime(2025, 3, 5, 12, 0))
    yield db
    db.close()


# --- relative dates, for every weekday and time of day -------------------------------------------


@pytest.mark.parametrize("now", NOWS, ids=lambda now: now.strftime("%a-%H%M"))
def test_relative_dates_find_a_meeting_whatever_the_load_day(now: datetime) -> None:
    meetings, transcripts = demo_calls(now)
    today = now.date()

    assert all(m["started_at"] < now for m in meetings), "every demo meeting is in the past"
    # "the call with Tyler on Tuesday": the most recent Tuesday (and the one before, if today is Tuesday)
    tuesday = last_weekday(today, 1)
    for day in (tuesday, tuesday - timedelta(weeks=1)):
        assert [m for m in on_day(meetings, day) if "Tyler Nguyen" in m["participants"]], day
    # "yesterday's meeting with Globex", "today's demo" with Globex, "this morning's discovery call"
    assert on_day(meetings, today - timedelta(days=1), account="globex")
    assert on_day(meetings, today, account="globex", kind="demo")
    assert [m for m in on_day(meetings, today, kind="discovery") if m["started_at"].hour < 12]
    # "last week about the renewal with Globex": in the last 7 days and in the previous calendar week
    renewal = [m for m in meetings if m["account"] == "globex" and "renewal" in transcripts[m["external_id"]]]
    monday = today - timedelta(days=today.weekday())
    assert [m for m in renewal if today - timedelta(days=7) <= m["started_at"].date() < today]
    assert [m for m in renewal if monday - timedelta(weeks=1) <= m["started_at"].date() < monday]
    # "which calls mentioned the Salesforce integration this month"
    assert [m for m in meetings if m["started_at"].date() >= today.replace(day=1)
            and "Salesforce integration" in transcripts[m["external_id"]]]


def test_resolve_when_forms() -> None:
    now = datetime(2025, 3, 5, 12, 0)  # a Wednesday
    assert resolve_when({"days_ago": 2, "at": "09:15"}, now) == datetime(2025, 3, 3, 9, 15)
    assert resolve_when({"weekday": "tuesday", "at": "16:00"}, now) == datetime(2025, 3, 4, 16, 0)
    assert resolve_when({"weekday": "Wednesday", "at": "08:00"}, now) == datetime(2025, 3, 5, 8, 0)
    assert resolve_when({"weekday": "tuesday", "weeks_back": 1, "at": "16:00"}, now) == datetime(2025, 2, 25, 16, 0)
    assert resolve_when({"weekday": "thursday", "calendar_week": -1, "at": "14:00"}, now) == datetime(2025, 2, 27, 14)
    with pytest.raises(ValueError, match="future"):
        resolve_when({"days_ago": -1}, now)


def test_later_today_moves_into_the_elapsed_part_of_today_in_order() -> None:
    now = datetime(2025, 3, 5, 8, 0)
    morning = resolve_when({"days_ago": 0, "at": "09:30"}, now)
    afternoon = resolve_when({"days_ago": 0, "at": "16:00"}, now)
    assert datetime(2025, 3, 5) <= morning < afternoon < now
    midnight = datetime(2025, 3, 5)
    assert resolve_when({"days_ago": 0, "at": "10:00"}, midnight) < midnight


# --- loading -------------------------------------------------------------------------------------


def test_loads_once_into_an_empty_database_with_snapshots(demo: Database) -> None:
    counts = {table: query(demo, f"SELECT count(*) FROM {table}")[0][0]
              for table in ("product", "account", "meeting", "transcriptsegment", "productsnapshot")}
    assert counts["product"] >= 6 and counts["account"] >= 8 and counts["meeting"] >= 40
    assert counts["productsnapshot"] == counts["product"]
    assert not ensure_demo_data(demo)  # already has data
    assert query(demo, "SELECT count(*) FROM meeting")[0][0] == counts["meeting"]


def test_stored_times_are_the_resolved_naive_utc_times(demo: Database) -> None:
    meetings, _ = demo_calls(datetime(2025, 3, 5, 12, 0))
    expected = {m["external_id"]: m["started_at"] for m in meetings}
    stored = {external_id: datetime.fromisoformat(started)
              for external_id, started in query(demo, "SELECT external_id, started_at FROM meeting")}
    assert stored == expected


def test_not_loaded_into_a_database_that_has_data(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO account (slug, name, industry, segment, owner) "
                                "VALUES ('mine', 'Mine', '', '', '')"))
    assert not ensure_demo_data(database)
    assert query(database, "SELECT count(*) FROM product")[0][0] == 0


def test_concurrent_first_use_loads_the_demo_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Database(url).close()  # schema first, so both threads race only on the data
    barrier, results = threading.Barrier(2), []

    def first_use() -> None:
        db = Database(url)
        barrier.wait()
        results.append(ensure_demo_data(db))
        db.close()

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db = Database(url)
    assert sorted(results) == [False, True]
    assert query(db, "SELECT count(*) FROM product")[0][0] == 6
    db.close()


# --- the facts the golden questions need ---------------------------------------------------------


def test_primary_product_answers_the_golden_product_questions(demo: Database) -> None:
    [(primary_id, primary)] = query(demo, "SELECT id, slug FROM product WHERE is_primary")
    plans = query(demo, "SELECT name, price_cents, per_seat, slug FROM plan WHERE product_id=:p ORDER BY position",
                  p=primary_id)
    assert [name for name, *_ in plans] == ["Starter", "Team", "Growth", "Pro", "Enterprise"]
    assert all(price and per_seat for _, price, per_seat, _ in plans)  # per-seat prices, Enterprise included

    def plans_with(feature: str) -> set[str]:
        rows = query(demo, "SELECT pl.slug FROM planfeature pf JOIN plan pl ON pl.id = pf.plan_id "
                           "JOIN feature f ON f.id = pf.feature_id WHERE f.product_id=:p AND f.slug=:f",
                     p=primary_id, f=feature)
        return {slug for (slug,) in rows}

    all_plans = {slug for *_, slug in plans}
    assert plans_with("sso") and plans_with("sso") < all_plans
    assert plans_with("audit-logs") and plans_with("audit-logs") < all_plans  # "which plan includes audit logs"
    assert "growth" in plans_with("csv-export")
    assert "starter" not in plans_with("audit-logs")

    def limit(plan: str, name: str) -> list[Any]:
        return query(demo, "SELECT value FROM planlimit l JOIN plan pl ON pl.id = l.plan_id "
                           "WHERE pl.product_id=:p AND pl.slug=:plan AND l.name=:name", p=primary_id, plan=plan,
                     name=name)

    assert all(limit(plan, "API rate limit") for plan in all_plans)
    assert "99.95%" in limit("enterprise", "Uptime SLA")[0][0]
    assert query(demo, "SELECT 1 FROM complianceitem WHERE product_id=:p AND name='Encryption at rest'", p=primary_id)
    assert query(demo, "SELECT 1 FROM complianceitem WHERE product_id=:p AND name LIKE 'SOC 2%'", p=primary_id)
    assert query(demo, "SELECT 1 FROM faq WHERE product_id=:p AND question LIKE '%free trial%'", p=primary_id)
    assert query(demo, "SELECT 1 FROM integration WHERE product_id=:p AND slug='salesforce'", p=primary_id)
    assert query(demo, "SELECT 1 FROM addon WHERE product_id=:p AND name LIKE '%Analytics%'", p=primary_id)
    assert primary == "orbit"  # the README's Quick start shows this snapshot


def test_basic_and_pro_resolve_to_one_other_product(demo: Database) -> None:
    basic = query(demo, "SELECT p.slug, p.is_primary FROM plan pl JOIN product p ON p.id = pl.product_id "
                        "WHERE pl.slug = 'basic'")
    assert len(basic) == 1 and not basic[0][1]
    plans = {slug for (slug,) in query(demo, "SELECT pl.slug FROM plan pl JOIN product p ON p.id = pl.product_id "
                                             "WHERE p.slug = :s", s=basic[0][0])}
    assert {"basic", "pro", "enterprise"} <= plans


def test_accounts_and_contacts_of_the_golden_questions_exist(demo: Database) -> None:
    with_calls = {name for (name,) in query(demo, "SELECT DISTINCT a.name FROM meeting m "
                                                  "JOIN account a ON a.id = m.account_id")}
    for account in ("Acme", "Globex", "Initech", "Umbrella", "Hooli"):
        assert any(name.startswith(account) for name in with_calls), account
    names = {name.split()[0] for (name,) in query(demo, "SELECT name FROM contact")}
    assert {"Tyler", "Sarah", "Priya"} <= names
    assert query(demo, "SELECT 1 FROM contact c JOIN account a ON a.id = c.account_id "
                       "WHERE c.email = 'jane@acme.com' AND a.slug = 'acme'")
    kinds = set(query(demo, "SELECT a.slug, m.kind FROM meeting m JOIN account a ON a.id = m.account_id"))
    assert ("initech", "demo") in kinds and ("hooli", "kickoff") in kinds
    [(decisions,)] = query(demo, "SELECT m.decisions FROM meeting m JOIN account a ON a.id = m.account_id "
                                 "WHERE a.slug = 'umbrella' ORDER BY m.started_at DESC LIMIT 1")
    assert decisions != "[]"


def test_every_call_is_a_real_multi_speaker_conversation(demo: Database) -> None:
    rows = query(demo, "SELECT m.external_id, m.summary, m.action_items, count(s.id), count(DISTINCT s.speaker), "
                       "min(s.seq), max(s.seq) FROM meeting m JOIN transcriptsegment s ON s.meeting_id = m.id "
                       "GROUP BY m.id")
    assert len(rows) >= 40
    for external_id, summary, action_items, segments, speakers, first, last in rows:
        assert 8 <= segments <= 20 and speakers >= 2, external_id
        assert (first, last) == (1, segments), external_id
        assert summary and action_items != "[]", external_id


@pytest.mark.parametrize("topic", ["pricing", "SOC 2", "data residency", "budget", "discount", "competitor pricing",
                                   "Salesforce integration", "onboarding", "renewal", "security questions", "SSO"])
def test_transcripts_cover_the_golden_search_topics(demo: Database, topic: str) -> None:
    hits = query(demo, "SELECT count(DISTINCT s.meeting_id) FROM transcript_fts f "
                       "JOIN transcriptsegment s ON s.id = f.rowid WHERE transcript_fts MATCH :q", q=f'"{topic}"')
    assert hits[0][0] >= 1
