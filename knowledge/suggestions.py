"""Suggested prompts for the assistant panel, drawn from the knowledge base: a real plan, a real account's last
call, a draft to a real contact, a call search. Each is a few indexed reads (the primary product's middle plan,
the newest meeting, a contact of that meeting's account)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from knowledge.db import Database


@dataclass(frozen=True)
class Suggestion:
    title: str  # the short label Slack shows
    message: str  # what is sent when the rep picks it


_PLAN = text(
    "SELECT p.name AS product, pl.name AS plan FROM product p JOIN plan pl ON pl.product_id = p.id"
    " ORDER BY p.is_primary DESC, p.id, pl.position, pl.id LIMIT 3"
)
_LAST_CALL = text(
    "SELECT a.id AS account_id, a.name AS account FROM meeting m JOIN account a ON a.id = m.account_id"
    " ORDER BY m.started_at DESC, m.id DESC LIMIT 1"
)
_CONTACT = text("SELECT name FROM contact WHERE account_id = :account ORDER BY id LIMIT 1")


def suggested_prompts(db: Database, limit: int = 4) -> list[Suggestion]:
    """Up to `limit` prompts naming what this knowledge base holds; generic ones fill in what it lacks."""
    suggestions: list[Suggestion] = []
    with db.engine.connect() as conn:
        plans = conn.execute(_PLAN).all()
        call = conn.execute(_LAST_CALL).first()
        contact = conn.execute(_CONTACT, {"account": call.account_id}).scalar() if call is not None else None
    if plans:
        plan = plans[min(1, len(plans) - 1)]  # a middle tier is the usual question
        suggestions.append(Suggestion(f"{plan.product} {plan.plan} pricing",
                                      f"What does {plan.product} {plan.plan} cost?"))
    if call is not None:
        suggestions.append(Suggestion(f"Recap the last {call.account} call",
                                      f"Recap my last call with {call.account}"))
    if contact and call is not None:
        suggestions.append(Suggestion(f"Follow-up to {contact}",
                                      f"Draft a follow-up email to {contact} at {call.account}"))
    suggestions.append(Suggestion("Calls about pricing", "Find calls about pricing"))
    return suggestions[:limit]
