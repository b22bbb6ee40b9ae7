"""Needs-based plan choice: the smallest plan with the features asked whose limits take the amount asked,
and what it comes to, all read from the snapshot."""

from __future__ import annotations

from bot.pipeline import Pipeline
from handlers.plan_fit import Capacity, asked_need, capacity, choose, metered_limits
from knowledge.db import Database
from knowledge.reader import read_product
from tests.support.pipeline import ask


def test_limit_values_read_as_ranges() -> None:
    assert capacity("up to 25") == Capacity(0, 25)
    assert capacity("25 minimum, no maximum") == Capacity(25, None)
    assert capacity("20,000 per month") == Capacity(0, 20000)
    assert capacity("up to $1,000,000") == Capacity(0, 1_000_000)
    assert capacity("custom") == Capacity(0, None)
    assert capacity("50", "Minimum employees") == Capacity(50, None)
    assert capacity("600 requests/minute") is None and capacity("15 minutes") is None and capacity("10 GB per workspace") is None


def test_only_limits_that_grow_plan_by_plan_are_capacities(demo_db: Database) -> None:
    relay = read_product(demo_db, "relay")
    assert relay is not None
    assert list(metered_limits(relay.payload)) == ["Tasks"]  # the polling interval shrinks: it is no capacity


def test_the_amount_asked_and_what_it_counts(demo_db: Database) -> None:
    atlas, ledger, orbit = (read_product(demo_db, slug) for slug in ("atlas", "ledger", "orbit"))
    assert atlas is not None and ledger is not None and orbit is not None
    viewers = asked_need("embedding for ~5k end users a month, which plan", atlas.payload, None)
    assert viewers is not None and (viewers.amount, viewers.limit, viewers.people) == (5000, "Monthly active viewers", False)
    volume = asked_need("they invoice about $300k a month", ledger.payload, None)
    assert volume is not None and (volume.amount, volume.limit) == (300_000, "Monthly billing volume")
    seats = asked_need("60 sellers, 19 bucks a head", orbit.payload, None)
    assert seats is not None and (seats.amount, seats.limit, seats.people) == (60, "Seats", True)


def test_the_smallest_plan_with_the_feature_that_takes_the_seats(demo_db: Database) -> None:
    orbit = read_product(demo_db, "orbit")
    assert orbit is not None
    forecasting = next(f for f in orbit.payload["features"] if f["name"] == "Forecasting")
    seats = asked_need("30 reps", orbit.payload, None)
    assert choose(orbit.payload, [], seats)["name"] == "Growth"  # type: ignore[index]  # Team stops at 25
    assert choose(orbit.payload, [forecasting], asked_need("3 reps", orbit.payload, None))["name"] == "Growth"  # type: ignore[index]
    assert choose(orbit.payload, [], asked_need("150 reps", orbit.payload, None))["name"] == "Pro"  # type: ignore[index]


async def test_a_need_is_answered_with_the_plan_and_its_yearly_arithmetic(offline: Pipeline) -> None:
    reply = await ask(offline, "30 reps who need forecasting: which orbit plan, and what is that a year?", thread="shell:fit")
    assert "smallest Orbit plan for 30 seats with Forecasting is Growth" in reply.plain
    assert "30 × $69 × 12 months = $24,840 at list price; billed annually (20% off): $19,872 a year" in reply.plain
    up = await ask(offline, "and the tier above?", thread="shell:fit")
    assert "Orbit Pro for 30 seats: 30 × $99 = $2,970 per month" in up.plain and "$149" not in up.plain
    fewer = await ask(offline, "ok and for 8 seats?", thread="shell:fit")
    assert "Orbit Pro for 8 seats: 8 × $99 = $792 per month" in fewer.plain


async def test_a_named_plan_too_small_for_the_seats_says_no_and_names_the_one_that_fits(offline: Pipeline) -> None:
    reply = await ask(offline, "beacon: 14 people, could they get by on basic?")
    assert "No: Basic allows up to 10 seats" in reply.plain and "smallest plan for 14 seats is Pro" in reply.plain
    assert "14 × $29 = $406 per month" in reply.plain


async def test_add_on_packs_are_priced_against_the_next_plan(offline: Pipeline) -> None:
    reply = await ask(offline, "relay customer needs ~45k tasks a month, cheapest way to get there?")
    assert "smallest Relay plan for 45,000 tasks is Business" in reply.plain
    assert "Plus (20,000) + 3 × Extra tasks" in reply.plain and "$49 + 3 × $29 = $136 per month" in reply.plain


async def test_the_minimum_of_a_plan_is_priced(offline: Pipeline) -> None:
    await ask(offline, "orbit enterprise seat minimum?", thread="shell:min")
    reply = await ask(offline, "what does the minimum come to per year", thread="shell:min")
    assert "25 × $149 × 12 months = $44,700" in reply.plain
