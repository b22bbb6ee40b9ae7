"""`pitcrew bench`: the command's contract (its figures are measured, never asserted here)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bot.cli.main import app


def test_json_output_has_the_documented_shape() -> None:
    result = CliRunner().invoke(app, ["bench", "--quick", "--json", "--only", "llm_avoidance"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["machine"]["cores"] >= 1
    names = {bench["name"] for bench in report["benchmarks"]}
    assert {"llm_avoidance.skip_share", "llm_avoidance.llm_calls_per_message"} <= names
    for bench in report["benchmarks"]:
        assert set(bench) >= {"name", "unit", "p50", "p95", "p99", "target", "pass"}
        assert isinstance(bench["pass"], bool)
    calls = next(b for b in report["benchmarks"] if b["name"] == "llm_avoidance.llm_calls_per_message")
    # The always-validate baseline costs one call per message; the production decision must cost less.
    assert 0 <= calls["p50"] < 1.0


def test_unknown_benchmark_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["bench", "--only", "nonsense"])
    assert result.exit_code == 2
    assert "unknown benchmark nonsense" in result.output
