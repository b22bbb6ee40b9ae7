"""Benchmark: the scheduled snapshot rebuild inside `serve`, with nothing changed and as a full build.

    pitcrew bench --only rebuild [--quick]

A catalog of 100,000 generated products (2,000 with --quick) is generated once; then one process
(bot/bench/rebuild_probe.py) opens the Application as `serve` does and fires its schedule's job:
first a full build (the catalog was never rebuilt), then NOOP_RUNS runs with nothing changed, then
a full check (`pitcrew snapshots rebuild`, the change log's safety net). Rows: the no-op run's time
and RSS growth (`rebuild_noop_in_serve`), the full build's peak RSS growth, time and event-loop lag,
and the full check's time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.bench.core import BenchResult, percentiles
from knowledge.db import Database
from knowledge.generate import generate

FULL_PRODUCTS = 100_000
QUICK_PRODUCTS = 2_000
NOOP_RUNS = 10
QUICK_NOOP_RUNS = 5
NOOP_TARGET_MS = 100.0
NOOP_RSS_TARGET_MB = 20.0
FULL_RSS_TARGET_MB = 100.0
FULL_TARGET_S_PER_1K = 2.0  # the snapshots benchmark's 20 s per 10,000 products
LOOP_LAG_P95_TARGET_MS = 20.0  # acks are answered from this loop; their target is p95 < 20 ms
PROBE_TIMEOUT_S = 3600


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    products = QUICK_PRODUCTS if quick else FULL_PRODUCTS
    path = workdir / "rebuild.db"
    db = Database(f"sqlite:///{path}")
    try:
        generate(db, products=products, seed=1)
    finally:
        db.close()
    probe = _run_probe(path, workdir, QUICK_NOOP_RUNS if quick else NOOP_RUNS)
    size = f"{products:,} products" + (" (--quick; the targets are for 100,000)" if quick else "")
    return _rows(probe, products, size)


def _run_probe(path: Path, workdir: Path, noop_runs: int) -> dict[str, Any]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SLACK_", "OPENAI_"))}
    env.update({
        "DATABASE_URL": f"sqlite:///{path}",
        "LOG_DIR": str(workdir / "logs"),
        "SNAPSHOT_REBUILD_CRON": "0 0 1 1 *",  # the probe fires the job itself; the cron never does meanwhile
    })
    completed = subprocess.run(
        [sys.executable, "-m", "bot.bench.rebuild_probe", "--noop-runs", str(noop_runs)],
        capture_output=True, env=env, cwd=workdir, timeout=PROBE_TIMEOUT_S, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"rebuild probe exited {completed.returncode}: {completed.stderr.decode()[-400:]}")
    return json.loads(completed.stdout.decode().splitlines()[-1])


def _rows(probe: dict[str, Any], products: int, size: str) -> list[BenchResult]:
    full, noops, check_all = probe["full"], probe["noops"], probe["check_all"]
    if full["report"]["built"] != products or any(run["report"]["built"] for run in noops):
        raise RuntimeError(f"unexpected rebuild reports: {full['report']}, {[run['report'] for run in noops]}")
    noop_ms = [run["seconds"] * 1000 for run in noops]
    noop_growth = [max(run["peak_growth_mb"], run["rss_after_mb"] - run["rss_before_mb"]) for run in noops]
    lag = full["loop_lag_ms"] or [0.0]
    full_target_s = FULL_TARGET_S_PER_1K * products / 1000
    rss_line = (f"RSS {noops[0]['rss_before_mb']:.0f} -> {noops[-1]['rss_after_mb']:.0f} MB over {len(noops)} runs"
                + ("" if noops[0]["peak_reset"] else "; peak not resettable here, growth from RSS"))
    return [
        _row("rebuild_noop_in_serve", "ms", noop_ms, f"< {NOOP_TARGET_MS:g} ms",
             percentiles(noop_ms)[1] < NOOP_TARGET_MS,
             f"{size}; nothing changed: the schedule's job (run_soon) in an Application as serve opens it,"
             f" scope {noops[0]['report']['scope']!r}, 0 products checked"),
        _row("rebuild_noop_in_serve.rss_growth", "MB", noop_growth, f"< {NOOP_RSS_TARGET_MB:g} MB",
             max(noop_growth) < NOOP_RSS_TARGET_MB, f"{size}; peak RSS during a run minus RSS before it; {rss_line}"),
        _row("rebuild_full_in_serve.peak_rss_growth", "MB", [full["peak_growth_mb"]], f"< {FULL_RSS_TARGET_MB:g} MB",
             full["peak_growth_mb"] < FULL_RSS_TARGET_MB,
             f"{size}, all built by the scheduled job; RSS {full['rss_before_mb']:.0f} MB before,"
             f" {full['rss_after_mb']:.0f} MB after"),
        _row("rebuild_full_in_serve", "s", [full["seconds"]], f"< {full_target_s:g} s for {products:,} products",
             full["seconds"] < full_target_s, f"{size}; built in chunks, published 50 per write transaction"),
        _row("rebuild_full_in_serve.loop_lag", "ms", lag, f"p95 < {LOOP_LAG_P95_TARGET_MS:g} ms",
             percentiles(lag)[1] < LOOP_LAG_P95_TARGET_MS,
             f"{size}; how late a 5 ms sleep on serve's event loop woke up during the full build ({len(lag):,}"
             f" samples, max {max(lag):.0f} ms)"),
        _row("rebuild_check_all", "s", [check_all["seconds"]], "for comparison", True,
             f"{size}, nothing changed: every product hashed (pitcrew snapshots rebuild, the change log's safety"
             f" net); peak RSS growth {check_all['peak_growth_mb']:.0f} MB"),
    ]


def _row(name: str, unit: str, samples: list[float], target: str, passed: bool, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    digits = 1 if unit == "MB" else 3
    return BenchResult(name, unit, round(p50, digits), round(p95, digits), round(p99, digits), target, passed, detail)
