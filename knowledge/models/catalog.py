"""The product catalog: the source tables that snapshots are built from."""

from __future__ import annotations

from sqlmodel import Field, SQLModel, UniqueConstraint


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True)
    name: str
    tagline: str = ""
    description: str = ""
    category: str = ""
    # The product that "the platform" / "our product" means when a question names none.
    is_primary: bool = False


class Plan(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("product_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    slug: str
    name: str
    position: int = 0  # tier order, cheapest first
    # None means "contact sales" (custom pricing).
    price_cents: int | None = None
    currency: str = "USD"
    billing_period: str = "month"  # month | year | custom
    per_seat: bool = False
    annual_discount_pct: int = 0
    description: str = ""


class Feature(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("product_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    slug: str
    name: str
    category: str = ""
    description: str = ""


class PlanFeature(SQLModel, table=True):
    """Which plans include which features, with an optional qualifier ("up to 5 users")."""

    plan_id: int = Field(foreign_key="plan.id", primary_key=True, ondelete="CASCADE")
    feature_id: int = Field(foreign_key="feature.id", primary_key=True, index=True, ondelete="CASCADE")
    detail: str = ""


class Integration(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("product_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    slug: str
    name: str
    category: str = ""
    description: str = ""
    min_plan_slug: str = ""  # cheapest plan that has it; empty means every plan


class PlanLimit(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("plan_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    name: str  # e.g. "API rate limit", "Seats", "Uptime SLA"
    value: str  # e.g. "600 requests/minute"


class ComplianceItem(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    name: str  # e.g. "SOC 2 Type II", "Encryption at rest"
    status: str = "certified"  # certified | supported | in progress | not offered
    details: str = ""


class AddOn(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("product_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    slug: str
    name: str
    price_cents: int | None = None
    currency: str = "USD"
    billing_period: str = "month"
    per_seat: bool = False
    available_on: str = ""  # comma-separated plan slugs; empty means every plan
    description: str = ""


class Faq(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    question: str
    answer: str
