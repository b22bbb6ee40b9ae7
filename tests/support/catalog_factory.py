"""A small catalog and call history written straight through SQLModel sessions, for knowledge tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from knowledge.db import Database
from knowledge.models import (
    Account,
    AddOn,
    ComplianceItem,
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


def add_product(
    db: Database,
    slug: str,
    name: str,
    *,
    is_primary: bool = False,
    tagline: str = "",
    description: str = "",
    category: str = "",
    plans: Sequence[Mapping[str, Any]] = (),
    features: Sequence[Mapping[str, Any]] = (),
    integrations: Sequence[Mapping[str, Any]] = (),
    compliance: Sequence[Mapping[str, Any]] = (),
    addons: Sequence[Mapping[str, Any]] = (),
    faqs: Sequence[tuple[str, str]] = (),
) -> int:
    """Insert a product with its rows and return its id.

    plans: dicts of Plan fields plus "limits" ({name: value}); features: Feature fields plus
    "plans" (plan slugs) and "details" ({plan slug: detail}); the rest are their models' fields.
    """
    with db.session() as session:
        product = Product(
            slug=slug, name=name, tagline=tagline, description=description, category=category, is_primary=is_primary
        )
        session.add(product)
        session.flush()
        assert product.id is not None
        plan_ids: dict[str, int] = {}
        for position, spec in enumerate(plans):
            fields = {key: value for key, value in spec.items() if key != "limits"}
            fields.setdefault("position", position)
            plan = Plan(product_id=product.id, **fields)
            session.add(plan)
            session.flush()
            assert plan.id is not None
            plan_ids[plan.slug] = plan.id
            for limit_name, value in spec.get("limits", {}).items():
                session.add(PlanLimit(plan_id=plan.id, name=limit_name, value=value))
        for spec in features:
            fields = {key: value for key, value in spec.items() if key not in ("plans", "details")}
            feature = Feature(product_id=product.id, **fields)
            session.add(feature)
            session.flush()
            assert feature.id is not None
            details = spec.get("details", {})
            for plan_slug in spec.get("plans", ()):
                link = PlanFeature(plan_id=plan_ids[plan_slug], feature_id=feature.id, detail=details.get(plan_slug, ""))
                session.add(link)
        for spec in integrations:
            session.add(Integration(product_id=product.id, **spec))
        for spec in compliance:
            session.add(ComplianceItem(product_id=product.id, **spec))
        for spec in addons:
            session.add(AddOn(product_id=product.id, **spec))
        for question, answer in faqs:
            session.add(Faq(product_id=product.id, question=question, answer=answer))
        session.commit()
        return product.id


def sample_catalog(db: Database) -> dict[str, int]:
    """Three products: Orbit (primary), Beacon and Relay; Orbit and Relay both have a plan named "Pro"."""
    orbit = add_product(
        db,
        "orbit",
        "Orbit",
        is_primary=True,
        tagline="Revenue intelligence for B2B teams",
        description="Orbit records, transcribes and analyses sales calls.",
        category="Sales",
        plans=[
            {"slug": "starter", "name": "Starter", "price_cents": 2900, "per_seat": True, "limits": {"Seats": "5"}},
            {
                "slug": "team",
                "name": "Team",
                "price_cents": 5900,
                "per_seat": True,
                "annual_discount_pct": 15,
                "limits": {"Seats": "50", "API rate limit": "600 requests/minute"},
            },
            {"slug": "pro", "name": "Pro", "price_cents": 9900, "per_seat": True, "limits": {"Seats": "unlimited"}},
            {"slug": "enterprise", "name": "Enterprise", "price_cents": None, "billing_period": "custom"},
        ],
        features=[
            {
                "slug": "recording",
                "name": "Call recording",
                "category": "Core",
                "plans": ["starter", "team", "pro", "enterprise"],
            },
            {
                "slug": "sso",
                "name": "Single sign-on",
                "category": "Security",
                "description": "SAML 2.0 and OIDC.",
                "plans": ["pro", "enterprise"],
                "details": {"pro": "SAML only"},
            },
            {"slug": "forecasting", "name": "Forecasting", "category": "Analytics", "plans": ["enterprise", "team"]},
        ],
        integrations=[
            {"slug": "salesforce", "name": "Salesforce", "category": "CRM", "min_plan_slug": "team"},
            {"slug": "slack", "name": "Slack", "category": "Chat"},
        ],
        compliance=[
            {"name": "SOC 2 Type II", "status": "certified", "details": "Audited yearly."},
            {"name": "HIPAA", "status": "in progress"},
        ],
        addons=[
            {
                "slug": "analytics",
                "name": "Advanced analytics",
                "price_cents": 1500,
                "per_seat": True,
                "available_on": "team,pro",
            },
            {"slug": "storage", "name": "Extra storage", "price_cents": 5000},
        ],
        faqs=[("Is there a free trial?", "Yes, 14 days on every plan."), ("Can I cancel anytime?", "Yes.")],
    )
    beacon = add_product(
        db,
        "beacon",
        "Beacon",
        tagline="Customer success dashboards",
        plans=[
            {"slug": "basic", "name": "Basic", "price_cents": 0},
            {"slug": "growth", "name": "Growth", "price_cents": 120000, "billing_period": "year"},
        ],
        features=[{"slug": "health", "name": "Health scores", "plans": ["growth"]}],
        faqs=[("Does Beacon work offline?", "No.")],
    )
    relay = add_product(
        db,
        "relay",
        "Relay",
        plans=[{"slug": "pro", "name": "Pro", "price_cents": 4900, "currency": "EUR"}],
    )
    return {"orbit": orbit, "beacon": beacon, "relay": relay}


def add_meeting(
    db: Database,
    account: tuple[str, str],
    title: str,
    started_at: datetime,
    segments: Sequence[tuple[str, str]],
    *,
    kind: str = "discovery",
    summary: str = "",
    external_id: str | None = None,
) -> int:
    """Insert a meeting (creating its account, given as (slug, name), if new) with its transcript."""
    slug, name = account
    with db.session() as session:
        existing = session.exec(select_account(slug)).first()
        if existing is None:
            existing = Account(slug=slug, name=name)
            session.add(existing)
            session.flush()
        assert existing.id is not None
        meeting = Meeting(
            external_id=external_id or f"{slug}-{started_at.isoformat()}-{title}",
            account_id=existing.id,
            title=title,
            kind=kind,
            # The ORM wants aware datetimes; the column stores them as naive UTC text.
            started_at=started_at.replace(tzinfo=UTC) if started_at.tzinfo is None else started_at,
            summary=summary,
            participants=sorted({speaker for speaker, _ in segments}),
        )
        session.add(meeting)
        session.flush()
        assert meeting.id is not None
        for seq, (speaker, text) in enumerate(segments):
            session.add(
                TranscriptSegment(meeting_id=meeting.id, seq=seq, speaker=speaker, text=text, offset_s=seq * 30.0)
            )
        session.commit()
        return meeting.id


def select_account(slug: str) -> Any:
    from sqlmodel import select

    return select(Account).where(Account.slug == slug)


def days_ago(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)
