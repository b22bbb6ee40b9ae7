"""Seat quotes: seats × price × 12 with the annual discount, the arithmetic shown, seat limits pointed out."""

from __future__ import annotations

import pytest

from bot.pipeline import Pipeline
from handlers.formatting import render_plain
from handlers.quotes import money, negotiated_discount
from handlers.quotes import quote as marked_quote
from knowledge.db import Database
from knowledge.reader import ProductView, read_product
from knowledge.snapshot_schema import PlanEntry
from tests.support.pipeline import ask


def quote(view: ProductView, plan: PlanEntry, seats: int | None, term: str | None) -> str:
    """The quote as a terminal shows it (bold markers removed)."""
    return render_plain(marked_quote(view, plan, seats, term))


def plan_of(view: ProductView, name: str) -> PlanEntry:
    return next(plan for plan in view.payload["plans"] if plan["name"] == name)


@pytest.fixture
def orbit(demo_db: Database) -> ProductView:
    view = read_product(demo_db, "orbit")
    assert view is not None
    return view


def test_money_is_written_as_a_rep_quotes_it() -> None:
    assert (money(1_188_000, "USD"), money(7920, "USD"), money(99, "EUR"), money(500, "CHF")) == (
        "$11,880", "$79.20", "€0.99", "5 CHF")


def test_seats_per_year_with_the_annual_discount(orbit: ProductView) -> None:
    text = quote(orbit, plan_of(orbit, "Pro"), 10, "year")
    assert "10 × $99 = $990 per month" in text
    assert "10 × $99 × 12 months = $11,880 at list price" in text
    assert "billed annually (20% off): $9,504 a year ($79.20 per seat per month)" in text


def test_a_plan_without_an_annual_discount_says_so_and_its_seat_minimum(orbit: ProductView) -> None:
    text = quote(orbit, plan_of(orbit, "Enterprise"), 10, "year")
    assert text.startswith("No: Enterprise has a 25-seat minimum, so it can't be sold for 10")
    assert "25 × $149 × 12 months = $44,700 at list price (no annual discount on this plan)" in text
    assert "$17,880" not in text  # ten seats are not a price anyone can pay


def test_more_seats_than_a_plan_allows_names_the_smallest_plan_that_fits(orbit: ProductView) -> None:
    text = quote(orbit, plan_of(orbit, "Starter"), 8, None)
    assert "Starter allows up to 5 seats" in text
    assert "The smallest plan for 8 seats is Team: 8 × $39 = $312 per month" in text


def test_a_monthly_question_gets_no_yearly_line(orbit: ProductView) -> None:
    assert "Per year" not in quote(orbit, plan_of(orbit, "Growth"), 20, "month")


def test_flat_and_custom_prices(demo_db: Database) -> None:
    ledger = read_product(demo_db, "ledger")
    assert ledger is not None
    flat = quote(ledger, plan_of(ledger, "Launch"), 12, "year")
    assert "flat $249/month, not priced per seat, so 12 seats cost the same" in flat
    assert "$249 × 12 months = $2,988; billed annually (10% off): $2,689.20" in flat
    assert "custom pricing: contact sales" in quote(ledger, plan_of(ledger, "Enterprise"), 12, None)


async def test_a_quote_follow_up_keeps_the_plan_and_the_seats(offline: Pipeline) -> None:
    first = await ask(offline, "what do 30 pro seats cost", thread="shell:quote")
    assert "$2,970 per month" in first.plain
    yearly = await ask(offline, "and yearly w the annual discount?", thread="shell:quote")
    assert "$28,512 a year" in yearly.plain and "Seats on Pro" not in yearly.plain
    other = await ask(offline, "is sso included w that?", thread="shell:quote")
    assert "$" not in other.plain.split("\n")[0]  # a question about SSO is not another quote


async def test_a_question_about_what_was_said_quotes_the_lines_of_the_call(offline: Pipeline) -> None:
    await ask(offline, "recap the vandelay closewise call", thread="shell:recap")
    reply = await ask(offline, "what was closewise's price per seat?", thread="shell:recap")
    assert reply.intent == "meeting_summary"
    # The passages of the account's meetings that answer it, each with who said it and in which call.
    quoted = [line for line in reply.plain.splitlines() if line.startswith("• ")]
    assert quoted and all("Vandelay pricing: Closewise comparison" in line for line in quoted)
    assert any("Frank Costa" in line and "Closewise is $22 a seat" in line for line in quoted)


async def test_seats_on_two_plans_are_quoted_each_and_together(offline: Pipeline) -> None:
    reply = await ask(offline, "55 growth seats + 10 pro seats, whats that per month at list")
    assert "55 × $69 = $3,795 per month" in reply.plain and "10 × $99 = $990 per month" in reply.plain
    assert "Together: 55 × $69 + 10 × $99 = $4,785 per month" in reply.plain


async def test_the_price_of_something_we_do_not_sell_is_not_answered_with_ours(offline: Pipeline) -> None:
    reply = await ask(offline, "how much does a tesla model 3 cost")
    assert "outside what I can help with" in reply.plain and "$" not in reply.plain
    assert "$99" in (await ask(offline, "how much does the pro plan cost")).plain


async def test_a_price_list_says_what_a_plan_is_priced_per(offline: Pipeline) -> None:
    reply = await ask(offline, "how is sentinel priced")
    assert "Essentials: $4/employee/month (10% off annually)" in reply.plain and "/seat" not in reply.plain
    assert "Advanced costs $8/employee/month" in (await ask(offline, "sentinel advanced price")).plain
    quote = await ask(offline, "advanced for 200 employees monthly")
    assert "Advanced for 200 employees: 200 × $8 = $1,600 per month" in quote.plain and "per seat" not in quote.plain
    assert "Orbit Pro for 10 seats" in (await ask(offline, "10 pro seats per month")).plain  # seats stay seats


def test_a_per_employee_minimum_bills_the_minimum(demo_db: Database) -> None:
    sentinel = read_product(demo_db, "sentinel")
    assert sentinel is not None
    text = quote(sentinel, plan_of(sentinel, "Essentials"), 30, "month")
    assert text.startswith("Essentials has a minimum of 50 employees, so 30 are billed as 50.")
    assert "50 × $4 = $200 per month" in text and "$120" not in text
    assert "minimum" not in quote(sentinel, plan_of(sentinel, "Essentials"), 80, "month")


@pytest.mark.parametrize(("words", "expected"), [("and w/ the 12% off", 12.0), ("with a 7.5 percent discount", 7.5),
                                                 ("12 team seats w the 10 off", 10.0), ("and after the 12%", 12.0), ("$10 off", None),
                                                 ("a discount of 15%", 15.0), ("how much is 20 seats", None),
                                                 ("99% uptime off peak", None)])
def test_a_negotiated_discount_is_read_from_the_message(words: str, expected: float | None) -> None:
    assert negotiated_discount(words) == expected


def test_a_negotiated_discount_is_worked_out_off_list_and_off_the_annual_price(orbit: ProductView) -> None:
    pro = plan_of(orbit, "Pro")
    text = render_plain(marked_quote(orbit, pro, 60, "year", 15))
    yearly = 60 * pro["price_cents"] * 12
    annual = yearly * (100 - pro["annual_discount_pct"]) / 100
    assert f"With 15% off the annual price: {money(annual, 'USD')} × 0.85 = {money(annual * 0.85, 'USD')} a year" in text
    assert f"15% off list instead: {money(yearly * 0.85, 'USD')} a year" in text
    enterprise = plan_of(orbit, "Enterprise")
    plain = render_plain(marked_quote(orbit, enterprise, 450, "year", 12))
    assert money(450 * enterprise["price_cents"] * 12 * 0.88, "USD") in plain and "annual price instead" not in plain


async def test_a_discount_named_in_a_follow_up_prices_the_threads_quote(offline: Pipeline, orbit: ProductView) -> None:
    enterprise = plan_of(orbit, "Enterprise")
    await ask(offline, "how much is 450 enterprise seats a year", thread="shell:disc")
    reply = await ask(offline, "and w/ the 12% off", thread="shell:disc")
    assert money(450 * enterprise["price_cents"] * 12 * 0.88, "USD") in reply.plain


async def test_a_message_no_pattern_places_that_names_a_plan_and_seats_gets_the_quote(offline: Pipeline,
                                                                                    orbit: ProductView) -> None:
    growth = plan_of(orbit, "Growth")
    reply = await ask(offline, "customer has 20 reps, whats growth gonna run them per yr")
    assert reply.handler == "product_question"
    assert money(20 * growth["price_cents"] * 12, "USD") in reply.plain


def test_a_kind_of_customer_a_faq_discounts_gets_it_on_the_plans_it_names(orbit: ProductView) -> None:
    from handlers.faq_discounts import discount_for

    nonprofit = discount_for(orbit, plan_of(orbit, "Pro"), "a registered charity, 10 pro seats")
    assert nonprofit is not None and nonprofit.percent == 30 and "nonprofit" in nonprofit.sentence.lower()
    assert discount_for(orbit, plan_of(orbit, "Team"), "startup, 15 team seats") is not None
    assert discount_for(orbit, plan_of(orbit, "Pro"), "startup, 15 pro seats") is None  # (Team or Growth only)
    assert discount_for(orbit, plan_of(orbit, "Pro"), "10 pro seats for a bank") is None


@pytest.mark.parametrize("message", ["kestrel 150 ent seats w the 10% - per yr?", "150 enterprise seats with the 10 off"])
def test_a_discount_named_by_its_number_before_a_dash_or_off(message: str) -> None:
    assert negotiated_discount(message) == 10


def test_a_figure_to_check_is_confirmed_or_corrected_with_what_it_is(orbit: ProductView) -> None:
    from handlers.quotes import checked_figure

    team = plan_of(orbit, "Team")
    annual = team["price_cents"] * (100 - team["annual_discount_pct"]) / 100
    typed = f"{annual / 100:.2f}"
    yes = checked_figure(orbit, [team], f"is {typed} right for team annual", None, None)
    assert yes is not None and yes.startswith(f"Yes: ${typed}") and "billed annually" in yes
    no = checked_figure(orbit, [team], "is 33.10 right for team", None, None)
    assert no is not None and no.startswith("No:") and f"${team['price_cents'] // 100}" in no
    assert checked_figure(orbit, [team], "20 team seats annual", 20, None) is None  # nothing to check
    assert checked_figure(orbit, [team], "are 20 seats right for team", 20, None) is None  # a count, not a price
