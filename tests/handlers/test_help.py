"""help called directly: one example question per kind of question, naming a real plan, account and contact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from control_plane.intents import Intent
from handlers import help as help_handler
from knowledge.thread_memory import TurnContext

if TYPE_CHECKING:
    from tests.handlers.conftest import HandlerKit


async def test_help_gives_an_example_of_each_kind_of_question_from_the_knowledge_base(kit: HandlerKit) -> None:
    product = kit.row("products", is_primary=True)
    plans = sorted((p for p in kit.rows["plans"] if p["product"] == product["slug"]), key=lambda p: int(p["position"]))
    plan = plans[len(plans) // 2]["name"]  # a plan from the middle of the primary product's range
    latest = max(kit.rows["meetings"], key=lambda m: m["started_at"])  # the account most recently met
    account = kit.account_name(latest["account"])
    person = min(c["name"] for c in kit.rows["contacts"] if c["account"] == latest["account"]).split()[0]

    result = await help_handler.handle(kit.context(kit.frame(Intent.HELP), "help"))

    examples = [line.split("“")[1].rstrip("”") for line in result.plain.splitlines() if line.startswith("• ")]
    assert examples == [
        f"what does the {plan} plan cost?",
        f"find calls about pricing with {account} last month",
        f"summarize my last call with {account}",
        f"draft a follow-up email to {person}",
    ]
    assert result.context == TurnContext()  # help changes nothing a follow-up builds on
