"""help: what pitcrew can do, with one example per kind of question, taken from the knowledge base."""

from __future__ import annotations

from handlers.context import HandlerContext, HandlerResult
from handlers.formatting import bold
from knowledge.meetings import account_contacts, find_meetings
from knowledge.reader import read_product


async def handle(ctx: HandlerContext) -> HandlerResult:
    return HandlerResult.from_marked(help_text(ctx))


def help_text(ctx: HandlerContext) -> str:
    plan, account, person = "Pro", "Acme", "Tyler"
    view = read_product(ctx.db, None)
    if view is not None and view.payload["plans"]:
        plans = view.payload["plans"]
        plan = plans[len(plans) // 2]["name"]
    recent = find_meetings(ctx.db, end=ctx.now, limit=1)
    if recent:
        account = recent[0].account
        contacts = account_contacts(ctx.db, account, limit=1)
        if contacts:
            person = contacts[0].name.split()[0]
    examples = [
        ("Product questions", f"what does the {plan} plan cost?", "plans, prices, features, integrations, limits, security"),
        ("Call search", f"find calls about pricing with {account} last month", "recorded sales calls by topic, account and time"),
        ("Meeting recaps", f"summarize my last call with {account}", "summary, decisions and action items"),
        ("Email drafts", f"draft a follow-up email to {person}", "a draft for you to copy; I never send email"),
    ]
    lines = ["Here's what I can do:"]
    lines.extend(f"• {bold(title)} ({what}): “{example}”" for title, example, what in examples)
    lines.append("In the same thread I remember the product, plan, account and meeting, so “and what about Enterprise?” works.")
    return "\n".join(lines)
