"""Plan + add-on totals: the plan (× seats), each add-on (× packs, × seats when per seat), the capacity packs bring."""

from __future__ import annotations

import pytest

from handlers import addon_totals
from handlers.formatting import render_plain
from knowledge.db import Database
from knowledge.reader import ProductView, read_product
from knowledge.snapshot_schema import PlanEntry


def view_of(db: Database, slug: str) -> ProductView:
    view = read_product(db, slug)
    assert view is not None
    return view


def plan_of(view: ProductView, name: str) -> PlanEntry:
    return next(plan for plan in view.payload["plans"] if plan["name"] == name)


def total(view: ProductView, plan: str, seats: int | None, text: str) -> str:
    added = addon_totals.asked_addons(view, plan_of(view, plan), text)
    assert added, text
    answer = addon_totals.total(view, plan_of(view, plan), seats, added, text)
    assert answer is not None
    return render_plain(answer)


def test_a_per_seat_add_on_is_counted_for_every_seat(demo_db: Database) -> None:
    text = total(view_of(demo_db, "orbit"), "Growth", 10, "growth for 10 seats with analytics, monthly total?")
    assert "10 seats × $15 = $150 per month" in text
    assert "Total: $840 per month" in text


def test_packs_typed_as_a_number_and_the_capacity_they_bring(demo_db: Database) -> None:
    text = total(view_of(demo_db, "relay"), "Business", None, "business with 3 extra task packs, how many tasks in total")
    assert "3 packs × $29 = $87 per month" in text
    assert "200,000 on Business + 3 × 10,000 = 230,000" in text
    assert "Total: $386 per month" in text


def test_packs_for_an_amount_asked_and_annual_billing_of_the_plan(demo_db: Database) -> None:
    text = total(view_of(demo_db, "beacon"), "Pro", 10, "pro, 10 seats billed annually plus sms for ~2.5k sends a month")
    assert "= 3 packs" in text  # 2,500 sends at 1,000 a pack
    assert "$246.50 per month for the plan" in text  # 10 × $29 less 15%
    assert "Total: $306.50 per month" in text


@pytest.mark.parametrize("text", ["what does growth cost", "growth and pro prices", "does growth have analytics"])
def test_no_add_on_joined_to_the_plan_is_no_total(demo_db: Database, text: str) -> None:
    view = view_of(demo_db, "orbit")
    assert addon_totals.asked_addons(view, plan_of(view, "Growth"), text) == []


def test_packs_for_a_need_over_the_plans_own_allowance(demo_db: Database) -> None:
    relay = view_of(demo_db, "relay")
    plus, pack = plan_of(relay, "Plus"), next(a for a in relay.payload["addons"] if "tasks" in a["name"].lower())
    allowance = int(plus["limits"]["Tasks"].split()[0].replace(",", ""))
    text = render_plain(addon_totals.for_a_need(relay, plus, "they need like 50k tasks a mo") or "")
    packs = -(-(50_000 - allowance) // 10_000)
    assert f"{packs} × Extra tasks" in text
    assert f"${(plus['price_cents'] + packs * pack['price_cents']) // 100}" in text
    assert "Business" in text  # the bigger plan that holds it
    assert "enough" in render_plain(addon_totals.for_a_need(relay, plus, "around 5k tasks a month") or "")
    assert addon_totals.for_a_need(relay, plus, "plus with 2 extra task packs") is None  # packs counted, no need stated
