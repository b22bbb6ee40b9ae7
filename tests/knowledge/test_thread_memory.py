"""Thread memory: follow-ups inherit context; threads are bounded and expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from knowledge.db import Database
from knowledge.thread_memory import ThreadMemory, TurnContext, recall, remember

NOW = datetime(2026, 3, 10, 15, 0, 0)
TTL = 86_400


def _count(db: Database, thread_key: str | None = None) -> int:
    sql = "SELECT count(*) FROM threadturn" + (" WHERE thread_key = :k" if thread_key else "")
    with db.engine.connect() as conn:
        return conn.execute(text(sql), {"k": thread_key}).scalar_one()


def test_a_new_thread_has_empty_memory(database: Database) -> None:
    assert recall(database, "slack:C1:1.0", now=NOW, ttl_s=TTL) == ThreadMemory()


def test_the_latest_turn_is_recalled_with_its_intent(database: Database) -> None:
    remember(database, "t", "product_question", TurnContext(product="orbit", plan="Pro"), now=NOW, ttl_s=TTL, max_turns=5)
    remember(
        database, "t", "call_search", TurnContext(product="orbit", plan="Pro", account="Globex"),
        now=NOW + timedelta(seconds=5), ttl_s=TTL, max_turns=5,
    )
    memory = recall(database, "t", now=NOW + timedelta(seconds=10), ttl_s=TTL)
    assert memory.last_intent == "call_search"
    assert memory.context == TurnContext(product="orbit", plan="Pro", account="Globex")
    assert memory.turns == 2


def test_threads_do_not_see_each_other(database: Database) -> None:
    remember(database, "a", "product_question", TurnContext(plan="Team"), now=NOW, ttl_s=TTL, max_turns=5)
    assert recall(database, "b", now=NOW, ttl_s=TTL).context.is_empty()


def test_a_thread_keeps_at_most_max_turns(database: Database) -> None:
    for i in range(7):
        remember(database, "t", "smalltalk", TurnContext(meeting_id=i), now=NOW + timedelta(seconds=i), ttl_s=TTL, max_turns=3)
    assert _count(database, "t") == 3
    assert recall(database, "t", now=NOW + timedelta(seconds=10), ttl_s=TTL).context.meeting_id == 6


def test_turns_expire_after_the_ttl_and_are_deleted(database: Database) -> None:
    remember(database, "old", "product_question", TurnContext(product="orbit"), now=NOW, ttl_s=TTL, max_turns=5)
    later = NOW + timedelta(seconds=TTL + 1)
    assert recall(database, "old", now=later, ttl_s=TTL) == ThreadMemory()
    remember(database, "new", "help", TurnContext(), now=later, ttl_s=TTL, max_turns=5)
    assert _count(database, "old") == 0  # storing any turn prunes expired ones


def test_follow_up_inherits_what_it_does_not_name() -> None:
    before = TurnContext(product="orbit", plan="Pro", account="Acme", meeting_id=7, person="Tyler Brooks")
    assert before.follow(TurnContext(plan="Enterprise")) == TurnContext(
        product="orbit", plan="Enterprise", account="Acme", meeting_id=7, person="Tyler Brooks"
    )


def test_naming_another_product_drops_the_inherited_plan() -> None:
    before = TurnContext(product="orbit", plan="Pro")
    assert before.follow(TurnContext(product="beacon")) == TurnContext(product="beacon")


def test_naming_another_account_drops_its_meeting_and_person() -> None:
    before = TurnContext(product="orbit", account="Acme", meeting_id=7, person="Tyler Brooks")
    assert before.follow(TurnContext(account="Globex")) == TurnContext(product="orbit", account="Globex")


def test_context_json_round_trips_and_tolerates_garbage() -> None:
    context = TurnContext(product="orbit", plan="Pro", account="Acme", meeting_id=3, person="Jane", aspect="price")
    assert TurnContext.from_json(context.to_json()) == context
    assert TurnContext.from_json("not json") == TurnContext()
    assert TurnContext.from_json('["a"]') == TurnContext()
    assert TurnContext.from_json('{"meeting_id": "7", "plan": 5}') == TurnContext()


def test_with_the_stored_count_a_thread_is_still_bounded_and_expired_turns_go(database: Database) -> None:
    remember(database, "old", "help", TurnContext(), now=NOW, ttl_s=TTL, max_turns=3)
    later = NOW + timedelta(seconds=TTL + 1)
    for i in range(6):
        stored = recall(database, "t", now=later, ttl_s=TTL).turns
        remember(database, "t", "help", TurnContext(meeting_id=i), now=later, ttl_s=TTL, max_turns=3, stored_turns=stored)
    assert _count(database, "t") == 3
    assert _count(database, "old") == 0  # deleted when thread "t" started
