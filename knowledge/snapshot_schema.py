"""The shape of a product snapshot's payload (the JSON in `productsnapshot.payload`)."""

from __future__ import annotations

from typing import TypedDict


class ProductInfo(TypedDict):
    slug: str
    name: str
    tagline: str
    description: str
    category: str
    is_primary: bool


class PlanEntry(TypedDict):
    slug: str
    name: str
    position: int
    price_cents: int | None  # None: contact sales
    currency: str
    billing_period: str  # month | year | custom
    per_seat: bool
    annual_discount_pct: int
    description: str
    limits: dict[str, str]  # limit name -> value, e.g. {"Seats": "10"}


class FeatureEntry(TypedDict):
    slug: str
    name: str
    category: str
    description: str
    plans: list[str]  # slugs of the plans that include it, cheapest first
    details: dict[str, str]  # plan slug -> qualifier ("up to 5 users"); only plans that have one


class IntegrationEntry(TypedDict):
    slug: str
    name: str
    category: str
    description: str
    min_plan: str  # slug of the cheapest plan that has it; "" means every plan


class ComplianceEntry(TypedDict):
    name: str
    status: str  # certified | supported | in progress | not offered
    details: str


class AddOnEntry(TypedDict):
    slug: str
    name: str
    price_cents: int | None
    currency: str
    billing_period: str
    per_seat: bool
    available_on: list[str]  # plan slugs, cheapest first (every plan when the source says "all")
    description: str


class FaqEntry(TypedDict):
    question: str
    answer: str


class ProductPayload(TypedDict):
    product: ProductInfo
    plans: list[PlanEntry]  # by position, cheapest first
    features: list[FeatureEntry]
    integrations: list[IntegrationEntry]
    compliance: list[ComplianceEntry]
    addons: list[AddOnEntry]
    faqs: list[FaqEntry]
