"""The deal an answer about an account's meetings states ("Orbit Pro, 60 seats"), for the thread to remember.

After "which plan are they buying", "how much is that per seat" asks the price of that plan: the recap or the
lines quoted name it, and the thread keeps it like a product question's plan. Only an answer naming one plan
and a seat count on the same line counts; anything less certain is not remembered.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

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


def deal_in(text: str, entities: EntityExtractor, names: NameIndex, now: datetime) -> Deal | None:
    """The one plan and seat count a line of `text` states; None when no line states exactly one plan with seats."""
    for line in text.splitlines()[:MAX_LINES]:
        if not any(ch.isdigit() for ch in line):
            continue  # (most lines state no number: skip them before normalizing)
        found = entities.extract(normalize(line[:MAX_LINE_CHARS]), Intent.PRODUCT_QUESTION, now)
        if len(found.plans) != 1 or not found.quantity:
            continue
        plan = found.plans[0]
        offered_by = tuple(names.vocabulary.plans.get(plan, ()))
        primary = names.vocabulary.products[0].slug if names.vocabulary.products else None
        # ("Pro plan, 60 seats": a plan several products have is the primary product's, unless the line names another)
        product = names.product_slug(found.product) if found.product else (
            offered_by[0] if len(offered_by) == 1 else primary if primary in offered_by else None)
        if product is not None and (not offered_by or product in offered_by):
            return Deal(product, plan, found.quantity)
    return None
