"""The deal an answer about an account's meetings states ("Orbit Pro, 60 seats"), for the thread to remember.

After "which plan are they buying", "how much is that per seat" asks the price of that plan: the recap or the
lines quoted name it, and the thread keeps it like a product question's plan. Only an answer naming one plan
and a seat count on the same line counts; anything less certain is not remembered.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

from control_plane.entities import EntityExtractor
from control_plane.intents import Intent
from control_plane.names import NameIndex
from control_plane.normalize import normalize

MAX_LINES = 30  # the deal is stated near the top of a recap; lines further down are not read
MAX_LINE_CHARS = 500


class Deal(NamedTuple):
    product: str  # the product's slug
    plan: str
    seats: int
    discount: float | None = None  # the percentage off the answer states ("15% discount"), if one
    mix: tuple[tuple[str, int], ...] = ()  # (plan, seats) of each plan, when the deal mixes plans; `seats` is their sum
    settled: bool = False  # stated on a line saying it was settled ("Decision: ...", "agreed"), not only quoted or asked

    def slots(self) -> dict[str, Any]:
        """The deal as frame (and thread) slots: its product, plans with each one's seats in a mix, seats, discount."""
        return {"product": self.product, "plans": tuple(plan for plan, _ in self.mix) or (self.plan,),
                "plan_seats": tuple(seats for _, seats in self.mix), "quantity": self.seats, "discount": self.discount}


_SENTENCE = re.compile(r"(?<=[.;])\s+(?=[A-Z])")
# "12% discount", "10% off", "a 5% first-year discount": the deal's discount ("the 20% annual discount" is the plan's
# own, not the deal's)
_DEAL_DISCOUNT = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d{1,2})?)\s?% (?:(?!annual\b)[a-z-]{2,20} ){0,2}(?:discount|off)\b")


def deal_in(text: str, entities: EntityExtractor, names: NameIndex, now: datetime, *, mix_ends: bool = False) -> Deal | None:
    """The one plan and seat count a line of `text` states; None when no line states exactly one plan with seats.
    `mix_ends`: a line stating seats of several plans ("55 Growth seats and 10 Pro seats") is the deal, which one plan
    cannot give: None, rather than an older line's single plan (for notes read newest first)."""
    # (sentence by sentence: a recap's paragraph names the deal's plan beside others, "on Pro ... an Enterprise feature")
    lines = [sentence for line in text.splitlines()[:MAX_LINES] for sentence in _SENTENCE.split(line)][:MAX_LINES * 4]
    first: Deal | None = None
    for index, line in enumerate(lines):
        deal = _deal_on(lines, index, entities, names, now, mix_ends=mix_ends)
        if deal is _MIX_ENDS:
            return first
        if deal is not None and _SETTLED.search(line[:MAX_LINE_CHARS]):
            # (what was settled, "Decision: Globex renews on Enterprise, 450 seats, 12% discount", over an earlier
            # line quoting the same seats with what someone asked for, "18%")
            return deal._replace(settled=True)
        first = first or deal
    return first


# A line saying what was settled rather than asked or proposed
_SETTLED = re.compile(r"\b(?:decision|decided|agreed|agrees|accepts?|accepted|renews|renewed|signed|signs|final|closed|chose|"
                      r"went with|confirmed)\b", re.IGNORECASE)
_MIX_ENDS = Deal("", "", 0)  # (a mix of plans ends the notes' reading: see `deal_in`)


def _deal_on(lines: list[str], index: int, entities: EntityExtractor, names: NameIndex, now: datetime, *,
             mix_ends: bool) -> Deal | None:
    """The deal line `index` states, if it states one."""
    line = lines[index]
    if not any(ch.isdigit() for ch in line):
        return None  # (most lines state no number: skip them before normalizing)
    found = entities.extract(normalize(line[:MAX_LINE_CHARS]), Intent.PRODUCT_QUESTION, now)
    if len(found.plans) > 1 and found.quantity:
        mix = _seats_of_each(line[:MAX_LINE_CHARS], found.plans)
        if mix is not None:
            # "Renewal: 55 Growth seats and 10 Pro seats, annual": each plan with its seats
            product = _product_of(names, found.product, mix[0][0])
            if product is not None:
                stated = _stated_discount(lines, index)
                return Deal(product, mix[0][0], sum(seats for _, seats in mix), stated, mix)
        if mix_ends:
            return _MIX_ENDS
    if len(found.plans) != 1 or not found.quantity:
        return None
    plan = found.plans[0]
    product = _product_of(names, found.product, plan)
    return Deal(product, plan, found.quantity, _stated_discount(lines, index)) if product is not None else None


def _product_of(names: NameIndex, named: str | None, plan: str) -> str | None:
    """The product a deal's plan is of: the one the line names, else the only one offering it, else the primary."""
    offered_by = tuple(names.vocabulary.plans.get(plan, ()))
    primary = names.vocabulary.products[0].slug if names.vocabulary.products else None
    # ("Pro plan, 60 seats": a plan several products have is the primary product's, unless the line names another)
    product = names.product_slug(named) if named else (
        offered_by[0] if len(offered_by) == 1 else primary if primary in offered_by else None)
    return product if product is not None and (not offered_by or product in offered_by) else None


def _stated_discount(lines: list[str], index: int) -> float | None:
    """The discount on the deal's line, else on the next lines quoted ("15% discount with price lock"); not one someone
    only asked for ("Elena asked for 18% off")."""
    for later in lines[index:index + 3]:
        for match in _DEAL_DISCOUNT.finditer(later[:MAX_LINE_CHARS]):
            if not _ASKED_FOR.search(later[max(0, match.start() - _ASK_REACH):match.start()]):
                return float(match.group(1))
    return None


# "asked for 18% off", "wants 20% off", "pushing for 15%": a discount asked, not the deal's
_ASKED_FOR = re.compile(r"(?:ask(?:s|ed|ing)?|wants?|wanted|request(?:s|ed|ing)?|push(?:es|ed|ing)?|hop(?:es|ed|ing)|"
                        r"would like|like)(?: for)?(?: an?| the)? *$", re.IGNORECASE)
_ASK_REACH = 30


def _seats_of_each(line: str, plans: tuple[str, ...]) -> tuple[tuple[str, int], ...] | None:
    """(plan, seats) for each plan a line gives a count of ("55 Growth seats and 10 Pro seats", "Growth for 55 and Pro
    for 10"); None unless every plan has exactly one."""
    lowered = line.lower()
    mix: list[tuple[str, int]] = []
    for plan in plans:
        name = re.escape(plan.lower())
        counted = re.findall(rf"\b(\d[\d,]{{0,6}})\s+(?:x\s+)?{name}\b|\b{name}\s+(?:for\s+|x\s+)?(\d[\d,]{{0,6}})\s+"
                             rf"(?:seats?|users?|licen[cs]es?|reps?|managers?)\b", lowered)
        if len(counted) != 1:
            return None
        mix.append((plan, int((counted[0][0] or counted[0][1]).replace(",", ""))))
    return tuple(mix)
