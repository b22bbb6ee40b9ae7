"""Rollout of the LLM-skip optimisation: shadow measures without skipping, a stable canary, automatic rollback."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.ops.rollout import current_state
from control_plane.rollout import in_canary
from knowledge.db import Database
from knowledge.rollout import write_rollout
from tests.support.fake_openai import FakeOpenAI, fast_llm_settings, intent_reply
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.ops_stack import ops_stack
from tests.support.slack_stack import SIGNING_SECRET

QUESTION = "what does the Pro plan cost?"  # the patterns are sure: product_question
USERS = [f"U{number:05d}" for number in range(500)]
OPS = "C0OPS"


def stack_settings(fake_openai: FakeOpenAI, fake_slack: FakeSlack, **overrides: Any) -> Any:
    return fast_llm_settings(fake_openai, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake_slack.api_url, **overrides)


async def test_shadow_never_skips_and_measures_agreement(fake_openai: FakeOpenAI, fake_slack: FakeSlack,
                                                         demo_db: Database) -> None:
    fake_openai.responder = intent_reply("product_question")
    settings = stack_settings(fake_openai, fake_slack, latency_optimization_mode="shadow")
    async with ops_stack(settings) as stack:
        replies = [await stack.ask(QUESTION, user=user) for user in USERS[:6]]
        fake_openai.responder = intent_reply("smalltalk")
        replies.append(await stack.ask(QUESTION, user=USERS[6]))
        assert {reply.llm_validation for reply in replies} == {"used"}  # nobody skipped
        assert stack.app.rollout.agreement() == (7, 6)
        assert stack.app.rollout.state.mode == "shadow"  # shadow is never rolled back
    requests = [body for body in fake_openai.requests if (body.get("response_format") or {}).get("type")]
    assert len(requests) == 7


def test_canary_share_is_twenty_percent_and_the_same_in_another_process() -> None:
    chosen = [user for user in USERS if in_canary(user, 20.0)]
    assert 0.15 <= len(chosen) / len(USERS) <= 0.25
    # A new interpreter (a restart, another instance: Python's own hash() would differ) chooses the same users.
    script = ("import json, sys; from control_plane.rollout import in_canary; "
              "print(json.dumps([u for u in json.loads(sys.argv[1]) if in_canary(u, 20.0)]))")
    other = subprocess.run([sys.executable, "-c", script, json.dumps(USERS)], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert json.loads(other.stdout) == chosen
    assert not in_canary(None, 100.0) and not in_canary(USERS[0], 0.0)


async def test_canary_users_skip_and_others_are_validated(fake_openai: FakeOpenAI, fake_slack: FakeSlack,
                                                          demo_db: Database) -> None:
    fake_openai.responder = intent_reply("product_question")
    settings = stack_settings(fake_openai, fake_slack, latency_optimization_mode="canary", canary_percent=20.0)
    async with ops_stack(settings) as stack:
        users = USERS[:30]
        decisions = {user: (await stack.ask(QUESTION, user=user)).llm_validation for user in users}
    assert {user for user, decision in decisions.items() if decision == "skipped"} == \
        {user for user in users if in_canary(user, 20.0)}
    assert set(decisions.values()) == {"skipped", "used"}


async def test_a_disagreeing_llm_rolls_the_canary_back_to_shadow(fake_openai: FakeOpenAI, fake_slack: FakeSlack,
                                                                 demo_db: Database) -> None:
    fake_openai.responder = intent_reply("product_question")
    settings = stack_settings(fake_openai, fake_slack, alert_channel=OPS, rollback_min_checks=20,
                              rollback_window=50, rollout_refresh_s=0.1)
    write_rollout(demo_db, "canary", 20.0)  # as `pitcrew rollout set canary --percent 20` does
    outside = [user for user in USERS if not in_canary(user, 20.0)]
    async with ops_stack(settings) as stack:
        assert stack.app.rollout.state.mode == "canary"
        for user in outside[:30]:  # agreeing: no rollback
            await stack.ask(QUESTION, user=user)
        assert stack.app.rollout.state.mode == "canary"
        fake_openai.responder = intent_reply("call_search")  # the LLM starts disagreeing
        for user in outside[30:34]:  # the second disagreement of 32 checks is over 5 %: rolled back there
            await stack.ask(QUESTION, user=user)
        await stack.app.rollout.refresh()
        assert stack.app.rollout.state.mode == "shadow"
        inside = next(user for user in USERS if in_canary(user, 20.0))
        assert (await stack.ask(QUESTION, user=inside)).llm_validation == "used"  # even canary users: no skip
        assert stack.alerts is not None
        await stack.alerts.evaluate()
    stored = current_state(demo_db, settings)
    assert (stored.mode, stored.changed_by) == ("shadow", "automatic")
    assert stored.reason is not None and "disagreement 6.2% over the last 32 checked" in stored.reason
    posts = [call.body["text"] for call in fake_slack.calls_of("chat.postMessage") if call.body.get("channel") == OPS]
    assert any("pitcrew alert: rollback" in text and "disagreement" in text for text in posts)
    result = CliRunner().invoke(cli, ["rollout", "status"])
    assert result.exit_code == 0, result.output
    assert "mode:             shadow" in result.output
    assert "rolled back:      automatically, because shadow disagreement 6.2%" in result.output


async def test_slow_requests_roll_back_enabled(fake_openai: FakeOpenAI, fake_slack: FakeSlack,
                                               demo_db: Database) -> None:
    """Latency: more than ROLLBACK_SLOW_CONSECUTIVE requests in a row over ROLLBACK_SLOW_MS."""
    settings = stack_settings(fake_openai, fake_slack, rollback_slow_ms=50.0, rollback_slow_consecutive=3,
                              latency_optimization_mode="enabled")
    async with ops_stack(settings) as stack:
        fake_openai.latency_s = 0.08
        for number in ("one", "two", "three"):  # questions the patterns are unsure of (each new to the LLM's cache)
            await stack.ask(f"tell me something about {number}", user=f"U{number}")
        await stack.app.rollout.refresh()
        assert stack.app.rollout.state.mode == "shadow"
        assert "3 requests in a row over 50 ms" in (stack.app.rollout.state.reason or "")


def test_rollout_set_changes_the_stored_mode(database: Database) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["rollout", "set", "canary", "--percent", "25"])
    assert result.exit_code == 0, result.output
    assert "canary (25 % of users)" in result.output
    status = json.loads(runner.invoke(cli, ["rollout", "status", "--json"]).output)
    assert (status["mode"], status["canary_percent"], status["changed_by"]) == ("canary", 25.0, "operator")
    bad = runner.invoke(cli, ["rollout", "set", "sometimes"])
    assert bad.exit_code == 2 and "unknown mode 'sometimes'" in bad.stderr and "Traceback" not in bad.output
    bad = runner.invoke(cli, ["rollout", "set", "canary", "--percent", "120"])
    assert bad.exit_code == 2 and "between 0 and 100" in bad.stderr
