"""Quality signals and kept exchanges on the pass's database (SQLite, or PostgreSQL with PG_TEST_URL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from knowledge.db import Database
from knowledge.quality import (
    FALLBACK,
    FEEDBACK,
    REPHRASED,
    AnswerFacts,
    Exchange,
    Signal,
    keep_exchanges,
    read_exchanges,
    read_signals,
    record_reason,
    record_signals,
)

T0 = datetime(2026, 5, 4, 10, 0, 0)
ANSWER = AnswerFacts("c-1", "product_question", "product_question", "price.cost", "skipped", 7)


def _window(db: Database) -> list[Signal]:
    return read_signals(db, T0 - timedelta(days=1), T0 + timedelta(days=1))


def test_a_second_click_by_the_same_user_replaces_the_first(database: Database) -> None:
    record_signals(database, [Signal(ANSWER, "U1", FEEDBACK, True, T0)])
    record_signals(database, [Signal(ANSWER, "U2", FEEDBACK, True, T0)])
    record_signals(database, [Signal(ANSWER, "U1", FEEDBACK, False, T0 + timedelta(seconds=5))])

    stored = {(s.user_id, s.kind): s for s in _window(database)}
    assert len(stored) == 2
    assert stored["U1", FEEDBACK].positive is False and stored["U1", FEEDBACK].created_at == T0 + timedelta(seconds=5)
    assert stored["U2", FEEDBACK].positive is True
    assert stored["U1", FEEDBACK].answer == ANSWER  # every fact of the answer comes back


def test_implicit_signals_sit_beside_the_click(database: Database) -> None:
    record_signals(database, [Signal(ANSWER, "U1", FEEDBACK, True, T0), Signal(ANSWER, "U1", REPHRASED, False, T0),
                              Signal(ANSWER, "U1", FALLBACK, False, T0)])
    assert sorted(s.kind for s in _window(database)) == [FALLBACK, FEEDBACK, REPHRASED]
    with pytest.raises(ValueError, match="unknown signal kind"):
        record_signals(database, [Signal(ANSWER, "U1", "meh", False, T0)])


def test_a_reason_goes_with_the_thumbs_down_only(database: Database) -> None:
    record_signals(database, [Signal(ANSWER, "U1", FEEDBACK, True, T0)])
    assert record_reason(database, "c-1", "U1", "wrong plan") is False  # a 👍 takes no reason
    record_signals(database, [Signal(ANSWER, "U1", FEEDBACK, False, T0)])
    assert record_reason(database, "c-1", "U1", "  quoted the\nwrong   plan ") is True
    assert _window(database)[0].reason == "quoted the wrong plan"
    record_signals(database, [Signal(ANSWER, "U1", FEEDBACK, False, T0)])  # a new click starts over
    assert _window(database)[0].reason is None


def test_signals_are_read_by_their_window(database: Database) -> None:
    record_signals(database, [Signal(AnswerFacts(f"c{n}"), "U1", FEEDBACK, True, T0 + timedelta(days=n))
                              for n in range(3)])
    assert [s.answer.correlation_id for s in read_signals(database, T0 + timedelta(days=1), T0 + timedelta(days=2))] \
        == ["c1"]


def test_exchanges_are_kept_once_and_purged_after_their_retention(database: Database) -> None:
    old = Exchange("c-old", T0 - timedelta(days=40), "help", "help", "hi", "hello", {})
    keep_exchanges(database, [old], retention_days=30)
    new = Exchange("c-new", T0, "product_question", "product_question", "pro price?", "$99", {"plan": "pro"})
    keep_exchanges(database, [new, Exchange("c-new", T0, "x", "x", "again", "again", {})], retention_days=30)
    assert read_exchanges(database, T0 - timedelta(days=100)) == [new]
