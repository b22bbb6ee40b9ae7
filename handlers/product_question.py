"""product_question: plans, prices, features, integrations, limits, compliance, add-ons, FAQ.

The product comes from the snapshot (one query). With the LLM available the answer is written
from the snapshot's precomputed prompt; without it, from the snapshot facts that answer the question
asked: `_aspect` finds what it asks (a price, whether a feature is in a plan, a limit, a comparison...)
and `_render` writes just that. A follow-up naming only a plan asks the previous question's aspect.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from control_plane.frame import Frame
from control_plane.shorthand import SHORTHAND
from control_plane.thread import OVER_YEARS
from control_plane.spelling import english_words
from handlers import addon_totals, faq_discounts, llm_text, plan_fit, prompts
from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import HelpExample, handles
from handlers.formatting import and_list, bold, clean, or_list, table
from handlers.quotes import checked_figure, instead_of, money, negotiated_discount, outside_seat_range, quote, seat_word
from handlers.text_match import Indexed, index_item, score, terms, typed_words, unmatched
from knowledge.reader import ProductView, list_products, read_product, suggest_products
from knowledge.snapshot_prompt import format_price
from knowledge.snapshot_schema import PlanEntry, ProductPayload
from knowledge.thread_memory import TurnContext

MATCH_THRESHOLD = 2.0
DISTINCTIVE_BONUS = 0.5  # per question word found in one item's name only
# An item found by its description needs this much weight of shared words (a word only it has: ~4)...
DESCRIPTION_MATCH = 4.5
DESCRIPTION_MARGIN = 1.0  # ...and this much more than the next item
MAX_SCAN_CHARS = 500  # the opening of a message says what it asks; the rest is not searched for plan names
MAX_LISTED = 15

_WHAT_WE_SELL = re.compile(
    r"\bwhat (?:products|solutions|tools|apps) (?:do |does )?(?:we|you|pitcrew|our company) (?:sell|have|offer)\b|"
    r"\b(?:all|list|list of|our|the) (?:products|product line|portfolio|catalog)\b|\bwhat do we sell\b"
)
_SEATS_ITEM = "item:limit:Seats"
_FREE_TIER = re.compile(r"\bfree (?:tier|plan|version|edition|level|one|option)\b")
_PRICED_PER = re.compile(r"priced (per [a-z ]{1,30}?)[:.,;]", re.IGNORECASE)
# ("55 growth + 10 pro": the seat word may be left out; only a plan's name counts)
_SEATS_OF_PLAN = re.compile(r"\b(\d[\d,]{0,9})\s+(?:x\s+)?([a-z][\w+-]{0,30})(?:\s+(?:seats?|users?|licen[cs]es?))?\b")
# "how much does a tesla model 3 cost": a price asked of something that is not ours
_PRICE_OF_A_THING = re.compile(
    r"\bhow much (?:does|do|is|are|would|will) (?:a|an|the|one) ([a-z][\w-]{0,30}(?: [a-z0-9][\w-]{0,30}){0,2}) "
    r"(?:cost|costs|run|go for|sell for)\b")  # "and for 30 seats?": a quote, not the plan's seat limit
_POINTS_BACK = re.compile(r"\b(?:it|its|it's|them|they|those|this one|that one)\b|\b(?:that|this)\W*$"
                          r"|\b(?:is|does|can|will|would|was|are) (?:that|this)\b(?! (?:plan|tier|one|product)\b)|\bthat's\b",
                          re.IGNORECASE)
_GENERIC_SUBJECTS = frozenset("seat user license licence month year plan tier subscription upgrade seats users".split())
_PERIOD_WORDS = frozenset({"monthly", "annual", "annually", "yearly", "month", "year"})
_COMPARE = re.compile(
    r"\b(compare|comparison|compared|difference|differences|differ|versus|vs\.?)\b|\badds? over\b|"
    r"\bthat \w+ (?:doesn'?t|does not|don'?t|do not) have\b|\bmore than\b|\bover (?:the )?\w+ plan\b"
    r"|\bhave that \w+ (?:doesn'?t|does not|don'?t|do not)\b|\b(?:get|gets|getting) (?:\w+ )?extra (?:on|with|in)\b"
    r"|\bthat \w+ (?:doesn'?t|doesn|does not|don'?t|do not|lacks?|hasn'?t)\b"
)
_PRICE = re.compile(
    r"\b(price|prices|pricing|priced|cost|costs|how much|per seat|per user|per head|per person|per rep|expensive|cheap|cheaper|cheapest|"
    r"pay|fee|fees|charge|discount|billing|billed|quote)\b|\$|\bwhat (?:does|do|would|will) (?:it|they|that|this|[\w-]+) run\b"
)
# A price asked for outright, beside another question ("price + task limit?", "how many MAVs and what does it run").
_EXPLICIT_PRICE = re.compile(
    r"\b(?:price|prices|pricing|priced|cost|costs|expensive|fees?)\b|\$|\bwhat (?:does|do|would|will) (?:it|they|that|this|[\w-]+) "
    r"(?:run|cost)\b|\bhow much (?:is it|are they|does it cost|do they cost)\b"
)
# A question naming only a category ("how often does the sync run" -> integrations) after a question about one
# item of it asks about that item.
_KIND_CATEGORY = {"integration": "integrations", "addon": "addons", "compliance": "compliance"}
_CATEGORY_KIND = {"integrations": "integration", "compliance": "compliance", "addons": "addon", "limits": "limit"}
# Items whose answer is the same whatever the plan: a new plan in a follow-up does not ask about them again.
_PLAN_INDEPENDENT = ("addon", "faq", "compliance")
_LIST_FEATURES = re.compile(r"\b(features?|included|includes?|come with|comes with|get with|what do(?:es)? .+ get|"
                            r"what(?:'s| is| comes) in)\b")
# A question of nothing but a plan and one of these asks for the plan's whole list of that kind.
_OR_WORDS = terms("or either which better best should we go pick choose recommend only")
# "min plan?", "which tier do they need for that" after an item: the item's plans, not the minimum-contract FAQ
_LOWEST_PLAN = re.compile(r"\b(?:min(?:imum)?|lowest|cheapest|smallest|entry|base|starting|first) (?:plan|tier|level|edition)\b"
                          r"|^\W*(?:which|what) (?:plan|tier|edition)s?\b")
_BARE_CATEGORY_WORDS = terms("limit limits quota quotas cap caps feature features included include includes what whats "
                             "are is the on in of for list show me all its plan tier get gets")
# A question of nothing but plans and these asks the plans' price (with its period and seats, if given).
_PRICE_ONLY_WORDS = terms("price prices pricing priced cost costs much per seat seats user users month monthly year yearly "
                          "annual annually billed billing pay paid list what whats is are the a on for of it run runs go "
                          "and so ok then we us our they them do does would will each cheaper cheap cheapest less if "
                          "that this be get gets gonna going save saves savings discount discounted instead total employee "
                          "employees head rep member viewer license person")
_EVIDENCE = re.compile(r"\b(?:evidence|collect\w*|automat\w*|map\w*|audit prep|controls?|readiness)\b")
_ASKS_HOW = re.compile(r"\bhow (?:are|is|do|does|will|would|can|should)\b")  # "how are seats billed": the FAQ
_LIMITS = re.compile(r"\b(limits?|quotas?|sla|uptime|seats?|storage|caps?|maximum|max)\b")
_INTEGRATIONS = re.compile(r"\b(integrat\w*|connect\w*|sync\w*|works? with|plug-?ins?)\b")
_COMPLIANCE = re.compile(
    r"\b(soc ?2|gdpr|hipaa|iso ?27001|complian\w*|certif\w*|encrypt\w*|secur\w*|pen ?test\w*|privacy)\b"
)
_ADDON = re.compile(r"\badd[- ]?ons?\b|\b(?:is|are|cost|costs|charged|paid|billed) (?:that |it |this |they |those )?(?:an? )?extra\b|"
                    r"\bextra (?:cost|charge|fee)s?\b|\bon top\b")
# "how many", "how long": the answer is an amount, so an item that states one is preferred.
_ASKS_AMOUNT = re.compile(r"\bhow (?:many|long|much|big|often|fast|quickly|small)\b|\bwhat(?:'s| is) the (?:max|min)\w*\b")
_SHORT_AMOUNT_WORDS = 6
_HAS_AMOUNT = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|an? (?:hour|day|week|month))\b")
# "what are their options", "keeps hitting the limit": ways past a limit are wanted, not just its value.
_OPTIONS = re.compile(r"\boptions?\b|\balternatives?\b|\bwhat can (?:they|we|i) do\b|\b(?:more|higher|raise|increase)\b|"
                      r"\b(?:keeps?|kept) (?:getting|hitting|running)\b|\b(?:hit|hitting|exceed\w*|outgr\w*)\b|\blimited\b")
# Two questions in one message ("can we migrate their subs? and do they have to ditch stripe"): split there.
_CLAUSES = re.compile(r"[?;]\s+|\s+\+\s+|,?\s+(?:and|also|plus)\s+(?=(?:how|what|whats|what's|which|do|does|can|is|are|will|would)\b)")
_BUY_MORE = re.compile(r"\b(?:buy|purchase|get|add) (?:more|extra|additional)\b|\b(?:extra|additional) (?:storage|capacity|"
                       r"seats|credits|api|tasks|responses|viewers)\b|\btop[- ]?ups?\b|\bmore (?:storage|capacity|api)\b|"
                       r"\b(?:run|runs|running|ran) out of\b|\b(?:hit|hits|hitting|exceed\w*|outgr\w*) (?:the |their |its )?"
                       r"(?:cap|limit|quota|allowance)s?\b|\b(?:anything|something|what) (?:they|we|you|i) (?:can|could) (?:add|buy|purchase)\b")
_COMES_TO = re.compile(r"\b(?:comes?|came|adds?|works?) (?:out )?to\b|\bin total\b|\btotal\b")
# "per seat", "per employee", "a head": how a price is counted, not a limit on seats or employees
_PER_UNIT = re.compile(r"\b(per|a|each|by)\s+(seat|user|month|year|employee|head|rep|member|viewer|license|licence|person)s?\b",
                       re.IGNORECASE)
_PLAN_PHRASE = re.compile(r"\b([A-Za-z][\w+-]*)\s+(?:plan|tier|edition|package)\b", re.IGNORECASE)
_NOT_A_PLAN_NAME = frozenset(
    """which what the a an this that our your my each every any same pricing price paid cheapest cheaper most
    expensive top highest lowest higher lower base entry current new their his her its whole monthly annual
    yearly per seat one other right best free trial data payment upgrade next previous another different
    better good team's customer's account's""".split()
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z0-9]{2,})\b")

# Capitalised mid-sentence without naming a product: acronyms and words people capitalise.
_COMMON_CAPITALISED = frozenset(
    "what how does do is are can which who when where why tell list compare show give find search the and "
    "any there please could would should will our your "
    "sso saml api csv pdf crm ai ml it us usa eu uk gdpr hipaa soc iso faq sla ceo cfo cto vp "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december".split()
)
_ITEM_KINDS = ("feature", "integration", "compliance", "addon", "faq", "limit")
_ASPECT_BOOST = {"integration": _INTEGRATIONS, "compliance": _COMPLIANCE, "addon": _ADDON, "limit": _LIMITS}


@dataclass(frozen=True)
class Item:
    kind: str  # one of _ITEM_KINDS
    name: str
    entry: Any
    score: float
    found_by: str = "name"  # "name", or "description" when only its description matched


@handles(
    "product_question",
    slots=("product", "plans", "quantity", "term", "aspect", "discount", "plan_seats"),
    uses_llm=True,
    examples=(
        HelpExample("Product questions", "what does the {plan} plan cost?",
                    "plans, prices, features, integrations, limits, security"),
        HelpExample("Product questions", "does {plan} include SSO?"),
    ),
)
async def handle(ctx: HandlerContext) -> HandlerResult:
    frame = ctx.frame
    view, asked_plans, unknown_plan = _choose_product(ctx)
    if view is None:
        return await _no_product(ctx, frame.product or unknown_plan)
    typed_off = negotiated_discount(ctx.words)  # "w the 10", "at 12% off"
    # "nonprofit, 10 growth seats": the discount a FAQ gives that kind of customer
    faq_off = faq_discounts.discount_for(view, asked_plans[0], ctx.words) if asked_plans and typed_off is None else None
    off = typed_off or (faq_off.percent if faq_off is not None else None) or frame.discount  # else the thread's deal's
    if typed_off is None and _AT_LIST.search(ctx.words.lower()[:MAX_SCAN_CHARS]):
        off = None  # "and 250 at list for a yr": no discount, the thread's deal's neither
    mix = _seats_of_each(frame, asked_plans, ctx.words, view)
    context = TurnContext(product=view.slug, plan=asked_plans[0]["name"] if asked_plans else None,
                          plans=tuple(p["name"] for p in asked_plans) if len(asked_plans) > 1 else (),
                          # (a deal mixing plans keeps each one's seats: "and if monthly" prices the same mix)
                          plan_seats=tuple(mix[p["slug"]] for p in asked_plans) if len(mix) == len(asked_plans) > 1 else (),
                          quantity=frame.quantity, term=frame.term,
                          discount=off)
    readings = _readings_note(frame, view, asked_plans)
    if unknown_plan:
        close = [name for name in await _close_names(ctx, unknown_plan) if name.lower() != view.name.lower()]
        return HandlerResult.from_marked(readings + _unknown_plan(view, unknown_plan, close), snapshot_path=view.path,
                                         context=context, readings_noted=True)
    previous = frame.aspect
    previous_kind = previous.split(":", 2)[1] if previous and previous.startswith("item:") else None
    if previous_kind in _PLAN_INDEPENDENT and frame.typed("plans") and frame.typed("product"):
        # "and beacon enterprise?" after the SMS add-on names a product's plan anew: it asks about that plan, not
        # the add-on again ("and for pro?" after the trial FAQ still asks about the trial)
        previous = None
    aspect, items = _aspect(ctx.words, view, asked_plans)
    asks_nothing_else = aspect is None and not items  # ("and pro?": a plan named, nothing asked of it)
    if (previous_kind in ("feature", "faq") and previous and frame.follow_up and len(ctx.words.split()) <= _SHORT_AMOUNT_WORDS
            and _ASKS_AMOUNT.search(ctx.words.lower()[:MAX_SCAN_CHARS])):
        counted = _limit_of(previous, view, asked_plans)
        if counted is not None:  # "how long on ent" after audit logs on Pro: Enterprise's audit log retention
            aspect, items = f"item:limit:{counted}", _items_named(f"item:limit:{counted}", view)
    # "so 15 growth seats monthly w that?" after the FAQ gave nonprofits 30% off: that discount, where it applies
    # (after a quote with it too: "does that apply to pro" after 10 growth seats for a startup)
    kept_off = faq_discounts.kept_in_thread(view, previous.split(":", 2)[2] if previous_kind == "faq" and previous else None,
                                            frame.discount) \
        if (previous_kind == "faq" or previous == "quote") and frame.source("discount") == "thread" and typed_off is None else None
    if kept_off is not None and asked_plans and faq_off is None:
        if kept_off.applies_to(asked_plans[0]):
            faq_off = kept_off
        else:
            off = None
            context = replace(context, discount=None)
        if _ASKS_IF_IT_APPLIES.search(ctx.words.lower()[:MAX_SCAN_CHARS]):  # "does that apply to pro"
            verdict = "Yes" if kept_off.applies_to(asked_plans[0]) else "No"
            return HandlerResult.from_marked(
                f"{verdict}: {clean(kept_off.sentence)} (from the {view.name} FAQ).", snapshot_path=view.path,
                context=replace(context, aspect=previous))
    if (previous == "quote" or frame.typed("plans")) and frame.quantity and _SAME_SEATS.search(ctx.words.lower()[:MAX_SCAN_CHARS]):
        aspect, items = "quote", []  # "ok same seat count on pro": the thread's seats, priced on Pro
    if previous == "quote" and frame.quantity and OVER_YEARS.search(ctx.words.lower()[:MAX_SCAN_CHARS]):
        aspect, items = "quote", []  # "whole 2 yr term?" after a quote: that quote over the term, not a FAQ on terms
    # (not "which plan do they need for the snowflake export": a thing of its own named beside the plan asked for)
    if previous and previous.startswith("item:") and not asked_plans and _LOWEST_PLAN.search(ctx.words.lower()[:MAX_SCAN_CHARS]) \
            and not _aspect(_LOWEST_PLAN.sub(" ", ctx.words.lower()[:MAX_SCAN_CHARS]), view, asked_plans)[1]:
        aspect, items = previous, _items_like(previous, view)  # "min plan?" after the Salesforce integration
    own_items = items
    if asked_plans and not frame.typed("plans"):
        moved = plan_fit.neighbour(view.payload, asked_plans[0], ctx.words)
        if moved is not None:  # "what about the one above that": the next plan, with the same seats and period
            asked_plans = [moved]
            context = replace(context, plan=moved["name"], plans=())
            if previous == "quote" or frame.quantity:
                aspect, items, previous = "quote", [], "quote"
            elif previous and previous.startswith("item:") and aspect == "price" and not own_items:
                aspect = None  # "and the cheaper one?" after Relay Plus's tasks: Free's tasks ("cheaper" asks no price)
    # (names nothing of this product mentions; the people and accounts the control plane knew are no such thing:
    # "w the 10% maya offered")
    known = {word for value in (ctx.decision.entities.person, ctx.decision.entities.colleague, ctx.decision.entities.account)
             if value for word in value.lower().split()}
    unknown_here = [word for word in _unknown_subject(ctx.words, view) if word.lower() not in known] if previous else []
    stranger = unknown_here if previous_kind and aspect is None and not items else []
    if not stranger and previous and aspect is None and not items and frame.follow_up:
        # "and in transit?" after Beacon's encryption at rest: words nothing of Beacon's mentions, said so rather
        # than the last answer again
        stranger = [word for word in _unmatched_words(ctx.words, view) if word.lower() not in known]
    if stranger:
        # "what about zoho" after the HubSpot integration: the same kind of thing, named anew and not in the catalog
        previous, aspect = None, _KIND_CATEGORY.get(previous_kind or "", previous if previous in _CATEGORY_KIND else None)
    if (previous and previous.startswith("item:") and aspect in ("features", "limits") and frame.follow_up
            and not _NAMES_A_LIST.search(ctx.words.lower()[:MAX_SCAN_CHARS])):
        aspect = None  # "included in enterprise?" after an add-on asks about the add-on, not Enterprise's whole list
    # ("is it cheaper if we pay yearly" after a feature asks the plan's price; after an add-on, the add-on's)
    priced_item = previous_kind == "addon" or aspect != "price"
    # ("scale annual per yr?" after an add-on asks the plan's price: a plan and a period typed)
    plan_priced = frame.typed("plans") and frame.typed("term")
    if plan_priced and aspect is None and not items:
        aspect = "price"  # "whats scale monthly": the plan's price for that period
    if previous and ((aspect is None and frame.follow_up) or (aspect == "price" and previous_kind == "addon" and frame.follow_up
                                                              and not items and not plan_priced) or (
        # ("do they get hipaa evidence on advanced" after the seat minimum: a compliance question of its own)
        previous.startswith("item:") and not items and priced_item and aspect not in _CATEGORY_KIND
        and _POINTS_BACK.search(ctx.words[:MAX_SCAN_CHARS])
    ) or (previous.startswith(f"item:{_CATEGORY_KIND.get(aspect or '', '-')}:") and not frame.typed("plans")
          and not unknown_here)  # ("do we integrate w pipedrive" after DocuSign: not DocuSign again)
            or (aspect is None and not items and not frame.typed("plans") and _said_in(previous, ctx.words, view))):
        # ("credit card needed?" after the trial FAQ, whose answer says "no credit card required")
        # "is it included on enterprise?" asks about the thing discussed, not Enterprise's features
        aspect, items = previous, _items_like(previous, view)
        if not items and previous.startswith("item:") and frame.typed("product"):
            # "and for beacon" after Orbit's annual-billing FAQ: the same question asked of Beacon, if its catalog
            # answers it some other way (its plans' annual discounts); else "no i meant beacon" after data
            # residency: Beacon has none
            asked_anew = _aspect(previous.split(":", 2)[2], view, asked_plans)
            if asked_anew[0] is not None and not asked_anew[0].startswith("item:"):
                # (only a whole category: one item sharing a word, "Shared workspaces" for a sandbox, is no answer)
                aspect, items = asked_anew
            else:
                stranger = [previous.split(":", 2)[2]]
        counted = _limit_of(previous, view, asked_plans) if _ASKS_AMOUNT.search(ctx.words.lower()[:MAX_SCAN_CHARS]) else None
        if counted is not None:  # "how many do they get on plus" after "what counts as a task": the Tasks limit
            aspect, items = f"item:limit:{counted}", _items_named(f"item:limit:{counted}", view)
    asks_price = (aspect in (None, "price", "quote", _SEATS_ITEM) or bool(_PRICE.search(ctx.words.lower()[:MAX_SCAN_CHARS]))
                  # "essentials for a 30 person company" (its own count: "does basic do sms" after a quote is no price)
                  or (bool(items) and items[0].found_by == "description" and (frame.typed("quantity") or frame.typed("term"))))
    own_seats = frame.quantity is not None and frame.typed("quantity")
    if (own_seats and asked_plans and items and items[0].kind == "limit" and terms(items[0].name) & _SEAT_WORDS
            and not _LIMIT_CUE.search(ctx.words.lower()[:MAX_SCAN_CHARS])):
        aspect, items = "quote", []  # "sentinel advanced for 30 employees": its price (the minimum said), not the limit
    if (own_seats and len(asked_plans) == 1 and aspect in (None, "limits", "features") and not items
            and outside_seat_range(asked_plans[0], frame.quantity or 0)):
        aspect = "quote"  # "prospect only has 18 reps, can they still go ent?": no (25 minimum), and the price at it
    if items and items[0].found_by == "name" and not own_seats:
        asks_price = False  # "overage fee on scale" after a quote asks about the overage, not the seats again
    explicit_price = bool(_EXPLICIT_PRICE.search(ctx.words.lower()[:MAX_SCAN_CHARS]))
    if asked_plans and frame.term == "year" and explicit_price and not (items and items[0].kind == "addon"):
        asks_price = True  # "growth price billed annually?": the yearly figure, not the billing FAQ
    fitted = _fit(ctx, view, asked_plans, own_items, explicit_price or asks_price)
    if fitted is not None:
        answer, plan, seats = fitted
        asked_plans, aspect, items = [plan], "quote", []
        context = replace(context, plan=plan["name"], plans=(), quantity=seats or frame.quantity)
    quantity = frame.quantity
    if asked_plans and plan_fit.asks_minimum(ctx.words) and (explicit_price or _PRICE.search(ctx.words.lower()[:MAX_SCAN_CHARS])
                                                            or _COMES_TO.search(ctx.words.lower()[:MAX_SCAN_CHARS])):
        least = plan_fit.seat_minimum(asked_plans[0])
        if least:  # "what does that minimum come to": the price of the plan's least seats
            quantity, aspect, items = least, "quote", []
    lowered_words = ctx.words.lower()[:MAX_SCAN_CHARS]
    # ("w tax automation" after Scale's price or a quote: the plan with that add-on, totalled)
    adds_to_quote = previous in ("quote", "price") and bool(_ADDS_AN_ADDON.search(lowered_words))
    counted = previous.split(":", 2)[2] if previous_kind == "limit" and previous else None  # ("50k a month" of the Tasks just asked)
    # ("plus w extra packs or business?": the packs on the first plan named, the bigger one offered beside them)
    needed = addon_totals.for_a_need(view, asked_plans[0], ctx.words, counted) if len(asked_plans) in (1, 2) and fitted is None else None
    if needed is not None:  # "they need like 50k tasks a mo" on Relay Plus: its own, the packs for the rest, priced
        return HandlerResult.from_marked(readings + needed, readings_noted=True, snapshot_path=view.path,
                                         context=replace(context, aspect=aspect))
    # "and annually?", "and for 80 seats" after an add-on priced on a plan's seats: the same bundle, for that
    # ("what if they drop to 15", "and pro?" too)
    bundled = previous_kind == "addon" and frame.quantity is not None and (
        (not frame.typed("plans") and (frame.typed("term") or frame.typed("quantity") or bool(_COMES_TO.search(lowered_words))))
        or (frame.typed("plans") and frame.source("quantity") == "thread" and asks_nothing_else
            and not _YES_NO.match(lowered_words)))  # ("is it on starter" asks whether it is)
    if (len(asked_plans) == 1 and fitted is None and (frame.typed("plans") or frame.typed("quantity") or adds_to_quote or bundled)
            and (asks_price or frame.typed("term") or _COMES_TO.search(lowered_words) or adds_to_quote or bundled)):
        # (a plan named in the message: "and sms credits?" after a plan's price asks about the add-on alone)
        added = addon_totals.asked_addons(view, asked_plans[0], ctx.words)
        if not added and previous_kind == "addon" and previous and (_ADDS_TO.search(lowered_words) or bundled
                                                                    or frame.typed("quantity")):
            # "for 40 pro seats what does that add per month" after the Analytics add-on: that add-on, totalled
            added = addon_totals.asked_addons(view, asked_plans[0], "with " + previous.split(":", 2)[2])
        bundle = addon_totals.total(view, asked_plans[0], quantity, added, ctx.words, frame.term) if added else None
        if bundle is not None:  # "pro for 20 seats with analytics, monthly": the plan and its add-ons, totalled
            # (one add-on is what "avail on starter?" or "do ent customers pay for it" next asks about)
            kept = f"item:addon:{added[0][0]['name']}" if len(added) == 1 else "quote"
            return HandlerResult.from_marked(readings + bundle, readings_noted=True, snapshot_path=view.path,
                                             context=replace(context, aspect=kept))
    if asked_plans and frame.discount and _AFTER_THEIR_DISCOUNT.search(lowered_words[:MAX_SCAN_CHARS]):
        aspect, items = "quote", []  # "whats the per seat after their discount": the deal's, priced (not the discount FAQs)
    if asked_plans and typed_off is not None and (
            quantity or aspect in (None, "price", "quote") or previous == "quote" or (items and items[0].kind == "faq")):
        # ("and w 10% off": a figure to take off, not a question for the discount FAQs)
        aspect, items = "quote", []  # "pro 60 seats w the 15 on top": a discounted quote, not the $15 add-on
    # (a period kept from the thread makes a quote only of a price question: "is sso included w that?" is not one)
    if asked_plans and ((quantity and (frame.typed("term") or asks_price)) or (frame.term == "year" and asks_price)):
        aspect, items = "quote", []  # "what do 10 pro seats cost per year": the computed figure
    if items and items[0].kind == "faq" and (named := faq_discounts.named_in(view, items[0].name, ctx.words)):
        context = replace(context, discount=named.percent)  # "any deal for charities": their 30%, for the quotes after
    facts: dict[str, Any] = {"snapshot_path": view.path, "snapshot_version": view.version,
                             "context": replace(context, aspect=aspect)}

    written = await llm_text.write(
        ctx,
        system=prompts.PRODUCT_ANSWER + view.prompt,
        user=_llm_question(ctx.words, asked_plans, previous, frame.quantity, frame.term),
        kind="answer",
        cache_key={
            "question": ctx.decision.normalized_text,
            "intent": "product_question",
            "entities": {
                **ctx.decision.entities.as_json(),
                "product_slug": view.slug,
                "asked_plans": [plan["slug"] for plan in asked_plans],
                "follows_up": previous,
            },
            "snapshot_version": view.version,
            "prompt_version": ctx.prompt_version,
        },
    )
    if written is not None:
        return HandlerResult.from_markdown(written.text, llm_used=True, streamed=written.streamed, **facts)
    foreign = _foreign_subject(ctx, view) if aspect in (None, "price") and not asked_plans and not frame.product else None
    if foreign is not None:
        return HandlerResult.from_marked(
            f"That's outside what I can help with: I know the prices of what we sell, not of {clean(foreign)}. Ask me about {or_list([bold(view.name), 'our other products'])}: "
            "plans, prices, features, integrations.", **facts)
    if fitted is not None:
        answer = fitted[0]
    elif aspect == "quote" and len(asked_plans) == 1 and frame.typed("quantity") and (moved_up := instead_of(view, asked_plans[0], quantity)):
        # "would starter work for 8 reps": no, and the price of the plan that does, remembered for "and annually?"
        cap, bigger = moved_up
        answer = (f"No: {asked_plans[0]['name']} allows up to {cap} seats, so it doesn't fit {quantity}. The smallest "
                  f"plan for {quantity} seats is {bold(bigger['name'])}:\n" + quote(view, bigger, quantity, frame.term))
        facts["context"] = replace(facts["context"], plan=bigger["name"], plans=(), quantity=quantity)
    elif aspect == "quote" and asked_plans:
        # ("per seat per month?" of a deal struck on annual pricing: its monthly share, not monthly billing discounted)
        term = None if (frame.term == "month" and off and frame.typed("term")
                        and not _MONTHLY_BILLING.search(lowered_words)) else frame.term
        answer = _quotes(view, asked_plans, quantity, term, off, mix)
        answer += _over_years(ctx.words, view, asked_plans, quantity, off, mix)
        if faq_off is not None and off == faq_off.percent:
            answer = f"{clean(faq_off.sentence)} (from the {view.name} FAQ).\n{answer}"
    elif aspect == "quote":  # "no i meant relay" after a Beacon quote: no plan of Relay's was named, so its prices
        answer = _prices(view, [])
    elif not asked_plans and not items and aspect in (None, "price") and (extreme := _extreme_plan(view, lowered_words)):
        # "whats our cheapest plan for orbit": that plan, remembered for "how many ppl can be on that one"
        word, plan = extreme
        answer = f"The {word} {view.name} plan is {bold(plan['name'])}. " + _price_sentence(view, plan)
        answer += f"\n{clean(plan['description'])}" if plan["description"] else ""
        facts["context"] = replace(facts["context"], plan=plan["name"], plans=(), aspect="price")
    elif aspect == "products":
        answer = _product_list(ctx)
    else:
        answer = _render(aspect, items, ctx.words, view, asked_plans)
        if aspect == "compare" and (quantity or frame.typed("term")) and 2 <= len(asked_plans) <= 3:
            # ("atlas startup vs scale per yr?": the table, and each plan's yearly figures)
            # "vs team" after a quote for 20 Growth seats: the table, and what those seats cost on each
            answer += "\n\n" + _quotes(view, asked_plans, quantity, frame.term, off, mix)
        if len(asked_plans) >= 2 and (aspect or "").startswith("item:") and _ASKS_A_COMPARISON.search(lowered_words[:MAX_SCAN_CHARS]):
            # "compare beacon basic and pro for me? customer wants sms surveys": the table, then the thing they need
            answer = _render("compare", [], ctx.words, view, asked_plans) + "\n\n" + answer
        if asked_plans and items and items[0].kind in ("limit", "feature", "integration") and explicit_price:
            # Two asks in one message ("price + task limit?"): the price too.
            answer = _prices(view, asked_plans) + "\n\n" + answer
        if not asked_plans and items and _WHICH_PLAN_HAS.search(lowered_words[:MAX_SCAN_CHARS]) \
                and (lowest := _lowest_plan_with(view, items[0])) is not None:
            # "which plan has conversation intelligence": the plan that answers it is "that one" next ("how much is that one")
            facts["context"] = replace(facts["context"], plan=lowest["name"], plans=())
        if not asked_plans and items and items[0].kind == "limit" and _TIERS_AND.search(lowered_words):
            # "atlas tiers and viewer limits?": every plan with its price, beside the limit
            answer = _prices(view, []) + "\n\n" + answer
    second = _second_ask(ctx.words, view, asked_plans, aspect, items, answer)
    if second:  # "pro for 25 seats and does it have sso": the second question answered too
        answer = f"{answer}\n\n{second}"
    unknown = _unknown_names(ctx, view) if not asked_plans and not frame.product and not items else []
    if unknown:
        close = await _close_names(ctx, unknown[0])
        note = f"I don't know a product or plan called {bold(unknown[0])}."
        if close:
            note += " Did you mean " + or_list([bold(name) for name in close]) + "?"
        answer = f"{note}\n\n{answer}"
    checked = checked_figure(view, asked_plans, ctx.words, quantity, off)
    if checked is not None:  # "is 31.20 right for team annual": yes or no first, then the figures
        answer = f"{checked}\n\n{answer}"
    currency = _other_currency(lowered_words, view)
    if stranger and aspect is not None and not items and checked is None:
        answer = f"I don't see anything about {bold(' '.join(stranger))} for {view.name}.\n\n{answer}"
    if currency is not None:  # "whats orbit pro in euros": the catalog has one currency, said before the answer
        answer = f"I only have {view.name}'s prices in {_listed_currency(view)}, not in {currency}.\n\n{answer}"
    return HandlerResult.from_marked(readings + answer, readings_noted=True, **facts)


# "..., and does it have sso", "... & what does scale cost": a second question joined to the first
_SECOND_ASK = re.compile(r"(?:[,;?]\s*|\s+)(?:and|&|also|plus|\+|oh and|n)\s+(?=(?:does|do|is|are|can|what|whats|what's|how|which|"
                         r"will|would|any)\b)|\?\s+(?=(?:and\s+)?(?:does|do|is|are|can|what|whats|what's|how|which)\b)")


def _second_ask(words: str, view: ProductView, plans: list[PlanEntry], aspect: str | None, items: list[Item],
                answer: str) -> str | None:
    """The answer to a second question joined to the first ("pro for 25 seats and does it have sso"), when it asks
    about something else of the catalog than the answer already gives; None otherwise."""
    opening = words[:MAX_SCAN_CHARS]
    joined = _SECOND_ASK.search(opening)
    if joined is None:
        return None
    second = opening[joined.end():]
    # (of the plans the control plane read in the message, typos and aliases resolved: not any word that spells one)
    named = [plan for plan in plans if re.search(rf"\b{re.escape(plan['name'].lower())}\b", second.lower())]
    asked, found = _aspect(second, view, named or plans)
    if asked is None or asked == "products" or (asked == aspect and [i.name for i in found] == [i.name for i in items]):
        return None
    text = _render(asked, found, second, view, named or plans)
    return text if text and text not in answer else None


# "in euros", "gbp pricing", "how much in yen": a currency the price is asked in
_CURRENCY_ASKED = re.compile(r"\b(?:in |into )?(euros?|eur|€|gbp|pounds?(?: sterling)?|sterling|£|yen|jpy|cad|aud|chf|"
                             r"canadian dollars?|australian dollars?|swiss francs?|rupees?|inr|sek|nok|dkk|pesos?|reais|brl)(?!\w)")
_CURRENCY_CODES = {"euro": "EUR", "euros": "EUR", "eur": "EUR", "€": "EUR", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
                   "sterling": "GBP", "pound sterling": "GBP", "pounds sterling": "GBP", "£": "GBP", "yen": "JPY", "jpy": "JPY",
                   "cad": "CAD", "canadian dollar": "CAD", "canadian dollars": "CAD", "aud": "AUD", "australian dollar": "AUD",
                   "australian dollars": "AUD", "chf": "CHF", "swiss franc": "CHF", "swiss francs": "CHF"}


def _currencies(view: ProductView) -> set[str]:
    """The currencies the product's plans are priced in."""
    return {plan["currency"].upper() for plan in view.payload["plans"] if plan["currency"]}


def _listed_currency(view: ProductView) -> str:
    return " and ".join(sorted(_currencies(view))) or "one currency"


def _other_currency(lowered: str, view: ProductView) -> str | None:
    """The currency a price is asked in when the catalog lists the product in others ("in euros" of USD prices)."""
    asked = _CURRENCY_ASKED.search(lowered[:MAX_SCAN_CHARS])
    if asked is None:
        return None
    word = asked.group(1)
    code = _CURRENCY_CODES.get(word, word.upper())
    listed = _currencies(view)
    return None if not listed or code in listed else (code if len(word) <= 3 else word)


def _fit(ctx: HandlerContext, view: ProductView, asked_plans: Sequence[PlanEntry], items: Sequence[Item],
         asks_price: bool) -> tuple[str, PlanEntry, int | None] | None:
    """A plan chosen for a need ("40 reps who want forecasting: which plan, and what does it run") or checked
    against one ("7 reps, can they just do starter?"), with its price; None when the message asks neither."""
    frame = ctx.frame
    if not plan_fit.asks_to_choose(ctx.words):
        return None
    need = plan_fit.asked_need(ctx.words, view.payload, frame.quantity if frame.typed("quantity") else None)
    features = [item.entry for item in items if item.kind == "feature"]
    if need is None and not (features and asks_price):
        return None
    seats = int(need.amount) if need is not None and need.people else None
    if asked_plans and frame.typed("plans"):
        if need is None:
            return None
        answer, plan = plan_fit.check(view, asked_plans[0], features, need, frame.term)
        return answer, plan, seats
    answer = plan_fit.recommend(view, features, need, frame.term)
    if answer is None:
        return None
    plan = plan_fit.choose(view.payload, features, need)
    assert plan is not None
    return answer, plan, seats


# --- which product and plans --------------------------------------------------------------------


# "per seat after their discount", "effective price w their disc": the thread's deal discount, applied
_AFTER_THEIR_DISCOUNT = re.compile(r"\b(?:after|with|w/?|incl\w*|at|less|minus) (?:their|the|that|our|his|her) (?:discount|disc)\b|"
                                   r"\beffective (?:price|rate|per seat|cost)\b")
_YEARS = {"two": 2, "three": 3, "four": 4, "five": 5}


def _over_years(words: str, view: ProductView, plans: Sequence[PlanEntry], seats: int | None, off: float | None,
                mixed: dict[str, int]) -> str:
    """"Over 3 years: 3 × $708,048 = $2,124,144" for a term asked of a quote (one plan's seats, or a mix of plans
    with each plan's seats), billed annually, less `off`."""
    found = OVER_YEARS.search(words.lower()[:MAX_SCAN_CHARS])
    counts = mixed if len(plans) > 1 and len(mixed) == len(plans) else {plans[0]["slug"]: seats} if len(plans) == 1 and seats else {}
    if found is None or not counts:
        return ""
    value = next(group for group in found.groups() if group)
    years = int(value) if value.isdigit() else _YEARS[value]
    priced = [plan for plan in plans if plan["price_cents"] and plan["per_seat"] and plan["billing_period"] == "month"]
    if not 2 <= years <= 10 or len(priced) != len(plans) or len({plan["currency"] for plan in plans}) != 1:
        return ""
    yearly = sum(plan["price_cents"] * counts[plan["slug"]] * 12 * (100 - (plan["annual_discount_pct"] or 0)) / 100
                 for plan in plans) * (100 - (off or 0)) / 100
    how = "billed annually" + (f", {off:g}% off" if off else "")
    currency = plans[0]["currency"]
    return f"\n\nOver {years} years ({how}): {years} × {money(yearly, currency)} = {bold(money(yearly * years, currency))}"


def _seats_of_each(frame: Frame, plans: Sequence[PlanEntry], words: str, view: ProductView) -> dict[str, int]:
    """A deal mixing plans, each plan's seats by slug: as the message gives them ("55 growth seats + 10 pro seats"),
    else as the thread's deal has them; empty otherwise."""
    if len(plans) < 2:
        return {}
    counts: dict[str, int] = {}
    if len(frame.plan_seats) == len(frame.plans):
        by_name = dict(zip((name.casefold() for name in frame.plans), frame.plan_seats, strict=True))
        counts = {plan["slug"]: by_name[plan["name"].casefold()] for plan in plans if plan["name"].casefold() in by_name}
    for number, name in _SEATS_OF_PLAN.findall(words.lower()[:MAX_SCAN_CHARS]):
        plan = _plan_named(view.payload, name)
        if plan is not None:
            counts[plan["slug"]] = int(number.replace(",", ""))
    return counts


def _quotes(view: ProductView, plans: Sequence[PlanEntry], seats: int | None, term: str | None,
            off: float | None = None, counts: dict[str, int] | None = None) -> str:
    """One quote per plan asked about; a mix of plans (`counts`: each plan's seats, by slug) gives each its own seats
    and a total. `off`: the percentage to take off (typed, else the thread's deal's)."""
    counts = counts or {}
    answer = "\n\n".join(quote(view, plan, counts.get(plan["slug"], seats), term, off) for plan in plans)
    priced = [p for p in plans if p["slug"] in counts and p["price_cents"] and p["per_seat"]]
    if len(counts) > 1 and len(priced) == len(plans) and len({p["currency"] for p in priced}) == 1:
        monthly = sum(p["price_cents"] * counts[p["slug"]] for p in priced)
        parts = " + ".join(f"{counts[p['slug']]} × {money(p['price_cents'], p['currency'])}" for p in priced)
        currency = priced[0]["currency"]
        answer += f"\n\n{bold('Together')}: {parts} = {bold(money(monthly, currency))} per month at list price"
        annual = sum(p["price_cents"] * counts[p["slug"]] * 12 * (100 - (p["annual_discount_pct"] or 0)) / 100 for p in priced)
        if annual < monthly * 12:  # ("55 growth + 10 pro annual": both billed annually, each with its plan's discount)
            answer += f"; {money(monthly * 12, currency)} a year, or {bold(money(annual, currency))} a year billed annually"
        answer += "."
    return answer


def _foreign_subject(ctx: HandlerContext, view: ProductView) -> str | None:
    """What a price question asks the price of, when that is nothing of the catalog ("a tesla model 3")."""
    match = _PRICE_OF_A_THING.search(ctx.words.lower()[:MAX_SCAN_CHARS])
    if match is None:
        return None
    subject = match.group(1)
    known = terms(" ".join([view.name, *(p["name"] for p in view.payload["plans"])]))
    words = terms(subject) - known - _GENERIC_SUBJECTS
    if not words or read_product(ctx.db, subject) is not None or _match_items(subject, view, frozenset()):
        return None
    return subject


def _plan_named(payload: ProductPayload, name: str) -> PlanEntry | None:
    wanted = name.strip().lower()
    for plan in payload["plans"]:
        if plan["name"].lower() == wanted or plan["slug"].lower() == wanted:
            return plan
    return None


def _choose_product(ctx: HandlerContext) -> tuple[ProductView | None, list[PlanEntry], str | None]:
    """The product asked about, its plans the frame names, and a plan name that matches nothing in the
    catalog, if the message names one ("the Platinum plan")."""
    frame = ctx.frame
    if frame.product:
        view = read_product(ctx.db, frame.product)
    else:
        view = read_product(ctx.db, frame.plans[0] if frame.plans else None)
    if view is None:
        return None, [], None
    asked = _merge_plans([p for p in (_plan_named(view.payload, name) for name in frame.plans) if p is not None], [])
    opening = ctx.words.lower()[:MAX_SCAN_CHARS]
    if (not asked or frame.source("plans") == "thread") and _FREE_TIER.search(opening):
        # Atlas's free plan is "Developer" ("is there a free one" after Scale: that one, if any)
        asked = [p for p in view.payload["plans"] if p["price_cents"] == 0][:1] or asked
    for written in _PLAN_PHRASE.findall(ctx.words[:MAX_SCAN_CHARS]):
        word = written.lower()
        if word in _NOT_A_PLAN_NAME or _plan_named(view.payload, word) or (word in english_words() and written.islower()):
            continue  # an ordinary word ("the cheapest plan", "a premium plan") is never an unknown plan
        other = read_product(ctx.db, word)
        if other is not None and other.matched_by == "plan" and not frame.typed("product"):
            # The plan exists, in another product: answer about that product.
            return other, _merge_plans([p for p in [_plan_named(other.payload, word)] if p], []), None
        return view, asked, word
    if frame.typed("product") and not frame.plans:
        stray = _after_product_name(ctx.words[:MAX_SCAN_CHARS].lower(), view)
        if stray is not None:  # "whats the price of orbit ultra": a plan Orbit does not have
            return view, asked, stray
    return view, asked, None


# "orbit ultra pricing", "price of beacon premium?": a word right after the product's name, where a plan's goes
_AFTER_NAME = r"\s+([a-z][a-z0-9+-]{2,20})(?=\s*(?:$|[?!.,]|(?:plan|tier|edition|price|pricing|cost|costs|seats?|licen[cs]es?)\b))"


def _after_product_name(lowered: str, view: ProductView) -> str | None:
    found = re.search(r"\b" + re.escape(view.name.lower()) + _AFTER_NAME, lowered)
    if found is None or not _PLAN_CUE.search(lowered):
        return None  # ("is orbit soc2" asks about a certificate, not a plan)
    word = found.group(1)
    if word in _NOT_A_PLAN_NAME or word in _NOT_A_PLAN_AFTER_NAME or _plan_named(view.payload, word):
        return None
    # (a word the catalog uses, "orbit analytics pricing", asks about that, as does a stopword ("orbit plan for 30");
    # one it never uses names a plan)
    asked = terms(word)
    return None if not asked or any(term[:_STEM_LETTERS] in _item_index(view).stems for term in asked) else word


_PLAN_CUE = re.compile(r"\b(?:price|prices|pricing|priced|cost|costs|plan|tier|edition|how much|seats?|quote|per month|a month)\b")


_NOT_A_PLAN_AFTER_NAME = frozenset(
    """annually yearly monthly billed billing pricing price prices cost costs seats seat users user licenses discount
    discounts trial trials demo demos vs versus and or with for on in to is are does do have has can cost costs work works
    customers customer support supports features feature integrations integration limits limit plans tiers overview
    security compliance sla uptime api setup onboarding contract contracts renewal renewals quote quotes deal deals
    too also then again instead please pls thanks thx really exactly""".split()
)


def _readings_note(frame: Frame, view: ProductView, plans: Sequence[PlanEntry]) -> str:
    """"I read “startr” as Starter." for every product or plan name read from a typo."""
    shown = {view.name.casefold(), *(plan["name"].casefold() for plan in plans)}
    notes = [f"(I read “{clean(r.typed)}” as {bold(r.read_as)}.)" for r in frame.readings
             if r.kind in ("plan", "product") and r.read_as.casefold() in shown]
    return " ".join(notes) + "\n" if notes else ""


def _is_word_char(char: str) -> bool:
    """What `re` counts as `\\w` in a str pattern."""
    return char.isalnum() or char == "_"


def _merge_plans(first: Sequence[PlanEntry], second: Sequence[PlanEntry]) -> list[PlanEntry]:
    merged: list[PlanEntry] = []
    for plan in [*first, *second]:
        if all(plan["slug"] != seen["slug"] for seen in merged):
            merged.append(plan)
    return merged


def _llm_question(text: str, asked_plans: Sequence[PlanEntry], previous_aspect: str | None, quantity: int | None,
                  term: str | None) -> str:
    question = f"Question: {clean(text)}"
    if asked_plans:
        question += "\n(Plans this question is about: " + ", ".join(p["name"] for p in asked_plans) + ")"
    if quantity:
        question += f"\n(Seats asked about: {quantity}; show the arithmetic)"
    if term:
        question += f"\n(Period asked about: per {term})"
    if previous_aspect:
        question += f"\n(It follows up a question about: {previous_aspect.removeprefix('item:').replace(':', ' ')})"
    return question


# --- replies when the product or plan is unknown -------------------------------------------------


async def _close_names(ctx: HandlerContext, name: str) -> list[str]:
    """Product and plan names close to `name`, compared in a worker thread: over a large catalog that takes
    milliseconds the event loop must not wait for."""
    return await asyncio.to_thread(suggest_products, ctx.db, name)


async def _no_product(ctx: HandlerContext, key: str | None) -> HandlerResult:
    if key:
        close = await _close_names(ctx, key)
        text = f"I don't know a product or plan called {bold(key)}."
        if close:
            text += " Did you mean " + or_list([bold(name) for name in close]) + "?"
        return HandlerResult.from_marked(text)
    return HandlerResult.from_marked(
        "I have no product information yet. An admin can load the catalog with "
        "`pitcrew knowledge import PATH`, or start from the demo knowledge base."
    )


def _unknown_plan(view: ProductView, name: str, close: Sequence[str]) -> str:
    plans = view.payload["plans"]
    text = f"{view.name} has no plan called {bold(name.title())}."
    if plans:
        text += " Its plans are " + and_list([f"{bold(p['name'])} ({_price(p)})" for p in plans]) + "."
    if close:
        text += " Close matches: " + and_list([bold(n) for n in close]) + "."
    return text


# --- the deterministic answer --------------------------------------------------------------------


def _aspect(question: str, view: ProductView, plans: list[PlanEntry]) -> tuple[str | None, list[Item]]:
    """What the question asks about: products, compare, item:..., price, addons, integrations, compliance,
    limits, features; None when it names only a product or plan."""
    payload = view.payload
    lowered = question.lower()
    if _WHAT_WE_SELL.search(lowered):
        return "products", []
    named = _named_words(lowered, view, plans)
    # "pro or enterprise?" compares; "scim on pro or ent only" asks about SCIM on each
    comparing = bool(_COMPARE.search(lowered)) or (len(plans) >= 2 and " or " in lowered and not (
        terms(question[:MAX_SCAN_CHARS]) - named - _BARE_CATEGORY_WORDS - _OR_WORDS))
    if comparing and len(plans) >= 2:
        named_items = _match_items(question, view, named | _PERIOD_WORDS | _COMPARE_WORDS)
        if named_items and named_items[0].kind in ("limit", "feature", "integration", "addon"):
            # "api limit diff between the two", "support on growth vs pro": that one thing on each plan
            return f"item:{named_items[0].kind}:{named_items[0].name}", named_items[:1]
        return "compare", []
    if plans and not (terms(question[:MAX_SCAN_CHARS]) - named - _BARE_CATEGORY_WORDS):
        # "beacon basic limits", "features of growth?": the plan's list, not the one item that mentions "limit"
        if _LIMITS.search(lowered):
            return "limits", []
        if _LIST_FEATURES.search(lowered):
            return "features", []
    if (plans and _PRICE.search(lowered) and not _ASKS_HOW.search(lowered) and not _PAYMENT_METHOD.search(lowered)
            and not (terms(question[:MAX_SCAN_CHARS]) - named - _PRICE_ONLY_WORDS)):
        # "whats growth per seat billed annually": the plan's price, not the FAQ on how seats are billed
        return "price", []
    if not plans and _ANNUAL_DISCOUNT.search(lowered) and not _PAYMENT_METHOD.search(lowered):
        # "do we discount orbit if they pay yearly": the annual-billing discount (its FAQ, else each plan's), not how to pay
        faq = next((Item(i.kind, i.name, i.entry, 0.0) for i in _item_index(view).items
                    if i.kind == "faq" and {"discount", "annual"} <= terms(i.name.lower().replace("annually", "annual"))), None)
        return (f"item:faq:{faq.name}", [faq]) if faq is not None else ("price", [])
    items = _match_items(question, view, named | _PERIOD_WORDS)  # "ledger scale monthly?" is not a limit
    described = _match_by_description(question, view, named | _PERIOD_WORDS)  # ("whats scale monthly" is its price)
    if described and (not items or described[0].name != items[0].name and described[0].score
                      >= _weighted(question, view, items[0].name, named) + 2 * DESCRIPTION_MARGIN):
        items = described  # "what if they remove seats mid year" is the seat-billing FAQ, not the Seats limit
    clauses = _match_clauses(question, view, named | _PERIOD_WORDS)
    if len(clauses) > len(items) or (clauses and items and clauses[0].name != items[0].name
                                     and all(c.name != i.name for c in clauses for i in items[1:])):
        items = clauses
    if items and items[0].kind == "faq" and _LIMIT_CUE.search(lowered):
        # "whats the ent seat min again": the plan's Seats limit, not the FAQ on how seats are billed
        limit = next((Item(i.kind, i.name, i.entry, 0.0) for i in _item_index(view).items if i.kind == "limit"
                      and re.search(r"\b" + re.escape(i.name.lower().split()[0].removesuffix("s")[:12]), lowered)), None)
        if limit is not None:
            items = [limit]
    if not items and _DEFINES.search(lowered):
        # "what does a seat mean": the FAQ on what it is or how it counts ("How are seats billed?")
        defined = {word.removesuffix("s") for word in terms(question[:MAX_SCAN_CHARS]) - named - _ASKING_WORDS - _DISCOURSE_WORDS}
        items = [Item(i.kind, i.name, i.entry, 0.0) for i in _item_index(view).items
                 if i.kind == "faq" and defined & {word.removesuffix("s") for word in i.name_terms}][:1]
    if items and items[0].kind == "limit" and _DEFINES.search(lowered):
        # "whats a task", "what counts as a response": what the thing is (an FAQ or a feature says), not its limit
        counted = {word.removesuffix("s") for word in terms(items[0].name)}
        meaning = next((item for item in [*items, *described, *clauses] if item.kind != "limit"), None) or next(
            (Item(i.kind, i.name, i.entry, 0.0) for i in _item_index(view).items
             if i.kind == "faq" and counted & {word.removesuffix("s") for word in terms(i.name)}), None)
        if meaning is not None:
            items = [meaning]
    if items and items[0].kind == "compliance" and plans and _EVIDENCE.search(lowered):
        # "does essentials do soc 2 evidence": what a plan collects for a standard, not the product's own certificate
        covering = _items_covering(view, terms(items[0].name) - _item_index(view).name_words, 2)
        if covering:
            items = covering
    if items:
        return f"item:{items[0].kind}:{items[0].name}", items
    if comparing:
        return "compare", []
    if _PRICE.search(lowered):
        return "price", []
    if _ADDON.search(lowered) and payload["addons"]:
        return "addons", []
    if _INTEGRATIONS.search(lowered):
        return "integrations", []
    if _COMPLIANCE.search(lowered) and payload["compliance"]:
        return "compliance", []
    if plans and _LIMITS.search(lowered):
        return "limits", []
    if plans and _LIST_FEATURES.search(lowered):
        return "features", []
    return None, []


def _said_in(aspect: str, question: str, view: ProductView) -> bool:
    """Whether a question's content words are in the answer of the item an `item:...` aspect names (its description, a
    FAQ's answer): it asks more of the thing just discussed."""
    if not aspect.startswith("item:"):
        return False
    indexed = next((i for i in _item_index(view).items if f"item:{i.kind}:{i.name}" == aspect), None)
    asked = terms(question[:MAX_SCAN_CHARS]) - _ASKING_WORDS - _DISCOURSE_WORDS - _item_index(view).name_words
    return indexed is not None and bool(asked) and bool(asked & (indexed.name_terms | indexed.extra_terms))


def _items_named(aspect: str, view: ProductView) -> list[Item]:
    """The catalog item an `item:kind:name` aspect refers to, in this product (none if it lacks it)."""
    _, kind, name = (aspect.split(":", 2) + ["", ""])[:3]
    return [Item(i.kind, i.name, i.entry, 0.0) for i in _item_index(view).items if i.kind == kind and i.name == name][:1]


def _limit_of(aspect: str, view: ProductView, plans: Sequence[PlanEntry]) -> str | None:
    """The plan limit that counts what an `item:...` aspect is about ("What counts as a task?" -> Tasks)."""
    if not aspect.startswith("item:") or aspect.startswith("item:limit:"):
        return None
    words = terms(aspect.split(":", 2)[2]) - _item_index(view).name_words
    names = {name for plan in (plans or view.payload["plans"]) for name in plan["limits"]}
    found = [name for name in sorted(names) if terms(name) & words]
    return found[0] if len(found) == 1 else None


_SAME_KIND_BONUS = 0.5
_ADDS_TO = re.compile(r"\b(?:that|it|this|the add-?on)\b|\b(?:add|adds|added|on top|with it|w it)\b")
# "plus analytics", "add sms credits to it", "throw in the tax add-on": an add-on put on the quote just given
_ADDS_AN_ADDON = re.compile(r"^[^\w+]*(?:(?:and|ok|okay|so|now)\W+)?(?:(?:plus|with|w/?|add|adding|throw in|toss in|incl\w*)\b|\+)"
                            r"|\b(?:add|adding|added|on top|throw(?:n)? in|toss in)\b")
_PLAN_NOUNS = terms("plan plans tier tiers edition option version")
_BUYING_WORDS = terms("buy buying bought purchase purchasing get getting customer customers client clients prospect")
# "can they pay by wire", "net 30 on an invoice": how they pay, not how much
_ANNUAL_DISCOUNT = re.compile(r"\b(?:discount\w*|cheaper|save|saves|savings|off)\b[^.?!\n]{0,40}\b(?:annual\w*|yearly|a year|per year|"
                              r"for the year|up ?front)\b|\b(?:annual|yearly|up ?front)\b[^.?!\n]{0,25}\b(?:discount\w*|savings?)\b")
_PAYMENT_METHOD = re.compile(r"\b(?:wire|ach|bank transfer|credit card|card|invoice[ds]?|invoicing|check|cheque|paypal|net[\s-]?\d{2})\b")
_SEAT_WORDS = terms("people ppl person persons users user reps rep seats seat employees employee heads head members "
                    "licenses sellers staff agents folks team more fewer less extra additional")
_SAME_SEATS = re.compile(r"\bsame \d{1,6}\b|\bsame (?:seat count|number of (?:seats|users|reps)|seats|headcount|users|reps|size|team size|qty|quantity)\b")


def _items_like(aspect: str, view: ProductView) -> list[Item]:
    """The item an `item:kind:name` aspect refers to, or this product's item of that kind most like it ("and
    beacon?" after Orbit's free-trial FAQ is Beacon's free-trial FAQ); none when it has nothing like it."""
    named = _items_named(aspect, view)
    if named:
        return named
    _, kind, name = (aspect.split(":", 2) + ["", ""])[:3]
    asked = terms(name) - terms(view.name)
    index = _item_index(view)
    # (of its kind first: "and beacon?" after a FAQ is a FAQ; then of any kind: Beacon's data residency is in its GDPR entry)
    scored = sorted(((score(asked, item) + (_SAME_KIND_BONUS if item.kind == kind else 0.0), item) for item in index.items),
                    key=lambda pair: -pair[0])
    if not scored or scored[0][0] < MATCH_THRESHOLD + (_SAME_KIND_BONUS if scored[0][1].kind == kind else 0.0):
        return []
    best = scored[0][1]
    return [Item(best.kind, best.name, best.entry, scored[0][0])]


def _render(aspect: str | None, items: list[Item], question: str, view: ProductView, plans: list[PlanEntry]) -> str:
    payload = view.payload
    if aspect == "compare":
        return _comparison(view, plans[:3] if len(plans) >= 2 else payload["plans"])
    if items and len(plans) == 1 and _NEEDS_THE_PLAN_FOR.search(question.lower()[:MAX_SCAN_CHARS]):
        lowest = _lowest_plan_with(view, items[0])
        if lowest is not None and lowest["position"] < plans[0]["position"]:
            # "do they need pro just for call recording": no, a lower plan has it
            return (f"No: {bold(items[0].name)} comes with {bold(lowest['name'])} ({_price(lowest)}) and higher, so they don't "
                    f"need {plans[0]['name']} for it.")
    if items:
        yes_no = bool(_YES_NO.match(question.lower()))
        answer = "\n\n".join(_describe_item(view, item, plans, yes_no=yes_no) for item in items)
        packs = addon_totals.packs_priced(items[0].entry, question) if items[0].kind == "addon" else None
        if packs is not None:  # "if they add 2 packs whats the monthly cost": that many, priced
            answer = f"{packs}\n{answer}"
        if items[0].kind == "limit" and plans and _OPTIONS.search(question.lower()[:MAX_SCAN_CHARS]):
            options = _limit_options(view, items[0].name, plans)
            answer += ("\n" + options) if options else ""
        return answer
    billing_term = _billing_term_answer(question, view, plans) if aspect in (None, "price") else None
    if billing_term is not None:
        return billing_term
    if aspect == "price":
        return _prices(view, plans)
    if aspect == "addons":
        return _list_addons(view)
    if aspect == "integrations" and (payload["integrations"] or _asks_about_unknown(question, payload)):
        return _list_integrations(view, question)
    if aspect == "compliance":
        return _compliance_answer(question, view, plans)
    if aspect == "limits" and plans:
        return "\n\n".join(_plan_limits(view, plan) for plan in plans)
    if aspect == "features" and plans:
        return "\n\n".join(_plan_features(view, plan) for plan in plans)
    overview = "\n\n".join(_plan_overview(view, plan) for plan in plans) if plans else _overview(view)
    subject = _unknown_subject(question, view) or _capability_asked(question)
    plan_words = {word for plan in plans for word in terms(plan["name"])}
    if any(plan["price_cents"] == 0 for plan in plans):
        plan_words |= {"free"}  # "does atlas have a free tier": Developer, which is free
    if subject and plans and set(terms(" ".join(subject))) - _PLAN_NOUNS <= plan_words:
        subject = []  # "does relay have a free plan": the plan asked about is the answer, not an unknown
    if subject:  # "does orbit replace gong": say it is not in the catalog, rather than answer something else
        return f"I don't see anything about {bold(' '.join(subject))} for {view.name}.\n" + overview
    return overview


# "does orbit do rev rec", "can it handle commissions?": a capability asked by name; when nothing in the
# snapshot matched it, the answer says so rather than give an overview that reads like a yes.
_CAPABILITY = re.compile(
    r"^(?:(?:so|ok|and|also|but),? )?(?:does|do|can|will|could) (?:it|we|you|orbit|[a-z][\w-]{1,30}) (?:also |even |actually )?"
    r"(?:do|handle|support|offer|cover|manage|calculate|track|automate|provide|include|have) ((?:[a-z][\w&/-]{0,30} ?){1,3}?)\W*$"
)
_VAGUE_OBJECTS = frozenset("that this it them those these everything anything something stuff things that's".split())


def _capability_asked(question: str) -> list[str]:
    """The one-to-three-word capability a yes/no question asks for ("rev rec"), as typed; [] when it asks none."""
    match = _CAPABILITY.match(" ".join(question.lower()[:MAX_SCAN_CHARS].split()))
    if match is None:
        return []
    words = [word for word in match.group(1).split() if word not in ("a", "an", "the", "any")]
    if not words or any(word in _VAGUE_OBJECTS for word in words):
        return []
    return words


# Words of a question that ask, rather than name what is asked about ("does orbit *replace* gong").
_ASKING_WORDS = terms(
    "does do did can could will would should is are was support supports supported replace replaces work works "
    "offer offers offered have has had include includes included come comes tell know use uses using need needs "
    "handle handles let lets allow allows get gets got give gives make makes go goes able any anything something "
    "info information details detail more about overview explain describe thing things stuff product products "
    "plan plans tier tiers option options our we us you your they them it its kind sort type hey hi please pls thanks"
)
_MAX_SUBJECT_WORDS = 3
_CHAT_WORDS = frozenset(SHORTHAND) | frozenset("lol ok okay hmm hm yeah yep nope k kk haha".split())


def _unknown_subject(question: str, view: ProductView) -> list[str]:
    """The words a question asks about that nothing in the product's snapshot mentions, as typed ("zoho")."""
    index = _item_index(view)
    asked = terms(question[:MAX_SCAN_CHARS]) - _ASKING_WORDS - index.name_words
    unknown = {word for word in asked if word not in index.weights and word not in index.near
               and word not in index.prefixes and word not in index.initials and not any(ch.isdigit() for ch in word)
               and word not in _DISCOURSE_WORDS and word not in _BUYING_WORDS and word not in index.detail_words}
    if not unknown:
        return []
    english = english_words()
    # A name: "zoho", or an English word capitalised inside the message ("Gong"), not as its opening word
    typed = typed_words(question[:MAX_SCAN_CHARS], frozenset(unknown), skip_first=lambda word: word.lower() in english)
    names = [word for word in typed if word.lower() not in _CHAT_WORDS and (word.lower() not in english or word[:1].isupper())]
    return names[:_MAX_SUBJECT_WORDS]


# Words around a question that ask nothing of the catalog ("what does it do exactly", "what is it anyway")
_DISCOURSE_WORDS = terms("exactly anyway anyways actually really again basically literally still even then also too now "
                         "currently mean means meant precisely roughly quickly briefly simply just work works sorry sry oops "
                         "nah nope no wait ugh oh ah hmm ok okay yes yeah instead "
                         # (what a rep says of the customer around the question: "and if theyre looking at pro")
                         "theyre they're were we're youre you're looking considering thinking evaluating planning going "
                         "leaning interested keen eyeing right correct accurate wrong well "
                         "prospect prospects lead leads buyer buyers possible doable allowed pack packs block blocks "
                         "around approx approximately maybe ish tho though count sell selling sold apply applies worth")


def _unmatched_words(question: str, view: ProductView) -> list[str]:
    """The words of a short follow-up ("and in transit?") when none of them is a word of the product's catalog."""
    index = _item_index(view)
    asked = {word for word in terms(question[:MAX_SCAN_CHARS]) - _ASKING_WORDS - index.name_words - _DISCOURSE_WORDS
             - _PRICE_ONLY_WORDS - _PERIOD_WORDS - _SEAT_WORDS if not any(ch.isdigit() for ch in word)}  # (a quote's words)
    if not asked or any(word in index.weights or word in index.near or word in index.prefixes or word in index.detail_words
                        for word in asked):
        return []
    typed = typed_words(question[:MAX_SCAN_CHARS], frozenset(asked), skip_first=lambda word: False)
    return [word for word in typed if word.lower() not in _CHAT_WORDS][:_MAX_SUBJECT_WORDS]


# "tiers and viewer limits", "plans + their task limits": the plans themselves are asked for too
_TIERS_AND = re.compile(r"\b(?:tiers|plans|editions|pricing|prices)\s+(?:and|with|plus|\+|&)\b")
_INDEX_CACHE_SIZE = 64
_MAX_NAMED_INTEGRATIONS = 4  # integrations answered beside the best match, each named in the question
_MAX_PREFIX = 8  # a shorthand ("calc", "config") is at most this long
@dataclass(frozen=True)
class _ItemIndex:
    items: tuple[Indexed, ...]
    name_words: frozenset[str]  # the words of the product's and its plans' names
    distinctive: frozenset[str]  # words in the name of exactly one item: a question using one means that item
    weights: dict[str, float]  # word -> how much it says about which item is meant (rarer: more)
    near: dict[str, str]  # a catalog word with one letter deleted (or as is) -> that word, when only one gives it
    prefixes: dict[str, str]  # the first 4-8 letters of a catalog word -> that word, when only one begins so
    initials: dict[str, frozenset[str]]  # "ci" -> the words of "Conversation intelligence", when only one item gives it
    clipped: dict[str, frozenset[str]]  # "rev rec" -> the words of "Revenue recognition", when only one item gives it
    # words of what each plan's feature says ("1-year retention, streaming to your SIEM"): known, though matched by no item
    detail_words: frozenset[str] = frozenset()
    # the first letters of every word the product's catalog uses, descriptions included ("analy" for "analytics")
    stems: frozenset[str] = frozenset()


_STEM_LETTERS = 5
_indexes: dict[tuple[str, int], _ItemIndex] = {}


def _item_index(view: ProductView) -> _ItemIndex:
    """The product's matchable items and the words of its product and plan names, worked out once per
    snapshot version (a rebuild bumps the version, so a changed catalog is indexed again)."""
    key = (view.slug, view.version)
    cached = _indexes.get(key)
    if cached is not None:
        return cached
    payload = view.payload
    names = frozenset().union(*(terms(plan["name"]) for plan in payload["plans"]), terms(payload["product"]["name"]))
    items = [
        *(index_item("feature", f["name"], f, (f["slug"].replace("-", " "), f["description"])) for f in payload["features"]),
        *(index_item("integration", i["name"], i, (i["slug"].replace("-", " "), i["description"]))
          for i in payload["integrations"]),
        *(index_item("compliance", c["name"], c, (c["details"],)) for c in payload["compliance"]),
        *(index_item("addon", a["name"], a, (a["slug"].replace("-", " "), a["description"])) for a in payload["addons"]),
        # A FAQ names its product ("Is there a free trial of Beacon?"): the question asked need not.
        *(index_item("faq", f["question"], f, (f["answer"],), ignore=names) for f in payload["faqs"]),
        *(index_item("limit", name, name) for name in sorted({n for plan in payload["plans"] for n in plan["limits"]})),
    ]
    seen: Counter[str] = Counter(word for item in items for word in item.name_terms)
    documents: Counter[str] = Counter(word for item in items for word in item.name_terms | item.extra_terms)
    weights = {word: math.log((len(items) + 1) / count) for word, count in documents.items()}
    variants: dict[str, set[str]] = {}
    for word in weights:
        if len(word) >= 5 and word.isalpha():
            for variant in _deletions(word):
                variants.setdefault(variant, set()).add(word)
    near = {variant: next(iter(words)) for variant, words in variants.items() if len(words) == 1}
    starts: dict[str, set[str]] = {}
    for word in weights:
        if len(word) >= 6 and word.isalpha():
            for end in range(4, min(len(word), _MAX_PREFIX + 1)):
                starts.setdefault(word[:end], set()).add(word)
    prefixes = {start: next(iter(words)) for start, words in starts.items() if len(words) == 1 and start not in weights}
    details = frozenset().union(*(terms(note) for f in payload["features"] for note in f["details"].values()))
    described = frozenset().union(*(terms(plan["description"]) for plan in payload["plans"]),
                                  terms(str(payload["product"].get("description") or "")),
                                  terms(str(payload["product"].get("tagline") or "")))
    stems = frozenset(word[:_STEM_LETTERS] for word in (*weights, *details, *described, *names))
    if len(_indexes) >= _INDEX_CACHE_SIZE:
        _indexes.clear()
    _indexes[key] = _ItemIndex(
        tuple(items), names, frozenset(word for word, count in seen.items() if count == 1), weights, near, prefixes,
        _initialisms(items, weights), _clipped_names(items), details, stems,
    )
    return _indexes[key]


_CONNECTORS = frozenset({"and", "of", "the", "for", "with", "in", "on", "to", "a"})


def _initialisms(items: Sequence[Indexed], weights: dict[str, float]) -> dict[str, frozenset[str]]:
    """The initials of multi-word item names ("CI" for Conversation intelligence), where exactly one item has
    them and they are not a catalog word already."""
    found: dict[str, set[frozenset[str]]] = {}
    for item in items:
        if item.kind == "faq":
            continue
        words = [word for word in re.findall(r"[A-Za-z0-9]+", item.name) if word.lower() not in _CONNECTORS]
        # "CSV import" is not abbreviated further: only names of plain words have initials people use
        if 2 <= len(words) <= 4 and not any(len(word) > 1 and word.isupper() for word in words):
            words = [word.lower() for word in words]
            found.setdefault("".join(word[0] for word in words), set()).add(item.name_terms)
    return {letters: next(iter(names)) for letters, names in found.items() if len(names) == 1 and letters not in weights}


_CLIP = 3  # "rev rec": each word of a two-word name cut to its first three letters


def _clipped_names(items: Sequence[Indexed]) -> dict[str, frozenset[str]]:
    """Two-word item names as reps clip them ("rev rec" for Revenue recognition), where exactly one item has it."""
    found: dict[str, set[frozenset[str]]] = {}
    for item in items:
        words = re.findall(r"[a-z]+", item.name.lower())
        if item.kind != "faq" and len(words) == 2 and all(len(word) > _CLIP + 1 for word in words):
            found.setdefault(" ".join(word[:_CLIP] for word in words), set()).add(item.name_terms)
    return {clip: next(iter(names)) for clip, names in found.items() if len(names) == 1}


# Words read as a typo of a catalog word: long enough to be sure, short enough to be a word.
_TYPO_LENGTHS = (6, 30)


def _asked(question: str, index: _ItemIndex, named: frozenset[str]) -> frozenset[str]:
    """The question's content words, less the product and plan names, with a word the catalog lacks read as
    the one catalog word one edit away ("currancies" -> currency)."""
    asked = terms(_PER_UNIT.sub(" ", question)) - named
    fixed = set()
    for word in asked:
        if word in index.weights or not _TYPO_LENGTHS[0] <= len(word) <= _TYPO_LENGTHS[1] or not word.isalpha():
            fixed.add(word)  # a word of 40,000 letters has 40,000 deletions of 40,000 letters each: never a typo
            continue
        near = {index.near.get(variant) for variant in _deletions(word)} - {None}
        fixed.add(near.pop() if len(near) == 1 else word)  # type: ignore[arg-type]
    for word in list(fixed):
        if word not in index.weights and word in index.initials:
            fixed.discard(word)  # "is CI on growth": the item whose name it abbreviates
            fixed |= index.initials[word]
        elif word not in index.weights and word in index.prefixes:
            fixed.discard(word)  # "calc", "config": shorthand for the one catalog word it begins
            fixed.add(index.prefixes[word])
    typed = re.findall(r"[a-z]+", question[:MAX_SCAN_CHARS].lower())
    for first, second in zip(typed, typed[1:]):
        clip = f"{first} {second}"
        if len(first) == len(second) == _CLIP and clip in index.clipped:
            fixed -= terms(clip)  # "does launch do rev rec": Revenue recognition
            fixed |= index.clipped[clip]
    return frozenset(fixed) - named


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def _named_words(lowered: str, view: ProductView, plans: Sequence[PlanEntry]) -> frozenset[str]:
    """The words of the product and of the plans the question names or is about: they say which
    product and plan, not which feature ("Team" is a plan, "teams" may be Microsoft Teams)."""
    written = [p for p in view.payload["plans"] if re.search(rf"\b{re.escape(p['name'].lower())}\b", lowered)]
    return frozenset().union(*(terms(p["name"]) for p in [*plans, *written])) | terms(view.name)


def _match_items(question: str, view: ProductView, named: frozenset[str]) -> list[Item]:
    """The catalog items the question is about: the best match, plus a close second of another kind.
    `named`: the words of the product and plans the question names, which are not item words."""
    lowered = question.lower()
    index = _item_index(view)
    asked = _asked(question, index, named)  # "per seat" is about price, not the Seats limit
    if not asked:
        return []
    candidates: list[Item] = []
    asks_amount = bool(_ASKS_AMOUNT.search(lowered))
    for item in index.items:
        value = score(asked, item)
        if value:
            value += DISTINCTIVE_BONUS * len(asked & item.name_terms & index.distinctive)
        boost = _ASPECT_BOOST.get(item.kind)
        if value and boost is not None and boost.search(lowered):
            value += 1.0
        if value and item.kind == "addon" and (_BUY_MORE.search(lowered) or _ADDON.search(lowered)):
            value += 3.0  # "can they buy more storage?" is about the add-on, not the plan's allowance
        if item.kind == "faq" and not asked & item.name_terms and item.name_terms <= named and asked & item.extra_terms:
            # "is relay free actually free forever": a FAQ about the named plan itself ("Is the Free plan really
            # free?"), found by its answer's words
            value = MATCH_THRESHOLD + 0.25 * len(asked & item.extra_terms)
        if value and asks_amount and _states_amount(item):
            value += 1.0  # "how many currencies": the item that states a number
        if value >= MATCH_THRESHOLD:
            candidates.append(Item(item.kind, item.name, item.entry, value))
    if not candidates:
        return []
    candidates.sort(key=lambda item: -item.score)
    best = candidates[0]
    chosen = [best]
    for item in candidates[1:]:
        if item.kind != best.kind and item.score >= 0.85 * best.score and item.name != best.name:
            chosen.append(item)
            break
    opening = lowered[:MAX_SCAN_CHARS]
    if best.kind == "integration" and re.search(rf"\b{re.escape(best.name.lower())}\b", opening):
        # "does it hook into zendesk and intercom": every integration named outright, not only the best match
        chosen += [item for item in candidates[1:] if item.kind == "integration" and item.name != best.name
                   and re.search(rf"\b{re.escape(item.name.lower())}\b", opening)][:_MAX_NAMED_INTEGRATIONS]
    if best.kind != "addon" and _ADDON.search(lowered) and all(item.kind != "addon" for item in chosen):
        # "enterprise only or is there an addon?": the add-on asked about, beside what it extends
        chosen += [item for item in candidates if item.kind == "addon"][:1]
    return chosen


def _states_amount(item: Indexed) -> bool:
    """Whether an item's answer states an amount: every limit does; a feature, add-on or FAQ when its text has one."""
    if item.kind == "limit":
        return True
    entry = item.entry
    text = " ".join(str(entry.get(key) or "") for key in ("description", "answer", "details"))
    return bool(_HAS_AMOUNT.search(text.lower()))


def _match_clauses(question: str, view: ProductView, named: frozenset[str]) -> list[Item]:
    """One item per question of a message asking two ("migrate their subs? and do they have to ditch stripe"),
    when each clause finds its own; none otherwise."""
    clauses = [c for c in _CLAUSES.split(question[:MAX_SCAN_CHARS]) if c.strip()]
    if len(clauses) < 2:
        return []
    found: list[Item] = []
    for clause in clauses[:3]:
        items = _match_items(clause, view, named)
        if items and all(items[0].name != seen.name for seen in found):
            found.append(items[0])
    return found if len(found) >= 2 else []


def _match_by_description(question: str, view: ProductView, named: frozenset[str]) -> list[Item]:
    """The one item whose name and description share the question's rarer words ("pay by wire on annual"
    is the payment FAQ, whose answer says "wire transfer on annual plans"), when one clearly stands out."""
    index = _item_index(view)
    asked = _asked(question, index, named)
    if not asked:
        return []
    scored = sorted(((_item_weight(index, asked, item), item) for item in index.items), key=lambda pair: -pair[0])
    best_score, best = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    third = scored[2][0] if len(scored) > 2 else 0.0
    if best_score < DESCRIPTION_MATCH:
        return []
    if best_score - runner_up >= DESCRIPTION_MARGIN:
        return [Item(best.kind, best.name, best.entry, best_score, "description")]
    if runner_up - third >= DESCRIPTION_MARGIN:  # two items stand out together ("Support", "Premium Support")
        second = scored[1][1]
        return [Item(item.kind, item.name, item.entry, score, "description")
                for score, item in ((best_score, best), (runner_up, second))]
    return []


def _item_weight(index: _ItemIndex, asked: frozenset[str], item: Indexed) -> float:
    """The weight of the question's words an item has: in its name twice, in its description once."""
    weights = index.weights
    return sum(weights[w] for w in asked & (item.name_terms | item.extra_terms)) + sum(
        weights[w] for w in asked & item.name_terms)


def _weighted(question: str, view: ProductView, name: str, named: frozenset[str]) -> float:
    index = _item_index(view)
    asked = _asked(question, index, named)
    return max((_item_weight(index, asked, item) for item in index.items if item.name == name), default=0.0)


_YES_NO = re.compile(r"^\W*(?:(?:and|so|ok|okay|also|but)\W+)?(?:is|are|does|do|can|could|will|would|has|have|"
                     r"included|available|offered|part of)\b")
# "features of growth?", "all the limits": a plan's whole list is asked for, not the thing discussed
_NAMES_A_LIST = re.compile(r"\b(?:features?|limits?|quotas?|everything|all|what else|list)\b|\bwhat(?:'s| is| comes) in\b")


def _describe_item(view: ProductView, item: Item, plans: Sequence[PlanEntry], *, yes_no: bool = False) -> str:
    payload = view.payload
    names = {plan["slug"]: plan["name"] for plan in payload["plans"]}
    if item.kind == "feature":
        return _feature_answer(view, item.entry, plans)
    if item.kind == "integration":
        entry = item.entry
        minimum = entry["min_plan"]
        where = f"on {_from_plan(payload, minimum)}" if minimum else "on every plan"
        order = _positions(payload)
        below = [plan for plan in plans if minimum and order.get(plan["slug"], 0) < order.get(minimum, 0)]
        if below and len(below) == len(plans):
            # "zapier on team?": no, first; the plan it needs after
            text = (f"No: {bold(entry['name'])} is not on {and_list([bold(p['name']) for p in below])}; "
                    f"{view.name} integrates with it {where}.")
        else:
            text = f"Yes: {view.name} integrates with {bold(entry['name'])}"
            text += f" ({entry['category']})" if entry["category"] else ""
            text += f", {where}."
            for plan in below:
                text += f" Not on {bold(plan['name'])}: it needs {bold(names.get(minimum, minimum))} or higher."
        if entry["description"]:
            text += f"\n{clean(entry['description'])}"
        return text
    if item.kind == "compliance":
        entry = item.entry
        text = f"{bold(entry['name'])}: {entry['status']}."
        if entry["details"]:
            text += f" {clean(entry['details'])}"
        return text
    if item.kind == "addon":
        entry = item.entry
        price = format_price(entry["price_cents"], entry["currency"], entry["billing_period"], entry["per_seat"])
        plans_available = entry["available_on"]
        text = (_addon_on_plans(entry, plans) if yes_no else "") + f"The {bold(entry['name'])} add-on costs {price}"
        if plans_available and len(plans_available) < len(payload["plans"]):
            text += ", available on " + and_list([names.get(s, s) for s in plans_available])
        else:
            text += ", available on every plan"
        text += "."
        if entry["description"]:
            text += f"\n{clean(entry['description'])}"
        return text
    if item.kind == "faq":
        return f"{bold(item.entry['question'])}\n{clean(item.entry['answer'])}"
    return _limit_answer(view, item.name, plans)


def _addon_on_plans(addon: Any, plans: Sequence[PlanEntry]) -> str:
    """For an add-on asked of one plan ("is analytics included in enterprise?"): yes or no for that plan first."""
    if len(plans) != 1:
        return ""
    plan = plans[0]
    if addon_totals.included_on(addon, plan):
        return f"Yes: {addon['name']} is included on {plan['name']} at no extra cost.\n"
    if not addon["available_on"] or plan["slug"] in addon["available_on"]:
        return f"Yes: {addon['name']} is available on {plan['name']} as an add-on.\n"
    return f"No: {addon['name']} is not available on {plan['name']}.\n"


def _limit_options(view: ProductView, limit: str, plans: Sequence[PlanEntry]) -> str:
    """Ways past a plan's limit: the add-ons that raise it (their description names it) and the next plan's value."""
    payload = view.payload
    words = terms(limit)
    lines: list[str] = []
    for plan in plans[:1]:
        for addon in payload["addons"]:
            if addon["available_on"] and plan["slug"] not in addon["available_on"]:
                continue
            if words <= terms(f"{addon['name']} {addon['description']}"):
                price = format_price(addon["price_cents"], addon["currency"], addon["billing_period"], addon["per_seat"])
                lines.append(f"• The {bold(addon['name'])} add-on ({price}): {clean(addon['description'])}")
        above = [p for p in payload["plans"] if p["position"] > plan["position"] and limit in p["limits"]]
        if above:
            nxt = min(above, key=lambda p: p["position"])
            lines.append(f"• Move up to {bold(nxt['name'])} ({_price(nxt)}): {limit} {nxt['limits'][limit]}.")
    return ("Options:\n" + "\n".join(lines)) if lines else ""


# "which plan has it", "what tier do they need for sso", "cheapest plan with forecasting"
_WHICH_PLAN_HAS = re.compile(r"\b(?:which|what|cheapest|lowest|smallest|min(?:imum)?) (?:plan|tier|edition)s?\b|\bwhat do (?:they|we|i) need\b")


# "compare basic and pro", "can you do a comparison": a table is asked for, whatever else the message names
_ASKS_A_COMPARISON = re.compile(r"\b(?:compare|comparison|side by side|break ?down the differences?)\b")


def _lowest_plan_with(view: ProductView, item: Item) -> PlanEntry | None:
    """The first plan (by position) that has the feature or integration; None for other items."""
    plans = sorted(view.payload["plans"], key=lambda plan: plan["position"])
    if item.kind == "feature":
        return next((plan for plan in plans if plan["slug"] in item.entry["plans"]), None)
    if item.kind == "integration" and item.entry.get("min_plan"):
        return next((plan for plan in plans if plan["slug"] == item.entry["min_plan"]), None)
    return None


def _feature_answer(view: ProductView, feature: Any, plans: Sequence[PlanEntry]) -> str:
    payload = view.payload
    names = {plan["slug"]: plan["name"] for plan in payload["plans"]}
    included = [slug for slug in feature["plans"] if slug in names]
    detail = feature["details"]
    name = bold(feature["name"])
    where = and_list([names[s] + (f" ({detail[s]})" if s in detail else "") for s in included])
    lines: list[str] = []
    if plans:
        for plan in plans:
            if plan["slug"] in included:
                extra = f" ({detail[plan['slug']]})" if plan["slug"] in detail else ""
                lines.append(f"Yes: {name} is included in {bold(plan['name'])}{extra}.")
            elif included:
                lines.append(f"No: {name} is not in {bold(plan['name'])}. It comes with {where}.")
            else:
                lines.append(f"No: {name} is not included in any {view.name} plan.")
        others = [names[slug] for slug in included if all(slug != p["slug"] for p in plans)]
        if others and all(p["slug"] in included for p in plans):
            # The other plans by name only: their details ("kept 1 year") read as if about the plan asked.
            lines.append("Every plan has it." if len(included) == len(names) else f"Also in {and_list(others)}.")
    elif not included:
        lines.append(f"{name} is not included in any {view.name} plan.")
    elif len(included) == len(names):
        lines.append(f"Yes: {name} is included in every {view.name} plan" + (f" ({where})." if detail else "."))
    else:
        lines.append(f"{name}: included in {where}.")
    if feature["description"]:
        lines.append(clean(feature["description"]))
    return "\n".join(lines)


def _limit_answer(view: ProductView, limit: str, plans: Sequence[PlanEntry]) -> str:
    payload = view.payload
    chosen = [p for p in plans if limit in p["limits"]] or [p for p in payload["plans"] if limit in p["limits"]]
    if len(chosen) == 1:
        plan = chosen[0]
        return f"{bold(limit)} on {bold(plan['name'])}: {plan['limits'][limit]}."
    lines = [f"{bold(limit)} by plan:"] + [f"• {plan['name']}: {plan['limits'][limit]}" for plan in chosen]
    missing = [p["name"] for p in plans if limit not in p["limits"]]
    if missing:
        lines.append(f"No {limit.lower()} is listed for " + and_list(missing) + ".")
    return "\n".join(lines)


def _name_and_price(plan: PlanEntry) -> str:
    price = _price(plan)
    return plan["name"] if price.lower() == plan["name"].lower() else f"{plan['name']} {price}"


def _price(plan: PlanEntry) -> str:
    """The plan's price in its own unit: "$8/employee/month" when its description says it is priced per employee."""
    text = format_price(plan["price_cents"], plan["currency"], plan["billing_period"], plan["per_seat"])
    return text.replace("/seat", "/" + seat_word(plan), 1) if plan["per_seat"] else text


# "cheapest plan", "the top tier", "most expensive option": one end of the product's plans
_EXTREME = re.compile(r"\b(?P<low>cheapest|lowest[- ]priced|least expensive|most affordable|entry[- ]level|lowest|smallest|"
                      r"basic)\b(?= (?:[a-z]+ )?(?:plan|tier|option|one|edition|package|paid plan)\b)|\b(?P<high>most expensive|"
                      r"priciest|top|highest|biggest|largest)\b(?= (?:[a-z]+ )?(?:plan|tier|option|one|edition|package)\b)")


def _extreme_plan(view: ProductView, lowered: str) -> tuple[str, PlanEntry] | None:
    """("cheapest", the plan) for "whats our cheapest plan", ("top", the last plan) for "the top tier"; None otherwise.
    A paid plan is asked for when the message says so."""
    found = _EXTREME.search(lowered)
    plans = view.payload["plans"]
    if found is None or not plans:
        return None
    if found.group("high"):
        return found.group("high"), plans[-1]
    priced = [plan for plan in plans if plan["price_cents"] is not None
              and (plan["price_cents"] > 0 or "paid" not in lowered)]
    if not priced:
        return None
    return found.group("low"), min(priced, key=lambda plan: (plan["price_cents"], plan["position"]))


def _price_sentence(view: ProductView, plan: PlanEntry) -> str:
    name = bold(plan["name"])
    if plan["price_cents"] is None:
        cheaper = [p for p in view.payload["plans"] if p["price_cents"] and p["position"] < plan["position"]]
        text = f"{view.name} {name} has custom pricing: contact sales for a quote."
        if cheaper:
            text += f" For reference, {cheaper[-1]['name']} is {_price(cheaper[-1])}."
        return text
    if plan["price_cents"] == 0:
        return f"{view.name} {name} is free."
    text = f"{view.name} {name} costs {_price(plan)}"
    if plan["annual_discount_pct"]:
        text += f", or {plan['annual_discount_pct']}% less billed annually"
    return text + "."


def _prices(view: ProductView, plans: Sequence[PlanEntry]) -> str:
    if plans:
        return "\n".join(_price_sentence(view, plan) for plan in plans)
    all_plans = view.payload["plans"]
    if not all_plans:
        return f"{view.name} has no published plans."
    lines = [f"{bold(view.name)} pricing:"]
    for plan in all_plans:
        line = f"• {bold(plan['name'])}: {_price(plan)}" + ("" if plan["per_seat"] else _priced_per(plan))
        if plan["annual_discount_pct"]:
            line += f" ({plan['annual_discount_pct']}% off annually)"
        lines.append(line)
    return "\n".join(lines)


_AT_LIST = re.compile(r"\bat list\b|\blist price\b|\b(?:without|before|no|minus) (?:the |their |any |a )?discount\b|\bundiscounted\b")
# "do they need pro just for call recording", "is enterprise required for sso": whether that plan is the one it takes
_NEEDS_THE_PLAN_FOR = re.compile(r"\b(?:need|needs|have to (?:get|buy|be on)|has to (?:get|buy|be on)|require|requires)\s+(?:to (?:be on|get|buy) )?"
                                 r"(?:the )?[\w-]+(?: plan)?\s+(?:just |only |simply )?(?:for|to get)\b"
                                 r"|\b(?:is|are) [\w-]+(?: plan)? (?:required|needed|necessary) (?:for|to get)\b")
# "does that apply to pro", "do they qualify on enterprise": whether the discount just given holds for a plan
_ASKS_IF_IT_APPLIES = re.compile(r"\b(?:appl(?:y|ies)|qualif(?:y|ies)|eligible|valid|hold|holds|work for|count for|"
                                 r"get (?:it|that|the same)|same (?:deal|discount))\b")
# "can they do monthly billing on ent", "monthly w that?", "month to month": billed monthly (not a monthly share of a
# yearly figure)
_MONTHLY_BILLING = re.compile(r"\b(?:monthly|mthly|month[\s-]?to[\s-]?month|month by month|(?:pay|paid|paying|bill\w*|charge\w*) "
                              r"(?:by the |per |each |every |a |by )month)\b")
_BILLED_ANNUALLY = re.compile(r"\bbilled (?:annually|yearly)\b|\bannual (?:contract|billing) only\b", re.IGNORECASE)


def _billing_term_answer(question: str, view: ProductView, plans: Sequence[PlanEntry]) -> str | None:
    """Yes or no to a question whether a plan can be billed monthly (no when its description says it is billed
    annually, with the plans that can); None for any other question."""
    lowered = question.lower()[:MAX_SCAN_CHARS]
    if len(plans) != 1 or not _MONTHLY_BILLING.search(lowered) or not (_YES_NO.match(lowered) or "?" in lowered
                                                                             or "possible" in lowered):
        return None
    plan = plans[0]
    if not plan["price_cents"]:
        return None  # free, or priced by sales
    if not _BILLED_ANNUALLY.search(plan["description"] or ""):
        discount = plan["annual_discount_pct"]
        return (f"Yes: {view.name} {bold(plan['name'])} can be billed monthly: {_price(plan)}"
                + (f", or {discount}% less billed annually." if discount else "."))
    monthly = [p["name"] for p in view.payload["plans"] if p["price_cents"] and not _BILLED_ANNUALLY.search(p["description"] or "")]
    answer = f"No: {view.name} {bold(plan['name'])} is billed annually, not monthly ({_price(plan)} list price)."
    if monthly:
        answer += f" Monthly billing is on {_capped(monthly, len(monthly))}."
    return answer


def _priced_per(plan: PlanEntry) -> str:
    """" (priced per employee)" when the plan's description says what its unit is."""
    unit = _PRICED_PER.match(plan["description"] or "")
    return f" (priced {unit.group(1).lower()})" if unit else ""


def _comparison(view: ProductView, plans: Sequence[PlanEntry]) -> str:
    plans = list(plans)[:4]
    if len(plans) < 2:
        return _prices(view, plans)
    header = ["", *(p["name"] for p in plans)]
    rows = [["Price", *(_price(p) for p in plans)]]
    if any(p["annual_discount_pct"] for p in plans):
        rows.append(["Annual discount", *(f"{p['annual_discount_pct']}%" if p["annual_discount_pct"] else "-" for p in plans)])
    limit_names: list[str] = []
    for plan in plans:
        limit_names.extend(name for name in plan["limits"] if name not in limit_names)
    for name in limit_names:
        rows.append([name, *(p["limits"].get(name, "-") for p in plans)])
    features = view.payload["features"]
    rows.append(["Features", *(str(sum(1 for f in features if p["slug"] in f["plans"])) for p in plans)])
    lines = [f"{bold(view.name)}: " + " vs ".join(bold(p["name"]) for p in plans), table(header, rows)]
    for plan in plans:
        others = [p["slug"] for p in plans if p is not plan]
        only = [f["name"] for f in features if plan["slug"] in f["plans"] and not any(o in f["plans"] for o in others)]
        if only:
            lines.append(f"Only in {bold(plan['name'])}: " + _capped(only, 8) + ".")
    return "\n".join(lines)


def _plan_features(view: ProductView, plan: PlanEntry) -> str:
    features = [f for f in view.payload["features"] if plan["slug"] in f["plans"]]
    if not features:
        return f"{view.name} {bold(plan['name'])} lists no features."
    lines = [f"{view.name} {bold(plan['name'])} ({_price(plan)}) includes:"]
    if plan["description"]:  # ("whats in relay plus": its 20,000 tasks a month are in its description, not a feature)
        lines[0] = f"{view.name} {bold(plan['name'])} ({_price(plan)}): {clean(plan['description'])}\nFeatures:"
    for feature in features[:MAX_LISTED]:
        detail = feature["details"].get(plan["slug"])
        lines.append(f"• {clean(feature['name'])}" + (f" ({clean(detail)})" if detail else ""))
    if len(features) > MAX_LISTED:
        lines.append(f"…and {len(features) - MAX_LISTED} more.")
    return "\n".join(lines)


def _plan_limits(view: ProductView, plan: PlanEntry) -> str:
    if not plan["limits"]:
        return f"{view.name} {bold(plan['name'])} lists no limits."
    lines = [f"{view.name} {bold(plan['name'])} limits:"]
    lines.extend(f"• {name}: {value}" for name, value in plan["limits"].items())
    if plan["description"] and _COUNTED.search(plan["description"]):
        # ("Up to 5 workflows and 1,000 tasks a month": a cap the plan's description states, not a listed limit)
        lines.append(f"The plan: {clean(plan['description'])}")
    return "\n".join(lines)


_COMPARE_WORDS = terms("compare comparison compared diff difference differences differ versus vs between two both")
_LIMIT_CUE = re.compile(r"\b(?:min|mins|minimum|max|maximum|cap|capped|limit|limits|allowance|how many)\b")
_DEFINES = re.compile(r"^\W*(?:(?:and|so|ok|okay|wait|sorry|dumb q|quick q|stupid q(?:uestion)?|dumb question)\W+)*"
                      r"(?:what(?:'s| is|s)? (?:a|an)\b(?! (?:limit|cap|max)\b)|what counts as|"
                      r"define|definition of|meaning of|what do (?:you|we|they) mean by|what (?:does|do) (?:a|an|one) \w+ (?:mean|count)|"
                      r"what is meant by)\b")
_COUNTED = re.compile(r"\b(?:up to|unlimited|max(?:imum)?|\d[\d,]*\s+[a-z])", re.IGNORECASE)


def _plan_overview(view: ProductView, plan: PlanEntry) -> str:
    lines = [_price_sentence(view, plan)]
    if plan["description"]:
        lines.append(clean(plan["description"]))
    if plan["limits"]:
        lines.append("Limits: " + "; ".join(f"{k} {v}" for k, v in plan["limits"].items()) + ".")
    count = sum(1 for f in view.payload["features"] if plan["slug"] in f["plans"])
    if count:
        lines.append(f"{count} features; ask \"list the features of {plan['name']}\" for them.")
    return "\n".join(lines)


def _overview(view: ProductView) -> str:
    product = view.payload["product"]
    lines = [bold(view.name) + (f": {clean(product['tagline'])}" if product["tagline"] else "")]
    if product["description"]:  # ("what is orbit exactly", "what does beacon do": what it does, not only its tagline)
        lines.append(clean(product["description"]))
    if view.payload["plans"]:
        lines.append("Plans: " + " · ".join(_name_and_price(p) for p in view.payload["plans"]) + ".")
    lines.append(
        "Ask me about a plan's price, whether a feature is included, integrations, limits, security, "
        "or to compare two plans."
    )
    return "\n".join(lines)


def _product_list(ctx: HandlerContext) -> str:
    listed, total = list_products(ctx.db, MAX_LISTED)
    lines = ["We sell:"] + [f"• {bold(name)}" + (f": {clean(tagline)}" if tagline else "") for name, tagline in listed]
    if total > len(listed):
        lines.append(f"…and {total - len(listed)} more.")
    lines.append("Ask about any of them: prices, plans, features, integrations or security.")
    return "\n".join(lines)


def _list_addons(view: ProductView) -> str:
    lines = [f"{bold(view.name)} add-ons:"]
    for addon in view.payload["addons"]:
        price = format_price(addon["price_cents"], addon["currency"], addon["billing_period"], addon["per_seat"])
        lines.append(f"• {bold(addon['name'])}: {price}")
    return "\n".join(lines)


def _list_integrations(view: ProductView, question: str) -> str:
    integrations = view.payload["integrations"]
    missing = _asks_about_unknown(question, view.payload)
    lines = []
    if missing:
        lines.append(f"I don't see a {bold(' '.join(missing))} integration for {view.name}.")
    if integrations:
        names = [i["name"] for i in integrations]
        lines.append(f"{view.name} integrates with " + _capped(names, MAX_LISTED) + ".")
    return "\n".join(lines)


_MAX_COMPLIANCE_ITEMS = 3


def _compliance_answer(question: str, view: ProductView, plans: Sequence[PlanEntry]) -> str:
    """The compliance list; a standard it lacks but an add-on or feature covers ("does sentinel do hipaa") first."""
    listed = frozenset().union(*(terms(item["name"]) for item in view.payload["compliance"]))
    missing = (terms(question[:MAX_SCAN_CHARS]) & _COMPLIANCE_TERMS) - listed
    covering = _items_covering(view, missing, _MAX_COMPLIANCE_ITEMS)
    if not covering:
        return _list_compliance(view)
    standard = ", ".join(sorted(word.upper() for word in missing))
    lines = [f"{view.name} covers {standard} through:"]
    lines += ["• " + _describe_item(view, item, plans) for item in covering]
    return "\n".join(lines) + "\n\n" + _list_compliance(view)


def _items_covering(view: ProductView, words: frozenset[str], limit: int) -> list[Item]:
    """The product's features and add-ons (at most `limit`) whose name or description has one of `words`."""
    found = [item for item in _item_index(view).items
             if item.kind in ("feature", "addon") and words & (item.name_terms | item.extra_terms)]
    return [Item(item.kind, item.name, item.entry, 0.0) for item in found[:limit]]


# Standards a rep asks a product to cover, as `terms` spells them.
_COMPLIANCE_TERMS = frozenset({"hipaa", "soc2", "iso27001", "gdpr", "pci", "ccpa", "fedramp"})


def _list_compliance(view: ProductView) -> str:
    lines = [f"{bold(view.name)} compliance and security:"]
    lines.extend(f"• {bold(item['name'])}: {item['status']}" for item in view.payload["compliance"])
    return "\n".join(lines)


def _asks_about_unknown(question: str, payload: ProductPayload) -> list[str]:
    """Words of an integration question that no integration, feature or plan of the product has."""
    words = terms(question) - terms("integration integrate integrates connect connects sync works with plug in ask asks asked "
                                    "asking request requests requested want wants wanted popular common usual top")
    known = [i["name"] for i in payload["integrations"]] + [f["name"] for f in payload["features"]]
    known += [p["name"] for p in payload["plans"]] + [payload["product"]["name"]]
    return [w.title() if len(w) > 3 else w.upper() for w in unmatched(words, known)][:3]


def _unknown_names(ctx: HandlerContext, view: ProductView) -> list[str]:
    """The first capitalised word (not opening the message) that names nothing pitcrew knows: a product
    or plan the rep thinks exists. Accounts and people named in the message are known too. Only the
    first is shown, so the catalog is asked about each distinct word until one is unknown."""
    distinct: dict[str, str] = {}  # lower case -> as first written
    for word in _CAPITALISED.findall(ctx.words[:MAX_SCAN_CHARS]):
        distinct.setdefault(word.lower(), word)
    words = [word for lowered, word in distinct.items() if lowered not in _COMMON_CAPITALISED]
    if not words:
        return []
    payload = view.payload
    known = [view.name, *(p["name"] for p in payload["plans"]), *(f["name"] for f in payload["features"])]
    known += [i["name"] for i in payload["integrations"]] + [c["name"] for c in payload["compliance"]]
    known += [a["name"] for a in payload["addons"]] + [f["question"] + " " + f["answer"] for f in payload["faqs"]]
    known += [name for name in (ctx.resolution.account, ctx.resolution.contact and ctx.resolution.contact.name) if name]
    known_text = " ".join(known).lower()
    unknown = next((w for w in words if w.lower() not in known_text and read_product(ctx.db, w) is None), None)
    return [unknown] if unknown is not None else []


def _positions(payload: ProductPayload) -> dict[str, int]:
    return {plan["slug"]: plan["position"] for plan in payload["plans"]}


def _from_plan(payload: ProductPayload, slug: str) -> str:
    names = {plan["slug"]: plan["name"] for plan in payload["plans"]}
    order = _positions(payload)
    higher = [p for p in payload["plans"] if order[p["slug"]] >= order.get(slug, 0)]
    if len(higher) == 1:
        return f"{names.get(slug, slug)} only"
    return f"{names.get(slug, slug)} and higher"


def _capped(names: Sequence[str], limit: int) -> str:
    shown = and_list([clean(n) for n in names[:limit]])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
