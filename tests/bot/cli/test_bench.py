"""`pitcrew bench`: the command's contract (its figures are measured, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.bench.core import BenchResult, percentiles
from bot.bench.plot import plot_stage_timings
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


def test_percentiles_stay_within_the_samples() -> None:
    samples = [float(value) for value in range(1, 101)]
    p50, p95, p99 = percentiles(samples)
    assert (p50, round(p95, 2), round(p99, 2)) == (50.5, 95.05, 99.01)
    assert percentiles([3.0]) == (3.0, 3.0, 3.0)


def test_stage_plot_is_written_when_matplotlib_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = [BenchResult(f"pipeline.stage.{name}", "ms", 0.1, 0.2, 0.3, "", True)
               for name in ("meeting_resolution", "control_plane", "handler")]
    path = plot_stage_timings(results, tmp_path / "stages.png")
    assert path is not None and path.read_bytes().startswith(b"\x89PNG")
    assert plot_stage_timings(results[:0], tmp_path / "none.png") is None
