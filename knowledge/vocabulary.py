"""The names the intent classifier recognises: accounts, contacts, products, plans and meeting kinds.

Built from the database in a handful of small queries; cheap enough to build once per process and
again after an import.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from sqlalchemy import bindparam, text

from knowledge.db import Database
from knowledge.dialects import aggregates, json_lists

# Legal-form words dropped to get the name people say: "Acme Corp" -> "acme".
_LEGAL_SUFFIXES = frozenset(
    {"inc", "inc.", "corp", "corp.", "corporation", "llc", "ltd", "ltd.", "limited", "gmbh", "co", "co.", "plc", "ag", "sa", "bv", "pty"}
)


# Where catalog phrases come from, and how many distinct ones each source gives at most (a huge
# synthetic catalog repeats the same few feature names; a real one has a few hundred).
_CATALOG_PHRASE_SOURCES = (
    ("feature", "name"), ("integration", "name"), ("planlimit", "name"), ("complianceitem", "name"),
    ("addon", "name"), ("faq", "question"), ("faq", "answer"), ("complianceitem", "details"),
)
MAX_CATALOG_PHRASES = 5_000
_OFFERED_SOURCES = tuple(
    f"SELECT DISTINCT t.{column}, p.name FROM {table} AS t JOIN product AS p ON p.id = t.product_id"
    f" LIMIT {MAX_CATALOG_PHRASES}"
    for table, column in (("feature", "name"), ("integration", "name"), ("addon", "name"), ("faq", "question"),
                          ("faq", "answer"), ("complianceitem", "name"))
) + (
    "SELECT DISTINCT l.name, p.name FROM planlimit AS l JOIN plan AS pl ON pl.id = l.plan_id"
    f" JOIN product AS p ON p.id = pl.product_id LIMIT {MAX_CATALOG_PHRASES}",
)


@dataclass(frozen=True)
class KnownContact:
    name: str
    email: str
    account: str  # the account's name
    title: str = ""  # their job title ("Head of Sales")


class KnownProduct(NamedTuple):
    """A tuple, not a frozen dataclass: a catalog has 100,000s and each is made at every start (~3x cheaper)."""

    name: str
    slug: str


@dataclass(frozen=True)
class Vocabulary:
    accounts: tuple[str, ...] = ()  # account names
    contacts: tuple[KnownContact, ...] = ()
    products: tuple[KnownProduct, ...] = ()
    # plan name -> the slugs of the products that have it (a set: "pro" may be a plan of 50,000 products)
    plans: Mapping[str, Collection[str]] = field(default_factory=lambda: MappingProxyType({}))
    account_slugs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # account name -> slug
    meeting_kinds: tuple[str, ...] = ()  # the kinds recorded meetings have: discovery, demo, qbr, ...
    # Names of what the catalog offers (features, integrations, limits, compliance, add-ons) and the
    # questions its FAQs answer: words that make a message a product question.
    catalog_phrases: tuple[str, ...] = ()
    limit_names: tuple[str, ...] = ()  # what plan limits are called: "Seats", "Survey responses", "API rate limit"
    # (name, product name) of what each product offers, so "sms credits" can point to the product selling them.
    offered: tuple[tuple[str, str], ...] = ()
    # Our own people: account owners, and whoever joins meetings of several accounts without being their contact.
    colleagues: tuple[str, ...] = ()
    # What the accounts are recorded as: industries ("Healthcare") and segments ("SMB"), for "any healthcare customers"
    industries: tuple[str, ...] = ()
    addon_names: tuple[str, ...] = ()  # what the add-ons are called ("Guided onboarding"), for a meeting's talk of one

    def account_aliases(self) -> dict[str, str]:
        """Lower-case alias -> account name, for every unambiguous alias of every account."""
        owners: dict[str, set[str]] = {}
        for name in self.accounts:
            for alias in account_aliases(name, self.account_slugs.get(name, "")):
                owners.setdefault(alias, set()).add(name)
        return {alias: next(iter(names)) for alias, names in owners.items() if len(names) == 1}


def account_aliases(name: str, slug: str = "") -> set[str]:
    """The lower-case names an account answers to: its name, slug, name without legal form, first word."""
    words = name.lower().split()
    core = [w for w in words if w.strip(",") not in _LEGAL_SUFFIXES] or words
    aliases = {name.lower().strip(), " ".join(core)}
    if slug:
        aliases |= {slug.lower(), slug.lower().replace("-", " ")}
    if len(core) > 1 and len(core[0]) >= 3:
        aliases.add(core[0])
    return {alias for alias in aliases if len(alias) >= 2}


_PLAN_ROWS = ("SELECT pl.name, p.slug FROM plan AS pl JOIN product AS p ON p.id = pl.product_id"
              " ORDER BY p.slug, pl.position")
# The database hands each plan name's products over in one row: a catalog of 100,000 products has 400,000 plans,
# and a row each cost ~0.3 s more on SQLite. Unit separator (31) is in no slug an import accepts; the count
# checks it anyway.
_SLUG_SEPARATOR = "\x1f"
_PLAN_GROUPS = ("SELECT pl.name, count(*), {slugs} FROM plan AS pl JOIN product AS p ON p.id = pl.product_id"
                " GROUP BY pl.name")
_FIRST_POSITIONS = text(
    "SELECT pl.name, p.slug, pl.position FROM plan AS pl JOIN product AS p ON p.id = pl.product_id"
    " WHERE p.slug IN :slugs"
).bindparams(bindparam("slugs", expanding=True))


def _plan_products(rows: Callable[[str], list[Any]], first_positions: Callable[[list[str]], list[Any]],
                   slug_groups: str) -> dict[str, frozenset[str]]:
    """Plan name -> the slugs of the products that have it; names in the order of their first plan, products
    by slug and each product's plans by position. `slug_groups`: the engine's SQL joining a group's slugs."""
    groups = rows(_PLAN_GROUPS.format(slugs=slug_groups))
    slugs = {name: joined.split(_SLUG_SEPARATOR) for name, _count, joined in groups}
    if all(len(slugs[name]) == count for name, count, _joined in groups):
        first_slug = {name: min(found) for name, found in slugs.items()}
        first: dict[str, tuple[str, int]] = {}
        for name, slug, position in first_positions(sorted(set(first_slug.values()))):
            if slug == first_slug.get(name) and (name not in first or position < first[name][1]):
                first[name] = (slug, position)
        return {name: frozenset(slugs[name]) for name in sorted(slugs, key=first.__getitem__)}
    plans: dict[str, list[str]] = {}
    for name, slug in rows(_PLAN_ROWS):
        plans.setdefault(name, []).append(slug)
    return {name: frozenset(found) for name, found in plans.items()}


# Meetings read for who our colleagues are: the most recent ones (a colleague who joined none of them is still
# named if they own an account).
MAX_COLLEAGUE_MEETINGS = 5_000
_MEETING_PEOPLE = (
    "SELECT p.value, count(DISTINCT m.account_id) FROM (SELECT participants, account_id FROM meeting"
    f" ORDER BY started_at DESC LIMIT {MAX_COLLEAGUE_MEETINGS}) AS m, {{elements}} AS p GROUP BY p.value"
)


def _colleagues(owners: list[Any], participants: list[Any], contacts: set[str]) -> tuple[str, ...]:
    """Account owners, and people on meetings of two accounts or more who are no account's contact."""
    found = {str(owner).strip() for (owner,) in owners if owner and str(owner).strip()}
    found |= {str(name).strip() for name, accounts in participants
              if name and accounts >= 2 and str(name).strip().lower() not in contacts}
    return tuple(sorted(name for name in found if name))


def load_vocabulary(db: Database) -> Vocabulary:
    """Every account, contact, product, plan and meeting kind in the database."""
    with db.engine.connect() as connection:
        cursor = connection.connection.cursor()
        try:
            def rows(statement: str) -> list[Any]:
                # The driver's own rows: a large catalog has 100,000s, and SQLAlchemy's Row objects cost as much
                # again as reading them. No parameters: each driver has its own placeholder style.
                cursor.execute(statement)
                return cursor.fetchall()

            def first_positions(slugs: list[str]) -> list[Any]:  # a few rows: one product per plan name
                return list(connection.execute(_FIRST_POSITIONS, {"slugs": slugs})) if slugs else []

            account_rows = rows("SELECT name, slug FROM account ORDER BY name")
            contact_rows = rows(
                "SELECT c.name, c.email, a.name, c.title FROM contact AS c JOIN account AS a ON a.id = c.account_id ORDER BY c.name"
            )
            product_rows = rows("SELECT name, slug FROM product ORDER BY is_primary DESC, name")
            plans = _plan_products(rows, first_positions,
                                   aggregates.for_engine(connection).join("p.slug", _SLUG_SEPARATOR))
            kind_rows = rows("SELECT DISTINCT kind FROM meeting WHERE kind != '' ORDER BY kind")
            industry_rows = rows("SELECT DISTINCT industry FROM account WHERE industry != '' UNION "
                                 "SELECT DISTINCT segment FROM account WHERE segment != ''")
            owner_rows = rows("SELECT DISTINCT owner FROM account WHERE owner != ''")
            people_rows = rows(_MEETING_PEOPLE.format(
                elements=json_lists.for_engine(connection).elements.format(column="m.participants")))
            distinct: dict[tuple[str, str], list[Any]] = {}  # each table's scan once (plan limits serve twice)

            def distinct_rows(table: str, column: str) -> list[Any]:
                if (table, column) not in distinct:
                    distinct[table, column] = rows(f"SELECT DISTINCT {column} FROM {table} LIMIT {MAX_CATALOG_PHRASES}")
                return distinct[table, column]

            limit_rows = distinct_rows("planlimit", "name")
            addon_rows = distinct_rows("addon", "name")
            offered_rows = [row for statement in _OFFERED_SOURCES for row in rows(statement)]
            phrase_rows = [row for table, column in _CATALOG_PHRASE_SOURCES for row in distinct_rows(table, column)]
        finally:
            cursor.close()
    return Vocabulary(
        accounts=tuple(name for name, _slug in account_rows),
        contacts=tuple(KnownContact(name=name, email=email or "", account=account, title=title or "")
                       for name, email, account, title in contact_rows),
        products=tuple(KnownProduct(name=name, slug=slug) for name, slug in product_rows),
        plans=MappingProxyType(plans),
        account_slugs=MappingProxyType({name: slug for name, slug in account_rows}),
        meeting_kinds=tuple(kind for (kind,) in kind_rows),
        industries=tuple(sorted(industry for (industry,) in industry_rows if industry)),
        catalog_phrases=tuple(phrase for (phrase,) in phrase_rows if phrase),
        limit_names=tuple(name for (name,) in limit_rows if name),
        addon_names=tuple(name for (name,) in addon_rows if name),
        offered=tuple((name, product) for name, product in offered_rows if name),
        colleagues=_colleagues(owner_rows, people_rows, {name.lower() for name, _email, _account, _title in contact_rows}),
    )
