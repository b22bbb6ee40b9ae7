"""help, smalltalk and unknown: short replies that point to what pitcrew can do."""

from __future__ import annotations

from bot.pipeline import Pipeline
from knowledge.db import Database
from knowledge.reader import read_product
from tests.pipeline_support import ask, demo_db, demo_template, offline  # noqa: F401  (fixtures)


async def test_help_gives_one_example_per_kind_of_question_from_the_data(offline: Pipeline, demo_db: Database) -> None:
    reply = await ask(offline, "what can you do?")
    assert reply.handler == "help"
    for title in ("Product questions", "Call search", "Meeting recaps", "Email drafts"):
        assert title in reply.plain
    plans = [p["name"] for p in read_product(demo_db, None).payload["plans"]]  # type: ignore[union-attr]
    assert any(f"the {name} plan" in reply.plain for name in plans)  # an example that works on this data


async def test_smalltalk_answers_briefly_and_in_kind(offline: Pipeline) -> None:
    thanks = await ask(offline, "thanks!")
    morning = await ask(offline, "good morning")
    assert thanks.handler == morning.handler == "smalltalk"
    assert "welcome" in thanks.plain.lower()
    assert morning.plain.startswith("Good morning")
    assert len(thanks.plain) < 200 and len(morning.plain) < 200


async def test_out_of_scope_says_so_and_suggests_questions(offline: Pipeline) -> None:
    reply = await ask(offline, "book a flight to NYC next Friday")
    assert reply.handler == "unknown"
    assert "outside what I can help with" in reply.plain
    assert "help" in reply.plain


async def test_empty_text_gets_a_prompt_not_an_error(offline: Pipeline) -> None:
    reply = await ask(offline, "   ")
    assert not reply.failed and reply.handler == "unknown"
    assert "didn't get a question" in reply.plain
