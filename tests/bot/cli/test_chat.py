"""`pitcrew ask` and `pitcrew shell`: the pipeline from the terminal, on the demo data, no credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.observability import SUMMARY_OK, reset_logging
from bot.settings import Settings
from tests.support.pipeline import day_file_records


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    reset_logging()  # the commands configure logging for the process


def test_ask_prints_the_reply_and_exits_zero() -> None:
    result = CliRunner().invoke(app, ["ask", "What does the Pro plan cost?"])
    assert result.exit_code == 0, result.output
    assert "Pro" in result.stdout and "$" in result.stdout
    assert "*" not in result.stdout  # plain text, not Slack markup


def test_ask_json_is_one_object_with_the_reply_and_its_metadata(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["ask", "find calls about pricing", "--json"])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout)
    assert reply["intent"] == "call_search" and reply["handler"] == "call_search"
    assert reply["text"] and reply["mrkdwn"] and reply["failed"] is False
    assert list(reply["stages"]) == ["meeting_resolution", "control_plane", "handler"]
    # Logged exactly like a Slack request, with source "shell".
    summaries = [r for r in day_file_records(settings) if r["message"] == SUMMARY_OK]
    assert [s["correlation_id"] for s in summaries] == [reply["correlation_id"]]
    assert summaries[0]["source"] == "shell" and summaries[0]["handler"] == "call_search"


def test_asks_in_the_same_thread_share_memory() -> None:
    runner = CliRunner()
    runner.invoke(app, ["ask", "What does the Pro plan cost?", "--thread", "t1"])
    follow = runner.invoke(app, ["ask", "and what about Enterprise?", "--thread", "t1", "--json"])
    assert json.loads(follow.stdout)["intent"] == "product_question"
    alone = runner.invoke(app, ["ask", "and what about Enterprise?", "--json"])
    assert json.loads(alone.stdout)["intent"] != "product_question" or "Enterprise" in json.loads(alone.stdout)["text"]


def test_ask_without_text_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["ask", "  "])
    assert result.exit_code == 2
    assert "nothing to ask" in result.stderr and "Traceback" not in result.output


def test_shell_answers_each_line_until_end_of_input() -> None:
    result = CliRunner().invoke(app, ["shell"], input="What does the Pro plan cost?\n\nthanks!\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("you> ") == 4  # three lines read, then end of input
    assert "Pro" in result.stdout and "welcome" in result.stdout.lower()
    assert "confidence" not in result.stdout


def test_shell_verbose_shows_intent_confidence_validation_and_timings() -> None:
    result = CliRunner().invoke(app, ["shell", "--verbose"], input="summarize my last call with Acme\nquit\n")
    assert result.exit_code == 0, result.output
    meta = next(line for line in result.stdout.splitlines() if "confidence" in line)
    for word in ("meeting_summary", "LLM validation", "meeting_resolution", "control_plane", "handler", "ms"):
        assert word in meta


def test_shell_follow_ups_share_the_session() -> None:
    result = CliRunner().invoke(app, ["shell", "--verbose"], input="What does the Pro plan cost?\nand what about Enterprise?\n")
    metas = [line for line in result.stdout.splitlines() if "confidence" in line]
    assert len(metas) == 2 and metas[1].startswith("product_question")


@pytest.mark.slow
def test_the_console_script_runs_the_shell_on_the_demo_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_"))}
    completed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "shell"],
        input="is there a Salesforce integration?\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Salesforce" in completed.stdout
    assert "Traceback" not in completed.stderr
