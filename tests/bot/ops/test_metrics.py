"""GET /metrics on serve: counts, the histogram's SLA edge and names after known requests; the Grafana dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.settings import load_settings
from knowledge.db import Database
from tests.support.fake_openai import FakeOpenAI, fast_llm_settings, intent_reply
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.ops_stack import ops_stack
from tests.support.slack_stack import SIGNING_SECRET

GRAFANA = Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(found: dict, name: str, **labels: str) -> float:
    return sum(value for (sample, sample_labels), value in found.items()
               if sample == name and all((key, want) in sample_labels for key, want in labels.items()))


async def test_metrics_after_known_requests(fake_slack: FakeSlack, fake_openai: FakeOpenAI, demo_db: Database) -> None:
    fake_openai.responder = intent_reply("product_question")
    settings = fast_llm_settings(fake_openai, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                 slack_api_url=fake_slack.api_url, sla_ms=1234.0, latency_optimization_mode="canary",
                                 canary_percent=0.0)
    async with ops_stack(settings) as stack:
        for number in range(3):  # confident product questions: validated anyway (nobody is in a 0 % canary)
            reply = await stack.ask("what does the Pro plan cost?", user=f"U{number}")
            assert reply.llm_validation == "used"
        greeting = await stack.ask("hello there", user="U9")  # the LLM (scripted) disagrees with the patterns
        assert greeting.intent == "product_question"
        status, text = await stack.get("/metrics")
    assert status == 200
    found = samples(text)
    assert total(found, "pitcrew_requests_total") == 4
    assert total(found, "pitcrew_requests_total", intent="product_question", llm_decision="validated") == 4
    assert total(found, "pitcrew_request_duration_seconds_count") == 4
    # The SLA edge: a bucket at exactly 1.234 s, counting the requests under it (all of these are).
    assert ("pitcrew_request_duration_seconds_bucket", (("le", "1.234"), ("outcome", "ok"))) in found
    assert found[("pitcrew_request_duration_seconds_bucket", (("le", "1.234"), ("outcome", "ok")))] == 4
    assert total(found, "pitcrew_stage_duration_seconds_count", stage="control_plane") == 4
    # Four intent validations, on the fast model, each with its tokens (OpenTelemetry GenAI names).
    assert total(found, "pitcrew_llm_calls_total", model_tier="fast", kind="validate", result="ok") == 4
    assert total(found, "gen_ai_client_operation_duration_seconds_count",
                 gen_ai_request_model=settings.openai_fast_model) >= 4
    assert total(found, "gen_ai_client_token_usage_count", gen_ai_token_type="input") >= 4
    assert total(found, "pitcrew_shadow_checks_total", result="agree") == 3
    assert total(found, "pitcrew_shadow_checks_total", result="disagree") == 1
    assert found[("pitcrew_llm_breaker_state", (("state", "closed"),))] == 1
    assert found[("pitcrew_rollout_mode", (("mode", "canary"),))] == 1
    assert found[("pitcrew_inbox_unanswered", ())] == 0
    names = {family.name for family in text_string_to_metric_families(text)}
    assert all(re.fullmatch(r"(pitcrew|gen_ai)_[a-z0-9_]+", name) for name in names), names


async def test_socket_mode_serves_metrics_on_metrics_port(fake_slack: FakeSlack, demo_db: Database) -> None:
    from tests.support.fake_slack import APP_TOKEN

    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_url=fake_slack.api_url,
                             metrics_port=0)
    async with ops_stack(settings) as stack:
        assert stack.service.mode == "socket" and stack.service.pages_port != stack.service.port
        await stack.ask("what does the Pro plan cost?")
        status, text = await stack.get("/metrics")
    assert status == 200
    assert total(samples(text), "pitcrew_requests_total") == 1


def grafana_metric_names() -> set[str]:
    dashboard = json.loads(GRAFANA.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert expressions
    words = set()
    for expression in expressions:
        expression = re.sub(r"\b(?:by|without)\s*\([^)]*\)|\{[^}]*\}", " ", expression)  # label names, matchers
        words |= set(re.findall(r"\b((?:pitcrew|gen_ai)_[a-z0-9_]+)", expression))
    return words


@pytest.mark.parametrize("sla_ms", [5000.0])
def test_the_grafana_dashboard_uses_only_metrics_that_exist(sla_ms: float) -> None:
    from bot.observability.metrics import Metrics

    metrics = Metrics(sla_ms=sla_ms)
    for name in ("pitcrew_llm_breaker_state", "pitcrew_rollout_mode", "pitcrew_inbox_unanswered",
                 "pitcrew_quality_score", "pitcrew_shadow_agreement_ratio", "pitcrew_rollout_canary_ratio"):
        metrics.add_probe(name, "probe", lambda: 1.0)
    exposed = set()
    for family in metrics.registry.collect():
        exposed |= {family.name} | {f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_count", "_sum")}
    used = grafana_metric_names()
    assert used <= exposed, used - exposed
