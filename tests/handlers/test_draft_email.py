"""draft_email called directly: a draft to the resolved contact, grounded in their own account's meeting, plans and
contacts only. No LLM: the template draft."""

from __future__ import annotations

from typing import TYPE_CHECKING

from control_plane.intents import Intent
from handlers import draft_email
from knowledge.meetings import MeetingResolution
from knowledge.snapshot_prompt import format_price

if TYPE_CHECKING:
    from tests.handlers.conftest import HandlerKit

DRAFT = Intent.DRAFT_EMAIL


def other_accounts_facts(kit: HandlerKit, slug: str) -> set[str]:
    """Every other account's name, contacts' names and emails, and meeting titles: none belongs in the draft."""
    facts = {a["name"] for a in kit.rows["accounts"] if a["slug"] != slug}
    facts |= {c[key] for c in kit.rows["contacts"] if c["account"] != slug for key in ("name", "email")}
    facts |= {m["title"] for m in kit.rows["meetings"] if m["account"] != slug}
    return facts


async def test_a_draft_to_a_contact_uses_only_facts_of_the_contacts_own_account(kit: HandlerKit) -> None:
    jane = kit.row("contacts", name="Jane Alvarez")
    latest = max((m for m in kit.rows["meetings"] if m["account"] == jane["account"]), key=lambda m: m["started_at"])
    contact, meeting = kit.contact("Jane Alvarez"), kit.meeting(latest["external_id"])
    account = kit.account_name(jane["account"])
    resolution = MeetingResolution(account=account, contact=contact, candidates=(meeting,))
    frame = kit.frame(DRAFT, account=account, person=contact.name)

    result = await draft_email.handle(kit.context(frame, "draft a follow-up email to Jane", resolution=resolution))

    lines = result.plain.splitlines()
    assert lines[0].startswith(f"Draft email to Jane Alvarez <{jane['email']}> (")
    assert lines[1].startswith(f"Based on: {account}, {latest['title']} (")
    assert "Hi Jane," in lines
    assert f"A quick recap: {latest['summary']}" in result.plain
    assert all(f"- {decision}" in lines for decision in latest["decisions"])
    assert all(f"- {action}" in lines for action in latest["action_items"])
    assert not [fact for fact in other_accounts_facts(kit, jane["account"]) if fact in result.plain]
    assert (result.context.account, result.context.person, result.context.meeting_id) == (
        account, "Jane Alvarez", meeting.id)
    assert not result.llm_used


async def test_a_name_that_is_no_contact_lists_the_accounts_contacts_and_no_others(kit: HandlerKit) -> None:
    account = kit.account_name("initech")
    contacts = sorted((c for c in kit.rows["contacts"] if c["account"] == "initech"), key=lambda c: c["name"])
    frame = kit.frame(DRAFT, account=account, person="Jay")

    result = await draft_email.handle(kit.context(frame, "draft an email to Jay at Initech"))

    lines = result.plain.splitlines()
    assert lines[0].startswith("Draft email to Jay (")
    [on_file] = [line for line in lines if line.startswith("Contacts on file: ")]
    assert on_file == "Contacts on file: " + ", ".join(f"{c['name']} <{c['email']}>" for c in contacts)
    assert not [fact for fact in other_accounts_facts(kit, "initech") if fact in result.plain]
    assert "Hi Jay," in lines and "Based on:" not in result.plain  # no meeting was resolved: none is made up


async def test_the_plans_of_the_frame_are_quoted_from_the_catalog(kit: HandlerKit) -> None:
    product = kit.row("products", is_primary=True)
    pro = kit.row("plans", product=product["slug"], name="Pro")
    account = kit.account_name("acme")
    resolution = MeetingResolution(account=account, contact=kit.contact("Tom Becker"))
    frame = kit.frame(DRAFT, account=account, person="Tom Becker", product=product["name"], plans=("Pro",))

    result = await draft_email.handle(kit.context(frame, "email Tom the Pro pricing", resolution=resolution))

    price = format_price(int(pro["price_cents"]), pro["currency"], pro["billing_period"], True)
    line = f"- {product['name']} Pro is {price} ({pro['annual_discount_pct']}% less when billed annually)."
    assert f"For reference:\n{line}" in result.plain
    assert "Hi Tom," in result.plain.splitlines()
    assert (result.context.product, result.context.plan) == (product["slug"], "Pro")


async def test_an_email_address_is_greeted_by_its_name_part(kit: HandlerKit) -> None:
    frame = kit.frame(DRAFT, person="priya.shah@newco.example")

    result = await draft_email.handle(kit.context(frame, "draft an email to priya.shah@newco.example"))

    assert result.plain.startswith("Draft email to priya.shah@newco.example (")
    assert "Hi Priya," in result.plain.splitlines()
    assert "Contacts on file" not in result.plain
