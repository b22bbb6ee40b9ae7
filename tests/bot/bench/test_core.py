"""The benchmarks' shared figures: percentiles of the samples and the stage-timings plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bench.core import BenchResult, percentiles
from bot.bench.plot import plot_stage_timings


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
