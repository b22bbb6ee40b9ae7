"""The stage-timings chart for docs/performance.md (matplotlib is an optional extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.bench.core import BenchResult

STAGE_PREFIX = "pipeline.stage."


def plot_stage_timings(results: Sequence[BenchResult], path: Path) -> Path | None:
    """Bar chart of p50/p95/p99 per pipeline stage; None when matplotlib or the stage results are missing."""
    stages = [result for result in results if result.name.startswith(STAGE_PREFIX)]
    if not stages:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    names = [result.name.removeprefix(STAGE_PREFIX) for result in stages]
    positions = range(len(names))
    width = 0.27
    figure, axes = plt.subplots(figsize=(7, 3.6), dpi=120)
    for offset, (label, values) in enumerate(
        (("p50", [r.p50 for r in stages]), ("p95", [r.p95 for r in stages]), ("p99", [r.p99 for r in stages]))
    ):
        axes.bar([p + (offset - 1) * width for p in positions], values, width, label=label)
    axes.set_xticks(list(positions), names)
    axes.set_ylabel(stages[0].unit)
    axes.set_title("pitcrew pipeline: time per stage (no LLM, demo data)")
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
