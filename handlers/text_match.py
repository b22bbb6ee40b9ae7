"""Word matching between a question and catalog items: which feature, integration or FAQ is meant."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[a-z0-9]+(?:[.+#][a-z0-9]+)*")

# Phrases people use for the same thing, folded to one token before matching.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bsingle[\s-]*sign[\s-]*on\b", " sso "),
        (r"\bsaml\b", " sso saml "),
        (r"\btwo[\s-]*factor\b|\b2fa\b|\bmulti[\s-]*factor\b", " mfa "),
        (r"\bsoc\s*(2|ii)\b", " soc2 "),
        (r"\biso(?:\s*27001)?\b(?!\s*\d)", " iso27001 "),
        (r"\bhipaa\b", " hipaa "),
        (r"\bcomma[\s-]*separated\b", " csv "),
        (r"\bapi[\s-]*rate[\s-]*limits?\b|\brate[\s-]*limits?\b", " ratelimit api "),
        # "needs like 2000/min", "5k requests a minute": an API rate
        (r"\b\d[\d,.]*\s?k?\s?(?:req(?:uest)?s?\s?)?(?:/|per |a )\s?min(?:ute)?\b|\breq(?:uest)?s?/min\b", " ratelimit api "),
        (r"\buptime\b|\bavailability\b", " uptime sla "),
        (r"\badd[\s-]+ons?\b|\baddons?\b", " addon "),
        (r"\bfree[\s-]+trial\b", " trial free "),
        (r"\bencrypt\w*\b", " encryption "),
        (r"\bkick[\s-]*off\b", " kickoff "),
        (r"\be[\s-]?mail\b", " email "),
        (r"\bsign[\s-]*in\b|\blog[\s-]*in\b", " login "),
        (r"\bchurn(?:s|ed|ing)?\b|\bterminat\w*\b", " cancel "),
        (r"\bdupes?\b", " duplicate "),
        (r"\bbyok\b|\bbring your own keys?\b|\bcmks?\b", " customer managed encryption keys bring own key "),
        (r"\bpen[\s-]?tests?\b|\bpentest\w*\b|\bpen[\s-]?testing\b", " penetration test "),
        (r"\bidps?\b", " identity provider "),
        (r"\bsfdc\b", " salesforce "),
        (r"\bset[\s-]?up\b|\bsetups?\b", " setup set up "),
        (r"\bnet[\s-]?(\d{2})\b", r" \1 day terms invoiced "),
        (r"\bhow many (?:people|ppl|users|reps|members|persons|folks|employees)\b", " how many seats "),
        (r"\bmaus?\b|\bmavs?\b", " monthly active viewers "),
        # What a rep says for a need, folded to the catalog word that meets it ("PHI" is a HIPAA question).
        (r"\bphi\b|\bprotected health (?:information|data)\b|\bpatient (?:data|records)\b", " hipaa "),
        (r"\bbaas?\b|\bbusiness associate(?: agreements?)?\b", " hipaa baa "),
        (r"\bpci(?:[\s-]*dss)?\b|\bcard ?holder data\b|\b(?:credit )?card (?:num\w*|data|details)\b", " pci card "),
        (r"\beu\b|\beurope(?:an)?\b|\bgermany\b|\bfrankfurt\b", " eu residency "),
        (r"\bheadroom\b|\bmore capacity\b|\bthroughput\b", " extra capacity "),
        (r"\b(down|up)grad(?:e|es|ed|ing)\b|\b(?:mov|step)(?:e|es|ed|ing|s|ped|ping)? (down|up)\b", r" \1\2grade change "),
        # ("pay for the analytics add-on" asks what it costs, not how to pay)
        (r"\bpay(?:s|ing)?\b(?! (?:extra )?for\b)|\bach\b|\bbank transfers?\b|\bwires?\b", " payment ach wire "),
        # "cc required?" after the trial: a credit card (one word: no SMS "credits")
        (r"\bcc\b|\bcredit ?cards?\b|\bcards?\b", " creditcard "),
        # "sentinel pricing how does it work": how, not a "work"space
        (r"\bhow (?:does|do|would|will) (?:it|this|that|the \w+|\w+) work\b", " how "),
        (r"\bcharit(?:y|ies|able)\b|\bnon[\s-]?profits?\b|\bngos?\b|\b501 ?\(?c\)? ?\(?3\)?", " nonprofit "),
        (r"\bhost(?:s|ing)?\b|\bdata cent(?:er|re)s?\b", " hosted "),
        # "where is the data stored", "where does it live": where it is hosted
        (r"\bwhere\b[^.?!\n]{0,40}\b(?:stored|store|stores|kept|keep|keeps|located|live|lives|sits?|resides?)\b", r" hosted \g<0> "),
        (r"\bkick(?:ing)? the t[iy]res\b|\btest[\s-]*drive\b|\btry (?:it |us |orbit |\w+ )?(?:out )?(?:first|before)\b|\bpoc\b|"
         r"\bproof of concept\b|\b(?:wants?|wanted|like|needs?|keen|able|want|going) to (?:test|try|pilot|trial)\b", " trial free "),
        (r"\bcount(?:s|ed|ing)? (?:as|toward|towards|against)\b", " counts "),
        # "how long til they're live", "time to go live", "ramp time": how long onboarding takes
        (r"\b(?:til|till|until|before|to) (?:\w+ ){0,4}(?:is|are|goes|go|gets|get|be|being) live\b|\btime to (?:go )?live\b|"
         r"\btime to value\b|\bimplementation time\b", " onboarding long "),
        (r"\bturn(?:s|ed|ing)? (?:\w+ ){0,2}around\b|\bturnaround\b", r" turnaround answer \g<0> "),
        # "anything off", "20% off", "a break on price": a discount
        (r"\b(?:anything|something|money|\d+ ?%|\d+ percent) off\b|\ba break on\b|\bdeals? (?:for|on)\b", " discount "),
        # "blow past", "go over", "run out of": what happens when a limit is exceeded
        (r"\bblow(?:s|ing)? (?:past|through)\b|\b(?:go|goes|going|went) (?:over|past)(?=\W*$)|\b(?:go|goes|going|went) (?:over|past|beyond) (?:the|their|our|its|a) \w*\s?(?:limit|cap|quota)\b|"
         r"\bran out of\b|\brun(?:s|ning)? out of\b|\bexceed\w*\b|\bhit(?:s|ting)? (?:the|their|our) (?:limit|cap)\b", " exceed overage "),
        (r"\bsync(?:s|ed|ing|hronization)?\b", " sync "),
        (r"\bset[\s-]*up\b", " setup "),
        (r"\b(?:mov|bring|brought|carr(?:y|ied)|port)\w* (?:\w+ ){0,2}(?:over|across)\b|\bmigrat\w*", r" migrate \g<0> "),
        (r"\bfor good\b|\bpermanent(?:ly)?\b|\bindefinitely\b|\bfor ever\b|\bforever\b", " forever "),
        (r"\bapps?\b", " application "),
        # "how long are recordings kept": how long something is kept is its retention
        (r"\b(?:kept|keep|keeps|keeping|stored|store|stores|storing|held|hold|holds|saved|save) (?:for )?(?:how long|around)\b"
         r"|\bhow long (?:\w+ ){0,3}(?:kept|keep|stored|store|held|hold|saved|save|retained|retain|last|lasts)\b", r" retention \g<0> "),
        # "support" is a stopword ("does it support sso"), but a plan's support is a catalog item: "what support do
        # growth customers get", "support hours on pro", and the item named just "Support"
        (r"^\s*support\s*$|\bwhat (?:kind of |level of )?support\b|\bsupport (?:levels?|tiers?|hours|options|channels?|"
         r"response times?|sla)\b|\b(?:phone|email|chat|24/7|priority) support\b|\bhow (?:good|fast) is (?:the )?support\b",
         " supportlevel "),
        # "is it free on enterprise", "thrown in with pro": whether the plan includes it (not the free trial)
        (r"\b(?:free|no (?:extra )?(?:charge|cost)|at no (?:extra )?cost|comped|thrown in)(?= (?:on|with|in|for) )", " included "),
        (r"\bsubs\b", " subscriptions "),
        (r"\bcsms?\b", " customer success manager "),
        # "how does billing work", "how are seats billed", "is it billed per user": one word for billing
        (r"\bbill(?:ed|ing|s)?\b", " billing "),
        # "add ppl mid way thru the year", "seats added mid-cycle": a change part way through a term
        (r"\bmid[\s-]?(?:way|year|cycle|term|contract|month|stream)\b|\bpart[\s-]?way\b|\bhalf[\s-]?way\b",
         " mid cycle prorated "),
        (r"\b(?:add|adding|added|adds|remove|removing|removed|drop|dropping) (?:\w+ )?(?:people|ppl|users|reps|heads|"
         r"licen[cs]es|members|folks)\b", " seats added "),
        # "bundle", "bought together", "already on orbit": one product's discount for customers of another
        (r"\bbundle[sd]?\b|\btogether\b|\balready (?:on|use|using|have|has|run|running|a customer of|customers? of)\b|"
         r"\bexisting (?:\w+ )?customers?\b|\bcross[\s-]?sell\w*\b|\balso (?:buy|buying|bought|get|getting|take|taking|use|using|"
         r"on|have|has|sign(?:ing)? up for)\b", " bundle together "),
        (r"\bper (?:head|person|rep|user|seat|licen[cs]e)\b", " per seat "),
        # The size of customer a product is sold to is a minimum headcount.
        (r"\b(?:smallest|minimum|min|tiniest) (?:size of )?(?:company|companies|customers?|orgs?|organi[sz]ations?|businesses)\b|"
         r"\bcompany size\b|\bheadcount\b", " minimum employees "),
    )
)

STOPWORDS = frozenset(
    """a about all also am an and any are as at be been being but by can could did do does doing for from
    get gets got had has have having he her here hers him his how i if in into is it its just like me
    might more most my no nor not of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too under
    until up us very was we were what when where which while who whom why will with would you your yours
    tell show give list please know need want wanted let lets us offer offers offered support supports
    supported include includes included including come comes available there's what's whats is it's
    plan plans tier tiers edition customer customers client clients data product platform thing things
    much many one ones way really still yet which kind type per each every option options""".split()
)


def fold(text: str) -> str:
    """Lower-cased text with synonym phrases folded to one token each."""
    text = text.lower()
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return text


def _stem(word: str) -> str:
    # Light stemming: enough that "logs" finds "log", "integrations" "integration", "boxes" "box" and
    # "downgrades" "downgrade" ("-es" is only an ending after s, x, z, ch and sh).
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz" or word.endswith(("ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=4096)
def terms(text: str) -> frozenset[str]:
    """The content words of `text`, folded and lightly stemmed, stopwords removed."""
    return frozenset(_stem(w) for w in _WORD.findall(fold(text)) if w not in STOPWORDS and len(w) > 1)


@dataclass(frozen=True)
class Indexed:
    """A catalog item with its words worked out once."""

    kind: str
    name: str
    entry: Any
    name_terms: frozenset[str]
    extra_terms: frozenset[str]  # words of its slug, description, category... not in its name


def index_item(kind: str, name: str, entry: Any, extra: Iterable[str] = (), ignore: frozenset[str] = frozenset()) -> Indexed:
    """`ignore`: words of the name not to match on (it still keeps them when nothing else is left)."""
    name_terms = (terms(name) - ignore) or terms(name)
    extra_terms = frozenset().union(*(terms(e) for e in extra)) - name_terms
    return Indexed(kind, name, entry, name_terms, extra_terms)


def score(question: frozenset[str], item: Indexed) -> float:
    """How well `question` matches `item`: every word of its name present scores high, words only in
    its description a little."""
    if not item.name_terms:
        return 0.0
    hits = len(question & item.name_terms)
    result = 0.0
    if hits:
        result = 2.0 * hits / len(item.name_terms) + 0.5 * hits
        if hits == len(item.name_terms):
            result += 1.0
    return result + 0.25 * len(question & item.extra_terms)


def typed_words(text: str, wanted: frozenset[str], *, skip_first: Callable[[str], bool] | None = None) -> list[str]:
    """The distinct words of `text`, as typed and in order, whose content words are among `wanted`; the
    message's opening word only if `skip_first` (when given) does not refuse it there."""
    words = _TYPED_WORD.findall(text)
    return list(dict.fromkeys(word for position, word in enumerate(words) if terms(word) & wanted
                              and not (position == 0 and skip_first is not None and skip_first(word))))


_TYPED_WORD = re.compile(r"[\w'-]+")


def unmatched(question: frozenset[str], known: Iterable[str]) -> list[str]:
    """The question's content words that none of `known` texts contain, sorted."""
    seen: set[str] = set()
    for text in known:
        seen |= terms(text)
    return sorted(question - seen)


_SENTENCE_BREAK = re.compile(r"[.?!]+\s+(?=\S)")
_LONG_MESSAGE_CHARS = 120


def the_ask(words: str) -> str:
    """What a long message asks: its last sentence ("ok so context: ... he'll prob ask what we committed to. can u give
    me the renewal terms we agreed"), the message itself when it is short or one sentence."""
    if len(words) <= _LONG_MESSAGE_CHARS:
        return words
    tail = words[-_MAX_ASK_CHARS:]
    breaks = list(_SENTENCE_BREAK.finditer(tail))
    return tail[breaks[-1].end():] if breaks else words


_MAX_ASK_CHARS = 600
