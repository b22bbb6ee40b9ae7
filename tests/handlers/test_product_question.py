"""product_question called directly on a frame: what it answers follows the frame's slots and where each came
from (typed in the message or from the thread), not the words alone. No LLM: the answer is the snapshot's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from control_plane.intents import Intent, Reading
from handlers import product_question
from handlers.quotes import money
from knowledge.reader import read_product
from knowledge.snapshot_prompt import format_price

if TYPE_CHECKING:
    from tests.handlers.conftest import HandlerKit

ASK = Intent.PRODUCT_QUESTION


def price_of(plan: dict[str, Any]) -> str:
    """A demo plan's list price as written from the CSV row ("$99/seat/month")."""
    cents = int(plan["price_cents"]) if plan["price_cents"] else None
    return format_price(cents, plan["currency"], plan["billing_period"], plan["per_seat"] == "true")


def primary_product(kit: HandlerKit) -> dict[str, Any]:
    return kit.row("products", is_primary=True)


async def test_seats_on_a_plan_per_year_are_quoted_with_the_computed_total(kit: HandlerKit) -> None:
    product = primary_product(kit)
    pro = kit.row("plans", product=product["slug"], name="Pro")
    price, currency, discount = int(pro["price_cents"]), pro["currency"], int(pro["annual_discount_pct"])
    assert pro["billing_period"] == "month" and pro["per_seat"] == "true" and discount > 0
    frame = kit.frame(ASK, plans=("Pro",), quantity=10, term="year")

    result = await product_question.handle(kit.context(frame, "what do 10 pro seats cost per year"))

    unit, monthly, yearly = money(price, currency), money(10 * price, currency), 10 * price * 12
    annual = money(yearly * (100 - discount) / 100, currency)
    assert f"{product['name']} Pro for 10 seats: 10 × {unit} = {monthly} per month" in result.plain
    assert f"10 × {unit} × 12 months = {money(yearly, currency)} at list price" in result.plain
    assert f"billed annually ({discount}% off): {annual} a year" in result.plain
    assert (result.context.product, result.context.plan, result.context.quantity, result.context.aspect) == (
        product["slug"], "Pro", 10, "quote")
    assert not result.llm_used and result.snapshot_path == "fast"


@pytest.mark.parametrize(("source", "text"), [("typed", "how much is enterprise?"), ("thread", "how much is it?")])
async def test_a_plan_from_the_thread_is_answered_like_a_typed_one(kit: HandlerKit, source: str, text: str) -> None:
    product = primary_product(kit)
    enterprise = kit.row("plans", product=product["slug"], name="Enterprise")
    frame = kit.frame(ASK, plans=("Enterprise",), sources={"plans": source})

    result = await product_question.handle(kit.context(frame, text))

    sentence = f"{product['name']} Enterprise costs {price_of(enterprise)}"
    assert result.plain.splitlines()[0].startswith(sentence)
    assert (result.context.plan, result.context.aspect) == ("Enterprise", "price")


async def test_without_a_plan_in_the_frame_every_plan_is_priced(kit: HandlerKit) -> None:
    product = primary_product(kit)
    plans = sorted((p for p in kit.rows["plans"] if p["product"] == product["slug"]), key=lambda p: int(p["position"]))

    result = await product_question.handle(kit.context(kit.frame(ASK), "how much is it?"))

    lines = result.plain.splitlines()
    assert lines[0] == f"{product['name']} pricing:"
    assert [line.split(" (")[0] for line in lines[1:]] == [f"• {p['name']}: {price_of(p)}" for p in plans]
    assert result.context.plan is None


async def test_a_plan_of_another_product_switches_product_unless_the_product_was_typed(kit: HandlerKit) -> None:
    product = primary_product(kit)
    other = read_product(kit.db, "Scale")  # the product the catalog reads the plan name as
    assert other is not None and other.matched_by == "plan" and other.name != product["name"]
    scale = kit.row("plans", product=other.slug, name="Scale")
    assert all(p["name"] != "Scale" for p in kit.rows["plans"] if p["product"] == product["slug"])

    from_thread = kit.frame(ASK, product=product["name"], sources={"product": "thread"})
    switched = await product_question.handle(kit.context(from_thread, "what does the Scale plan cost?"))
    typed = kit.frame(ASK, product=product["name"])
    kept = await product_question.handle(kit.context(typed, f"what does the {product['name']} Scale plan cost?"))

    assert switched.plain.startswith(f"{other.name} Scale costs {price_of(scale)}")
    assert (switched.context.product, switched.context.plan) == (other.slug, "Scale")
    assert kept.plain.startswith(f"{product['name']} has no plan called Scale.")
    assert (kept.context.product, kept.context.plan) == (product["slug"], None)


async def test_seats_from_the_thread_do_not_turn_a_question_about_an_item_into_a_quote(kit: HandlerKit) -> None:
    view = read_product(kit.db, "Scale")
    assert view is not None
    overage = kit.row("limits", product=view.slug, plan="scale", name="Overage fee")
    scale = kit.row("plans", product=view.slug, name="Scale")
    assert scale["per_seat"] == "false"

    thread_seats = kit.frame(ASK, plans=("Scale",), quantity=10, sources={"quantity": "thread"})
    item = await product_question.handle(kit.context(thread_seats, "what's the overage fee on scale?"))
    typed_seats = kit.frame(ASK, plans=("Scale",), quantity=10)
    quoted = await product_question.handle(kit.context(typed_seats, "what's the overage fee on 10 scale seats?"))

    assert f"Overage fee on Scale: {overage['value']}." in item.plain.splitlines()
    assert "10 seats" not in item.plain  # no quote
    assert item.context.aspect == "item:limit:Overage fee" and item.context.quantity == 10
    flat = money(int(scale["price_cents"]), scale["currency"])
    assert quoted.plain.startswith(f"{view.name} Scale is a flat {flat}/month, not priced per seat, so 10 seats cost "
                                   "the same.")
    assert quoted.context.aspect == "quote"


async def test_a_follow_up_naming_only_a_plan_asks_the_threads_question_again(kit: HandlerKit) -> None:
    product = primary_product(kit)
    sla = kit.row("limits", product=product["slug"], plan="enterprise", name="Uptime SLA")
    enterprise = kit.row("plans", product=product["slug"], name="Enterprise")
    follow_up = kit.frame(ASK, plans=("Enterprise",), aspect="item:limit:Uptime SLA", sources={"aspect": "thread"},
                          follow_up=True)
    fresh = kit.frame(ASK, plans=("Enterprise",))

    answered = await product_question.handle(kit.context(follow_up, "and on enterprise?"))
    overview = await product_question.handle(kit.context(fresh, "and on enterprise?"))

    assert answered.plain == f"Uptime SLA on Enterprise: {sla['value']}."
    assert answered.context.aspect == "item:limit:Uptime SLA"
    assert overview.plain.splitlines()[0] == f"{product['name']} Enterprise costs {price_of(enterprise)}."
    assert enterprise["description"] in overview.plain


async def test_a_plan_read_from_a_typo_is_said_before_the_answer(kit: HandlerKit) -> None:
    product = primary_product(kit)
    starter = kit.row("plans", product=product["slug"], name="Starter")
    frame = kit.frame(ASK, plans=("Starter",), readings=(Reading("startr", "Starter", "plan"),))

    result = await product_question.handle(kit.context(frame, "how much is startr?"))

    first, second = result.plain.splitlines()[:2]
    assert first == "(I read “startr” as Starter.)"
    assert second.startswith(f"{product['name']} Starter costs {price_of(starter)}")
    assert result.readings_noted  # the pipeline adds no second note
