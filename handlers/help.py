"""help: what pitcrew can do, with one example per kind of question, taken from the knowledge base."""

from __future__ import annotations

from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import handles
from handlers.formatting import bold
from knowledge.meetings import account_contacts, find_meetings
from knowledge.reader import read_product


@handles("help")
async def handle(ctx: HandlerContext) -> HandlerResult:
    return HandlerResult.from_marked(help_text(ctx))


def example_names(ctx: HandlerContext, *, plan: str | None = None, account: str | None = None,
                  person: str | None = None) -> dict[str, str]:
    """A real plan, account and contact for the examples' {plan}, {account} and {person} (or those given)."""
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
    return {"plan": plan, "account": account, "person": person}


def examples_near(ctx: HandlerContext, count: int = 3) -> list[str]:
    """A few example questions close to what was asked: those of handlers that read the plan, product,
    account or person the message names (each handler's main example first)."""
    frame, entities = ctx.frame, ctx.decision.entities
    plan = (entities.plans or frame.plans or (None,))[0]
    account = entities.account or frame.account
    person = entities.person or frame.person
    named = {slot for slot, value in (("plans", plan), ("product", entities.product), ("account", account),
                                      ("person", person)) if value}
    names = example_names(ctx, plan=plan, account=account, person=person.split()[0] if person else None)
    ranked = sorted(enumerate(ctx.examples),
                    key=lambda item: (-len(named & set(item[1].slots)), item[1].rank, item[0]))
    questions: list[str] = []
    for _, offered in ranked:
        question = offered.example.render(names)
        if question not in questions:
            questions.append(question)
    return questions[:count]


def help_text(ctx: HandlerContext) -> str:
    names = example_names(ctx)
    lines = ["Here's what I can do:"]
    for offered in ctx.examples:
        if offered.rank == 0:  # each handler's main example
            example = offered.example
            what = f" ({example.what})" if example.what else ""
            lines.append(f"• {bold(example.title)}{what}: “{example.render(names)}”")
    lines.append("In the same thread I remember the product, plan, account and meeting, so “and what about Enterprise?” works.")
    lines.append("I understand English only, including Slack shorthand and typos in names (“w/ globex”, “startr”).")
    return "\n".join(lines)
