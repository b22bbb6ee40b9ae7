"""Acceptance: every message of the shared golden set gets a useful `pitcrew ask` reply with no LLM.

Runs when `../shared/golden/intents.jsonl` exists next to the project (skipped otherwise). Each
reply is judged by what a sales rep asked for: product answers name real plans (and prices when
asked), call searches list demo calls, recaps and drafts name the right account or person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.main import app
from bot.observability import reset_logging
from bot.settings import Settings
from knowledge.db import Database
from tests.support.paths import REPO_ROOT

GOLDEN = REPO_ROOT.parent / "shared" / "golden" / "intents.jsonl"
PRICE_WORDS = re.compile(r"\b(cost|much|price|pricing|per seat)\b", re.IGNORECASE)
PRICE = re.compile(r"[$€£]\d|contact sales|\bfree\b", re.IGNORECASE)

pytestmark = pytest.mark.skipif(not GOLDEN.exists(), reason=f"{GOLDEN} not found")


def _golden() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines() if line.strip()]


def _names(db: Database, sql: str) -> list[str]:
    with db.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(sql))]


def _mentions_any(reply: str, names: list[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", reply) for name in names)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    reset_logging()  # `pitcrew ask` configures logging for the process


def test_every_golden_message_gets_a_useful_reply_without_an_llm(settings: Settings) -> None:
    runner = CliRunner()
    replies: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for row in _golden():
        result = runner.invoke(app, ["ask", row["text"], "--json"])
        assert result.exit_code == 0, (row["text"], result.output)
        replies.append((row, json.loads(result.stdout)))

    db = Database(settings.database_url)  # the demo knowledge base `pitcrew ask` loaded
    plans = _names(db, "SELECT DISTINCT name FROM plan")
    facts = plans + _names(db, "SELECT name FROM feature UNION SELECT name FROM integration UNION "
                               "SELECT name FROM complianceitem UNION SELECT name FROM addon")
    titles = _names(db, "SELECT title FROM meeting")
    accounts = {name.split()[0].lower(): name for name in _names(db, "SELECT name FROM account")}
    db.close()

    problems = []
    for row, reply in replies:
        answer, intent, wanted = reply["text"], row["intent"], row.get("entities", {})
        useful = not reply["failed"] and bool(answer.strip())
        if intent == "product_question":
            useful &= _mentions_any(answer, plans) or _mentions_any(answer, facts)
            useful &= "don't know" not in answer
            if PRICE_WORDS.search(row["text"]):
                useful &= bool(PRICE.search(answer)) and _mentions_any(answer, plans)
        elif intent == "call_search":
            useful &= _mentions_any(answer, titles)
            if "account" in wanted:
                useful &= wanted["account"] in answer
        elif intent == "meeting_summary":
            useful &= _mentions_any(answer, titles) and "Which meeting" not in answer
            if "account" in wanted:
                useful &= accounts[wanted["account"].lower()] in answer
        elif intent == "draft_email":
            useful &= "Subject:" in answer and _mentions_any(answer, titles)
            person = wanted.get("person")
            useful &= (person.lower() in answer.lower()) if person else ("Globex" in answer)
        elif intent == "help":
            useful &= all(kind in answer for kind in ("Product questions", "Call search", "Meeting recaps"))
        elif intent == "smalltalk":
            useful &= len(answer) < 200
        elif intent == "unknown":
            useful &= "outside what I can help with" in answer
        if not useful:
            problems.append(f"{row['text']!r} ({intent}, answered as {reply['intent']}): {answer[:300]!r}")
    assert not problems, "\n".join(problems)
