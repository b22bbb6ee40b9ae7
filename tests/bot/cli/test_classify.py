"""`pitcrew classify` and `pitcrew eval intents`: offline, one JSON object per line, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from tests.support.paths import LABELLED

KEYS = ["text", "intent", "confidence", "llm_validation", "entities", "frame"]
ENTITY_KEYS = ["person", "colleague", "account", "product", "plans", "topic", "time_range", "meeting_kind", "quantity", "term", "industry"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_classify_arguments_prints_one_json_object_per_message(isolated_environment: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["classify", "--now", "2025-03-05T15:00", "summarize my last call with Acme",
                                 "did Initech ever bring up Okta?", ""])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(row) for row in rows] == [KEYS] * 3
    assert all(list(row["entities"]) == ENTITY_KEYS for row in rows)
    summary, unsure, empty = rows
    assert (summary["intent"], summary["llm_validation"], summary["entities"]["account"]) == (
        "meeting_summary", "skipped", "Acme Corp")  # the demo vocabulary, loaded from the database
    assert (unsure["intent"], unsure["llm_validation"]) == ("call_search", "unavailable")  # no LLM offline
    assert 0.0 <= unsure["confidence"] < 0.9
    assert (empty["intent"], empty["text"]) == ("unknown", "")
    # The frame: every slot with where it came from (a message alone has only typed slots)
    assert summary["frame"]["slots"]["account"] == {"value": "Acme Corp", "source": "typed"}
    assert unsure["frame"]["slots"]["topic"] == {"value": "Okta", "source": "typed"}


def test_classify_shows_how_a_misspelt_name_was_read(isolated_environment: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["classify", "how much storage on startr for 10 seats per year"])
    assert result.exit_code == 0, result.output
    frame = json.loads(result.stdout)["frame"]
    assert frame["slots"]["plans"] == {"value": ["Starter"], "source": "typed"}
    assert frame["slots"]["quantity"]["value"] == 10 and frame["slots"]["term"]["value"] == "year"
    assert frame["readings"] == [{"typed": "startr", "read_as": "Starter", "kind": "plan"}]


def test_classify_reads_stdin_one_message_per_line(isolated_environment: Path, runner: CliRunner) -> None:
    stdin = "what does the Pro plan cost?\n\nfind calls where customers mentioned \"SOC 2\" last week\r\nhi\n"
    result = runner.invoke(app, ["classify", "--now", "2025-03-05T15:00", "--explain"], input=stdin)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["intent"] for row in rows] == ["product_question", "call_search", "smalltalk"]
    assert rows[0]["entities"]["plans"] == ["Pro"]
    assert rows[1]["entities"]["topic"] == "SOC 2"
    assert rows[1]["entities"]["time_range"] == {"start": "2025-02-24T00:00:00", "end": "2025-03-03T00:00:00",
                                                 "label": "last week"}
    assert rows[0]["candidates"][0] == {"intent": "product_question", "confidence": rows[0]["confidence"],
                                        "pattern": "plan-near-price"}


def test_eval_intents_json_meets_the_targets_on_the_labelled_set(isolated_environment: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["eval", "intents", str(LABELLED), "--json", "--now", "2025-03-05T15:00"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"] >= 150
    assert report["skipped_precision"] >= 0.98 and report["coverage"] >= 0.6 and report["accuracy"] >= 0.9
    assert set(report["per_intent"]) == {"product_question", "call_search", "meeting_summary", "draft_email", "help",
                                         "smalltalk", "unknown"}
    assert sum(sum(row.values()) for row in report["confusion"].values()) == report["total"]
    assert report["entity_mismatches"] == []


def test_eval_intents_table_shows_the_mistakes(isolated_environment: Path, runner: CliRunner) -> None:
    labelled = isolated_environment / "mislabelled.jsonl"
    labelled.write_text(
        json.dumps({"text": "what does the Pro plan cost?", "intent": "call_search"}) + "\n"
        + json.dumps({"text": "[weird] (text) *here*", "intent": "unknown"}) + "\n"
        + json.dumps({"text": "hi", "intent": "smalltalk", "entities": {"person": "Tyler"}}) + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["eval", "intents", str(labelled)])
    assert result.exit_code == 0, result.output
    for fragment in ("accuracy", "0.667 (2/3)", "precision of skipped", "0.500 (1/2)", "Per intent", "Confusion",
                     "Misclassified", "product_question", "Entity mismatches", "Tyler"):
        assert fragment in result.stdout


@pytest.mark.parametrize(
    ("args", "body", "message"),
    [
        (["eval", "intents", "missing.jsonl"], None, "missing.jsonl: cannot read"),
        (["eval", "intents", "bad.jsonl"], '{"text": "hi", "intent": "smalltalk"}\n{"text": "x", "intent": "sales"}\n',
         "bad.jsonl:2: unknown intent 'sales'"),
        (["eval", "intents", "bad.jsonl"], "not json\n", "bad.jsonl:1: not valid JSON"),
        (["classify", "--now", "yesterday", "hi"], None, "--now must be an ISO date"),
    ],
)
def test_bad_input_is_one_clear_line(isolated_environment: Path, runner: CliRunner, args: list[str], body: str | None,
                                     message: str) -> None:
    if body is not None:
        (isolated_environment / "bad.jsonl").write_text(body, encoding="utf-8")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
