"""The pipeline end to end: stages and facts in the log, follow-ups, failures as replies, any input."""

from __future__ import annotations

import asyncio
import re

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.observability import SUMMARY_FAILED, SUMMARY_OK
from bot.pipeline import IncomingMessage, Pipeline, Reply
from bot.settings import Settings
from control_plane import Intent
from handlers.context import HandlerContext, HandlerResult
from handlers.registry import default_registry
from knowledge.db import Database
from knowledge.reader import read_product
from knowledge.snapshot_prompt import format_price
from tests.support.pipeline import ask, day_file_records, make_pipeline

STAGES = ["meeting_resolution", "control_plane", "handler"]
CORRELATION_ID = re.compile(r"^[0-9a-f]{8}$")


def price_of(db: Database, plan: str) -> str:
    view = read_product(db, None)
    assert view is not None
    entry = next(p for p in view.payload["plans"] if p["name"] == plan)
    return format_price(entry["price_cents"], entry["currency"], entry["billing_period"], entry["per_seat"])


async def test_a_reply_carries_its_metadata_and_the_log_its_summary(
    offline: Pipeline, logging_to_files: Settings
) -> None:
    reply = await ask(offline, "What does the Pro plan cost?")
    assert reply.intent == "product_question" and reply.handler == "product_question"
    assert 0 < reply.confidence <= 1 and reply.llm_validation in {"skipped", "unavailable"}
    assert list(reply.stages) == STAGES and reply.total_ms >= sum(reply.stages.values()) * 0.99
    assert CORRELATION_ID.match(reply.correlation_id)
    (summary,) = [r for r in day_file_records(logging_to_files) if r.get("correlation_id") == reply.correlation_id
                  and r["message"] == SUMMARY_OK]
    assert list(summary["stages"]) == STAGES
    assert summary["intent"] == "product_question" and summary["handler"] == "product_question"
    assert summary["snapshot_path"] == "fast" and summary["source"] == "shell" and summary["user"] == "tester"
    assert summary["llm_calls"] == 0


async def test_a_handler_exception_becomes_a_reply_quoting_the_correlation_id(
    settings: Settings, demo_db: Database, logging_to_files: Settings
) -> None:
    async def broken(ctx: HandlerContext) -> HandlerResult:
        raise RuntimeError("the knowledge base is on fire")

    registry = default_registry().replacing(Intent.HELP, broken)
    pipeline = make_pipeline(settings, demo_db, None, registry=registry)
    reply = await ask(pipeline, "help")
    assert reply.failed and reply.handler == "help"
    assert reply.correlation_id in reply.plain and f"`{reply.correlation_id}`" in reply.mrkdwn
    assert "went wrong" in reply.plain and "fire" not in reply.plain  # no internals shown to the user
    (failure,) = [r for r in day_file_records(logging_to_files) if r["message"] == SUMMARY_FAILED]
    assert failure["correlation_id"] == reply.correlation_id and failure["level"] == "ERROR"
    assert failure["handler"] == "help" and "fire" in failure["error"]
    # The pipeline keeps serving.
    assert not (await ask(pipeline, "What does the Pro plan cost?")).failed


async def test_a_follow_up_inherits_the_product_and_names_another_plan(offline: Pipeline, demo_db: Database) -> None:
    first = await ask(offline, "What does the Pro plan cost?", thread="shell:one")
    follow = await ask(offline, "and what about Enterprise?", thread="shell:one")
    assert price_of(demo_db, "Pro") in first.plain
    assert follow.handler == "product_question"
    assert "Enterprise" in follow.plain and price_of(demo_db, "Enterprise") in follow.plain
    assert "Limits" not in follow.plain  # the same question (the price) about another plan, not a dump
    compare = await ask(offline, "compare it with Pro", thread="shell:one")
    assert "```" in compare.mrkdwn and "Enterprise" in compare.plain and "Pro" in compare.plain


async def test_a_follow_up_to_a_comparison_compares_the_plan_it_names(offline: Pipeline, demo_db: Database) -> None:
    await ask(offline, "compare the Team and Enterprise plans", thread="shell:compare")
    follow = await ask(offline, "and what about Growth?", thread="shell:compare")
    assert follow.handler == "product_question"
    header = follow.plain.splitlines()[0]
    # The plan discussed against the one named, not the whole tier list.
    assert "Team" in header and "Growth" in header
    assert "Starter" not in header and "Pro" not in header
    assert price_of(demo_db, "Team") in follow.plain and price_of(demo_db, "Growth") in follow.plain


async def test_a_follow_up_naming_a_plan_asks_the_previous_question_of_it(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, None)
    assert view is not None
    sso = next(f for f in view.payload["features"] if "single sign-on" in f["name"].lower())
    slugs = {p["name"]: p["slug"] for p in view.payload["plans"]}
    await ask(offline, "does the Team plan include SSO?", thread="shell:two")
    for plan in ("Enterprise", "Starter"):
        reply = await ask(offline, f"and {plan}?", thread="shell:two")
        assert reply.handler == "product_question"
        assert reply.plain.startswith("Yes" if slugs[plan] in sso["plans"] else "No"), reply.plain
        assert plan in reply.plain.splitlines()[0]


async def test_threads_do_not_share_memory(offline: Pipeline) -> None:
    await ask(offline, "look up calls with Initech about onboarding", thread="shell:a")
    elsewhere = await ask(offline, "and what about pricing?", thread="shell:b")
    assert "Initech" not in elsewhere.plain.splitlines()[0]


async def test_thread_memory_broken_still_answers(offline: Pipeline, demo_db: Database) -> None:
    with demo_db.engine.begin() as connection:
        connection.execute(text("DROP TABLE threadturn"))
    reply = await ask(offline, "What does the Pro plan cost?")
    assert not reply.failed and price_of(demo_db, "Pro") in reply.plain


async def test_user_text_in_replies_is_escaped(offline: Pipeline) -> None:
    reply = await ask(offline, 'search calls for "a<b> & <!channel>"')
    assert "<" not in reply.mrkdwn and ">" not in reply.mrkdwn  # no mention, link or markup gets through
    assert "&amp;" in reply.mrkdwn


async def test_a_message_of_forty_thousand_characters_gets_a_reply(offline: Pipeline) -> None:
    reply = await ask(offline, "find calls about pricing " + "x" * 40_000)
    assert not reply.failed
    assert len(reply.mrkdwn) <= 12 * 3000 + 100


_WORDS = [
    "pricing", "Acme", "Globex", "Pro", "Enterprise", "plan", "calls", "summarize", "draft", "email", "to",
    "Tyler", "yesterday", "last week", "compare", "and", "what about", "it", '"', "*", "NEAR(", "AND", ")",
    "'", "--", "<@U123>", "&", "<", ">", "\x00", "\u202e", "💥", ":tada:", "SELECT * FROM meeting", "\n",
]


@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=400), st.lists(st.sampled_from(_WORDS), max_size=14).map(" ".join)))
def test_any_text_gets_a_reply_never_an_exception(settings: Settings, demo_db: Database, message: str) -> None:
    pipeline = make_pipeline(settings, demo_db, None)
    reply = asyncio.run(ask(pipeline, message, thread="shell:fuzz"))
    assert not reply.failed, (message, reply.plain)
    assert reply.plain.strip() and reply.mrkdwn.strip()
    assert CORRELATION_ID.match(reply.correlation_id)
    assert list(reply.stages) == STAGES



async def test_small_talk_does_not_break_a_conversation(offline: Pipeline, demo_db: Database) -> None:
    await ask(offline, "What does the Pro plan cost?", thread="shell:three")
    await ask(offline, "thanks!", thread="shell:three")
    follow = await ask(offline, "and what about Enterprise?", thread="shell:three")
    assert follow.handler == "product_question" and price_of(demo_db, "Enterprise") in follow.plain


async def test_closing_the_pipeline_settles_shadow_validations_before_the_gateway_closes(demo_db: Database) -> None:
    """Shadow validations run after the reply; shutdown must not leave them running on a closed gateway."""
    from dataclasses import replace

    from bot.llm import LLMGateway
    from bot.settings import load_settings
    from tests.support.fake_openai import FakeOpenAI, Reply, intent_validation_reply
    from tests.support.pipeline import make_pipeline

    def slow_validations(body: dict) -> Reply:
        """The shadow validation takes longer than the answer, so it is still running when the reply is out."""
        if (body.get("response_format") or {}).get("type") == "json_schema":
            return replace(intent_validation_reply(body), delay_s=0.8)
        return Reply("unused")

    async with FakeOpenAI(responder=slow_validations, latency_s=0.2) as server:
        settings = load_settings(**server.settings_overrides(), control_plane_shadow_rate=1.0)
        llm = LLMGateway.from_settings(settings, demo_db)
        try:
            pipeline = make_pipeline(settings, demo_db, llm)
            reply = await ask(pipeline, "What does the Pro plan cost?", thread="shell:shadow")
            assert reply.llm_validation == "skipped"
            assert pipeline.control_plane.shadow_pending == 1  # the reply did not wait for it
            await pipeline.aclose()
            assert pipeline.control_plane.shadow_pending == 0
            validations = [r for r in server.requests if (r.get("response_format") or {}).get("type") == "json_schema"]
            assert len(validations) == 1  # it reached the provider before the pipeline let go
        finally:
            await llm.aclose()


async def test_the_reply_is_delivered_before_the_turn_is_stored_and_the_summary_logged(
    offline: Pipeline, demo_db: Database, logging_to_files: Settings
) -> None:
    seen_at_delivery: dict[str, object] = {}

    async def deliver(reply: Reply) -> None:
        with demo_db.engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM threadturn WHERE thread_key = 'slack:C1:1.0'"))
            seen_at_delivery["stored_turns"] = stored.scalar_one()
        seen_at_delivery["summaries"] = [r for r in day_file_records(logging_to_files)
                                         if r.get("correlation_id") == reply.correlation_id and r["message"] == SUMMARY_OK]
        seen_at_delivery["text"] = reply.plain
        await asyncio.sleep(0.02)  # a slow Slack: the summary's delivery_ms shows it

    message = IncomingMessage(text="What does the Pro plan cost?", thread_key="slack:C1:1.0", source="slack")
    reply = await offline.handle(message, deliver=deliver)
    assert seen_at_delivery == {"stored_turns": 0, "summaries": [], "text": reply.plain}
    with demo_db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM threadturn WHERE thread_key = 'slack:C1:1.0'")).scalar_one() == 1
    (summary,) = [r for r in day_file_records(logging_to_files) if r.get("correlation_id") == reply.correlation_id
                  and r["message"] == SUMMARY_OK]
    assert summary["delivery_ms"] >= 20.0 and summary["total_time_ms"] >= summary["delivery_ms"]
    assert list(summary["stages"]) == STAGES


async def test_a_failure_reply_is_delivered_too(settings: Settings, demo_db: Database) -> None:
    async def broken(ctx: HandlerContext) -> HandlerResult:
        raise RuntimeError("the knowledge base is on fire")

    pipeline = make_pipeline(settings, demo_db, None, registry=default_registry().replacing(Intent.HELP, broken))
    delivered: list[Reply] = []

    async def deliver(reply: Reply) -> None:
        delivered.append(reply)

    reply = await pipeline.handle(IncomingMessage(text="help", thread_key="slack:C1:2.0"), deliver=deliver)
    assert delivered == [reply] and reply.failed


async def test_a_message_that_starts_a_thread_does_not_look_up_thread_memory(offline: Pipeline) -> None:
    await ask(offline, "What does the Pro plan cost?", thread="slack:C1:3.0")
    follow_up = "and Enterprise?"
    in_thread = await offline.handle(IncomingMessage(text=follow_up, thread_key="slack:C1:3.0"))
    assert in_thread.intent == "product_question" and "Enterprise" in in_thread.plain
    # The same key, said to start its thread (a top-level message), is answered without that memory.
    fresh = await offline.handle(IncomingMessage(text=follow_up, thread_key="slack:C1:3.0", new_thread=True))
    assert fresh.plain != in_thread.plain


async def test_a_failed_delivery_is_the_callers_and_the_summary_says_so(
    offline: Pipeline, demo_db: Database, logging_to_files: Settings
) -> None:
    async def deliver(reply: Reply) -> None:
        raise ConnectionError("Slack is unreachable")

    message = IncomingMessage(text="What does the Pro plan cost?", thread_key="slack:C1:4.0", source="slack")
    try:
        await offline.handle(message, deliver=deliver)
    except ConnectionError:
        pass
    else:
        raise AssertionError("the delivery's failure was swallowed")
    (failure,) = [r for r in day_file_records(logging_to_files) if r["message"] == SUMMARY_FAILED]
    assert "Slack is unreachable" in failure["error"] and failure["intent"] == "product_question"
    assert not [r for r in day_file_records(logging_to_files) if r["message"] == "request bookkeeping failed"]


async def test_a_reply_that_could_not_be_delivered_fails_the_request_and_is_not_remembered(
    offline: Pipeline, demo_db: Database, logging_to_files: Settings
) -> None:
    async def deliver(reply: Reply) -> bool:
        return False  # Slack never took it

    message = IncomingMessage(text="What does the Pro plan cost?", thread_key="slack:C1:5.0", source="slack")
    reply = await offline.handle(message, deliver=deliver)
    assert not reply.failed  # the answer itself was fine
    (summary,) = [r for r in day_file_records(logging_to_files) if r.get("correlation_id") == reply.correlation_id
                  and r["message"] in (SUMMARY_OK, SUMMARY_FAILED)]
    assert summary["message"] == SUMMARY_FAILED and summary["delivery"] == "failed"
    assert summary["intent"] == "product_question" and summary["delivery_ms"] >= 0
    with demo_db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM threadturn WHERE thread_key = 'slack:C1:5.0'")).scalar_one() == 0
