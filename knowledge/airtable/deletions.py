"""Removing the row an Airtable record became, by its natural key (the record is gone from the base)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select

from knowledge.models import (
    Account,
    AddOn,
    ComplianceItem,
    Contact,
    Faq,
    Feature,
    Integration,
    Plan,
    PlanFeature,
    PlanLimit,
    Product,
)

PRODUCT = Product.__table__  # type: ignore[attr-defined]
PLAN = Plan.__table__  # type: ignore[attr-defined]
FEATURE = Feature.__table__  # type: ignore[attr-defined]
ACCOUNT = Account.__table__  # type: ignore[attr-defined]

# Kinds whose rows hang off a product by `product_id`, and the key columns besides it.
_PRODUCT_CHILDREN = {
    "plans": (PLAN, ("slug",)),
    "features": (FEATURE, ("slug",)),
    "integrations": (Integration.__table__, ("slug",)),  # type: ignore[attr-defined]
    "compliance": (ComplianceItem.__table__, ("name",)),  # type: ignore[attr-defined]
    "addons": (AddOn.__table__, ("slug",)),  # type: ignore[attr-defined]
    "faqs": (Faq.__table__, ("question",)),  # type: ignore[attr-defined]
}


def delete_row(connection: Connection, kind: str, key: Mapping[str, Any]) -> bool:
    """Delete the row of `kind` with natural key `key`; whether there was one. Children go with it (cascades)."""
    statement = _statement(kind, key)
    return bool(connection.execute(statement).rowcount)


def _product_id(slug: str) -> Any:
    return select(PRODUCT.c.id).where(PRODUCT.c.slug == slug).scalar_subquery()


def _plan_id(product: str, plan: str) -> Any:
    return select(PLAN.c.id).where(PLAN.c.product_id == _product_id(product), PLAN.c.slug == plan).scalar_subquery()


def _statement(kind: str, key: Mapping[str, Any]) -> Any:
    if kind == "products":
        return delete(PRODUCT).where(PRODUCT.c.slug == key["slug"])
    if kind in _PRODUCT_CHILDREN:
        table, columns = _PRODUCT_CHILDREN[kind]
        return delete(table).where(table.c.product_id == _product_id(key["product"]),
                                   *(table.c[name] == key[name] for name in columns))
    if kind == "plan_features":
        table = PlanFeature.__table__  # type: ignore[attr-defined]
        feature_id = select(FEATURE.c.id).where(FEATURE.c.product_id == _product_id(key["product"]),
                                                 FEATURE.c.slug == key["feature"]).scalar_subquery()
        return delete(table).where(table.c.plan_id == _plan_id(key["product"], key["plan"]),
                                   table.c.feature_id == feature_id)
    if kind == "limits":
        table = PlanLimit.__table__  # type: ignore[attr-defined]
        return delete(table).where(table.c.plan_id == _plan_id(key["product"], key["plan"]),
                                   table.c.name == key["name"])
    if kind == "accounts":
        return delete(ACCOUNT).where(ACCOUNT.c.slug == key["slug"])
    if kind == "contacts":
        table = Contact.__table__  # type: ignore[attr-defined]
        account_id = select(ACCOUNT.c.id).where(ACCOUNT.c.slug == key["account"]).scalar_subquery()
        # Matched as the importer matches contacts: by email when there is one, otherwise by name.
        match = (func.lower(table.c.email) == key["email"].lower() if key.get("email")
                 else func.lower(table.c.name) == key["name"].lower())
        return delete(table).where(and_(table.c.account_id == account_id, match))
    raise ValueError(f"no deletion for kind {kind}")
