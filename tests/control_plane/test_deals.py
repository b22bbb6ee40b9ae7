"""The deal a line of meeting notes states: one plan with seats, or a mix of plans each with its seats."""

from __future__ import annotations

import pytest

from control_plane import ControlPlane
from knowledge.vocabulary import Vocabulary
from tests.support.control_plane import NOW, offline_plane


@pytest.fixture(scope="module")
def plane(demo_vocabulary: Vocabulary) -> ControlPlane:
    return offline_plane(demo_vocabulary)


def test_one_plan_with_seats_and_the_discount_beside_it(plane: ControlPlane) -> None:
    deal = plane.deal_in("Enterprise plan, 240 seats, three-year term\n12% discount off list on all three years", NOW)
    assert deal is not None and (deal.plan, deal.seats, deal.discount, deal.mix) == ("Enterprise", 240, 12.0, ())


def test_a_mix_of_plans_keeps_each_plans_seats(plane: ControlPlane) -> None:
    deal = plane.deal_in("Renewal: 55 Growth seats and 10 Pro seats, annual", NOW)
    assert deal is not None and dict(deal.mix) == {"Growth": 55, "Pro": 10} and deal.seats == 65


def test_the_annual_discount_is_the_plans_own_not_the_deals(plane: ControlPlane) -> None:
    deal = plane.deal_in("Orbit Growth, 35 seats, annual billing\nthe 20% annual discount plus a 5% first-year discount", NOW)
    assert deal is not None and deal.discount == 5.0


def test_notes_read_newest_first_stop_at_a_mix_they_cannot_split(plane: ControlPlane) -> None:
    notes = "Renewal: Growth and Pro for 65 seats\nConsider Pro for 10 managers"
    assert plane.deal_in(notes, NOW, mix_ends=True) is None  # (not the older line's "Pro for 10")
    assert plane.deal_in(notes, NOW) is not None


def test_what_was_settled_wins_over_an_earlier_line_with_what_was_asked(plane: ControlPlane) -> None:
    reply = ("• Elena Petrova: The structure is fine: Enterprise, 450 seats, three years. We need 18% off to sign.\n"
             "• Decision, renewal: Globex renews on Enterprise: 450 seats, three years, 12% discount")
    deal = plane.deal_in(reply, NOW)
    assert deal is not None and (deal.seats, deal.discount) == (450, 12.0)
