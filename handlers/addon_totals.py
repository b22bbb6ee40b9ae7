"""A plan with add-ons, totalled: "pro for 20 seats with analytics", "plus with 2 extra task packs".

The plan's price (× seats when per seat) plus each add-on's (× how many packs, × seats when the add-on
is per seat), with the arithmetic shown, and the capacity the packs bring when the plan has that limit.
Every scan is one regex pass over the message's opening, so the cost is linear in its length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from handlers.formatting import bold
from handlers.quotes import money
from knowledge.reader import ProductView
from knowledge.snapshot_schema import AddOnEntry, PlanEntry

MAX_SCAN_CHARS = 500
MAX_PACKS = 1_000  # a count past this is not a number of packs
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10}
# What joins a plan and an add-on in a question: "pro with analytics", "scale + tax automation", "plus sms".
_JOINED = re.compile(r"(?:\bwith|\band|\bplus|\+|\bincluding|\binclude|\badding|\badd|\bthrow in|\btoss in)\W+(?:\w+\W+){0,3}$")
# "10,000 more tasks a month", "1,000 SMS survey sends a month": what one pack brings.
_PACK_BRINGS = re.compile(r"^(?:adds )?(\d[\d,]*)\s+(?:more\s+|extra\s+)?([a-z][a-z ]{0,40}?)\s+(?:a|per|each)\s+month",
                          re.IGNORECASE)
_AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(k|thousand)?\s+(?:[a-z]+\s+){0,2}?([a-z]+)")
_MONTHLY = re.compile(r"\b(?:monthly|per month|a month|each month|/mo)\b")
_ANNUAL_BILLING = re.compile(r"\b(?:billed|paid|paying|pay|billing)\s+(?:annually|yearly|per year|for the year)\b|"
                             r"\bannual(?:ly)? billing\b|\bon an annual\b")
_HOW_MANY = re.compile(r"\bhow (?:many|much)\b|\btotal\b")


def _word_pattern(word: str) -> str:
    """A name word as typed: "tasks" also as "task", "insights" as "insight"."""
    stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
    return re.escape(stem) + r"s?"


def _mention(addon: AddOnEntry, lowered: str) -> re.Match[str] | None:
    words = re.findall(r"[a-z0-9]+", addon["name"].lower())
    if not words:
        return None
    full = re.search(r"\b" + r"[\s-]+".join(_word_pattern(w) for w in words) + r"\b", lowered)
    if full:
        return full
    if len(words) > 1 and len(words[0]) >= 3:
        # "plus sms for ~3k sends": the name's first word, right after a joining word
        # (a count of packs between: "+ 6 sms packs")
        first = re.search(r"(?:\bwith|\bplus|\+|\band)\s+(?:\d{1,4}\s+)?(" + _word_pattern(words[0]) + r")\b", lowered)
        if first:
            return first
    return None


def _count(addon: AddOnEntry, lowered: str, mention: re.Match[str]) -> tuple[int, str | None]:
    """(packs, why) for the add-on: a number typed before it, or enough packs for an amount asked."""
    start = mention.start(mention.lastindex or 0)  # (the name itself: "+ 6 sms packs" counts from "sms")
    before = re.search(r"(\d{1,4}|" + "|".join(_NUMBER_WORDS) + r")\s+(?:x\s+)?(?:extra\s+|more\s+|additional\s+)?"
                       r"(?:(?:packs?|blocks?|units?)\s+of\s+(?:the\s+)?)?$",  # ("+ 2 packs of sms credits")
                       lowered[max(0, start - 30): start])
    if before:
        value = before.group(1)
        packs = int(value) if value.isdigit() else _NUMBER_WORDS[value]
        if 0 < packs <= MAX_PACKS:
            return packs, None
    after = _PACKS_AFTER.match(lowered[mention.end():])
    if after:  # "plus sms credits, say 3 packs"
        value = after.group(1)
        packs = int(value) if value.isdigit() else _NUMBER_WORDS[value]
        if 0 < packs <= MAX_PACKS:
            return packs, None
    brings = _PACK_BRINGS.search(addon["description"])
    if brings:
        unit = int(brings.group(1).replace(",", ""))
        noun = brings.group(2).split()[-1].lower().rstrip("s")
        for amount in _AMOUNT.finditer(lowered[mention.end():]):
            if amount.group(3).rstrip("s") == noun and unit:
                need = float(amount.group(1).replace(",", "")) * (1_000 if amount.group(2) else 1)
                packs = max(1, math.ceil(need / unit))
                if packs <= MAX_PACKS:
                    return packs, f"{need:,.0f} {brings.group(2)} a month ÷ {unit:,} per pack"
    return 1, None


# "2 extra sms credits", "+ 2 packs of sms credits": a count right before an add-on's name puts it on the quote
_COUNTED_BEFORE = re.compile(r"\d\s+(?:x\s+)?(?:extra\s+|more\s+|additional\s+)?(?:(?:packs?|blocks?|units?)\s+of\s+(?:the\s+)?)?$")
# "sms credits, say 3 packs", "api capacity x2": how many, said after the add-on's name
_PACKS_AFTER = re.compile(r"[\s,:-]*(?:(?:say|like|about|around|maybe|probably)\s+)?(?:x\s?)?(\d{1,4}|" + "|".join(_NUMBER_WORDS)
                          + r")(?:\s+(?:packs?|blocks?|units?|of them))?\b(?!\s*(?:seats?|users?|%|k\b))")
# "if they add 2 packs", "3 of them", "two more blocks": how many of the add-on just discussed
_PACKS_OF_IT = re.compile(r"(?<![\w.$])(\d{1,4}|" + "|".join(_NUMBER_WORDS) + r")\s+(?:x\s+)?(?:extra\s+|more\s+|additional\s+)?"
                          r"(?:packs?|blocks?|units?|of (?:them|those|these|it)|add-?ons?)\b")


def packs_priced(addon: AddOnEntry, text: str) -> str | None:
    """"2 × $200 = $400 per month" for a number of a flat-priced add-on's packs the message asks about; None otherwise."""
    found = _PACKS_OF_IT.search(text.lower()[:MAX_SCAN_CHARS])
    price = addon["price_cents"]
    if found is None or price is None or addon["per_seat"] or addon["billing_period"] not in ("month", "year"):
        return None
    value = found.group(1)
    packs = int(value) if value.isdigit() else _NUMBER_WORDS[value]
    if not 1 < packs <= MAX_PACKS:
        return None
    currency = addon["currency"]
    return (f"{packs} packs: {packs} × {money(price, currency)} = {bold(money(price * packs, currency))} "
            f"per {addon['billing_period']}.")


def included_on(addon: AddOnEntry, plan: PlanEntry) -> bool:
    """Whether the add-on's description says a plan includes it ("included at no extra cost on Enterprise")."""
    return bool(re.search(rf"\bincluded\b[^.]{{0,40}}\b{re.escape(plan['name'])}\b", addon["description"] or "", re.IGNORECASE))


# "analytics addon for 60 pro seats": the add-on opening the message, on the plan named after it
_OPENS = re.compile(r"^\W*(?:(?:and|so|ok|what about|how much is|how much for|whats|what's|price (?:of|for))\s+)?(?:the\s+|an?\s+)?$")


_PER_YEAR = re.compile(r"\b(?:per|a|each|/) ?(?:yr|year)\b|\b(?:yearly|annual(?:ly)?)\b")
# "analytics on all 60 pro seats", "premium support for their 40 seats": the add-on put on that many seats
_ON_SEATS = re.compile(r"\s*(?:add-?on\s+)?(?:on|for|across)\s+(?:all\s+|the\s+|their\s+|our\s+)?(?:of\s+(?:the\s+|their\s+))?\d")


def asked_addons(view: ProductView, plan: PlanEntry, text: str) -> list[tuple[AddOnEntry, int, str | None]]:
    """The add-ons a question adds to `plan`, with how many of each (empty when it adds none)."""
    lowered = text.lower()[:MAX_SCAN_CHARS]
    found: list[tuple[AddOnEntry, int, str | None]] = []
    for addon in view.payload["addons"]:
        if addon["price_cents"] is None or addon["billing_period"] not in ("month", "year"):
            continue
        mention = _mention(addon, lowered)
        start = mention.start(mention.lastindex or 0) if mention else 0
        if mention is None or not (_JOINED.search(lowered[:start]) or _OPENS.match(lowered[:start])
                                   or _ON_SEATS.match(lowered[mention.end():])
                                   or _COUNTED_BEFORE.search(lowered[max(0, start - 40):start])):
            continue
        packs, why = _count(addon, lowered, mention)
        found.append((addon, packs, why))
    return found


def total(view: ProductView, plan: PlanEntry, seats: int | None, addons: Sequence[tuple[AddOnEntry, int, str | None]],
          text: str, term: str | None = None) -> str | None:
    """The monthly total of the plan and its add-ons, the arithmetic shown; None when the plan has no list price.
    `term`: "year" when a yearly figure is asked (typed or kept from the thread): the plan billed annually."""
    price, currency = plan["price_cents"], plan["currency"]
    if price is None or plan["billing_period"] != "month":
        return None
    lowered = text.lower()[:MAX_SCAN_CHARS]
    count = seats or 1
    lines: list[str] = []
    if plan["per_seat"]:
        plan_cost = price * count
        lines.append(f"{view.name} {bold(plan['name'])}: {count} seat{'s' if count != 1 else ''} × {money(price, currency)} = "
                     f"{money(plan_cost, currency)} per month.")
    else:
        plan_cost = price
        lines.append(f"{view.name} {bold(plan['name'])}: {money(price, currency)} per month (not priced per seat).")
    discount = plan["annual_discount_pct"] or 0
    annual = (term == "year" or bool(_ANNUAL_BILLING.search(lowered))) and discount > 0
    if annual:
        plan_cost = plan_cost * (100 - discount) / 100
        lines.append(f"Billed annually ({discount}% off): {money(plan_cost, currency)} per month for the plan.")
    monthly_total = plan_cost
    yearly_extra = 0.0
    for addon, packs, why in addons:
        unit = addon["price_cents"] or 0
        label = f"{bold(addon['name'])} add-on"
        if included_on(addon, plan):
            lines.append(f"{label}: included with {plan['name']} at no extra cost.")
            continue
        if addon["available_on"] and plan["slug"] not in addon["available_on"]:
            lines.append(f"Note: the {addon['name']} add-on is not available on {plan['name']}.")
            continue
        if addon["billing_period"] == "year":
            yearly_extra += unit * packs
            lines.append(f"{label}: {money(unit * packs, currency)} per year on top.")
            continue
        factors = [f"{money(unit, currency)}"]
        cost = unit * packs
        if packs != 1:
            factors.insert(0, f"{packs} packs")
        if addon["per_seat"]:
            factors.insert(0, f"{count} seats")
            cost *= count
        if why:
            lines.append(f"{addon['name']}: {why} = {packs} pack{'s' if packs != 1 else ''}.")
        shown = f"{' × '.join(factors)} = " if len(factors) > 1 else ""  # ("$20 = $20" says nothing)
        yearly = f" ({money(cost * 12, currency)} a year)" if annual or _PER_YEAR.search(lowered) else ""
        lines.append(f"{label}: {shown}{money(cost, currency)} per month{yearly}.")
        monthly_total += cost
        capacity = _capacity(plan, addon, packs)
        if capacity and _HOW_MANY.search(lowered):
            lines.append(capacity)
    lines.append(f"Total: {bold(money(monthly_total, currency))} per month"
                 + (f" ({money(monthly_total * 12, currency)} a year)" if not _MONTHLY.search(lowered) or annual else "")
                 + (f", plus {money(yearly_extra, currency)} a year" if yearly_extra else "") + ".")
    return "\n".join(lines)


def _capacity(plan: PlanEntry, addon: AddOnEntry, packs: int) -> str | None:
    """"Tasks: 20,000 + 2 × 10,000 = 40,000 per month", when a pack adds to one of the plan's limits."""
    brings = _PACK_BRINGS.search(addon["description"])
    if not brings:
        return None
    unit = int(brings.group(1).replace(",", ""))
    noun = brings.group(2).split()[-1].lower().rstrip("s")
    for name, value in plan["limits"].items():
        if name.lower().rstrip("s") != noun:
            continue
        base = re.match(r"(\d[\d,]*)", value or "")
        if not base:
            return None
        amount = int(base.group(1).replace(",", ""))
        return (f"{name}: {amount:,} on {plan['name']} + {packs} × {unit:,} = {bold(f'{amount + packs * unit:,}')} per month.")
    return None


# "they need like 50k tasks a mo", "5k sms sends a month", "if they go 250k tasks": an amount of something packs add
_NEEDED = re.compile(r"(?<![\w.$])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k|thousand|m|million)?\b\s+((?:[a-z-]+\s+){0,2}[a-z-]+)")
_SCALE = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}
_COUNTS_PACKS = re.compile(r"\b(?:packs?|extra|more|additional|bundles?|blocks?)\b")
# "they need like 50k a month", "around 30,000 per mo": an amount with no noun of its own
_BARE_AMOUNT = re.compile(r"(?<![\w.$])(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?\s?(?:k|m)\b|\d{4,})(?=\s+(?:a|per|each|every|/)\s?(?:mo|month)\b)")
_NEEDED_NOUN = re.compile(r"(?<![\w.$])\d[\d,.]*\s?(?:k|m|thousand|million)?\s+(?:[a-z-]+\s+){0,1}(?:tasks?|responses?|viewers?|"
                          r"requests?|emails?|credits?|records?|invoices?|seats?|users?|employees?)\b")


def for_a_need(view: ProductView, plan: PlanEntry, text: str, counted: str | None = None) -> str | None:
    """How many of an add-on's packs `plan` needs for an amount the message states ("50k tasks a mo" on Relay Plus: its
    20,000 plus 3 packs of 10,000), priced with the plan, and the bigger plan that holds it, if one does; None when the
    message states no amount a pack brings. `counted`: what the thread was counting ("Tasks"), for an amount said
    without its noun ("they need like 50k a month")."""
    lowered = text.lower()[:MAX_SCAN_CHARS]
    if counted:
        bare = _BARE_AMOUNT.search(lowered)
        if bare is not None and not _NEEDED_NOUN.search(lowered):
            lowered = f"{lowered[:bare.end()]} {counted.lower()}{lowered[bare.end():]}"
    for addon in view.payload["addons"]:
        brings = _PACK_BRINGS.search(addon["description"])
        if not brings or addon["price_cents"] is None or addon["billing_period"] != "month":
            continue
        unit = int(brings.group(1).replace(",", ""))
        noun = brings.group(2).split()[-1].lower().rstrip("s")
        need = next((float(m.group(1).replace(",", "")) * _SCALE.get(m.group(2) or "", 1) for m in _NEEDED.finditer(lowered)
                     if noun in (word.rstrip("s") for word in m.group(3).split())
                     and not _COUNTS_PACKS.search(m.group(3))), None)  # ("2 extra task packs" counts packs)
        if not need or not unit:
            continue
        return _packs_line(view, plan, addon, unit, noun, brings.group(2).strip(), need)
    return None


def _packs_line(view: ProductView, plan: PlanEntry, addon: AddOnEntry, unit: int, noun: str, what: str, need: float) -> str:
    currency = plan["currency"]
    base = _included(plan, noun)
    name = f"{view.name} {bold(plan['name'])}"
    if base >= need:
        return f"{name} includes {base:,} {what} a month: enough for {need:,.0f}."
    if addon["available_on"] and plan["slug"] not in addon["available_on"]:
        return f"{name} includes {base:,} {what} a month, and the {addon['name']} add-on is not available on it."
    packs = math.ceil((need - base) / unit)
    if packs > MAX_PACKS:
        return f"{name} includes {base:,} {what} a month; {need:,.0f} would take more than {MAX_PACKS:,} packs."
    price = plan["price_cents"] or 0
    per_seat = " per seat" if plan["per_seat"] else ""
    pack = f"{packs} × {bold(addon['name'])} ({unit:,} each, {money(addon['price_cents'] or 0, currency)} a month)"
    lines = [f"For {need:,.0f} {what} a month on {name}: " + (f"it includes {base:,}, so {pack} covers the rest." if base
                                                                else f"{pack}.")]
    if price and not plan["per_seat"]:
        total = price + packs * (addon["price_cents"] or 0)
        lines.append(f"Total: {money(price, currency)} + {packs} × {money(addon['price_cents'] or 0, currency)} = "
                     f"{bold(money(total, currency))} per month.")
    else:
        lines.append(f"The packs add {bold(money(packs * (addon['price_cents'] or 0), currency))} per month"
                     + (f" to the plan's {money(price, currency)}{per_seat}." if price else "."))
    bigger = next((p for p in view.payload["plans"] if p["position"] > plan["position"] and _included(p, noun) >= need), None)
    if bigger is not None:
        lines.append(f"Or {bold(bigger['name'])}, which includes {_included(bigger, noun):,} {what} a month"
                     + (f", at {money(bigger['price_cents'], currency)} per month." if bigger["price_cents"] else "."))
    return "\n".join(lines)


def _included(plan: PlanEntry, noun: str) -> int:
    """How many of `noun` a month the plan's limits include (0 when none says)."""
    for name, value in plan["limits"].items():
        if name.lower().rstrip("s") == noun or name.lower().split()[-1].rstrip("s") == noun:
            base = re.match(r"(\d[\d,]*)", value or "")
            return int(base.group(1).replace(",", "")) if base else 0
    return 0
