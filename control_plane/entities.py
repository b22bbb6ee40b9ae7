"""Entities in a message: who, which account, product and plans, what topic, when, which kind of meeting.

Names are looked up word by word in an index built once from the vocabulary (dictionary lookups, so
the cost does not grow with the number of accounts). The topic and a person who is not a known
contact are cut out of the case-preserving normalized text, so "SOC 2" stays "SOC 2".
"""

from __future__ import annotations

import re
from datetime import datetime

from control_plane.intents import Entities, Intent, TimeRange
from control_plane.account_kinds import kind_asked, may_ask_for_a_kind
from control_plane.names import MAX_NAME_WORDS, MEETING_WORDS, Found, NameIndex, name_key
from control_plane.normalize import NormalizedText
from control_plane.time_ranges import COUNT_WORDS, WEEKDAYS, parse_time_range
from knowledge.vocabulary import Vocabulary

MAX_TOPIC_CHARS = 100
MAX_SCAN_CHARS = 500  # names are looked for in the opening of a message, like intents
# Plan names that are everyday words: in lower case they name a plan only where a plan is asked about.
_EVERYDAY_PLAN_NAMES = frozenset(
    "team free basic plus scale launch business developer startup advanced essentials standard premium growth".split()
)
_PLAN_SLOT_BEFORE = frozenset(
    "is does do on in and or vs versus than compare about of get to from upgrade meant mean said whats what's hows how's "
    "would went buy buys buying choose chose pick picked take took want wants use using wait actually oops sorry need needs "
    "require requires out".split()
)
# "growth run per seat", "team cost monthly": words right after an everyday plan name that ask what it costs.
# "a discount on beacon", "20% off beacon", "pricing for relay": the product asked about, when two are named
_ABOUT_PRODUCT_BEFORE = frozenset("on off for".split())
# "pro gets them what growth doesnt", "team lacks it": a plan compared with the one asked about
_SET_AGAINST_AFTER = frozenset("doesnt doesn't doesn hasnt hasn't lacks lack misses dont don't".split())
# "plus the 10% off", "plus another pack": words after "plus" that make it a conjunction, not the plan
_JOINED_AFTER_PLUS = frozenset("the a an another extra more some one two three tax vat their our".split())
_PRICE_CUES_AFTER = frozenset("per cost costs run runs priced price pricing go goes monthly annually yearly annual paid billed".split())
_PLAN_WORD_AFTER = frozenset((word,) for word in ("plan", "plans", "tier", "seats", "seat", "pricing", "price", "edition"))
# "their sales team", "a small team": words before "team" that make it a group of people
_OWNERS_OF_A_TEAM = frozenset("sales inside field outbound inbound their our my your whole entire small big growing cs support ops "
                              "revops finance marketing success".split())
# "can growth be paid monthly", "could team get sso": a plan between a modal and its verb is the subject asked about
_PRICE_WORD = re.compile(r"\b(?:price|prices|pricing|priced|cost|costs|quote|how much|\$)")
_MODAL_BEFORE = frozenset("can could will would should may might".split())
_VERB_AFTER_MODAL = frozenset("be have get do include support handle use go pay bill buy add".split())

_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_PLAN_WORDS = frozenset({"plan", "plans", "tier", "tiers", "edition", "editions", "package", "packages", "subscription",
                         "customers", "customer", "seats", "seat", "users", "licenses", "pricing", "price", "then",
                         "instead"})
# "10 seats", "25 pro licenses", "for 60 users": how many seats a price question is for.
_QUANTITY = re.compile(
    # (not "149 a seat", "55.20 per user": a price per seat)
    # (nor "1k viewers": a thousand, not one)
    r"(?<![\w$.,])(\d{1,3}(?:,\d{3})?|\d{1,6})(?![\d.,]\d)(?!\s*(?:a|per|/)\s*(?:seat|user|head|person|rep|employee)s?\b)(?!\s?k\b)"
    r"\s*(?:x\s*|-)?(?:[a-z+-]{1,20}\s+){0,2}?"  # ("a 45-person team")
    r"(?:seats?|users?|licen[cs]es?|reps?|people|ppl|persons?|agents?|employe?es?|employes|members?|viewers?|staff|heads?|"
    r"sellers?|salespeople|sales ?reps?|aes|sdrs?|bdrs?|folks|closers?)\b"
)
# "if they grow to 8", "when they scale up to 40": a team size with no seat word, in a price or plan question.
_GROWS_TO = re.compile(r"\b(?:grow|expand|scale|increase|jump|bump|go|get|hire)(?:s|ed|ing)?(?: up)? to (\d{1,3}(?:,\d{3})?|\d{1,6})\b(?![.,]\d)"
                      # "n if they hit 120": a head count the team reaches
                      r"|\b(?:hit|hits|hitting|reach|reaches|reached|reaching) (\d{1,3}(?:,\d{3})?|\d{1,6})\b(?![.,]\d|\s?%)"
                      # "what would 40 of those run us", "40 of them annually": seats of the plan just discussed
                      r"|(?<![\w$.,])(\d{1,3}(?:,\d{3})?|\d{1,6}) of (?:those|them|these|that|it|that plan|those plans)\b")
# "pro for 15", "growth x 40": a count right after a plan's name is its seats (not "for 3 years", "for 20%").
_PLAN_FOR_COUNT = re.compile(
    r"(?:\b(?:for|x|times)|\*|×)\s?(\d{1,3}(?:,\d{3})?|\d{1,5})\b(?![.,]\d|\s?%|\s?(?:percent|months?|mos?|years?|yrs?|days?|"
    r"weeks?|minutes?|hours?|gb|tb|mb|k|m|dollars|usd|eur|bucks|requests|calls|tasks|responses|seconds?)\b)"
)
_STARTUP_COMPANY = re.compile(r"\bstartups?\b(?! (?:plan|tier))(?=[^.?!\n]{0,60}\b(?:raised|funding|funded|seed|series [a-d]|vc|"
                              r"\$?\d+(?:\.\d)?\s?(?:m|mm|million)\b|under|pricing|discount|program|deal)\b)|\bstartups\b"
                              # "what if they were a startup instead", "theyre a startup": a kind of company
                              r"|\b(?:were|was|is|are|they're|theyre|its|it's|as|being) an? (?:early[- ]stage |seed[- ]stage |small |tiny )?startup\b")
# "and 55 growth", "10 pro": a count right before a plan's name is its seats
# ("40 x growth", "the 55 on growth" too)
_COUNT_BEFORE = re.compile(r"(?<![\w$.,])(\d{1,3}(?:,\d{3})?|\d{1,5}) (?:(?:x|×|\*|on|of|seats? on|seats? of) )?$")
_YEARLY = re.compile(r"\b(?:per|a|each|every|one|1|for the|for a|by the) (?:year|annum)\b|\bannual(?:ly)?\b|\byearly\b|"
                     r"\b12 months\b|\bper yr\b")
_MONTHLY = re.compile(r"\b(?:per|a|each|every|one|1|by the) month\b|\bmonthly\b")

_NOT_NAMES = frozenset(
    """the a an my our your their his her its them him us me you we they he she it i everyone everybody all
    team teams customer customers client clients prospect prospects this that these those about re regarding
    with and or follow email e-mail note draft reply quick short someone somebody anyone people folks
    cfo ceo cto cio ciso coo vp champion buyer buyers legal procurement finance security it-team
    today tomorrow yesterday tonight morning afternoon evening week month quarter year next last please
    thanks thank hi hello hey know up out back over again""".split()
) | frozenset(WEEKDAYS) | frozenset(
    "january february march april may june july august september october november december".split()
)

_NOT_TOPICS = frozenset("it this that them anything something everything stuff things me us you".split())
_QUOTED = re.compile(r"\"([^\"\n]{1,200})\"|(?:^|(?<=[\s:(]))'([^'\n]{1,200})'(?=$|[\s?.!,;:)])")
_CAME_UP = re.compile(
    r"\bwhere (?P<topic>[^.?!\n]{1,120}?) (?:came|comes|come|has come|was|were|got|has been|have been) "
    r"(?:up|discussed|mentioned|raised|brought up|talked about)\b"
    # "which competitors came up", "what integrations do prospects ask about", "what objections do we hear"
    r"|^(?:(?:and|so|ok|hey)\W+)?(?:which|what) (?P<asked>[\w-]+(?: [\w-]+){0,2}) (?:came up|come up|have come up|has come up|"
    r"keep coming up|kept coming up|got (?:mentioned|raised|brought up)|(?:were|was|have been|get) (?:mentioned|raised|brought up)|"
    r"(?:do|did|have) (?:we|you|reps|customers|prospects|they) (?:hear|heard|keep hearing|run into|ran into|come across|"
    r"lose to|lost to|compete with|go up against))\b"
)
_TOPIC_VERB = re.compile(
    r"\b(?:talk(?:ed|ing|s)? about|discuss(?:ed|ing|es)?|mention(?:ed|ing|s)?|br(?:ought|ing|ings|inging) up|"
    r"ask(?:ed|ing|s)? (?:about|for)|complain(?:ed|ing|s)? about|rais(?:ed|ing|es?)|said|covered|"
    r"mentions of|push(?:ed)? back on|objected to)\s+"
)
_TOPIC_ABOUT = re.compile(r"\b(?:about|regarding|concerning|re:?|on the topic of)\s+"
                          r"|\b(?:follow-up|followup|note|e-?mail|message|reply|update)s? on\s+")  # "a followup on the import"
_TOPIC_SEARCH_FOR = re.compile(r"\b(?:search|grep|scan|look)\b[^.?!\n]{0,40}?\bfor\s+")
_TOPIC_COLON = re.compile(r"^\s*(?:search|find|grep)\b[^:.?!\n]{0,40}:\s*")
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)|\n")
_LEADING_DETERMINER = re.compile(r"^(?:the|a|an|our|their|any|some|this|that|its|his|her)\s+", re.IGNORECASE)
_TRAILING_TIME = re.compile(
    r"\s+(?:(?:from|in|during|over|since|for|on|of|back in)\s+)?(?:today|yesterday|tonight|this (?:week|month|quarter|year|morning|afternoon)|"
    r"(?:last|past|previous) (?:week|month|quarter|year|(?:\d{1,3}|" + "|".join(COUNT_WORDS) + r") "
    r"(?:days?|dys|w(?:ee|e|ea|ek)ks?|wks?|months?|mon?ths?|mnths?))|recently|lately|"
    r"(?:last |this past )?(?:" + "|".join(WEEKDAYS) + r")|q[1-4](?: ?'?\d{2,4})?)$",
    re.IGNORECASE,
)
_TRAILING_CALLS = re.compile(
    r"\s+(?:on|in|during|from|across|with)\s+(?:any |the |our |their |recent |past |a )?(?:[\w-]+ )?"
    r"(?:calls?|meetings?|conversations?|demos?|transcripts?|recordings?)$",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(
    r"\s+(?:please|pls|thanks|thank you|again|at all|ever|too|as well|also|either|(?:in|on|from) (?:there|them|those|these|it|that))$"
    r"|^(?:too|as well|also|either|again)$|[\s?.!,;:\"')]+$",
    re.IGNORECASE,
)
_RECIPIENT = re.compile(
    r"\b(?P<cue>to|for|e-?mail|mail|ping|message|nudge|thank|cc|write|draft|send|shoot|reply to)\s+"
    r"(?=(?P<name>[\w'-]{1,40}(?:\s+[\w'-]{1,30})?))",  # a lookahead, so "nudge to Marcus" tries "to" and "Marcus"
    re.IGNORECASE,
)
_WITH_PERSON = re.compile(r"\bwith\s+(?P<name>[A-Z][\w'-]{1,30}(?:\s+[A-Z][\w'-]{1,30})?)")
_LOWERCASE_RECIPIENT_CUES = re.compile(r"\b(?:e-?mail|mail|note|follow[ -]?up|reply|message)s? to\s+$", re.IGNORECASE)


class EntityExtractor:
    """Extracts `Entities` from normalized text; built once per vocabulary."""

    def __init__(self, vocabulary: Vocabulary, names: NameIndex | None = None) -> None:
        self.vocabulary = vocabulary
        self.names = names or NameIndex(vocabulary)
        self._account_aliases = self.names.account_aliases

    # Canonical names, also used to check what an LLM returns -----------------------------------------

    def canonical_account(self, name: str | None) -> str | None:
        """The known account `name` refers to (any alias, any case), or None."""
        return self.names.canonical(name, "account")

    def canonical_product(self, name: str | None) -> str | None:
        return self.names.canonical(name, "product")

    def canonical_plan(self, name: str | None) -> str | None:
        return self.names.canonical(name, "plan")

    def canonical_meeting_kind(self, name: str | None) -> str | None:
        return self.names.canonical(name, "kind")

    # Extraction ----------------------------------------------------------------------------------------

    def extract(self, text: NormalizedText, intent: Intent, now: datetime) -> Entities:
        if len(text.clean) > MAX_SCAN_CHARS:
            text = NormalizedText(text.clean[:MAX_SCAN_CHARS], text.lowered[:MAX_SCAN_CHARS])
        lowered = text.lowered
        found = self.names.find(lowered)
        account = next((n.canonical for f in found for n in f.names if n.kind == "account"), None)
        named_products = [(n.canonical, f) for f in found for n in f.names if n.kind == "product"]
        product = named_products[0][0] if named_products else None
        if len({name for name, _ in named_products}) > 1:
            # "do orbit customers get a discount on beacon": the product the discount or price is on
            product = next((name for name, f in named_products if f.previous_word in _ABOUT_PRODUCT_BEFORE), product)
        plans: list[str] = []
        plan_words = {text.lowered[f.start : f.end] for f in found if any(n.kind == "plan" for n in f.names)}
        for match in found:
            for name in match.names:
                if name.kind == "plan" and name.canonical not in plans and self._plan_counts(
                    text, match, intent, plan_words, short=len(found) == len(lowered.split()) or len(lowered.split()) <= 2
                ):
                    plans.append(name.canonical)
        if plans:  # "what does pro get them that growth doesnt": an everyday plan name set against a plan named
            for match in found:
                for name in match.names:
                    if name.kind == "plan" and name.canonical not in plans and (
                            (match.next_words[:1] and match.next_words[0] in _SET_AGAINST_AFTER)
                            or match.previous_word in ("and", "or", "&", "+", "vs", "n")):  # ("pricing for team and growth")
                        plans.append(name.canonical)
        # "i meant pro not growth", "pro, not growth": the plan ruled out is not asked about (when another is)
        ruled_out = {n.canonical for f in found if f.previous_word in ("not", "n't", "instead of") for n in f.names
                     if n.kind == "plan"}
        if ruled_out and any(plan not in ruled_out for plan in plans):
            plans = [plan for plan in plans if plan not in ruled_out]
        meeting_kind = None
        if intent in (Intent.CALL_SEARCH, Intent.MEETING_SUMMARY, Intent.UNKNOWN):  # (unknown: "no i meant the discovery")
            meeting_kind = next(
                (n.canonical for f in found for n in f.names
                 if n.kind == "kind" and (not n.needs_meeting_word or (f.next_words[:1] and f.next_words[0] in MEETING_WORDS))),
                None,
            )
        topic = self._topic(text, intent) if intent in (Intent.CALL_SEARCH, Intent.DRAFT_EMAIL) else None
        # (unknown too: "for 20 ppl yr" after a price is a quote for 20 seats, once the thread says so)
        # (a draft quoting plans too: "add team and growth pricing for 20 seats")
        quantity = (_QUANTITY.search(lowered) or _GROWS_TO.search(lowered)) \
            if intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN) or (intent is Intent.DRAFT_EMAIL and plans) else None
        if quantity is None and plans and intent is Intent.PRODUCT_QUESTION:
            quantity = _PLAN_FOR_COUNT.search(lowered)  # "beacon pro for 15": 15 seats of it
        if quantity is None and plans and intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN):
            quantity = next((counted for f in found if any(n.kind == "plan" for n in f.names)
                             and (counted := _COUNT_BEFORE.search(lowered, 0, f.start))), None)  # "and 55 growth"
        term = None
        if intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN):  # unknown: "annual?" may follow up a price
            term = "year" if _YEARLY.search(lowered) else "month" if _MONTHLY.search(lowered) else None
        industry = kind_asked(lowered, self.names.industry_words) \
            if intent is Intent.MEETING_SUMMARY and may_ask_for_a_kind(lowered) else None
        return Entities(
            person=self._person(text, found, intent),
            colleague=self._colleague(text, found),
            account=account,
            product=product,
            plans=tuple(plans),
            topic=topic,
            time_range=_time_asked(_before_what_to_say(lowered) if intent is Intent.DRAFT_EMAIL else lowered, now)
            if lowered else None,
            meeting_kind=meeting_kind,
            quantity=_count(next(group for group in quantity.groups() if group)) if quantity else None,
            term=term,
            industry=industry,
        )

    def _plan_counts(self, text: NormalizedText, match: Found, intent: Intent, plan_words: set[str], *,
                     short: bool) -> bool:
        """Plan names are often everyday words ("team", "free", "growth"): they count where a plan is meant,
        or in a message of little more than names ("growth?", "team and pro")."""
        if match.next_words[:1] in (("trial",), ("trials",)):
            return False  # "free trial?" asks about trying the product, not the plan called Free
        if text.lowered[match.start : match.end] == "team" and match.next_words[:1] not in _PLAN_WORD_AFTER and (
                match.previous_word in _OWNERS_OF_A_TEAM or match.previous_word.endswith(
                ("-person", "-rep", "-people", "-seat", "-user", "-member"))):
            return False  # "a 45-rep team", "their sales team": people, not the plan called Team
        if text.lowered[match.start : match.end].startswith("startup") and _STARTUP_COMPANY.search(text.lowered):
            return False  # "startup pricing? prospect raised 3M": the discount for startups, not a plan called Startup
        if any(name.kind == "product" for name in self.names.get(match.previous_word)):
            return True  # "relay free", "orbit pro"
        if text.lowered[match.start : match.end] == "plus" and match.next_words and (
                match.next_words[0] in _JOINED_AFTER_PLUS or match.next_words[0][:1].isdigit()
                or self.names.catalog_terms_in(" ".join(match.next_words))):
            return False  # "plus analytics", "plus the 10% off", "plus 2 packs": the word joins, it names no plan
        if short or (match.start > 0 and text.clean[match.start].isupper()):
            return True
        if match.previous_word.replace(",", "").isdigit() and intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN):
            return True  # "and 55 growth": seats of the plan
        if match.previous_word in ("x", "×", "*") and intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN):
            return True  # "40 x growth annual"
        following = match.next_words[:1]
        if following and (following[0] in _PLAN_WORDS or following[0].removesuffix("s") in self.names.limit_terms):
            return True  # "pro seats", "basic response limit"
        if len(match.next_words) == 2 and match.next_words[0] == "for" and match.next_words[1][:1].isdigit():
            return True  # "advanced for 200 employees"
        if len(match.next_words) == 2 and match.next_words[0] in ("and", "or", "vs") and (
            match.next_words[1] in _PLAN_WORDS or match.next_words[1] in plan_words  # "team and enterprise plans"
        ):
            return True
        if intent not in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN):  # unknown: it may be a follow-up ("and growth?")
            return False
        if match.start == 0 and following and (following[0] in ("with", "for", "and", "+", "plus", "x", "×", "*")
                                               or following[0][:1].isdigit()  # "growth 20 seats annual"
                                               or (following[0] in ("is", "at", "@") and any(ch.isdigit() for ch in text.lowered))):
            return True  # "plus with 2 extra task packs", "scale + tax automation": a plan opening a price question
        if len(match.next_words) == 2 and match.next_words[0].isdigit() and (
                match.next_words[1] in _PLAN_WORDS or match.next_words[1].rstrip("s") in ("seat", "user", "licence", "license")):
            return True  # "... growth 35 seats annual is 55.20 a seat right?"
        if match.previous_word == "for" and not match.next_words[:1] and any(ch.isdigit() for ch in text.lowered):
            return True  # "is 60 right for growth", "20 seats for team": a figure for that plan
        if match.previous_word in ("for", "on") and not match.next_words[:1] and _PRICE_WORD.search(text.lowered[:match.start]):
            return True  # "price for scale", "whats the cost on business": the plan closing a price question
        if match.previous_word in ("with", "w", "w/") and not match.next_words:
            return True  # "does okta work w team": the plan closing the question (not "come with free onboarding")
        if not following and (match.previous_word.removesuffix("s") in self.names.limit_terms
                              or self.names.catalog_terms_in(match.previous_word)):
            return True  # "api limit growth", "sso growth?": a plan closing a question about what it includes
        if match.previous_word in _MODAL_BEFORE and following and following[0] in _VERB_AFTER_MODAL:
            return True  # "can growth be paid monthly", "could team get sso"
        word = text.lowered[match.start : match.end]
        return (word not in _EVERYDAY_PLAN_NAMES or match.previous_word in _PLAN_SLOT_BEFORE
                or any(word in _PRICE_CUES_AFTER for word in match.next_words))  # "team per seat", "growth run per seat"

    def _person(self, text: NormalizedText, found: list[Found], intent: Intent) -> str | None:
        email = _EMAIL.search(text.clean) if "@" in text.clean else None
        if email:
            return email.group().lower()
        if intent is Intent.DRAFT_EMAIL:
            recipient = self._recipient(text)
            if recipient:
                return recipient
        for match in found:
            for name in match.names:
                if name.kind == "contact":
                    return name.canonical
                # "Mark" is a person, "mark as won" is not: an everyday word counts only capitalised or after a cue.
                if name.kind == "first_name" and self.names.names_first_name(text, match):
                    return name.canonical
        if intent in (Intent.CALL_SEARCH, Intent.MEETING_SUMMARY):
            for match in _WITH_PERSON.finditer(text.clean):
                name = self._person_name(match.group("name"), allow_lowercase=False)
                if name:
                    return name
        return None

    def _colleague(self, text: NormalizedText, found: list[Found]) -> str | None:
        """One of our own people the message names ("whats on mayas plate", "what does Sam owe acme")."""
        for match in found:
            for name in match.names:
                if name.kind == "colleague" and (" " in text.lowered[match.start : match.end]
                                                 or self.names.names_first_name(text, match)):
                    return name.canonical
        return None

    def _recipient(self, text: NormalizedText) -> str | None:
        for match in _RECIPIENT.finditer(text.clean):
            allow_lowercase = bool(_LOWERCASE_RECIPIENT_CUES.search(text.clean[: match.start("name")]))
            name = self._person_name(match.group("name"), allow_lowercase)
            if name:
                return name
        return None

    def _person_name(self, words: str, allow_lowercase: bool) -> str | None:
        """`words` as a person's name (first word, and a capitalized second), or None if they are not one."""
        parts = [w.removesuffix("'s").removesuffix("'") for w in words.split()]
        first = parts[0] if parts else ""
        if not first or first.lower() in _NOT_NAMES or not first[0].isalpha():
            return None
        known = self._lookup_person(" ".join(parts[:2])) or self._lookup_person(first)
        if known:
            return known
        if not first[0].isupper() and not allow_lowercase:
            return None
        if self._is_other_name(first):
            return None
        if len(parts) > 1 and parts[1][:1].isupper() and parts[1].lower() not in _NOT_NAMES:
            full = f"{first} {parts[1]}"
            return None if self._is_other_name(full) else full
        return first

    def _lookup_person(self, name: str) -> str | None:
        for entry in self.names.get(name):
            if entry.kind in ("contact", "first_name"):
                return entry.canonical
        return None

    def _is_other_name(self, name: str) -> bool:
        """An account, product, plan or meeting kind rather than a person."""
        return any(entry.kind not in ("contact", "first_name", "colleague") for entry in self.names.get(name))

    def _topic(self, text: NormalizedText, intent: Intent) -> str | None:
        clean, lowered = text.clean, text.lowered
        quoted = _QUOTED.search(clean)
        if quoted:
            return _tidy(quoted.group(1) or quoted.group(2) or "")
        came_up = _CAME_UP.search(lowered)
        if came_up:
            group = "topic" if came_up.group("topic") else "asked"
            candidate = self._tidy_topic(clean[came_up.start(group) : came_up.end(group)])
            if candidate:
                return candidate
        for cue in (_TOPIC_VERB, _TOPIC_ABOUT, _TOPIC_SEARCH_FOR, _TOPIC_COLON):
            match = cue.search(lowered)
            if match is not None and intent is Intent.DRAFT_EMAIL and match.group().startswith("mention"):
                continue  # "and mention the 15% discount": something the draft says, not what it is about
            if match is None:
                continue
            rest = clean[match.end() :]
            end = _SENTENCE_END.search(rest)
            candidate = self._tidy_topic(rest[: end.start()] if end else rest)
            if candidate:
                return candidate
        return None

    def _tidy_topic(self, phrase: str) -> str | None:
        """Drop what is not the topic: trailing time words, "with <account>", "on calls", determiners."""
        previous = None
        while phrase != previous:
            previous = phrase
            phrase = _TRAILING_FILLER.sub("", phrase)
            phrase = _TRAILING_TIME.sub("", phrase)
            phrase = _TRAILING_CALLS.sub("", phrase)
            phrase = self._strip_trailing_account(phrase)
            phrase = _LEADING_DETERMINER.sub("", phrase)
        return _tidy(phrase)

    def _strip_trailing_account(self, phrase: str) -> str:
        words = phrase.split()
        for width in range(min(MAX_NAME_WORDS, len(words) - 1), 0, -1):
            tail = " ".join(words[-width:])
            if name_key(tail) in self._account_aliases:
                head = words[:-width]
                while head and head[-1].lower() in ("with", "from", "at", "for", "by", "the", "and"):
                    head.pop()
                return " ".join(head)
        return phrase


# "say the order form goes out today", "let her know we can start monday": what the draft says, not which meeting
_WHAT_TO_SAY = re.compile(r"\b(?:say(?:ing)?|tell (?:her|him|them)|let (?:her|him|them) know|mention(?:ing)?|note that|"
                          r"add(?:ing)? that|confirm(?:ing)? that)\b")


# "im jumping on w marcus monday", "prepping for thursday's call": a day still to come, which no recorded meeting is on
_COMING_UP = re.compile(r"\b(?:will|i'll|we'll|going to|gonna|jumping on|hopping on|meeting|meet|seeing|prepping for|prep for|"
                        r"getting ready for|ahead of|next|this coming|upcoming)\b[^.?!\n]{0,60}$")


def _time_asked(lowered: str, now: datetime) -> TimeRange | None:
    """The time range the message asks about; not a weekday it names as still to come."""
    found = parse_time_range(lowered, now)
    if found is None or found.label.lower() not in WEEKDAYS:
        return found
    day = re.search(r"\b" + found.label.lower(), lowered)
    return None if day is not None and _COMING_UP.search(lowered[max(0, day.start() - 120):day.start()]) else found


def _before_what_to_say(lowered: str) -> str:
    """A draft request up to what the draft is to say: its time words there choose the meeting."""
    cue = _WHAT_TO_SAY.search(lowered)
    return lowered[:cue.start()] if cue else lowered


def _count(digits: str) -> int | None:
    value = int(digits.replace(",", ""))
    return value if value > 0 else None


def _tidy(phrase: str) -> str | None:
    phrase = phrase.strip(" \"'.,;:?!")[:MAX_TOPIC_CHARS].strip()
    if not phrase or phrase.lower() in _NOT_TOPICS or not any(ch.isalnum() for ch in phrase):
        return None
    return phrase
