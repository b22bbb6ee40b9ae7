"""Discounts the catalog's FAQs give a kind of customer: "Registered nonprofits get 30% off any plan", "Startups with under
$5M in funding get 50% off Team or Growth for the first year".

A quote for such a customer ("nonprofit, 10 growth seats - price?") takes that discount off, saying where it comes from.
The FAQ sentences are read once per snapshot version; a message is matched against the customer words they name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.reader import ProductView
from knowledge.snapshot_schema import PlanEntry

MAX_SCAN_CHARS = 300
# "<who> get(s) 30% off <what>": who the discount is for, how much, and on what
_GETS_OFF = re.compile(r"(?P<who>[A-Z][^.;:]{2,80}?) (?:get|gets|receive|receives|qualify for) (?P<pct>\d{1,2})% off "
                       r"(?P<what>[^.;]{1,80})")
_CUSTOMER_WORDS = re.compile(r"[a-z][a-z-]{3,}")
_NOT_A_CUSTOMER_WORD = frozenset({"registered", "with", "under", "over", "than", "funding", "their", "first", "year", "customers",
                                  "teams", "companies", "organisations", "organizations"})
_ANY_PLAN_WORDS = frozenset({"any", "every", "all", "plan", "plans", "the", "a", "of", "on", "our", "for", "first", "year",
                             "subscription", "subscriptions", "price", "list"})
_SAME_WORD = {"non-profit": "nonprofit", "nonprofits": "nonprofit", "non-profits": "nonprofit", "charity": "nonprofit",
              "charities": "nonprofit", "ngo": "nonprofit", "startups": "startup", "start-up": "startup",
              "start-ups": "startup"}


@dataclass(frozen=True)
class FaqDiscount:
    percent: float
    sentence: str  # as the FAQ says it
    words: frozenset[str]  # the customer it is for ("nonprofit")
    plans: frozenset[str]  # the plans it is on, lower case; empty: any plan
    faq: str  # the question of the FAQ that says it

    def applies_to(self, plan: PlanEntry) -> bool:
        return not self.plans or plan["name"].lower() in self.plans


_cache: dict[tuple[str, int], tuple[FaqDiscount, ...]] = {}


def faq_discounts(view: ProductView) -> tuple[FaqDiscount, ...]:
    """Every "<who> get N% off <what>" sentence of the product's FAQ answers, read once per snapshot version."""
    key = (view.slug, view.version)
    if key not in _cache:
        if len(_cache) > 64:
            _cache.clear()
        plan_names = {plan["name"].lower() for plan in view.payload["plans"]}
        found: list[FaqDiscount] = []
        for faq in view.payload["faqs"]:
            for match in _GETS_OFF.finditer(faq["answer"]):
                who = {_SAME_WORD.get(word, word) for word in _CUSTOMER_WORDS.findall(match.group("who").lower())}
                what = set(re.findall(r"[a-z]+", match.group("what").lower()))
                if not what & plan_names and view.name.lower() not in what and what - _ANY_PLAN_WORDS:
                    continue  # "... get 20% off Beacon" in Orbit's FAQs: another product's price, not this one's
                found.append(FaqDiscount(float(match.group("pct")), match.group(0).strip(),
                                         frozenset(who - _NOT_A_CUSTOMER_WORD), frozenset(what & plan_names), faq["question"]))
        _cache[key] = tuple(found)
    return _cache[key]


def discount_for(view: ProductView, plan: PlanEntry, words: str) -> FaqDiscount | None:
    """The FAQ discount the message's customer gets on `plan` ("nonprofit, 10 growth seats"), or None."""
    typed = _customer_words(words)
    return next((d for d in faq_discounts(view) if d.words & typed and d.applies_to(plan)), None)


def named_in(view: ProductView, faq: str, words: str) -> FaqDiscount | None:
    """The discount of the FAQ `faq` for the customer the message names ("any deal for charities" -> 30% off), or None."""
    typed = _customer_words(words)
    found = [d for d in faq_discounts(view) if d.faq == faq and d.words & typed]
    return found[0] if len(found) == 1 else None


def kept_in_thread(view: ProductView, faq: str | None, percent: float | None) -> FaqDiscount | None:
    """The discount of the FAQ `faq` (any FAQ when None) a thread kept as `percent` after that FAQ answered a kind of
    customer; None when none, or several, give that percentage."""
    if not percent:
        return None
    found = [d for d in faq_discounts(view) if (faq is None or d.faq == faq) and d.percent == percent]
    return found[0] if len(found) == 1 else None


def _customer_words(words: str) -> set[str]:
    return {_SAME_WORD.get(word, word) for word in _CUSTOMER_WORDS.findall(words[:MAX_SCAN_CHARS].lower())}
