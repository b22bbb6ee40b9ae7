"""A deterministic synthetic catalog and call history at scale, for benchmarks.

Same seed (and same `now`), same data, on SQLite or PostgreSQL. Rows are written in bulk with explicit
ids, a batch at a time (knowledge.dialects.bulk_writes: executemany on SQLite, COPY on PostgreSQL), so
10,000 products with their plans, features, integrations, limits, compliance items, add-ons and FAQs
(about 500,000 rows) take a few seconds, and SQLite's transcript index is built once at the end. The
target database must be empty.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, select

from knowledge.db import Database
from knowledge.dialects.bulk_copy import reset_sequences
from knowledge.dialects.bulk_load import refresh_statistics, transcripts_indexed_in_bulk
from knowledge.dialects.bulk_writes import insert_rows
from knowledge.models import (
    Account,
    AddOn,
    ComplianceItem,
    Contact,
    Faq,
    Feature,
    Integration,
    Meeting,
    Plan,
    PlanFeature,
    PlanLimit,
    Product,
    TranscriptSegment,
)
from knowledge.snapshot_changes import untracked_bulk_load

PRODUCT_BATCH = 1_000
MEETING_BATCH = 2_000

ADJECTIVES = ("Swift", "Bright", "Quiet", "Bold", "Clear", "Nimble", "Steady", "Vivid", "Prime", "Silver", "Lunar",
              "Solar", "Rapid", "Keen", "True", "Open", "Blue", "North", "Crisp", "Agile")
NOUNS = ("Ledger", "Beacon", "Harbor", "Signal", "Compass", "Canvas", "Pulse", "Atlas", "Forge", "Relay", "Vault",
         "Orbit", "Summit", "Bridge", "Lens", "Anchor", "Spark", "Grid", "Loom", "Stream")
CATEGORIES = ("Sales platform", "Customer feedback", "Billing", "Automation", "Security and compliance",
              "Embedded BI", "Marketing", "Support desk", "HR", "Data platform")
TIERS = ("Free", "Starter", "Basic", "Team", "Growth", "Pro", "Business", "Enterprise")
FEATURES = ("Pipeline management", "Email sequences", "Mobile app", "CSV export", "CSV import", "REST API",
            "Webhooks", "Call recording", "Forecasting", "Workflow automation", "Custom reports", "Dashboards",
            "Single sign-on (SSO)", "SCIM provisioning", "Audit logs", "Two-factor authentication", "Sandbox",
            "Data residency", "Customer-managed keys", "Custom roles", "Territory management", "AI summaries",
            "Branching logic", "White-labelling", "Version history", "Priority support", "Dedicated CSM")
INTEGRATIONS = ("Salesforce", "HubSpot", "Slack", "Microsoft Teams", "Zoom", "Google Workspace", "Outlook",
                "Zendesk", "Snowflake", "BigQuery", "Okta", "Microsoft Entra ID", "Stripe", "QuickBooks", "NetSuite",
                "Jira", "GitHub", "Zapier", "DocuSign", "Intercom")
COMPLIANCE = (("SOC 2 Type II", "certified"), ("ISO 27001", "certified"), ("GDPR", "supported"),
              ("HIPAA", "supported"), ("Encryption at rest", "supported"), ("PCI DSS Level 1", "certified"),
              ("FedRAMP", "not offered"), ("CCPA", "supported"))
ADDONS = ("Analytics", "Extra API capacity", "Premium Support", "Guided onboarding", "Additional storage",
          "AI assistant", "SMS credits")
FAQS = (("Do you offer a free trial of {name}?", "Yes, {name} has a {days}-day free trial, no credit card required."),
        ("Is there a discount for annual billing?", "Annual billing saves {pct}% on every paid plan of {name}."),
        ("Where is {name} data hosted?", "In the US by default; EU hosting is available on {top}."),
        ("Can we change plans later?", "Yes, upgrades are immediate and prorated; downgrades apply at renewal."))
INDUSTRIES = ("Manufacturing", "Logistics", "Healthcare", "Banking", "Retail", "Software", "Education", "Media")
SEGMENTS = ("SMB", "Mid-market", "Enterprise")
FIRST_NAMES = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew",
               "Parker", "Reese", "Rowan", "Skyler", "Hayden")
LAST_NAMES = ("Smith", "Garcia", "Chen", "Khan", "Novak", "Silva", "Okafor", "Larsen", "Rossi", "Tanaka", "Dubois",
              "Murphy", "Kowalski", "Haddad", "Mendes", "Ivanova")
REPS = ("Maya Chen", "Daniel Ortiz", "Rachel Adams", "Sam Patel", "Leo Park")
MEETING_KINDS = ("discovery", "demo", "negotiation", "security-review", "qbr", "kickoff", "onboarding", "check-in",
                 "renewal")
TOPICS = ("pricing", "the discount", "SOC 2", "data residency", "the budget", "the renewal", "onboarding",
          "competitor pricing", "the Salesforce integration", "single sign-on", "the security questionnaire",
          "the API rate limit", "the annual contract", "the rollout plan", "CSV export", "audit logs")
LINES = ("Can you walk me through {topic} again?", "Our main concern right now is {topic}.",
         "I spoke with finance about {topic} yesterday.", "Let me share how other customers handle {topic}.",
         "We need an answer on {topic} before the end of the quarter.", "That makes sense, {topic} was the blocker.",
         "I'll send a summary of {topic} after this call.", "How does {topic} compare with what you have today?",
         "Legal will want to review {topic} in detail.", "Good, then {topic} is settled for now.")


GENERATED_TABLES: tuple[Table, ...] = tuple(model.__table__ for model in (  # type: ignore[attr-defined]
    Product, Plan, Feature, PlanFeature, Integration, PlanLimit, ComplianceItem, AddOn, Faq, Account, Contact, Meeting,
    TranscriptSegment))


@dataclass
class GenerateReport:
    rows: dict[str, int] = field(default_factory=dict)  # table name -> rows written
    seconds: float = 0.0


class GenerateError(Exception):
    """The generator cannot run against this database."""


def generate(db: Database, *, products: int = 10_000, calls: int = 0, segments_per_call: int = 12, seed: int = 0,
             now: datetime | None = None) -> GenerateReport:
    """Fill an empty database with `products` synthetic products and `calls` calls of `segments_per_call` turns.

    Meeting dates spread over the year before `now` (default: today's midnight UTC, so a run is
    reproducible for a given seed within a day).
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    report = GenerateReport()
    with db.engine.begin() as connection:
        for model in (Product, Account):
            if connection.execute(select(model.id).limit(1)).first() is not None:
                raise GenerateError("the database already has data; generate into an empty database or a new file")
        with untracked_bulk_load(connection):  # one change-log entry per product, not one per row
            _CatalogWriter(connection, random.Random(f"catalog:{seed}"), report).write(products)
        with transcripts_indexed_in_bulk(connection):
            _CallWriter(connection, random.Random(f"calls:{seed}"), report, now).write(calls, segments_per_call)
        reset_sequences(connection, GENERATED_TABLES)
        refresh_statistics(connection, [table.name for table in GENERATED_TABLES])
    report.seconds = time.perf_counter() - started
    return report


class _Buffers:
    """Rows per table, flushed with one bulk write each."""

    def __init__(self, connection: Connection, report: GenerateReport) -> None:
        self.connection = connection
        self.report = report
        self.rows: dict[Table, list[dict[str, Any]]] = {}

    def add(self, model: Any, row: dict[str, Any]) -> None:
        rows = self.rows.get(model.__table__)
        if rows is None:
            rows = self.rows[model.__table__] = []
        rows.append(row)

    def flush(self) -> None:
        # Straight to the driver: values are therefore stored-ready (JSON text, naive UTC datetimes).
        for table, rows in self.rows.items():  # insertion order: parents before children
            if rows:
                insert_rows(self.connection, table.name, rows)
                self.report.rows[table.name] = self.report.rows.get(table.name, 0) + len(rows)
        self.rows = {}


class _CatalogWriter:
    def __init__(self, connection: Connection, rng: random.Random, report: GenerateReport) -> None:
        self.rng = rng
        self.buffers = _Buffers(connection, report)
        self.ids = _Counters()

    def write(self, count: int) -> None:
        for number in range(1, count + 1):
            self._product(number)
            if number % PRODUCT_BATCH == 0:
                self.buffers.flush()
        self.buffers.flush()

    def _product(self, number: int) -> None:
        rng, add = self.rng, self.buffers.add
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {number}"
        product_id = self.ids.next("product")
        add(Product, {"id": product_id, "slug": _slug(name), "name": name, "is_primary": number == 1,
                      "tagline": f"{name}: {rng.choice(CATEGORIES).lower()} for growing teams",
                      "description": f"{name} is a synthetic product generated for benchmarks.",
                      "category": rng.choice(CATEGORIES)})
        tiers = sorted(rng.sample(range(len(TIERS)), rng.randint(3, 5)))
        plans = []  # (plan id, slug)
        base_price = rng.choice((900, 1500, 1900, 2900, 4900))
        seat_based = rng.random() < 0.7
        for position, tier in enumerate(tiers):
            plan_id = self.ids.next("plan")
            slug = _slug(TIERS[tier])
            custom = position == len(tiers) - 1 and rng.random() < 0.3
            price = None if custom else (0 if TIERS[tier] == "Free" else base_price * (position + 1))
            add(Plan, {"id": plan_id, "product_id": product_id, "slug": slug, "name": TIERS[tier],
                       "position": position, "price_cents": price, "currency": "USD",
                       "billing_period": "custom" if custom else "month", "per_seat": seat_based,
                       "annual_discount_pct": rng.choice((0, 10, 15, 20)),
                       "description": f"The {TIERS[tier]} plan of {name}."})
            add(PlanLimit, {"id": self.ids.next("limit"), "plan_id": plan_id, "name": "API rate limit",
                            "value": f"{60 * (position + 1) ** 2:,} requests/minute"})
            add(PlanLimit, {"id": self.ids.next("limit"), "plan_id": plan_id, "name": "Seats",
                            "value": "unlimited" if position == len(tiers) - 1 else f"up to {10 * 5 ** position:,}"})
            plans.append((plan_id, slug))
        for feature_name in rng.sample(FEATURES, rng.randint(6, 10)):
            feature_id = self.ids.next("feature")
            add(Feature, {"id": feature_id, "product_id": product_id, "slug": _slug(feature_name),
                          "name": feature_name, "category": "", "description": f"{feature_name} in {name}."})
            for plan_id, _ in plans[rng.randrange(len(plans)):]:
                add(PlanFeature, {"plan_id": plan_id, "feature_id": feature_id, "detail": ""})
        for integration in rng.sample(INTEGRATIONS, rng.randint(2, 5)):
            add(Integration, {"id": self.ids.next("integration"), "product_id": product_id,
                              "slug": _slug(integration), "name": integration, "category": "",
                              "description": f"Connects {name} with {integration}.",
                              "min_plan_slug": rng.choice(["", *(slug for _, slug in plans)])})
        for compliance_name, status in rng.sample(COMPLIANCE, rng.randint(2, 4)):
            add(ComplianceItem, {"id": self.ids.next("compliance"), "product_id": product_id,
                                 "name": compliance_name, "status": status, "details": ""})
        for addon in rng.sample(ADDONS, rng.randint(0, 2)):
            add(AddOn, {"id": self.ids.next("addon"), "product_id": product_id, "slug": _slug(addon), "name": addon,
                        "price_cents": rng.choice((1000, 1500, 5000, 20000)), "currency": "USD",
                        "billing_period": "month", "per_seat": rng.random() < 0.5,
                        "available_on": ",".join(slug for _, slug in plans[1:]),
                        "description": f"{addon} for {name}."})
        values = {"name": name, "days": rng.choice((14, 30)), "pct": rng.choice((10, 15, 20)),
                  "top": TIERS[tiers[-1]]}
        for question, answer in rng.sample(FAQS, rng.randint(2, 3)):
            add(Faq, {"id": self.ids.next("faq"), "product_id": product_id,
                      "question": question.format(**values), "answer": answer.format(**values)})


class _CallWriter:
    def __init__(self, connection: Connection, rng: random.Random, report: GenerateReport, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.buffers = _Buffers(connection, report)
        self.ids = _Counters()

    def write(self, calls: int, segments_per_call: int) -> None:
        if calls <= 0:
            return
        accounts = self._accounts(max(1, min(calls // 4, 5_000)))
        self.buffers.flush()
        for number in range(1, calls + 1):
            self._meeting(number, accounts, segments_per_call)
            if number % MEETING_BATCH == 0:
                self.buffers.flush()
        self.buffers.flush()

    def _accounts(self, count: int) -> list[tuple[int, str, list[str]]]:
        """(account id, name, contact names) for `count` generated accounts with two contacts each."""
        rng, accounts = self.rng, []
        for number in range(1, count + 1):
            account_id = self.ids.next("account")
            name = f"{rng.choice(NOUNS)} {rng.choice(('Corp', 'Group', 'Labs', 'Partners', 'Systems'))} {number}"
            self.buffers.add(Account, {"id": account_id, "slug": _slug(name), "name": name,
                                       "industry": rng.choice(INDUSTRIES), "segment": rng.choice(SEGMENTS),
                                       "owner": rng.choice(REPS)})
            contacts = []
            for _ in range(2):
                person = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                self.buffers.add(Contact, {"id": self.ids.next("contact"), "account_id": account_id, "name": person,
                                           "email": f"{_slug(person).replace('-', '.')}@{_slug(name)}.example",
                                           "title": ""})
                contacts.append(person)
            accounts.append((account_id, name, contacts))
        return accounts

    def _meeting(self, number: int, accounts: list[tuple[int, str, list[str]]], segments: int) -> None:
        rng = self.rng
        account_id, account_name, contacts = rng.choice(accounts)
        rep, contact = rng.choice(REPS), rng.choice(contacts)
        kind = rng.choice(MEETING_KINDS)
        topics = rng.sample(TOPICS, 3)
        meeting_id = self.ids.next("meeting")
        started_at = self.now - timedelta(days=rng.randint(0, 364), hours=rng.randint(1, 23),
                                          minutes=rng.choice((0, 15, 30, 45)))
        self.buffers.add(Meeting, {
            "id": meeting_id, "external_id": f"gen-{number:07d}", "account_id": account_id,
            "title": f"{account_name} {kind}", "kind": kind, "started_at": started_at,
            "duration_minutes": rng.choice((15, 30, 45, 60)), "participants": json.dumps([rep, contact]),
            "summary": f"{kind.capitalize()} call with {account_name} about {topics[0]}, {topics[1]} and {topics[2]}.",
            "decisions": json.dumps([f"Follow up on {topics[0]}"]),
            "action_items": json.dumps([f"{rep} to send notes on {topics[1]}"])})
        offset = 2.0
        for seq in range(1, segments + 1):
            text = rng.choice(LINES).format(topic=rng.choice(topics))
            self.buffers.add(TranscriptSegment, {"id": self.ids.next("segment"), "meeting_id": meeting_id, "seq": seq,
                                                 "speaker": rep if seq % 2 else contact, "text": text,
                                                 "offset_s": round(offset, 1)})
            offset += len(text) / 15 + 1.0


class _Counters:
    """Explicit ids, so children can reference parents without reading them back."""

    def __init__(self) -> None:
        self.values: dict[str, Callable[[], int]] = defaultdict(lambda: itertools.count(1).__next__)

    def next(self, name: str) -> int:
        return self.values[name]()


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def _slug(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-")
