"""help, smalltalk and unknown: short replies that point to what pitcrew can do, asked through the pipeline
(each handler on a frame of its own: test_help.py, test_smalltalk.py, test_unknown.py)."""

from __future__ import annotations

import pytest

from bot.pipeline import Pipeline
from knowledge.db import Database
from knowledge.reader import read_product
from tests.support.fake_openai import FakeOpenAI
from tests.support.pipeline import answer_requests, ask


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


@pytest.mark.parametrize(
    ("text", "handler"),
    [("help", "help"), ("thanks!", "smalltalk"), ("order lunch for the team", "unknown"), ("find calls about pricing", "call_search")],
)
async def test_with_an_llm_these_answers_stay_deterministic_and_cost_no_llm_call(
    offline: Pipeline, online: Pipeline, llm_server: FakeOpenAI, text: str, handler: str
) -> None:
    with_llm = await ask(online, text)
    without = await ask(offline, text, thread="shell:other")
    assert with_llm.handler == without.handler == handler
    assert with_llm.plain == without.plain
    assert answer_requests(llm_server) == []
