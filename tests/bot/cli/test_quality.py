"""`pitcrew quality` and `pitcrew export exchanges` on signals made the way reps make them: through `pitcrew shell`
(/good, /bad, a rephrased question, a fallback), on the demo data."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.main import app
from bot.observability import reset_logging
from bot.settings import load_settings
from knowledge.db import Database
from knowledge.quality import FEEDBACK, AnswerFacts, Signal, record_signals

SESSION = "\n".join([
    "What does the Pro plan cost?", "/good",
    "what does the Enterprise plan cost?", "/good",  # alike, but another plan: a follow-up, not a rephrasing
    "find calls about pricing",  # no click ...
    "find calls about pricing please",  # ... but asked again at once: the first answer did not help
    "zxqv blorp wug", "/bad it did not understand",  # the fallback, and a 👎 on it
]) + "\n"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    reset_logging()


def quality(*args: str) -> dict:
    result = CliRunner().invoke(app, ["quality", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def expected_score(positive: int, n: int) -> float:
    """The README's definition, written out again: 100 * (positive + 3) / (n + 4)."""
    return round(100 * (positive + 3) / (n + 4), 1)


def wilson(positive: int, n: int) -> list[float]:
    z = 1.959964
    p = positive / n
    centre, spread = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [round(100 * max(0.0, (centre - spread) / (1 + z * z / n)), 1),
            round(100 * min(1.0, (centre + spread) / (1 + z * z / n)), 1)]


@pytest.mark.database
def test_quality_scores_clicks_rephrasings_and_fallbacks_and_compares_periods() -> None:
    shell = CliRunner().invoke(app, ["shell"], input=SESSION)
    assert shell.exit_code == 0, shell.output
    assert shell.stdout.count("recorded for") == 3
    db = Database(load_settings().database_url)
    try:  # last week, all four answers were liked
        earlier = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=10)
        record_signals(db, [Signal(AnswerFacts(f"old-{n}", "product_question", "product_question", "p", "skipped"),
                                   "U1", FEEDBACK, True, earlier) for n in range(4)])
    finally:
        db.close()

    report = quality("--days", "7")
    groups = {group["name"]: group for group in report["groups"]}
    assert {name: (g["n"], g["positive"]) for name, g in groups.items()} == {
        "product_question": (2, 2), "call_search": (1, 0), "unknown": (1, 0)}
    assert groups["product_question"]["score"] == expected_score(2, 2) == 83.3
    assert groups["call_search"]["score"] == groups["unknown"]["score"] == expected_score(0, 1) == 60.0
    overall = report["overall"]
    assert (overall["n"], overall["score"], overall["interval_95"]) == (4, expected_score(2, 4), wilson(2, 4))
    assert overall["previous"] == {"score": expected_score(4, 4), "n": 4}
    assert overall["trend"] == round(expected_score(2, 4) - expected_score(4, 4), 1) and report["alert"] is True
    assert report["signals"] == {"fallback": 1, "feedback": 3, "rephrased": 1}
    # The worst handlers name answers to trace: the call search that was asked again, the fallback.
    worst = {row["name"]: row for row in report["worst_handlers"]}
    assert set(worst) == {"call_search", "unknown"} and all(len(row["examples"]) == 1 for row in worst.values())
    assert report["worst_patterns"] and all(row["examples"] for row in report["worst_patterns"])

    by_llm = quality("--by", "llm")
    assert [(g["name"], g["n"]) for g in by_llm["groups"]] == [("skipped", 4)]
    result = CliRunner().invoke(app, ["quality", "--by", "mood"])
    assert result.exit_code == 2 and "--by must be one of" in result.stderr


SLACK_IDS = ("U0ALICE123", "W0GRID4567", "C0SALES999")


@pytest.mark.database
def test_export_replaces_every_contact_email_and_slack_id(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUALITY_KEEP_EXCHANGES", "on")
    db = Database(load_settings().database_url)  # the demo data, to know what must not survive
    db.close()
    session = "\n".join([
        "draft a follow-up email to Priya Raman at Globex", "/good",
        f"who is <@{SLACK_IDS[0]}|alice> talking to at acme? cc <@{SLACK_IDS[1]}> in <#{SLACK_IDS[2]}|sales>", "/good",
        "recap my last call with Globex", "/good",
        "email dana.lee@example.com or call +1 (415) 555-0100 about what Pro costs", "/bad wrong, ask priya",
        "What does the Pro plan cost?",  # unrated: left out unless --min-score any
    ]) + "\n"
    shell = CliRunner().invoke(app, ["shell"], input=session)
    assert shell.exit_code == 0, shell.output
    out = tmp_path / "good.jsonl"
    result = CliRunner().invoke(app, ["export", "exchanges", "--since", "2020-01-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    good = [json.loads(line) for line in out.read_text().splitlines()]
    negative = [json.loads(line) for line in (tmp_path / "good.negative.jsonl").read_text().splitlines()]
    assert len(good) == 3 and len(negative) == 1 and all(r["outcome"] == "positive" for r in good)
    assert negative[0]["reasons"] == ["wrong, ask <CONTACT_1>"]  # Priya, as in the first exchange
    assert "<CONTACT_1>" in good[0]["question"] and "<ACCOUNT_" in good[0]["question"]
    assert "<SLACK_USER_1>" in good[1]["question"] and "<SLACK_CHANNEL_1>" in good[1]["question"]
    assert "<EMAIL_" in negative[0]["question"] and "<PHONE_1>" in negative[0]["question"]

    db = Database(load_settings().database_url)
    with db.engine.connect() as conn:
        contacts = conn.execute(text("SELECT name, email FROM contact")).all()
        accounts = [row[0] for row in conn.execute(text("SELECT name FROM account"))]
    db.close()
    exported = (out.read_text() + (tmp_path / "good.negative.jsonl").read_text()).lower()
    assert "priya" in session.lower()  # the fixtures did mention people
    for name, email in contacts:
        assert name.lower() not in exported and (not email or email.lower() not in exported)
    for account in accounts:
        assert account.lower() not in exported
    for slack_id in SLACK_IDS:
        assert slack_id.lower() not in exported
    assert "dana.lee@example.com" not in exported and "555-0100" not in exported

    everything = CliRunner().invoke(app, ["export", "exchanges", "--since", "2020-01-01", "--out", str(out),
                                          "--min-score", "any"])
    assert everything.exit_code == 0 and len(out.read_text().splitlines()) == 4


@pytest.mark.database
def test_export_says_how_to_keep_exchanges_when_none_are(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "exchanges", "--since", "2020-01-01", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1 and "QUALITY_KEEP_EXCHANGES=on" in result.stderr
    assert not (tmp_path / "x.jsonl").exists()
    bad = CliRunner().invoke(app, ["export", "exchanges", "--since", "last week", "--out", str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 2 and "--since must look like" in bad.stderr
