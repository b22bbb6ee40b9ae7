"""product_question: deterministic answers from the snapshot, and LLM answers through the gateway, asked through the
pipeline (the handler on frames of its own: test_product_question.py)."""

from __future__ import annotations

import pytest

from bot.pipeline import Pipeline
from knowledge.db import Database
from knowledge.reader import read_product
from knowledge.snapshot_prompt import format_price
from knowledge.snapshot_schema import PlanEntry
from tests.support.fake_openai import Fail, FakeOpenAI
from tests.support.pipeline import LLM_ANSWER, RecordingSink, answer_requests, ask, message_text


def plan(db: Database, product: str | None, name: str) -> PlanEntry:
    view = read_product(db, product)
    assert view is not None
    return next(p for p in view.payload["plans"] if p["name"].lower() == name.lower())


def price(entry: PlanEntry) -> str:
    return format_price(entry["price_cents"], entry["currency"], entry["billing_period"], entry["per_seat"])


async def test_the_price_of_the_plan_asked_about(offline: Pipeline, demo_db: Database) -> None:
    pro = plan(demo_db, None, "Pro")
    reply = await ask(offline, "What does the Pro plan cost?")
    assert reply.handler == "product_question" and not reply.failed
    assert price(pro) in reply.plain and "Pro" in reply.plain
    others = [p for p in read_product(demo_db, None).payload["plans"] if p["name"] != "Pro"]  # type: ignore[union-attr]
    assert not any(price(p) in reply.plain for p in others if price(p) != price(pro))  # an answer, not a dump
    assert "*Pro*" in reply.mrkdwn


async def test_whether_a_feature_is_in_a_plan_and_which_plans_have_it(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, "Growth")
    assert view is not None
    csv = next(f for f in view.payload["features"] if "csv export" in f["name"].lower())
    growth = plan(demo_db, view.slug, "Growth")
    reply = await ask(offline, "can the Growth plan export to CSV")
    expected = "Yes" if growth["slug"] in csv["plans"] else "No"
    assert reply.plain.startswith(expected)
    assert csv["name"] in reply.plain


async def test_a_feature_question_names_the_plans_that_include_it(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, None)
    assert view is not None
    audit = next(f for f in view.payload["features"] if "audit log" in f["name"].lower())
    names = {p["slug"]: p["name"] for p in view.payload["plans"]}
    reply = await ask(offline, "which plan includes audit logs")
    for slug in audit["plans"]:
        assert names[slug] in reply.plain
    for slug in set(names) - set(audit["plans"]):
        assert f"{names[slug]} " not in reply.plain.split("\n")[0]


async def test_two_plans_are_compared_in_a_short_table(offline: Pipeline, demo_db: Database) -> None:
    team, enterprise = plan(demo_db, None, "Team"), plan(demo_db, None, "Enterprise")
    reply = await ask(offline, "compare the Team and Enterprise plans")
    assert "```" in reply.mrkdwn
    header = next(line for line in reply.plain.splitlines() if "Team" in line and "Enterprise" in line)
    assert header.index("Team") < header.index("Enterprise")
    price_row = next(line for line in reply.plain.splitlines() if line.startswith("Price"))
    assert price(team) in price_row and price(enterprise) in price_row


async def test_a_limit_of_the_plan_asked_about(offline: Pipeline, demo_db: Database) -> None:
    starter = plan(demo_db, None, "Starter")
    limit_name = next(name for name in starter["limits"] if "api" in name.lower())
    reply = await ask(offline, "what are the API rate limits on the starter plan")
    assert starter["limits"][limit_name] in reply.plain and "Starter" in reply.plain


async def test_faq_and_compliance_answers(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, None)
    assert view is not None
    trial = next(f for f in view.payload["faqs"] if "trial" in f["question"].lower())
    reply = await ask(offline, "do we offer a free trial")
    assert trial["answer"][:40] in reply.plain
    encryption = next(c for c in view.payload["compliance"] if "rest" in c["name"].lower())
    reply = await ask(offline, "is customer data encrypted at rest?")
    assert encryption["name"] in reply.plain and encryption["status"] in reply.plain


async def test_an_add_on_with_its_price(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, None)
    assert view is not None
    addon = next(a for a in view.payload["addons"] if "analytics" in a["name"].lower())
    reply = await ask(offline, "tell me about the analytics add-on")
    assert addon["name"] in reply.plain
    assert format_price(addon["price_cents"], addon["currency"], addon["billing_period"], addon["per_seat"]) in reply.plain


async def test_a_plan_of_another_product_answers_about_that_product(offline: Pipeline, demo_db: Database) -> None:
    basic = read_product(demo_db, "Basic")
    assert basic is not None and basic.matched_by == "plan"
    reply = await ask(offline, "what's the difference between Basic and Pro")
    assert basic.name in reply.plain
    assert price(plan(demo_db, basic.slug, "Basic")) in reply.plain


async def test_plans_typed_in_lower_case_where_a_plan_is_asked_about(offline: Pipeline, demo_db: Database) -> None:
    """Slack users write "how much is basic": a plan name in a plan's place counts without a capital."""
    basic = read_product(demo_db, "Basic")
    assert basic is not None
    reply = await ask(offline, "how much is basic")
    assert basic.name in reply.plain and price(plan(demo_db, basic.slug, "Basic")) in reply.plain
    view = read_product(demo_db, None)
    assert view is not None
    audit = next(f for f in view.payload["features"] if "audit log" in f["name"].lower())
    growth = plan(demo_db, view.slug, "Growth")
    reply = await ask(offline, "does growth include audit logs")
    assert reply.plain.startswith("Yes" if growth["slug"] in audit["plans"] else "No")
    assert "Growth" in reply.plain.splitlines()[0]


async def test_an_everyday_plan_name_before_a_price_word_is_the_plan(offline: Pipeline, demo_db: Database) -> None:
    """"whats growth run per seat": a lower-case plan name that is an everyday word, asked what it costs."""
    growth = plan(demo_db, None, "Growth")
    reply = await ask(offline, "whats growth run per seat")
    assert price(growth) in reply.plain
    assert not any(price(p) in reply.plain for p in read_product(demo_db, None).payload["plans"]  # type: ignore[union-attr]
                   if p["name"] != "Growth" and price(p) != price(growth))


async def test_what_the_catalog_does_not_mention_is_said_not_answered_around(offline: Pipeline, demo_db: Database) -> None:
    reply = await ask(offline, "does orbit support zoho")
    assert reply.plain.startswith("I don't see anything about zoho for Orbit")
    reply = await ask(offline, "can orbit replace Gong", thread="shell:gong")  # an English word, capitalised: a name
    assert reply.plain.startswith("I don't see anything about Gong for Orbit")
    reply = await ask(offline, "lol ok what about orbit", thread="shell:chat")  # chat words are not names
    assert "I don't see" not in reply.plain
    reply = await ask(offline, "tell me about orbit", thread="shell:overview")
    assert "I don't see" not in reply.plain  # an overview asked for names nothing unknown


async def test_a_new_question_naming_the_threads_product_does_not_take_its_topic(offline: Pipeline, demo_db: Database) -> None:
    """After a seats quote, "does orbit replace vanta" names only the product, yet asks something of its own."""
    await ask(offline, "what do 15 growth seats cost annually", thread="shell:vanta")
    reply = await ask(offline, "does orbit replace vanta", thread="shell:vanta")
    assert "15 ×" not in reply.plain and "Seats" not in reply.plain.splitlines()[0]
    assert "vanta" in reply.plain.lower()


async def test_initials_of_a_feature_name_it(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, None)
    assert view is not None
    feature = next(f for f in view.payload["features"] if f["name"].lower() == "conversation intelligence")
    reply = await ask(offline, "which plans is CI on")
    assert feature["name"] in reply.plain
    assert all(plan(demo_db, view.slug, p["name"])["name"] in reply.plain for p in view.payload["plans"]
               if p["slug"] in feature["plans"])


async def test_a_seat_count_under_the_plans_minimum_is_refused_and_priced_at_it(offline: Pipeline, demo_db: Database) -> None:
    enterprise = plan(demo_db, None, "Enterprise")
    reply = await ask(offline, "can i sell enterprise for 10 seats?")
    assert reply.plain.startswith("No: Enterprise has a 25-seat minimum")
    assert f"25 × ${enterprise['price_cents'] // 100}" in reply.plain and "10 ×" not in reply.plain


async def test_a_bare_period_after_a_price_gives_the_per_seat_figures(offline: Pipeline, demo_db: Database) -> None:
    pro = plan(demo_db, "beacon", "Pro")
    await ask(offline, "beacon pro price?", thread="shell:annual")
    reply = await ask(offline, "annual?", thread="shell:annual")
    yearly = pro["price_cents"] * 12 * (100 - pro["annual_discount_pct"]) / 100 / 100
    assert f"${yearly:,.2f}" in reply.plain and "1 seat" not in reply.plain


async def test_plain_words_that_are_plan_names_do_not_name_the_plan(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, None)
    assert view is not None
    sso = next(f for f in view.payload["features"] if "single sign-on" in f["name"].lower())
    reply = await ask(offline, "my team needs single sign-on, which plans have it?")
    # About the feature's plans, not a yes/no about the Team plan.
    assert not reply.plain.startswith(("Yes", "No")), reply.plain
    assert all(plan(demo_db, view.slug, p["name"])["name"] in reply.plain
               for p in view.payload["plans"] if p["slug"] in sso["plans"])


async def test_an_unknown_plan_is_named_with_the_real_ones(offline: Pipeline, demo_db: Database) -> None:
    reply = await ask(offline, "how much is the Platinum plan?")
    assert "no plan called Platinum" in reply.plain
    assert all(p["name"] in reply.plain for p in read_product(demo_db, None).payload["plans"])  # type: ignore[union-attr]


async def test_a_product_name_one_typo_away_is_read_as_it_and_said_so(offline: Pipeline, demo_db: Database) -> None:
    reply = await ask(offline, "how much does Beakon cost?")
    assert "I read “Beakon” as Beacon" in reply.plain
    assert "$12/seat/month" in reply.plain and "$99" not in reply.plain  # Beacon's prices, not Orbit's


async def test_an_unknown_product_name_is_said_with_close_matches(offline: Pipeline, demo_db: Database) -> None:
    reply = await ask(offline, "how much does Beaconify cost?")
    assert "don't know a product or plan called Beaconify" in reply.plain
    assert "Did you mean Beacon" in reply.plain  # the close match


@pytest.mark.parametrize("text", ["What does the Pro plan cost?", "does Orbit integrate with Zapier?"])
async def test_with_the_llm_the_answer_is_written_from_the_snapshot_prompt(
    online: Pipeline, llm_server: FakeOpenAI, demo_db: Database, text: str
) -> None:
    reply = await ask(online, text)
    assert reply.handler == "product_question"
    assert "*From the model:*" in reply.mrkdwn and "<https://example.com/x|link>" in reply.mrkdwn
    (request,) = answer_requests(llm_server)
    view = read_product(demo_db, None)
    assert view is not None and view.prompt in message_text(request, "system")
    assert text in message_text(request, "user")
    assert text not in message_text(request, "system")  # user text is data, never instructions


async def test_the_same_question_again_is_served_from_the_response_cache(online: Pipeline, llm_server: FakeOpenAI) -> None:
    first = await ask(online, "What does the Pro plan cost?", thread="shell:a")
    second = await ask(online, "What does the Pro plan cost?", thread="shell:b")
    assert first.plain == second.plain
    assert len(answer_requests(llm_server)) == 1


async def test_when_the_llm_fails_the_answer_falls_back_to_the_snapshot(
    online: Pipeline, llm_server: FakeOpenAI, demo_db: Database
) -> None:
    llm_server.always(Fail(400, message="bad request"))  # not retried: unavailable at once
    reply = await ask(online, "What does the Pro plan cost?")
    assert not reply.failed
    assert price(plan(demo_db, None, "Pro")) in reply.plain


async def test_a_streamed_answer_goes_through_the_sink(online: Pipeline) -> None:
    sink = RecordingSink()
    reply = await ask(online, "What does the Pro plan cost?", sink=sink)
    assert reply.streamed
    assert sink.text == LLM_ANSWER
    assert len(sink.chunks) > 1  # chunk by chunk, as the model wrote it
    assert "*From the model:*" in reply.mrkdwn


async def test_a_deterministic_answer_is_not_streamed(offline: Pipeline) -> None:
    sink = RecordingSink()
    reply = await ask(offline, "What does the Pro plan cost?", sink=sink)
    assert not reply.streamed and sink.chunks == []


async def test_a_team_growing_past_its_plans_cap_gets_the_plan_that_fits(offline: Pipeline, demo_db: Database) -> None:
    team = plan(demo_db, None, "Team")
    await ask(offline, "starter for 4 seats", thread="shell:grow")
    reply = await ask(offline, "and if they grow to 12?", thread="shell:grow")
    assert reply.plain.startswith("No: Starter allows up to 5 seats")
    assert f"12 × ${team['price_cents'] // 100}" in reply.plain


async def test_a_plan_and_a_category_word_list_the_plans_whole_category(offline: Pipeline, demo_db: Database) -> None:
    basic = plan(demo_db, "beacon", "Basic")
    reply = await ask(offline, "beacon basic limits")
    assert all(f"{name}: {value}" in reply.plain for name, value in basic["limits"].items())


async def test_a_bare_which_plan_follows_up_the_item_discussed(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, "atlas")
    assert view is not None
    rls = next(f for f in view.payload["features"] if f["name"].lower().startswith("row-level"))
    await ask(offline, "does atlas have row level security", thread="shell:rls")
    reply = await ask(offline, "which plan", thread="shell:rls")
    assert rls["name"] in reply.plain and "Plans:" not in reply.plain


async def test_a_quote_after_a_comparison_is_for_the_plan_typed(offline: Pipeline, demo_db: Database) -> None:
    await ask(offline, "sentinel essentials vs advanced", thread="shell:cmp")
    reply = await ask(offline, "price for 60 employees on advanced", thread="shell:cmp")
    advanced = plan(demo_db, "sentinel", "Advanced")
    assert f"60 × ${advanced['price_cents'] // 100}" in reply.plain and "Essentials" not in reply.plain


async def test_how_long_something_is_kept_is_its_retention(offline: Pipeline, demo_db: Database) -> None:
    pro = plan(demo_db, None, "Pro")
    retention = next(value for name, value in pro["limits"].items() if "recording" in name.lower())
    reply = await ask(offline, "how long are recordings kept on pro")
    assert retention in reply.plain and "onboarding" not in reply.plain.lower()


async def test_a_bare_minimum_after_a_price_is_the_plans_minimum(offline: Pipeline, demo_db: Database) -> None:
    await ask(offline, "sentinel pricing?", thread="shell:min")
    reply = await ask(offline, "min size?", thread="shell:min")
    essentials = plan(demo_db, "sentinel", "Essentials")
    minimum = next(value for name, value in essentials["limits"].items() if name.lower().startswith("minimum"))
    assert minimum in reply.plain


async def test_a_two_word_name_clipped_to_three_letters_names_it(offline: Pipeline, demo_db: Database) -> None:
    view = read_product(demo_db, "ledger")
    assert view is not None
    feature = next(f for f in view.payload["features"] if f["name"].lower() == "revenue recognition")
    launch = plan(demo_db, view.slug, "Launch")
    reply = await ask(offline, "does ledger launch do rev rec")
    assert reply.plain.startswith("Yes" if launch["slug"] in feature["plans"] else "No")
    assert feature["name"] in reply.plain
