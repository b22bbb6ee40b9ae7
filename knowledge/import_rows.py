"""One pydantic model per import file kind: the row format documented in docs/data-import.md.

Rows name each other by natural keys (product slug, plan slug, feature slug, account slug, meeting
external_id), never by database ids. A value that is `None` (JSON `null`, an empty CSV cell) means
"the default" for optional fields and "missing" for required ones.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIST_SEPARATOR = ";"


def _check_slug(value: str) -> str:
    if not SLUG_PATTERN.match(value):
        raise ValueError("must be lowercase letters, digits and hyphens, starting with a letter or digit")
    return value


def _split_list(value: Any) -> Any:
    """CSV cells carry lists as `a;b;c`; JSON carries arrays. Both end up a list of stripped strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]
    if isinstance(value, list):
        return [part.strip() if isinstance(part, str) else part for part in value]
    return value


def _check_email(value: str) -> str:
    if value and not EMAIL_PATTERN.match(value):
        raise ValueError("is not an email address")
    return value.lower()


def _to_naive_utc(value: datetime) -> datetime:
    """The database keeps naive UTC; an offset is converted, a naive value is taken as UTC."""
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _upper(value: str) -> str:
    return value.upper()


def _lower(value: str) -> str:
    return value.lower()


Slug = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(_check_slug)]
Name = Annotated[str, Field(min_length=1, max_length=300)]
Text = Annotated[str, Field(max_length=20_000)]
StrList = Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_split_list)]
SlugList = Annotated[list[Slug], BeforeValidator(_split_list)]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$"), AfterValidator(_upper)]
BillingPeriod = Literal["month", "year", "one-time", "custom"]
ComplianceStatus = Literal["certified", "supported", "in progress", "not offered"]
MeetingKind = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]*$"),
                        AfterValidator(_lower)]
Email = Annotated[str, Field(max_length=320), AfterValidator(_check_email)]
UtcDatetime = Annotated[datetime, AfterValidator(_to_naive_utc)]


class ImportRow(BaseModel):
    """Common rules: unknown fields are errors (a typo must not silently drop data), text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _none_means_default(cls, data: Any) -> Any:
        # `null` / an empty cell: optional fields take their default, required fields count as missing.
        if not isinstance(data, dict):
            return data
        cleaned = {}
        for key, value in data.items():
            field = cls.model_fields.get(key)
            if value is None and field is not None:
                if field.is_required():
                    continue
                if not _accepts_none(field.annotation):
                    value = field.get_default(call_default_factory=True)
            cleaned[key] = value
        return cleaned


def _accepts_none(annotation: Any) -> bool:
    return annotation is None or type(None) in getattr(annotation, "__args__", ())


class ProductRow(ImportRow):
    slug: Slug
    name: Name
    tagline: Text = ""
    description: Text = ""
    category: Text = ""
    is_primary: bool = False


class PlanRow(ImportRow):
    product: Slug
    slug: Slug
    name: Name
    position: int | None = Field(default=None, ge=0)  # default: the row's order among its product's plans
    price_cents: int | None = Field(default=None, ge=0)  # None: "contact sales"
    currency: Currency = "USD"
    billing_period: BillingPeriod = "month"
    per_seat: bool = False
    annual_discount_pct: int = Field(default=0, ge=0, le=100)
    description: Text = ""


class FeatureRow(ImportRow):
    product: Slug
    slug: Slug
    name: Name
    category: Text = ""
    description: Text = ""


class PlanFeatureRow(ImportRow):
    product: Slug
    plan: Slug
    feature: Slug
    detail: Text = ""


class IntegrationRow(ImportRow):
    product: Slug
    slug: Slug
    name: Name
    category: Text = ""
    description: Text = ""
    min_plan: Annotated[str, AfterValidator(lambda v: _check_slug(v) if v else v)] = ""  # empty: every plan


class LimitRow(ImportRow):
    product: Slug
    plan: Slug
    name: Name
    value: Name


class ComplianceRow(ImportRow):
    product: Slug
    name: Name
    status: ComplianceStatus = "certified"
    details: Text = ""


class AddOnRow(ImportRow):
    product: Slug
    slug: Slug
    name: Name
    price_cents: int | None = Field(default=None, ge=0)
    currency: Currency = "USD"
    billing_period: BillingPeriod = "month"
    per_seat: bool = False
    available_on: SlugList = Field(default_factory=list)  # plan slugs; empty: every plan
    description: Text = ""


class FaqRow(ImportRow):
    product: Slug
    question: Name
    answer: Text = Field(min_length=1)


class AccountRow(ImportRow):
    slug: Slug
    name: Name
    industry: Text = ""
    segment: Text = ""
    owner: Text = ""


class ContactRow(ImportRow):
    account: Slug
    name: Name
    email: Email = ""
    title: Text = ""


class MeetingRow(ImportRow):
    external_id: Annotated[str, Field(min_length=1, max_length=200)]
    account: Slug
    title: Name
    kind: MeetingKind = "call"
    started_at: UtcDatetime
    duration_minutes: int = Field(default=30, ge=1, le=24 * 60)
    participants: StrList = Field(default_factory=list)
    summary: Text = ""
    decisions: StrList = Field(default_factory=list)
    action_items: StrList = Field(default_factory=list)


class TranscriptRow(ImportRow):
    meeting: Annotated[str, Field(min_length=1, max_length=200)]  # the meeting's external_id
    seq: int = Field(ge=1)
    speaker: Name
    text: Text = Field(min_length=1)
    offset_s: float = Field(default=0.0, ge=0)


# File kinds in the order they are applied: every kind only refers to kinds before it.
ROW_MODELS: dict[str, type[ImportRow]] = {
    "products": ProductRow,
    "plans": PlanRow,
    "features": FeatureRow,
    "plan_features": PlanFeatureRow,
    "integrations": IntegrationRow,
    "limits": LimitRow,
    "compliance": ComplianceRow,
    "addons": AddOnRow,
    "faqs": FaqRow,
    "accounts": AccountRow,
    "contacts": ContactRow,
    "meetings": MeetingRow,
    "transcripts": TranscriptRow,
}

# Fields that hold lists (CSV: `;`-separated in one cell).
LIST_FIELDS = frozenset({"available_on", "participants", "decisions", "action_items"})
