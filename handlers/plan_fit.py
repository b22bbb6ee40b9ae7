"""Which plan fits a need, and what it comes to: the arithmetic behind "40 reps who want forecasting".

Everything is read from the snapshot payload: a plan's capacity is its limit's value ("up to 100",
"25 minimum, no maximum", "20,000 per month", "custom"), an add-on that raises it says so in its
description ("10,000 more tasks a month"). Nothing here knows a product by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.formatting import bold
from handlers.quotes import money, quote
from handlers.text_match import terms
from knowledge.reader import ProductView
from knowledge.snapshot_schema import PlanEntry, ProductPayload

MAX_SCAN_CHARS = 500
# "40 reps", "~400k/mo", "$1.2m", "35k", "220 employees": a number, a scale, and what follows it.
_AMOUNT = re.compile(
    r"(?<![\w.,])(\$\s?)?~?\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?(k|m|mm|million|thousand)?\b"
    r"(?!\s?(?:%|percent|am|pm|min|minutes?|hours?|days?|weeks?|years?|months?|gb|tb)\b)"
    r"(?:\s?(bucks|dollars|usd))?((?:\s*[a-z][\w'-]*)(?:\s+[a-z][\w'-]*)?)?"
)
_SCALE = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "mm": 1_000_000, "million": 1_000_000}
# What people are counted in: a per-seat plan charges per one of them.
_PEOPLE = frozenset(
    "seat seats user users rep reps people ppl person persons employee employees employe employes staff head heads "
    "headcount licence licences license licenses agent agents member members seller sellers".split()
)
_UNLIMITED = re.compile(r"\b(?:unlimited|no maximum|no max|custom)\b", re.IGNORECASE)
_UP_TO = re.compile(r"\bup to \$?(\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
_MINIMUM_OF = re.compile(r"\$?(\d[\d,]*)\s*(?:\w+\s)?minimum|minimum (?:of )?\$?(\d[\d,]*)", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^\$?(\d[\d,]*(?:\.\d+)?)(?:\s|$)")
_NOT_CAPACITY = re.compile(r"%|\b(?:minutes?|seconds?|hours?|days?|years?|requests?/|gb|tb)\b", re.IGNORECASE)
_MORE_OF = re.compile(r"(\d[\d,]*)\s+(?:more|extra|additional)\s+([a-z][\w ]{0,40})", re.IGNORECASE)
# "the one above that", "next tier up", "a plan down": the plan next to the one discussed.
_NEXT_UP = re.compile(r"\b(?:(?:one|plan|tier|level|edition)s? (?:above|up|higher)|next (?:plan|tier|level|one)(?: up)?|"
                      r"step up|(?:bigger|higher|larger) (?:plan|tier|one))\b", re.IGNORECASE)
_NEXT_DOWN = re.compile(r"\b(?:(?:one|plan|tier|level|edition)s? (?:below|down|lower)|(?:plan|tier|level) under|"
                        r"step down|(?:smaller|lower|cheaper) (?:plan|tier|one))\b", re.IGNORECASE)
# "which plan do they need", "what tier", "cheapest way", "can they just do starter": a plan is to be chosen.
_CHOOSE = re.compile(
    r"\b(?:which|what) (?:\w+ )?(?:plan|tier|edition|package|one)s?\b|\bcheapest (?:way|option|plan|tier|route)\b|"
    r"\bsmallest (?:plan|tier)\b|\b(?:do|does|would|will) (?:they|we|he|she|it|i) need\b|\bwhat (?:fits|works)\b|"
    r"\b(?:can|could|should) (?:they|we|he|she|i) (?:just )?(?:do|use|go with|get by (?:on|with)|stay on|start on|stick with)\b",
    re.IGNORECASE)
_MINIMUM_WORD = re.compile(r"\b(?:minimum|min|floor)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Capacity:
    """What a plan allows of one limit: at least `low`, at most `high` (None: no maximum)."""

    low: float
    high: float | None


@dataclass(frozen=True)
class Need:
    amount: float
    limit: str | None  # the limit the amount is counted against; None: seats with no seat limit listed
    people: bool  # counted in people (seats, employees), so a per-seat price multiplies by it


def capacity(value: str, limit_name: str = "") -> Capacity | None:
    """A limit's value read as a range: "up to 25" -> (0, 25); "25 minimum, no maximum" -> (25, None);
    "20,000 per month" -> (0, 20000); "custom"/"unlimited" -> (0, None); None when it is no amount."""
    low = 0.0
    minimum = _MINIMUM_OF.search(value)
    if minimum:
        low = _number(minimum.group(1) or minimum.group(2))
    if _UNLIMITED.search(value):
        return Capacity(low, None)
    if _NOT_CAPACITY.search(value):
        return None
    up_to = _UP_TO.search(value)
    if up_to:
        return Capacity(low, _number(up_to.group(1)))
    leading = _LEADING_NUMBER.match(value.strip())
    if leading and not minimum:
        if "minimum" in limit_name.lower():
            return Capacity(_number(leading.group(1)), None)
        return Capacity(0.0, _number(leading.group(1)))
    return Capacity(low, None) if minimum else None


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def metered_limits(payload: ProductPayload) -> dict[str, dict[str, Capacity]]:
    """Limit name -> plan slug -> capacity, for limits that read as amounts on every plan listing them
    and never shrink from one plan to the next (a polling interval shrinks: it is no capacity)."""
    found: dict[str, dict[str, Capacity]] = {}
    names = {name for plan in payload["plans"] for name in plan["limits"]}
    for name in sorted(names):
        per_plan: dict[str, Capacity] = {}
        for plan in sorted(payload["plans"], key=lambda p: p["position"]):
            if name in plan["limits"]:
                read = capacity(plan["limits"][name], name)
                if read is None:
                    break
                per_plan[plan["slug"]] = read
        else:
            highs = [c.high if c.high is not None else math.inf for c in per_plan.values()]
            if per_plan and all(a <= b for a, b in zip(highs, highs[1:])):
                found[name] = per_plan
    return found


def asked_need(text: str, payload: ProductPayload, seats: int | None) -> Need | None:
    """The amount the message says the customer needs, and the limit it is counted against."""
    lowered = text.lower()[:MAX_SCAN_CHARS]
    metered = metered_limits(payload)
    seat_limits = [name for name in metered if terms(name) & {"seat", "employee", "user"}]
    per_seat = any(p["per_seat"] for p in payload["plans"])
    for match in _AMOUNT.finditer(lowered):
        dollars, digits, scale, money_word, after = match.groups()
        amount = _number(digits) * _SCALE.get(scale or "", 1)
        following = (after or "").split()
        if len(following) > 1 and following[0] in ("a", "an", "per", "each") and following[1] in _PEOPLE:
            continue  # "is 149 a seat right": a price per seat, not 149 of them
        if following and following[0] in _PEOPLE:
            if per_seat or seat_limits:
                return Need(amount, seat_limits[0] if seat_limits else None, True)
            continue
        said = terms(" ".join(following))
        named = [name for name in metered if said & terms(name)]
        if dollars or money_word:
            # "$400k a month" is an amount only where limits are amounts of money ("up to $50,000")
            named = [name for name in metered if any("$" in p["limits"].get(name, "") for p in payload["plans"])]
            if len(named) == 1 and not (scale or amount >= 1000):
                continue  # "$19 a head" is a price, not a volume
        elif not named:
            counted = [name for name in metered if name not in seat_limits]
            named = counted if len(counted) == 1 and (scale or amount >= 1000) else []
        if len(named) == 1:
            return Need(amount, named[0], False)
    if seats:
        return Need(float(seats), seat_limits[0] if seat_limits else None, True)
    return None


def asks_to_choose(text: str) -> bool:
    return bool(_CHOOSE.search(text[:MAX_SCAN_CHARS]))


def neighbour(payload: ProductPayload, plan: PlanEntry, text: str) -> PlanEntry | None:
    """The plan above (or below) `plan` when the message asks for "the one above that"."""
    lowered = text[:MAX_SCAN_CHARS]
    step = 1 if _NEXT_UP.search(lowered) else -1 if _NEXT_DOWN.search(lowered) else 0
    if not step:
        return None
    ordered = sorted(payload["plans"], key=lambda p: p["position"])
    index = next(i for i, p in enumerate(ordered) if p["slug"] == plan["slug"])
    return ordered[index + step] if 0 <= index + step < len(ordered) else None


def seat_minimum(plan: PlanEntry) -> int | None:
    """The least seats (or employees) a plan is sold for, from its limits."""
    for name, value in plan["limits"].items():
        if terms(name) & {"seat", "employee", "user"}:
            read = capacity(value, name)
            if read is not None and read.low:
                return int(read.low)
    return None


def asks_minimum(text: str) -> bool:
    return bool(_MINIMUM_WORD.search(text[:MAX_SCAN_CHARS]))


def fits(plan: PlanEntry, need: Need | None, metered: dict[str, dict[str, Capacity]]) -> bool:
    if need is None or need.limit is None:
        return True
    read = metered.get(need.limit, {}).get(plan["slug"])
    if read is None:
        return plan["limits"].get(need.limit) is None and need.people  # a plan with no seat limit takes any number
    return need.amount >= read.low and (read.high is None or need.amount <= read.high)


def choose(payload: ProductPayload, features: Sequence[Any], need: Need | None) -> PlanEntry | None:
    """The smallest plan with every feature in `features` whose limits take `need`."""
    metered = metered_limits(payload)
    for plan in sorted(payload["plans"], key=lambda p: p["position"]):
        if all(plan["slug"] in feature["plans"] for feature in features) and fits(plan, need, metered):
            return plan
    return None


def _amount_text(amount: float) -> str:
    return f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"


_PRICED_PER = re.compile(r"\bpriced per ([a-z]+)", re.IGNORECASE)


def need_text(payload: ProductPayload, need: Need) -> str:
    """"40 seats", "220 employees" (a plan priced per employee), "$400,000 monthly billing volume"."""
    if need.people:
        units = {m.group(1).lower() for p in payload["plans"] if (m := _PRICED_PER.search(p["description"] or ""))}
        unit = units.pop() if len(units) == 1 else "seat"
        return f"{_amount_text(need.amount)} {unit}s"
    limit = need.limit or ""
    dollars = "$" if any("$" in p["limits"].get(limit, "") for p in payload["plans"]) else ""
    return f"{dollars}{_amount_text(need.amount)} {limit.lower()}".strip()


def recommend(view: ProductView, features: Sequence[Any], need: Need | None, term: str | None) -> str | None:
    """The plan that fits, why, and what it costs (None when no plan fits: the caller answers otherwise)."""
    payload = view.payload
    plan = choose(payload, features, need)
    if plan is None:
        return None
    reasons: list[str] = []
    if features:
        reasons.append(" and ".join(bold(f["name"]) for f in features) + " " + ("come" if len(features) > 1 else "comes")
                       + f" from {plan['name']}" if _first_with(payload, features) == plan["slug"] else
                       "has " + " and ".join(bold(f["name"]) for f in features))
    if need is not None and need.limit is not None and need.limit in plan["limits"]:
        reasons.append(f"{need.limit.lower()} {plan['limits'][need.limit]}")
        smaller = [p for p in payload["plans"] if p["position"] < plan["position"]
                   and all(p["slug"] in f["plans"] for f in features) and need.limit in p["limits"]]
        if smaller:
            below = max(smaller, key=lambda p: p["position"])
            reasons.append(f"{below['name']} stops at {below['limits'][need.limit]}")
    what = need_text(payload, need) if need is not None else ""
    head = f"The smallest {view.name} plan" + (f" for {what}" if what else "")
    head += (" with " + " and ".join(f["name"] for f in features)) if features else ""
    head += f" is {bold(plan['name'])}" + (f" ({'; '.join(reasons)})." if reasons else ".")
    seats = int(need.amount) if need is not None and need.people and plan["per_seat"] else None
    lines = [head, quote(view, plan, seats, term)]
    if need is not None and need.limit is not None and not need.people:
        extra = add_on_route(view, plan, need)
        if extra:
            lines.append(extra)
    return "\n".join(lines)


def _first_with(payload: ProductPayload, features: Sequence[Any]) -> str | None:
    for plan in sorted(payload["plans"], key=lambda p: p["position"]):
        if all(plan["slug"] in f["plans"] for f in features):
            return plan["slug"]
    return None


def add_on_route(view: ProductView, chosen: PlanEntry, need: Need) -> str | None:
    """A smaller plan topped up with add-on packs of the limit, priced beside `chosen`: "Plus + 2 × Extra
    tasks = $107/month vs Business $299/month"."""
    payload = view.payload
    metered = metered_limits(payload)
    per_plan = metered.get(need.limit or "", {})
    limit_words = terms(need.limit or "")
    options: list[str] = []
    for addon in payload["addons"]:
        more = _MORE_OF.search(addon["description"] or "")
        if not more or not (terms(more.group(2)) & limit_words) or addon["price_cents"] is None or addon["per_seat"]:
            continue
        pack = _number(more.group(1))
        for plan in sorted(payload["plans"], key=lambda p: p["position"]):
            read = per_plan.get(plan["slug"])
            if (plan["position"] >= chosen["position"] or read is None or read.high is None or not plan["price_cents"]
                    or (addon["available_on"] and plan["slug"] not in addon["available_on"])
                    or plan["billing_period"] != addon["billing_period"] or plan["per_seat"]):
                continue
            packs = math.ceil(max(need.amount - read.high, 0) / pack)
            if packs == 0:
                continue
            total = plan["price_cents"] + packs * addon["price_cents"]
            currency = plan["currency"]
            line = (f"Or {bold(plan['name'])} ({_amount_text(read.high)}) + {packs} × {addon['name']} "
                    f"({money(addon['price_cents'], currency)} each, {_amount_text(pack)} more): "
                    f"{money(plan['price_cents'], currency)} + {packs} × {money(addon['price_cents'], currency)} = "
                    f"{bold(money(total, currency))} per {plan['billing_period']}")
            if chosen["price_cents"] and chosen["billing_period"] == plan["billing_period"] and not chosen["per_seat"]:
                cheaper = "cheaper" if total < chosen["price_cents"] else "dearer"
                line += f", {cheaper} than {chosen['name']} at {money(chosen['price_cents'], chosen['currency'])}"
            options.append(line + ".")
    return "\n".join(options) or None


def check(view: ProductView, plan: PlanEntry, features: Sequence[Any], need: Need, term: str | None) -> tuple[str, PlanEntry]:
    """Whether `plan` takes `need` ("7 reps, can they just do starter?"): yes with its price, or no with
    its limit and the smallest plan that does. Returns the answer and the plan it prices."""
    payload = view.payload
    metered = metered_limits(payload)
    limit = need.limit
    have = f"{plan['limits'][limit]} {limit.lower()}" if limit and limit in plan["limits"] else ""
    what = need_text(payload, need)
    seats = int(need.amount) if need.people and plan["per_seat"] else None
    missing = [f["name"] for f in features if plan["slug"] not in f["plans"]]
    if fits(plan, need, metered) and not missing:
        text = f"Yes: {view.name} {bold(plan['name'])} takes {what}" + (f" ({have})." if have else ".")
        return text + "\n" + quote(view, plan, seats, term), plan
    why = f"{plan['name']} allows {have}" if not fits(plan, need, metered) and have else \
        f"{plan['name']} has no " + " or ".join(missing)
    better = choose(payload, features, need)
    if better is None:
        return f"No: {why}, and no {view.name} plan fits {what}.", plan
    seats = int(need.amount) if need.people and better["per_seat"] else None
    text = f"No: {why}. The smallest plan for {what} is {bold(better['name'])}"
    if limit and limit in better["limits"]:
        text += f" ({better['limits'][limit]} {limit.lower()})"
    return text + ".\n" + quote(view, better, seats, term), better
