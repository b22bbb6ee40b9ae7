"""What a number of seats on a plan costs, per month or per year, with the arithmetic shown.

"what do 10 pro seats cost per year" -> 10 seats × $99 × 12 months = $11,880 at list price, and
$9,504 billed annually (20% off). Seat minimums and maximums from the plan's limits are pointed out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers.formatting import bold
from knowledge.reader import ProductView
from knowledge.snapshot_prompt import format_price
from knowledge.snapshot_schema import PlanEntry

_MINIMUM = re.compile(r"(\d[\d,]*)\s*(?:seats?\s*)?minimum|minimum (?:of )?(\d[\d,]*)", re.IGNORECASE)
_MAXIMUM = re.compile(r"up to (\d[\d,]*)", re.IGNORECASE)
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
# "w/ the 12% off", "with a 15% discount", "discount of 10%": a negotiated discount on the quote
_NEGOTIATED = re.compile(r"(?<![\d.$€£])(\d{1,2}(?:\.\d{1,2})?)\s?(?:%|percent|pct)?\s?(?:off|discount|disc)\b"
                         r"|\b(?:discount|off) of (\d{1,2}(?:\.\d{1,2})?)\s?(?:%|percent)"
                         # "and after the 12%", "after their 12 percent": a discount already named
                         r"|\bafter (?:the|their|a|that) (\d{1,2}(?:\.\d{1,2})?)\s?(?:%|percent|pct)"
                         # "w the 10", "and the 15 on top": the discount the thread's deal named, by its number alone
                         r"|\b(?:w|w/|with|plus|and) (?:the|their|that) (\d{1,2}(?:\.\d{1,2})?)\s?(?:%|percent|pct)?"
                         r"(?=\s*(?:$|[?!.,;:\-–]|on top\b|too\b|extra\b|discount\b|off\b|per (?:yr|year|month|mo|seat)\b|(?:on|for) \d|(?:that |the )?[a-z]+ (?:offered|gave|quoted|proposed|agreed|promised|mentioned|got)\b))"
                         # "and 10%", "what about 15%?": a percentage alone after a quote
                         r"|^\W*(?:and|or|what about|how about|ok|try|at)?\W*(\d{1,2}(?:\.\d{1,2})?)\s?(?:%|percent|pct)\W*$"
                         # "w 10% on top", "with 15%?": a percentage joined to the quote
                         r"|\b(?:w|w/|with|plus) (\d{1,2}(?:\.\d{1,2})?)\s?(?:%|percent|pct)(?=\s*(?:$|[?!.,;:]|on top\b|extra\b))")


def negotiated_discount(words: str) -> float | None:
    """The percentage off a message asks a quote with ("and w/ the 12% off"), or None."""
    found = _NEGOTIATED.search(words[:500].lower())
    if found is None:
        return None
    value = float(next(group for group in found.groups() if group))
    return value if 0 < value < 100 else None


def money(cents: float, currency: str) -> str:
    """An amount as a rep quotes it: "$11,880", "$79.20"."""
    cents = round(cents)
    units, rest = divmod(int(cents), 100)
    amount = f"{units:,}" if rest == 0 else f"{units:,}.{rest:02d}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def quote(view: ProductView, plan: PlanEntry, seats: int | None, term: str | None, off: float | None = None) -> str:
    """The price of `seats` (None: one, or a flat price) on `plan`, per month and per year; `off`: a negotiated
    percentage off the list price, worked out too."""
    name = f"{view.name} {bold(plan['name'])}"
    price, currency = plan["price_cents"], plan["currency"]
    if price is None:
        return f"{name} has custom pricing: contact sales for a quote" + (f" for {seats} seats." if seats else ".")
    if price == 0:
        return f"{name} is free" + (f", for {seats} seats too." if seats else ".")
    per = "year" if plan["billing_period"] == "year" else "month"
    lines: list[str] = []
    minimum_note = ""
    if plan["per_seat"] and seats is None and off:
        # "whats 12% off ent list per seat": the seat price with the discount, off list and off the annual price
        word = seat_word(plan)
        share = (100 - off) / 100
        line = (f"{name}: {money(price, currency)} per {word} per {per} at list; with {off:g}% off: {money(price, currency)} × "
                f"{share:g} = {bold(money(price * share, currency))} per {word} per {per}")
        discount = plan["annual_discount_pct"] or 0
        if discount and per == "month":
            annual = price * (100 - discount) / 100
            line += (f"; {off:g}% off the annual price ({money(annual, currency)}, {discount}% off) instead: "
                     f"{money(annual * share, currency)} per {word} per month")
        return line + "."
    if plan["per_seat"] and seats is None and per == "month" and plan["annual_discount_pct"]:
        # "annual?" after a plan's price: the per-seat figures, not a quote for one seat
        discount = plan["annual_discount_pct"]
        annual = price * 12 * (100 - discount) / 100
        word = seat_word(plan)
        return (f"{name}: {money(price, currency)} per {word} per month, or {bold(money(annual / 12, currency))} per {word} "
                f"per month billed annually ({discount}% off): {money(annual, currency)} per {word} per year.")
    if plan["per_seat"]:
        count = seats or 1
        least = _billed_minimum(plan)
        seat_least = _seat_minimum(plan)
        if seats is None and (seat_least or least):
            # "enterprise yearly cost": the least it is sold for, not one seat it cannot be sold at
            count = seat_least or least or 1
            minimum_note = f"At {plan['name']}'s minimum of {count} {_unit_of(plan) if least else 'seats'}:"
        elif seats and least and seats < least:
            # "~30 employees on essentials": billed for the plan's minimum, so the price is of the minimum
            minimum_note = f"{plan['name']} has a minimum of {least} {_unit_of(plan)}, so {seats} are billed as {least}."
            count = least
        elif seats and seat_least and seats < seat_least:
            # "can i sell enterprise for 10 seats": no, it starts at 25; the price of the least it can be sold at
            minimum_note = (f"No: {plan['name']} has a {seat_least}-seat minimum, so it can't be sold for {seats}. "
                            f"At its minimum:")
            count = seat_least
        unit = money(price, currency)
        monthly = price * count
        word = seat_word(plan)
        seats_text = f"{count} {word}{'s' if count != 1 else ''}"
        if per == "year":
            lines.append(f"{name} for {seats_text}: {count} × {unit} = {bold(money(monthly, currency))} per year.")
            if off:
                lines.append(_with_negotiated(monthly, 0, off, count, word, currency))
        else:
            lines.append(f"{name} for {seats_text}: {count} × {unit} = {bold(money(monthly, currency))} per month.")
            yearly = monthly * 12
            discount = plan["annual_discount_pct"] or 0
            line = f"Per year: {count} × {unit} × 12 months = {money(yearly, currency)} at list price"
            if discount:
                annual = yearly * (100 - discount) / 100
                line += (f"; billed annually ({discount}% off): {bold(money(annual, currency))} a year "
                         f"({money(annual / 12 / count, currency)} per {word} per month).")
            else:
                line += " (no annual discount on this plan)."
            lines.append(line)
            if off and term == "month":  # "10 growth seats monthly w the nonprofit 30%": the month's figure, discounted
                share = (100 - off) / 100
                lines.append(f"With {off:g}% off: {money(monthly, currency)} × {share:g} = {bold(money(monthly * share, currency))}"
                             f" per month ({money(price * share, currency)} per {word}).")
            elif off and off != discount:
                lines.append(_with_negotiated(yearly, discount, off, count, word, currency))
        lines.extend(_seat_limits(view, plan, count))
    else:
        lines.append(f"{name} is a flat {format_price(price, currency, plan['billing_period'])}, not priced per seat"
                     + (f", so {seats} seats cost the same." if seats else "."))
        if per == "month":
            yearly = price * 12
            discount = plan["annual_discount_pct"] or 0
            line = f"Per year: {money(price, currency)} × 12 months = {money(yearly, currency)}"
            if discount:
                line += f"; billed annually ({discount}% off): {bold(money(yearly * (100 - discount) / 100, currency))}."
            lines.append(line + ("" if discount else "."))
    if term == "month" and lines and plan["per_seat"] and per == "month":
        lines = lines[:1] + lines[2:]  # a monthly figure was asked for: the yearly line is noise
    return "\n".join([minimum_note, *lines] if minimum_note else lines)


def _with_negotiated(yearly: float, annual_discount: float, off: float, count: int, word: str, currency: str) -> str:
    """The yearly amount with a negotiated `off`% taken off, per seat too: off the annual price when the plan has an
    annual discount (deals are struck on annual pricing), and off list as the other reading (the rep's to say)."""
    share = (100 - off) / 100
    amount = yearly * share
    if annual_discount:
        annual = yearly * (100 - annual_discount) / 100
        on_annual = annual * share
        return (f"With {off:g}% off the annual price: {money(annual, currency)} × {share:g} = {bold(money(on_annual, currency))} "
                f"a year ({money(on_annual / 12 / count, currency)} per {word} per month); {off:g}% off list instead: "
                f"{money(amount, currency)} a year ({money(amount / 12 / count, currency)} per {word} per month).")
    return (f"With {off:g}% off list: {money(yearly, currency)} × {share:g} = {bold(money(amount, currency))} a year "
            f"({money(amount / 12 / count, currency)} per {word} per month).")


def _seats_limit(plan: PlanEntry) -> str:
    """The plan's Seats limit as written ("25 minimum, no maximum", "up to 25"); "" when it has none."""
    return next((value for key, value in plan["limits"].items() if key.lower() == "seats"), "") or ""


def _seat_minimum(plan: PlanEntry) -> int | None:
    """The fewest seats a plan is sold with ("25 minimum, no maximum"), None when it has no minimum."""
    minimum = _MINIMUM.search(_seats_limit(plan))
    return int((minimum.group(1) or minimum.group(2)).replace(",", "")) if minimum else None


def _seat_cap(plan: PlanEntry) -> int | None:
    """The most seats a plan allows ("up to 25"), None when it has no maximum."""
    maximum = _MAXIMUM.search(_seats_limit(plan))
    return int(maximum.group(1).replace(",", "")) if maximum else None


def outside_seat_range(plan: PlanEntry, seats: int) -> bool:
    """Whether `seats` is below the plan's seat minimum or above its cap ("18 reps on enterprise": 25 minimum)."""
    least, cap = _seat_minimum(plan), _seat_cap(plan)
    return (least is not None and seats < least) or (cap is not None and seats > cap)


def _smallest_plan_for(view: ProductView, plan: PlanEntry, seats: int) -> PlanEntry | None:
    """The first plan above `plan` that takes `seats`."""
    return next((p for p in view.payload["plans"] if p["position"] > plan["position"]
                 and ((cap := _seat_cap(p)) is None or cap >= seats)), None)


_MINIMUM_KEY = re.compile(r"^minimum (\w+)$", re.IGNORECASE)


def _billed_minimum(plan: PlanEntry) -> int | None:
    """A "Minimum employees: 50" limit of a per-seat plan: the least units it bills."""
    for key, value in plan["limits"].items():
        if _MINIMUM_KEY.match(key.strip()) and (value or "").strip().replace(",", "").isdigit():
            return int(value.replace(",", ""))
    return None


# "Priced per employee: ...": the unit a per-seat plan is counted in, as its description says.
_PRICED_PER = re.compile(r"priced per ([a-z]{3,20})\b", re.IGNORECASE)


def seat_word(plan: PlanEntry) -> str:
    """What one unit of a per-seat plan is called: "seat", or the unit its description gives ("employee")."""
    unit = _PRICED_PER.match(plan["description"] or "")
    return unit.group(1).lower().removesuffix("s") if unit else "seat"


def _unit_of(plan: PlanEntry) -> str:
    key = next((k for k in plan["limits"] if _MINIMUM_KEY.match(k.strip())), "minimum seats")
    return _MINIMUM_KEY.match(key.strip()).group(1).lower()  # type: ignore[union-attr]


def instead_of(view: ProductView, plan: PlanEntry, seats: int | None) -> tuple[int, PlanEntry] | None:
    """(the plan's seat cap, the smallest bigger plan taking `seats`) when `seats` is over the plan's cap."""
    cap = _seat_cap(plan)
    if seats is None or cap is None or seats <= cap:
        return None
    bigger = _smallest_plan_for(view, plan, seats)
    return (cap, bigger) if bigger is not None else None


def _seat_limits(view: ProductView, plan: PlanEntry, seats: int) -> list[str]:
    seat_limit = _seats_limit(plan)
    if not seat_limit:
        return []
    least = _seat_minimum(plan)
    if least is not None and seats < least:
        return [f"Note: {plan['name']} has a {least}-seat minimum ({seat_limit})."]
    cap = _seat_cap(plan)
    if cap is not None and seats > cap:
        bigger = _smallest_plan_for(view, plan, seats)
        note = f"Note: {plan['name']} allows {seat_limit} seats"
        if bigger is None:
            return [note + f"; no plan takes {seats} seats."]
        price = bigger["price_cents"]
        cost = f": {seats} × {money(price, bigger['currency'])} = {money(price * seats, bigger['currency'])} per month" \
            if price and bigger["per_seat"] else ""
        return [note + f". The smallest plan for {seats} seats is {bold(bigger['name'])}{cost}."]
    return []


# "is 31.20 right for team annual", "growth is 55.20 a seat right?", "rachel quoted 149 a seat, correct?": a figure to check
_CHECKS = re.compile(r"\b(?:right|correct|accurate|legit|sound right|look right)\b(?:\s*[?!]|\s*$)|\b(?:is|was|it's|its|that's|thats) "
                     r"(?:[^?!\n]{0,60} )?(?:right|correct|accurate)\b|\bconfirm\b|\bsanity[- ]check\b|\bdouble[- ]check\b")
# An amount: with a currency sign or cents, or said per seat ("149 a seat"); never a count of seats
_AMOUNT = re.compile(r"(?<![\w.,])(?:\$\s?(\d{1,7}(?:,\d{3})*(?:\.\d{1,2})?)|(\d{1,7}(?:,\d{3})*\.\d{1,2})|"
                     r"(\d{1,6}(?:,\d{3})*)(?=\s?(?:a|per|/)\s?(?:seat|user|head|month|mo|yr|year)\b))(?![\d%])")


# "is 59 right for growth": a bare number, when it counts nothing
_BARE_AMOUNT = re.compile(r"(?<![\w.,$])(\d{2,6})(?![\d,.%])(?!\s*(?:seats?|users?|people|ppl|reps?|employees?|licen\w*|"
                          r"viewers?|tasks?|months?|mos?|years?|yrs?|days?)\b)")


def checked_figure(view: ProductView, plans: Sequence[PlanEntry], words: str, seats: int | None,
                   off: float | None) -> str | None:
    """"Yes: $31.20 is ..." or "No: ..." for an amount the message asks to check against the plans' prices; None when
    it checks none."""
    lowered = words[:500].lower()
    checks = bool(_CHECKS.search(lowered))
    found = (_AMOUNT.search(lowered) or _BARE_AMOUNT.search(lowered)) if checks else None
    if found is None or not plans:
        return None
    typed = float(next(group for group in found.groups() if group).replace(",", ""))
    typed_cents = round(typed * 100)
    for plan in plans:
        for cents, meaning in _figures(plan, seats, off):
            if abs(cents - typed_cents) <= 1:
                return f"Yes: {money(cents, plan['currency'])} is {view.name} {plan['name']}'s {meaning}."
    plan = plans[0]
    if plan["price_cents"] is None:
        return f"{view.name} {plan['name']} has custom pricing, so I can't check {money(typed_cents, plan['currency'])}."
    figures = "; ".join(f"{meaning} {money(cents, plan['currency'])}" for cents, meaning in _figures(plan, seats, off)[:4])
    return f"No: I don't get {money(typed_cents, plan['currency'])} for {view.name} {plan['name']}. Its figures: {figures}."


def _figures(plan: PlanEntry, seats: int | None, off: float | None) -> list[tuple[float, str]]:
    """(cents, what it is) for every figure a rep may quote of the plan: per seat and in total, list and billed annually,
    with the deal's discount when there is one."""
    price = plan["price_cents"]
    if not price:
        return []
    word = seat_word(plan) if plan["per_seat"] else "month"
    discount = plan["annual_discount_pct"] or 0
    annual = price * (100 - discount) / 100
    unit = f"per {word} per month" if plan["per_seat"] else "monthly price"
    figures: list[tuple[float, str]] = [(price, f"list price {unit}")]
    if discount:
        figures.append((annual, f"price {unit} billed annually ({discount}% off {money(price, plan['currency'])})"))
    figures.append((price * 12, f"list price per {word} per year" if plan["per_seat"] else "list price per year"))
    if discount:
        figures.append((annual * 12, "price per year billed annually"))
    if off:
        share = (100 - off) / 100
        figures += [(price * share, f"price {unit} with {off:g}% off list"),
                    (annual * share, f"price {unit} billed annually with {off:g}% off that")]
    if seats and plan["per_seat"]:
        figures += [(cents * seats, f"{meaning.replace('per ' + word + ' ', '')} for {seats} {word}s")
                    for cents, meaning in list(figures)]
    return figures
