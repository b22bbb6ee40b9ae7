"""unknown called directly: an honest reply (not understood, out of scope, not English, nothing asked) and example
questions near what the frame names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from control_plane.intents import Candidate, Intent
from handlers import unknown

if TYPE_CHECKING:
    from tests.handlers.conftest import HandlerKit

UNKNOWN = Intent.UNKNOWN


def examples_in(reply: str) -> list[str]:
    """The example questions of a reply: each “...” between "For example:" and "Say “help” for more."."""
    listed = reply.split("For example: ", 1)[1].split(". Say “help” for more.")[0]
    return [part.split("”")[0] for part in listed.split("“")[1:]]


@pytest.mark.parametrize(("confidence", "opening"), [
    (unknown.OUT_OF_SCOPE_CONFIDENCE, unknown.OUT_OF_SCOPE),
    (unknown.OUT_OF_SCOPE_CONFIDENCE - 0.01, unknown.NOT_UNDERSTOOD),
])
async def test_out_of_scope_only_when_its_pattern_is_sure(kit: HandlerKit, confidence: float, opening: str) -> None:
    candidates = (Candidate(UNKNOWN, confidence, "unknown-weather"),)

    result = await unknown.handle(kit.context(kit.frame(UNKNOWN), "what's the weather in Paris", candidates=candidates))

    assert result.plain.startswith(opening)
    assert len(examples_in(result.plain)) == 3 and "Say “help” for more." in result.plain


@pytest.mark.parametrize("source", ["typed", "thread"])
async def test_examples_are_about_the_account_of_the_frame(kit: HandlerKit, source: str) -> None:
    account = kit.account_name("initech")
    first_name = min(c["name"] for c in kit.rows["contacts"] if c["account"] == "initech").split()[0]
    latest = max(kit.rows["meetings"], key=lambda m: m["started_at"])
    assert latest["account"] != "initech"  # the generic examples would name another account

    frame = kit.frame(UNKNOWN, account=account, sources={"account": source})

    result = await unknown.handle(kit.context(frame, "initech blorp?" if source == "typed" else "and blorp?"))

    assert result.plain.startswith(unknown.NOT_UNDERSTOOD)
    assert set(examples_in(result.plain)) == {  # the examples of the handlers that read an account
        f"find calls about pricing with {account} last month",
        f"summarize my last call with {account}",
        f"draft a follow-up email to {first_name}",
    }


async def test_examples_are_about_the_plan_the_message_names(kit: HandlerKit) -> None:
    result = await unknown.handle(kit.context(kit.frame(UNKNOWN, plans=("Enterprise",)), "enterprise blorp?"))

    examples = examples_in(result.plain)
    assert examples[0] == "what does the Enterprise plan cost?"
    assert "does Enterprise include SSO?" in examples


async def test_a_message_in_another_language_is_asked_again_in_english(kit: HandlerKit) -> None:
    frame = kit.frame(UNKNOWN, language="fr")

    result = await unknown.handle(kit.context(frame, "bonjour, combien coûte le plan pro ?"))

    assert result.plain.startswith(unknown.ENGLISH_ONLY)
    assert examples_in(result.plain)


async def test_nothing_asked_gets_a_prompt_with_examples(kit: HandlerKit) -> None:
    result = await unknown.handle(kit.context(kit.frame(UNKNOWN), "  <@U0BOT>  "))

    assert result.plain.startswith("I didn't get a question there. For example: ")
    assert len(examples_in(result.plain)) == 3
