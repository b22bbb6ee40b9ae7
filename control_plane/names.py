"""The one index of the names pitcrew knows: products, plans, accounts, contacts and meeting kinds.

Built once per vocabulary (at start and after each import) and shared by the pattern tier, entity
extraction and meeting resolution. Names are looked up word by word in dictionaries, so a lookup
costs the same whatever the size of the catalog. Typos are read through `spelling.Speller`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from control_plane.intents import Reading
from control_plane.normalize import NormalizedText, lower_same_length
from control_plane.account_kinds import industry_words
from control_plane.spelling import KEYWORDS, Speller, common_words, rapidfuzz_modules
from knowledge.vocabulary import KnownContact, Vocabulary

MAX_NAME_WORDS = 5
MAX_OFFERED_SPELLINGS = 5_000  # names of what the catalog offers given to the speller

TOKEN = re.compile(r"[\w&]+(?:['.\-][\w&]+)*")
_WORD = re.compile(r"[a-z0-9][a-z0-9+#]*")
_NAME_WORD = re.compile(r"[a-z]{3,20}")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")
# Words worth a spelling check: letters only, long enough to be a name (see spelling.MIN_WORD_CHARS).
_SPELLABLE = re.compile(r"(?<![\w@./-])[a-z]{4,30}(?![\w@/-]|\.\w|'(?!s\b)[a-z])")  # (not "doesn" of "doesn't"; "henrick's" is)

# Meeting-kind words -> the kind recorded on meetings.
KIND_SYNONYMS = {
    "discovery": "discovery", "disco": "discovery", "demo": "demo", "demos": "demo", "demonstration": "demo",
    "qbr": "qbr", "qbrs": "qbr", "quarterly business review": "qbr", "business review": "qbr",
    "quarterly review": "qbr", "kickoff": "kickoff", "kickoffs": "kickoff", "kick-off": "kickoff",
    "kick off": "kickoff", "negotiation": "negotiation", "negotiations": "negotiation",
    "check-in": "check-in", "check-ins": "check-in", "checkin": "check-in", "check in": "check-in",
}
MEETING_WORDS = frozenset({"call", "calls", "meeting", "meetings", "session", "sessions"})
# First names that are also everyday words: written in lower case they are a person only after a cue
# ("with will", "email grace"), otherwise "will" and "may" would be people in half the messages.
WORDLIKE_FIRST_NAMES = frozenset(
    """will may mark grace frank rich bill pat sue joy hope faith chase drew max rose ray jack dawn summer
    sky art guy gene jean rob sandy penny cliff dale glen lance wade miles cash grant don reed hunter
    april june august amber crystal ruby ivy iris hazel daisy autumn heather lily olive rusty buck bud chip
    dash duke earl forest gray herb holly jay king lee bob nick sam tom ben josh mike ken""".split()
)


# A word this common says nothing about what is asked ("data", "time", "free"), catalog word or not.
COMMON_WORD_COUNT = 60_000_000
MAX_OFFERING_PRODUCTS = 2  # a catalog word offered by more products than this points to none of them
_GENERIC_WORDS = frozenset(
    """happens happen need needs want wants take takes make makes work works use used using change changes keep
    get gets got set sets add adds can does with without your their what which when where long many much more
    most also only just like per each every same other into over under after before about through between
    customer customers client clients team teams user users account accounts plan plans tier tiers product
    products company business accept bought existing fill replace checks counts connected extra row rest shared
    success testing transit multi factor layer logic interval conversation revenue pipeline app""".split()
)


class Name(NamedTuple):  # a tuple: one per product and alias, 100,000s on a large catalog, made at every start
    kind: str  # account | contact | first_name | colleague | product | plan | kind
    canonical: str
    needs_meeting_word: bool = False  # a meeting kind known only from the data: "renewal" counts in "renewal call"


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    names: tuple[Name, ...]
    next_words: tuple[str, ...]  # the two tokens after the match, for context rules
    previous_word: str  # the token before the match ("" at the start)


def name_key(text: str) -> str:
    """A name as the index keys it: lower-case words, possessive "'s" dropped."""
    if _PLAIN_NAME.fullmatch(text):  # most names ("Solar Forge 1"): its words are the tokens, as they are
        return text.lower()
    tokens = TOKEN.findall(text.lower())
    if "'" not in text:  # most names: no possessive to drop (a catalog has 100,000s of them)
        return " ".join(tokens)
    return " ".join(token.removesuffix("'s") for token in tokens)


class NameIndex:
    """Lower-case word sequences (up to five words) -> the names they are; contacts and accounts by alias."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.industry_words = industry_words(vocabulary.industries)  # "health" -> "Healthcare", "smb" -> "SMB"
        self._names: dict[str, list[Name]] = {}
        self._widths: dict[str, int] = {}  # first word -> the most words a name starting with it has
        self.account_aliases = vocabulary.account_aliases()  # lower-case alias -> account name
        self._contacts_by_key: dict[str, list[KnownContact]] = {}
        self._contacts_by_first: dict[str, list[KnownContact]] = {}
        for alias, account in self.account_aliases.items():
            self._add(alias, Name("account", account))
        for contact in vocabulary.contacts:
            self._add(contact.name, Name("contact", contact.name))
            for key in {name_key(contact.name), contact.email.lower()} - {""}:
                self._contacts_by_key.setdefault(key, []).append(contact)
            first = contact.name.split()[0] if contact.name.split() else ""
            if len(first) >= 2:
                self._add(first, Name("first_name", first))
                self._contacts_by_first.setdefault(first.lower(), []).append(contact)
        contact_firsts = set(self._contacts_by_first)
        for colleague in vocabulary.colleagues:
            self._add(colleague, Name("colleague", colleague))
            first = colleague.split()[0] if colleague.split() else ""
            # A first name a contact also has is the contact's: "sam" stays theirs when the customer has a Sam.
            if len(first) >= 3 and first.lower() not in contact_firsts:
                self._add(first, Name("colleague", colleague))
        self._product_slugs: dict[str, str] = {}  # product name or slug, folded -> slug
        named_keys: list[str | None] = []  # the keys of products and plans, for `named` below
        for product in vocabulary.products:
            self._product_slugs.setdefault(product.name.casefold(), product.slug)
            self._product_slugs.setdefault(product.slug.casefold(), product.slug)
            entry = Name("product", product.name)
            named_keys.append(self._add(product.name, entry))
            spaced = product.slug.replace("-", " ")
            if spaced.lower() != product.name.lower():  # the same key again otherwise (name_key reads lower case)
                named_keys.append(self._add(spaced, entry))
        for plan in vocabulary.plans:
            named_keys.append(self._add(plan, Name("plan", plan)))
        for word, kind in KIND_SYNONYMS.items():
            self._add(word, Name("kind", kind))
        for kind in vocabulary.meeting_kinds:
            if kind.lower() in MEETING_WORDS or name_key(kind) in KIND_SYNONYMS or kind in KIND_SYNONYMS.values():
                continue
            for alias in {kind, kind.replace("-", " ")}:  # "security-review" is also said "security review"
                self._add(alias, Name("kind", kind, needs_meeting_word=True))
        common = common_words(COMMON_WORD_COUNT)
        named = {word for key in set(named_keys) if key is not None for word in key.split(" ")}
        self.limit_terms = frozenset(
            _singular(word) for name in vocabulary.limit_names for word in _WORD.findall(name.lower())
            if word not in _GENERIC_WORDS and word not in named
        ) | {"limit"}
        # Add-ons by their lower-case name, for a meeting question that talks of one ("did acme get guided onboarding")
        self._addons = {" ".join(_WORD.findall(name.lower())): name for name in vocabulary.addon_names
                        if 0 < len(_WORD.findall(name.lower())) <= _MAX_ADDON_WORDS}
        owners: dict[str, set[str]] = {}
        for phrase, product in vocabulary.offered:
            for word in _WORD.findall(phrase.lower()):
                word = _singular(word)
                if len(word) >= 3 and word not in _GENERIC_WORDS and word not in named and word not in common:
                    owners.setdefault(word, set()).add(product)
        # Words few products offer say which product is meant; a word every product has says nothing.
        self._term_products = {word: frozenset(products) for word, products in owners.items()
                               if len(products) <= MAX_OFFERING_PRODUCTS}
        self.catalog_terms = frozenset(
            _singular(word) for phrase in vocabulary.catalog_phrases for word in _WORD.findall(phrase.lower())
            if len(word) >= 3 and word not in _GENERIC_WORDS and word not in named and word not in common
        )
        # People by each part of their name, for a full name typed with one part misspelt ("sophia romano")
        self._people_by_part: dict[str, list[tuple[str, str, int]]] = {}  # part -> (full name, kind, index of part)
        for full, kind in [*((c.name, "contact") for c in vocabulary.contacts), *((c, "colleague") for c in vocabulary.colleagues)]:
            parts = full.lower().split()
            if len(parts) == 2 and all(len(part) >= 3 for part in parts):
                for position, part in enumerate(parts):
                    self._people_by_part.setdefault(part, []).append((full, kind, position))
        self.speller = Speller()
        # Most-asked-about kinds first: on a huge catalog the speller's budget goes to them.
        self.speller.add(vocabulary.plans, "plan")
        self.speller.add(KIND_SYNONYMS, "kind")
        self.speller.add(KEYWORDS, "word")
        self.speller.add((c.name for c in vocabulary.contacts), "contact")
        self.speller.add(vocabulary.colleagues, "colleague")
        self.speller.add(self.account_aliases, "account")
        self.speller.add((p.name for p in vocabulary.products), "product")
        # What the catalog offers, by name ("analitycs" is Analytics): last, so a huge catalog spends the budget on names
        self.speller.add((name for name, _product in vocabulary.offered[:MAX_OFFERED_SPELLINGS]), "term")

    def _add(self, alias: str, name: Name) -> str | None:
        """Index `name` under `alias`; the key it went under, or None when the alias cannot be a name."""
        key = name_key(alias)
        if not key or len(key) < 2:
            return None
        width = key.count(" ") + 1
        if width > MAX_NAME_WORDS:
            return None
        first = key.partition(" ")[0]
        if self._widths.get(first, 0) < width:
            self._widths[first] = width
        entries = self._names.setdefault(key, [])
        if name not in entries:
            entries.append(name)
        return key

    # Lookups ------------------------------------------------------------------------------------------

    def product_slug(self, name_or_slug: str) -> str | None:
        """The slug of the product called `name_or_slug` (its name or slug, any case)."""
        return self._product_slugs.get(name_or_slug.casefold())

    def get(self, name: str) -> list[Name]:
        return self._names.get(name_key(name), [])

    def canonical(self, name: str | None, kind: str) -> str | None:
        """The canonical name of `kind` that `name` (any alias, any case) stands for, or None."""
        if not name:
            return None
        if kind == "account":
            return self.account_aliases.get(name_key(name))
        return next((entry.canonical for entry in self.get(name) if entry.kind == kind), None)

    def account_named(self, name: str | None) -> str | None:
        """The account a name (or an email address, by its domain) refers to."""
        if not name:
            return None
        account = self.account_aliases.get(name_key(name))
        if account is None and "@" in name:
            domain = name.rsplit("@", 1)[1].split(".")[0].lower()
            account = self.account_aliases.get(domain)
        return account

    def senior_to(self, person: str) -> KnownContact | None:
        """"her boss": the contact at `person`'s account more senior than them by job title, one in the same line of work
        first ("Sales Operations Analyst" -> "Head of Sales"); None when nobody there is."""
        found = self.contacts_named(person)
        if len(found) != 1:
            return None
        own = found[0]
        rank = _seniority(own.title)
        field = _function_words(own.title)
        above = [c for c in self.vocabulary.contacts
                 if c.account == own.account and c.name != own.name and _seniority(c.title) > rank]
        if not above:
            return None
        return max(above, key=lambda c: (bool(field & _function_words(c.title)), _seniority(c.title)))

    def contacts_named(self, name: str | None) -> list[KnownContact]:
        """Every contact answering to `name` (full name, email or first name)."""
        if not name or not name.strip():
            return []
        key = name_key(name) if "@" not in name else name.strip().lower()
        found = self._contacts_by_key.get(key)
        if found:
            return list(found)
        first = key.split(" ")[0] if key else ""
        return list(self._contacts_by_first.get(first, []))

    def read(self, text: NormalizedText) -> tuple[NormalizedText, tuple[Reading, ...]]:
        """`text` with typos of names and key words replaced by what they spell, and what was read."""
        text, named = self._read_full_names(text)
        pieces: list[str] = []
        readings: list[Reading] = list(named)
        last = 0
        for match in _SPELLABLE.finditer(text.lowered):
            correction = self.speller.correct(match.group())
            if correction is None:
                continue
            spelling = correction.spelling
            if correction.kind != "word":
                known = self.get(spelling)
                display = known[0].canonical if known else spelling.title()
                spelling = display if " " not in display else spelling.title()
                if correction.kind == "term":
                    spelling = correction.spelling  # a catalog word stays a word ("analytics"), not a name
                elif not correction.typo or correction.possessive:
                    spelling += "'s"  # "sams plate" is Sam's plate: the possessive is what makes "sam" a person
                if correction.typo:  # (a catalog word read through a typo is no name worth a note: a "word" reading)
                    kind = "word" if correction.kind == "term" else correction.kind
                    readings.append(Reading(text.clean[match.start() : match.end()], display, kind))
            elif correction.typo:
                readings.append(Reading(text.clean[match.start() : match.end()], spelling, "word"))
            pieces += (text.clean[last : match.start()], spelling)
            last = match.end()
        if not pieces:
            return text, tuple(readings)
        clean = "".join(pieces) + text.clean[last:]
        return NormalizedText(clean, lower_same_length(clean)), tuple(readings)

    def _read_full_names(self, text: NormalizedText) -> tuple[NormalizedText, tuple[Reading, ...]]:
        """Two words that are a person's first and last name with one of them misspelt ("sophia romano", "tom
        baker", "marcus hail"): one part exact, the other within two edits (one for short parts)."""
        if not self._people_by_part:
            return text, ()
        words = list(_NAME_WORD.finditer(text.lowered[:500]))
        pieces: list[str] = []
        readings: list[Reading] = []
        last, index = 0, 0
        while index + 1 < len(words):
            first, second = words[index], words[index + 1]
            between = text.lowered[first.end() : second.start()]
            found = self._full_name(first.group(), second.group()) if between == " " else None
            if found is None:
                index += 1
                continue
            typed = text.clean[first.start() : second.end()]
            pieces += (text.clean[last : first.start()], found)
            readings.append(Reading(typed, found, "person"))
            last, index = second.end(), index + 2
        if not pieces:
            return text, ()
        clean = "".join(pieces) + text.clean[last:]
        return NormalizedText(clean, lower_same_length(clean)), tuple(readings)

    def _full_name(self, first: str, second: str) -> str | None:
        """The one person whose name `first second` is, one part exact and the other a near miss; None otherwise."""
        if first in self._people_by_part and second in self._people_by_part:
            return None  # both parts known: a name as typed (or two names), nothing to read
        _, OSA = rapidfuzz_modules()
        found: set[str] = set()
        for exact, other, position in ((second, first, 0), (first, second, 1)):
            for full, _kind, part_position in self._people_by_part.get(exact, ()):
                if part_position == position:
                    continue  # the exact word must be the other part of the name
                wanted = full.lower().split()[position]
                allowed = 2 if max(len(wanted), len(other)) >= 6 else 1
                if len(other) >= 3 and other != wanted and OSA.distance(other, wanted, score_cutoff=allowed) <= allowed:
                    found.add(full)
        return next(iter(found)) if len(found) == 1 else None

    def offering_votes(self, lowered: str) -> dict[str, int]:
        """Product name -> how many of the message's rarer catalog words name something it offers."""
        votes: dict[str, int] = {}
        for word in {_singular(w) for w in _WORD.findall(lowered[:500])}:
            for product in self._term_products.get(word, ()):
                votes[product] = votes.get(product, 0) + 1
        return votes

    @staticmethod
    def offering_product(votes: dict[str, int]) -> str | None:
        """The one product the message's rarer catalog words name most (`offering_votes`: "sms credit pack"
        -> Beacon), or None when none does or several do equally."""
        if not votes:
            return None
        ranked = sorted(votes.items(), key=lambda item: -item[1])
        if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
            return None
        return ranked[0][0]

    def addon_named(self, lowered: str) -> str | None:
        """The add-on a (lower-case) message names in full ("guided onboarding"), looked up word run by word run."""
        words = _WORD.findall(lowered[:500])
        for start in range(len(words)):
            for width in range(min(_MAX_ADDON_WORDS, len(words) - start), 0, -1):
                name = self._addons.get(" ".join(words[start:start + width]))
                if name is not None:
                    return name
        return None

    def catalog_terms_in(self, lowered: str) -> list[str]:
        """Words of `lowered` that name something the catalog offers ("forecasting", "zapier", "onboarding")."""
        terms = self.catalog_terms
        return [word for word in _WORD.findall(lowered[:500])
                if _singular(word) in terms or _CATALOG_SYNONYMS.get(word, "") in terms]

    def names_a_limit(self, lowered: str) -> bool:
        """Whether a message of a few words names what a plan limit counts ("storage?", "api limits?", "uptime")."""
        words = _WORD.findall(lowered[:80])
        return 0 < len(words) <= 3 and any(_singular(word) in self.limit_terms for word in words)

    def names_someone(self, lowered: str) -> bool:
        """Whether `lowered` names an account, a contact or a colleague by full name (what recaps, searches and
        drafts are about)."""
        for found in self.find(lowered[:500]):
            for name in found.names:
                if name.kind in ("account", "contact") or (name.kind == "colleague" and " " in name.canonical
                                                           and " " in lowered[found.start : found.end]):
                    return True
        return False

    def asks_about_someone(self, lowered: str) -> bool:
        """Like `names_someone`, counting a contact's or colleague's first name too ("what did priya say", "whats
        on mayas plate") unless it is an everyday word without a person cue ("will", "grace period")."""
        for found in self.find(lowered[:500]):
            for name in found.names:
                if name.kind in ("account", "contact"):
                    return True
                if name.kind in ("first_name", "colleague"):
                    word = lowered[found.start : found.end].removesuffix("'s")
                    if (word not in WORDLIKE_FIRST_NAMES or found.previous_word in _PERSON_CUES
                            or lowered[found.start : found.end].endswith("'s") or _after_who_is(lowered, found.start)
                            or found.next_words[:1] in _PERSON_VERBS_AFTER):
                        return True
        return False

    def find(self, lowered: str) -> list[Found]:
        """Non-overlapping matches, longest first at each position, left to right."""
        words = [word.removesuffix("'s") for word in TOKEN.findall(lowered)]
        spans: list[re.Match[str]] = []  # token positions, found only when a name is (rarely needed)
        found: list[Found] = []
        index, count = 0, len(words)
        while index < count:
            widest = self._widths.get(words[index])
            if widest is None:  # most words start no name: one dictionary lookup
                index += 1
                continue
            for width in range(min(widest, count - index), 0, -1):
                names = self._names.get(" ".join(words[index : index + width]))
                if names:
                    after = tuple(words[index + width : index + width + 2])
                    spans = spans or list(TOKEN.finditer(lowered))
                    previous = words[index - 1] if index else ""
                    found.append(Found(spans[index].start(), spans[index + width - 1].end(), tuple(names), after, previous))
                    index += width
                    break
            else:
                index += 1
        return found

    def names_first_name(self, text: NormalizedText, match: Found) -> bool:
        """Whether a first-name match is a person: capitalised, after a person cue, or not an everyday word."""
        word = text.lowered[match.start : match.end].removesuffix("'s")
        return (
            text.clean[match.start].isupper()
            or word not in WORDLIKE_FIRST_NAMES
            or match.previous_word in _PERSON_CUES
            or text.lowered[match.start : match.end].endswith("'s")
            or match.next_words[:1] in _PERSON_VERBS_AFTER
            or _after_who_is(text.lowered, match.start)
        )


# "where sam talked about scim", "what sam promised": a verb only a person does, right after the name
_PERSON_VERBS_AFTER = frozenset((verb,) for verb in (
    "said talked asked mentioned told promised owes demoed presented showed pitched committed offered proposed "
    "agreed emailed called replied".split()))


def _after_who_is(lowered: str, start: int) -> bool:
    """Whether the word at `start` follows "who is" ("who is josh": a person, though "josh" is also a verb) or
    "what's" ("whats sam on the hook for"), or is the last word of "what about ..." ("what about sam")."""
    before = lowered[max(0, start - 12) : start]
    if before.endswith(("what about ", "how about ", "and about ")) and not lowered[start:].strip(" ?!.").count(" "):
        return True  # "what about sam" closing a thread's follow-up: a person (not "calls about may")
    return before.endswith(("who is ", "who's ", "whos ", "who was ", "what's ", "whats "))


# Words reps use for what the catalog calls by another name (the handlers fold the same ones: handlers/text_match.py).
_MAX_ADDON_WORDS = 4
_CATALOG_SYNONYMS = {
    "churn": "cancel", "churns": "cancel", "churned": "cancel", "churning": "cancel", "terminate": "cancel",
    "terminated": "cancel", "termination": "cancel", "dupes": "duplicate", "dupe": "duplicate", "2fa": "mfa",
    "pay": "payment", "paying": "payment", "wire": "payment", "charity": "nonprofit", "charities": "nonprofit",
    "nonprofits": "nonprofit", "host": "hosted", "hosting": "hosted", "tires": "trial", "tyres": "trial", "live": "onboarding",
    "questionnaires": "questionnaire", "implementation": "onboarding", "setup": "onboarding",
    "eu": "residency", "europe": "residency", "european": "residency", "cc": "trial",  # ("no cc needed?": the trial FAQ)
}


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


_PERSON_CUES = frozenset(
    "with to for from cc email e-mail mail ping message nudge thank met call meeting and by did has what's whats is was does "
    "ask tell owe owes owed promised sent gave give".split()
)


# How senior a job title is: a higher number reports to nobody below it ("VP Sales" over "Sales Manager")
_RANKS = (
    (re.compile(r"\b(?:chief|ceo|cfo|cto|cio|ciso|coo|cro|president|founder|owner)\b"), 5),
    (re.compile(r"\b(?:vp|svp|evp|vice president|general manager|head of|managing director)\b"), 4),
    (re.compile(r"\bdirector\b"), 3),
    (re.compile(r"\bmanager\b"), 2),
    (re.compile(r"\blead\b"), 1.5),
)
_NOT_A_FUNCTION = frozenset({"of", "the", "and", "head", "vp", "vice", "president", "director", "manager", "lead", "chief",
                             "officer", "senior", "general", "analyst", "administrator", "specialist"})


def _seniority(title: str) -> float:
    lowered = title.lower()
    return next((rank for pattern, rank in _RANKS if pattern.search(lowered)), 1.0)


def _function_words(title: str) -> frozenset[str]:
    """The line of work a title names ("sales", "operations", "it", "security")."""
    return frozenset(word for word in re.findall(r"[a-z]+", title.lower()) if word not in _NOT_A_FUNCTION)
