"""help: what pitcrew can do, with one example per kind of question, taken from the knowledge base."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import HandlerContext, HandlerResult
from handlers.formatting import bold
from knowledge.meetings import account_contacts, find_meetings
from knowledge.reader import read_product


@dataclass(frozen=True)
class Example:
    title: str
    question: str
    what: str


async def handle(ctx: HandlerContext) -> HandlerResult:
    return HandlerResult.from_marked(help_text(ctx))


def examples(ctx: HandlerContext, *, plan: str | None = None, account: str | None = None,
             person: str | None = None) -> list[Example]:
    """One example per kind of question, naming a real plan, account and contact (or those given)."""
    if plan is None:
        view = read_product(ctx.db, None)
        plan = "Pro"
        if view is not None and view.payload["plans"]:
            plans = view.payload["plans"]
            plan = plans[len(plans) // 2]["name"]
    if account is None:
        recent = find_meetings(ctx.db, end=ctx.now, limit=1)
        account = recent[0].account if recent else "Acme"
    if person is None:
        contacts = account_contacts(ctx.db, account, limit=1)
        person = contacts[0].name.split()[0] if contacts else "Tyler"
    return [
        Example("Product questions", f"what does the {plan} plan cost?", "plans, prices, features, integrations, limits, security"),
        Example("Call search", f"find calls about pricing with {account} last month", "recorded sales calls by topic, account and time"),
        Example("Meeting recaps", f"summarize my last call with {account}", "summary, decisions and action items"),
        Example("Email drafts", f"draft a follow-up email to {person}", "a draft for you to copy; I never send email"),
    ]


def examples_near(ctx: HandlerContext) -> list[str]:
    """Two or three example questions close to what was asked: about the plan, account or person it names."""
    frame, entities = ctx.frame, ctx.decision.entities
    plan = (entities.plans or frame.plans or (None,))[0]
    account = entities.account or frame.account
    person = entities.person or frame.person
    found = examples(ctx, plan=plan, account=account, person=person.split()[0] if person else None)
    if person or account:
        chosen = [found[2], found[3], found[1]]
    elif plan or entities.product:
        chosen = [found[0], Example("", f"does {plan or 'Pro'} include SSO?", ""), found[2]]
    else:
        chosen = found[:3]
    return [example.question for example in chosen]


def help_text(ctx: HandlerContext) -> str:
    lines = ["Here's what I can do:"]
    lines.extend(f"• {bold(e.title)} ({e.what}): “{e.question}”" for e in examples(ctx))
    lines.append("In the same thread I remember the product, plan, account and meeting, so “and what about Enterprise?” works.")
    lines.append("I understand English only, including Slack shorthand and typos in names (“w/ globex”, “startr”).")
    return "\n".join(lines)
